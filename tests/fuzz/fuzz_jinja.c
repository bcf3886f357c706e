/* Jinja chat templates (chat/jinja*.c): the input is template text, parsed and, when it parses,
 * rendered twice over a fixed conversation (system, user, assistant with a tool call, tool result)
 * with tools, under tight limits (1 MiB output, 64 MiB memory, 200 k steps, range 10 k, depth 64) so
 * every input finishes fast. Invariants: an error has a message and no output; a render is
 * NUL-terminated and the same both times (rendering is deterministic: strftime_now is pinned). */
#include <string.h>

#include <cjson/cJSON.h>

#include "chat/jinja.h"
#include "fuzz.h"

static const char k_vars[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
    " {\"role\": \"user\", \"content\": \"Weather in Paris? \\u00e9\\u4e16 \\\"q\\\"\"},"
    " {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call12345\", \"type\": \"function\","
    "   \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]},"
    " {\"role\": \"tool\", \"tool_call_id\": \"call12345\", \"content\": \"21 C\"},"
    " {\"role\": \"assistant\", \"content\": \"  It is 21 C.  \"},"
    " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"thanks\"}]}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"d\","
    "   \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": "
    "[\"city\"]}}}],"
    " \"documents\": null, \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cJSON *vars;
    if (!vars) FUZZ_CHECK((vars = cJSON_Parse(k_vars)) != NULL);
    vkt_jinja *t = NULL;
    vkt_jinja_error err;
    if (vkt_jinja_parse((const char *)data, size, &t, &err) != VKT_OK) {
        FUZZ_CHECK(t == NULL && err.msg[0]);
        return 0;
    }
    vkt_jinja_limits lim = {.max_output_bytes = 1 << 20,
                            .max_memory_bytes = 64 << 20,
                            .max_steps = 200000,
                            .max_range = 10000,
                            .max_depth = 64};
    vkt_jinja_render_opts opts = {.vars = vars, .limits = &lim, .fixed_now = true, .now_unix = 1741964966};
    char *out[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    vkt_status s[2];
    for (int i = 0; i < 2; i++) {
        s[i] = vkt_jinja_render(t, &opts, &out[i], &len[i], &err);
        if (s[i] != VKT_OK)
            FUZZ_CHECK(out[i] == NULL && len[i] == 0 && err.msg[0]);
        else
            FUZZ_CHECK(out[i] != NULL && out[i][len[i]] == 0 && len[i] <= (size_t)lim.max_output_bytes);
    }
    FUZZ_CHECK(s[0] == s[1] && len[0] == len[1]);
    if (s[0] == VKT_OK) FUZZ_CHECK(memcmp(out[0], out[1], len[0]) == 0);
    free(out[0]);
    free(out[1]);
    vkt_jinja_free(t);
    return 0;
}
