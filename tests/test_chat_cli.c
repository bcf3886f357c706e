/* `vktrain chat` end to end on stories260K (the binary is run as a child, with the validation layer on):
 *  - one-shot (--messages): the printed reply is exactly the greedy continuation the library gives for the
 *    template's render with a generation prompt (chat.h, generate.h), stopped at EOS, so the CLI renders,
 *    encodes and stops as the library does;
 *  - interactive on standard input: two turns, /reset and /exit, exit code 0;
 *  - --index (an index of data/rag_docs) runs;
 *  - a model without a template asks for --template, and a --messages file that is not a conversation is
 *    named; both exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "harness.h"
#include "io/checkpoint.h"
#include "io_testutil.h"

static char g_model[512], g_tok[512], g_tmpl[512];

static int run(const char *args, const char *stdin_text, char *out, size_t n) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s'%s' chat '%s' --tokenizer '%s' %s 2>&1", stdin_text ? stdin_text : "", VKT_CHAT_BIN,
             g_model, g_tok, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    int st = pclose(p);
    return st >= 0 && (st & 0x7f) == 0 ? (st >> 8) & 0xff : -1;
}

/* The library's greedy reply to one user message: render, encode, generate to EOS, decode. */
static char *library_reply(vkt_test *t, const char *question, int64_t max_tokens) {
    vkt_model *m;
    char spec[1024];
    VKT_TEST_TRY(t, vkt_load_model(t->dev, g_model, 1, 1, false, &m, spec, sizeof spec));
    vkt_tokenizer *tok;
    VKT_TEST_TRY(t, vkt_tok_load_for_model(g_tok, m->cfg.vocab_size, g_model, &tok));
    vkt_chat_template *tmpl;
    VKT_TEST_TRY(t, vkt_chat_template_resolve(g_tmpl, g_tok, tok, &tmpl));
    cJSON *msgs = cJSON_CreateArray(), *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "role", "user");
    cJSON_AddStringToObject(u, "content", question);
    cJSON_AddItemToArray(msgs, u);
    vkt_chat_render_out r = {0};
    VKT_TEST_TRY(t, vkt_chat_render(tmpl, msgs, NULL, true, NULL, &r));
    vkt_tok_ids ids = {0};
    VKT_TEST_TRY(t, vkt_tok_encode(tok, r.text, r.len, true, &ids));
    vkt_generate_opts go = {.max_tokens = max_tokens, .sampler = {.temperature = 0, .top_p = 1}, .stop_at_eos = true};
    int32_t *out = NULL;
    int64_t n = 0;
    VKT_TEST_TRY(t, vkt_generate_ids(t->dev, m, tok, ids.data, (int64_t)ids.len, &go, &out, &n));
    if (n > 0 && out[n - 1] == vkt_tok_eos(tok)) n--;
    vkt_tok_bytes text = {0};
    VKT_TEST_TRY(t, vkt_tok_decode(tok, out, (size_t)n, true, &text));
    free(out);
    vkt_tok_ids_free(&ids);
    vkt_chat_render_free(&r);
    cJSON_Delete(msgs);
    vkt_chat_template_free(tmpl);
    vkt_tok_free(tok);
    vkt_model_destroy(m);
    return text.data ? text.data : calloc(1, 1);
}

static void expect(vkt_test *t, bool ok, const char *what, const char *out) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) vkt_test_fail(t, "%s; output:\n%s", what, out);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "chat_cli");
    snprintf(g_model, sizeof g_model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(g_tok, sizeof g_tok, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    snprintf(g_tmpl, sizeof g_tmpl, "%s/../configs/templates/simple.jinja", VKT_TEST_DATA);
    const char *dir = tu_mkdir();
    static char out[1 << 16], args[2048];

    const char *question = "Tell me about a cat.";
    char *want = library_reply(&t, question, 40);
    FILE *f = fopen(tu_path(dir, "m.json"), "w");
    fprintf(f, "[{\"role\": \"user\", \"content\": \"%s\"}]", question);
    fclose(f);
    snprintf(args, sizeof args, "--template '%s' --messages '%s' --temperature 0 --tokens 40", g_tmpl,
             tu_path(dir, "m.json"));
    int rc = run(args, NULL, out, sizeof out);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n') out[--n] = 0;
    printf("   one-shot reply: \"%s\"\n", out);
    expect(&t, rc == 0 && strcmp(out, want) == 0, "one-shot reply equals the library's greedy reply", want);
    free(want);

    snprintf(args, sizeof args, "--template '%s' --temperature 0 --tokens 12", g_tmpl);
    rc = run(args, "printf 'Hello\\nWho is Lily?\\n/reset\\nHi\\n/exit\\n' | ", out, sizeof out);
    expect(&t, rc == 0 && strstr(out, "(history cleared)"), "interactive: turns, /reset, /exit", out);

    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' index '%s/rag_docs' --out '%s' >/dev/null 2>&1", VKT_CHAT_BIN, VKT_TEST_DATA,
             tu_path(dir, "ix.db"));
    expect(&t, system(cmd) == 0, "index the shipped documents", cmd);
    snprintf(args, sizeof args, "--template '%s' --messages '%s' --temperature 0 --tokens 8 --index '%s' --k 2", g_tmpl,
             tu_path(dir, "m.json"), tu_path(dir, "ix.db"));
    rc = run(args, NULL, out, sizeof out);
    expect(&t, rc == 0, "one-shot with --index", out);

    rc = run("--messages /dev/null", NULL, out, sizeof out);
    expect(&t, rc == 1 && strstr(out, "no chat template") && strstr(out, "--template"),
           "a model without a template asks for --template", out);
    f = fopen(tu_path(dir, "bad.json"), "w");
    fprintf(f, "{\"role\": \"user\"}");
    fclose(f);
    snprintf(args, sizeof args, "--template chatml --messages '%s'", tu_path(dir, "bad.json"));
    rc = run(args, NULL, out, sizeof out);
    expect(&t, rc == 1 && strstr(out, "expected a JSON array of messages"), "a --messages file that is no conversation",
           out);
    tu_rmdir(dir);
    return vkt_test_finish(&t);
}
