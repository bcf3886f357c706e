/* Chat templates (see chat_template.h): loading from tokenizer_config.json, the built-in templates,
 * rendering a conversation as transformers' apply_chat_template does, and the assistant spans.
 *
 * Spans come from renders of prefixes of the conversation; see vkt_chat_render in the header for the
 * method and the conditions under which it refuses. */
#include "chat/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"
#include "core/log.h"
#include "io/file.h"
#include "io/json_file.h"

struct vkt_chat_template {
    char *name;          /* owned: for messages */
    vkt_jinja *main;     /* owned */
    vkt_jinja *tool_use; /* owned: the "tool_use" template of a list, used when tools are given; or NULL */
    char *bos, *eos;     /* owned, never NULL */
    bool fixed_now;
    int64_t now_unix;
};

/* The built-ins, byte for byte tests/data/chat_templates/builtin_llama3.jinja and builtin_chatml.jinja (the
 * tests render those files with jinja2 and check these against them): Llama 3 and ChatML as the real
 * templates render conversations without tools, with tool calls in Llama 3.1's and Qwen2.5's layouts. */
static const char k_llama3[] =
    "{#- vktrain's built-in Llama 3: Meta-Llama-3-8B-Instruct's format for conversations without tools (re"
    "nders as\n"
    "    llama3.jinja does), and with tools Llama 3.1's conventions: the function list in the system messa"
    "ge, a\n"
    "    call as {\"name\": ..., \"parameters\": ...} JSON in the assistant turn, results in ipython turns"
    ". -#}\n"
    "{{- bos_token }}\n"
    "{%- if tools %}\n"
    "    {{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] | trim + '\\n\\n' }}\n"
    "    {%- endif %}\n"
    "    {{- 'You have access to the following functions. To call a function, respond with JSON for a func"
    "tion call in the format {\"name\": function name, \"parameters\": dictionary of argument name and its"
    " value}.\\n\\n' }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- tool | tojson(indent=4) + '\\n\\n' }}\n"
    "    {%- endfor %}\n"
    "    {{- '<|eot_id|>' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if tools and loop.first and message['role'] == 'system' %}\n"
    "    {%- elif message['role'] == 'assistant' and message.tool_calls %}\n"
    "        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {%- if not loop.first %}\n"
    "                {{- '\\n' }}\n"
    "            {%- endif %}\n"
    "            {{- '{\"name\": \"' + tool_call.name + '\", \"parameters\": ' + tool_call.arguments | toj"
    "son + '}' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|eot_id|>' }}\n"
    "    {%- else %}\n"
    "        {%- set role = 'ipython' if message['role'] == 'tool' else message['role'] %}\n"
    "        {{- '<|start_header_id|>' + role + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<"
    "|eot_id|>' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n";
static const char k_chatml[] =
    "{#- vktrain's built-in ChatML: plain ChatML for conversations without tools (renders as chatml.jinja "
    "does),\n"
    "    and with tools Qwen2.5's layout (function list in the system message, <tool_call> JSON in assista"
    "nt turns,\n"
    "    <tool_response> in user turns), without Qwen's default system prompt. -#}\n"
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] + '\\n\\n' }}\n"
    "    {%- endif %}\n"
    "    {{- \"# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are"
    " provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and argume"
    "nts within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"argu"
    "ments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- elif messages[0]['role'] == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message."
    "role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

static char *dup_or_empty(const char *s) {
    const char *src = s ? s : "";
    char *d = malloc(strlen(src) + 1);
    if (d) strcpy(d, src);
    return d;
}

void vkt_chat_template_free(vkt_chat_template *t) {
    if (!t) return;
    vkt_jinja_free(t->main);
    vkt_jinja_free(t->tool_use);
    free(t->name);
    free(t->bos);
    free(t->eos);
    free(t);
}

const char *vkt_chat_template_name(const vkt_chat_template *t) { return t ? t->name : "none"; }

void vkt_chat_template_set_now(vkt_chat_template *t, int64_t unix_seconds) {
    t->fixed_now = true;
    t->now_unix = unix_seconds;
}

static vkt_status parse_one(const char *source, size_t len, const char *name, vkt_jinja **out) {
    vkt_jinja_error err;
    vkt_status s = vkt_jinja_parse(source, len, out, &err);
    if (s == VKT_ERR_FORMAT)
        vkt_log_error("chat template %s: line %d: %s (vktrain renders a subset of Jinja: src/chat/jinja.h)", name,
                      err.line, err.msg);
    else if (s != VKT_OK)
        vkt_log_error("chat template %s: %s while parsing", name, vkt_status_name(s));
    return s;
}

static vkt_status new_template(const char *name, const char *bos, const char *eos, vkt_chat_template **out) {
    vkt_chat_template *t = calloc(1, sizeof *t);
    if (t) t->name = dup_or_empty(name), t->bos = dup_or_empty(bos), t->eos = dup_or_empty(eos);
    if (!t || !t->name || !t->bos || !t->eos) {
        vkt_chat_template_free(t);
        return VKT_ERR_OOM;
    }
    *out = t;
    return VKT_OK;
}

vkt_status vkt_chat_template_from_source(const char *source, size_t len, const char *name, const char *bos_token,
                                         const char *eos_token, vkt_chat_template **out) {
    *out = NULL;
    vkt_chat_template *t;
    VKT_TRY(new_template(name ? name : "(inline)", bos_token, eos_token, &t));
    vkt_status s = parse_one(source, len, t->name, &t->main);
    if (s != VKT_OK) {
        vkt_chat_template_free(t);
        return s;
    }
    *out = t;
    return VKT_OK;
}

vkt_status vkt_chat_template_builtin(const char *name, const char *bos_token, const char *eos_token,
                                     vkt_chat_template **out) {
    *out = NULL;
    const char *src = !name ? NULL : !strcmp(name, "chatml") ? k_chatml : !strcmp(name, "llama3") ? k_llama3 : NULL;
    if (!src) {
        vkt_log_error("chat template: no built-in template \"%s\" (built-in: chatml, llama3)", name ? name : "(null)");
        return VKT_ERR_ARG;
    }
    char label[64];
    snprintf(label, sizeof label, "built-in %s", name);
    return vkt_chat_template_from_source(src, strlen(src), label, bos_token, eos_token, out);
}

/* A special token of tokenizer_config.json: a string or an AddedToken object {"content": ...}. */
static const char *special_token(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* chat_template.jinja beside the config (where newer transformers saves it), or NULL. */
static char *read_sibling_template(const char *config_path, size_t *len) {
    const char *slash = strrchr(config_path, '/');
    size_t dir = slash ? (size_t)(slash - config_path) + 1 : 0;
    char *path = malloc(dir + 32);
    if (!path) return NULL;
    memcpy(path, config_path, dir);
    strcpy(path + dir, "chat_template.jinja");
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

vkt_status vkt_chat_template_load_hf(const char *path, vkt_chat_template **out) {
    *out = NULL;
    cJSON *cfg;
    VKT_TRY(vkt_json_read(path, &cfg));
    vkt_chat_template *t = NULL;
    vkt_status s = new_template(path, special_token(cfg, "bos_token"), special_token(cfg, "eos_token"), &t);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    char label[600];
    if (s == VKT_OK && cJSON_IsString(ct)) {
        snprintf(label, sizeof label, "%s (chat_template)", path);
        s = parse_one(ct->valuestring, strlen(ct->valuestring), label, &t->main);
    } else if (s == VKT_OK && cJSON_IsArray(ct)) {
        for (const cJSON *e = ct->child; e && s == VKT_OK; e = e->next) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name"),
                        *src = cJSON_GetObjectItemCaseSensitive(e, "template");
            if (!cJSON_IsString(name) || !cJSON_IsString(src)) {
                vkt_log_error("%s: chat_template: every entry of the list needs string \"name\" and \"template\"",
                              path);
                s = VKT_ERR_FORMAT;
                break;
            }
            bool is_default = !strcmp(name->valuestring, "default"), is_tool = !strcmp(name->valuestring, "tool_use");
            if (!is_default && !is_tool) continue;
            snprintf(label, sizeof label, "%s (chat_template \"%s\")", path, name->valuestring);
            s = parse_one(src->valuestring, strlen(src->valuestring), label, is_default ? &t->main : &t->tool_use);
        }
        if (s == VKT_OK && !t->main) {
            vkt_log_error("%s: chat_template is a list without a \"default\" template; vktrain uses \"default\" "
                          "(and \"tool_use\" when tools are given)",
                          path);
            s = VKT_ERR_FORMAT;
        }
    } else if (s == VKT_OK) {
        size_t len = 0;
        char *src = ct ? NULL : read_sibling_template(path, &len);
        if (src) {
            snprintf(label, sizeof label, "chat_template.jinja beside %s", path);
            s = parse_one(src, len, label, &t->main);
            free(src);
        } else {
            vkt_log_error("%s: no chat_template (a string or a list of {name, template}) and no chat_template.jinja "
                          "beside it; choose a built-in template (chatml, llama3) instead",
                          path);
            s = VKT_ERR_FORMAT;
        }
    }
    cJSON_Delete(cfg);
    if (s != VKT_OK) {
        vkt_chat_template_free(t);
        return s;
    }
    *out = t;
    return VKT_OK;
}

/* ---- rendering ---- */

typedef struct {
    char *text;
    size_t len;
} render_text;

/* Renders messages[0..n) (n = -1: all) as transformers does. On a template error logs it (naming
 * `what`) unless quiet, and returns VKT_ERR_FORMAT. */
static vkt_status render_prefix(const vkt_chat_template *t, const cJSON *messages, int n, const cJSON *tools, bool gen,
                                const cJSON *extra, const char *what, render_text *out) {
    cJSON *vars = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
    vkt_status s = vars && msgs ? VKT_OK : VKT_ERR_OOM;
    int i = 0;
    for (const cJSON *m = messages->child; s == VKT_OK && m && (n < 0 || i < n); m = m->next, i++)
        if (!cJSON_AddItemReferenceToArray(msgs, (cJSON *)m)) s = VKT_ERR_OOM;
    if (s == VKT_OK && !cJSON_AddItemToObject(vars, "messages", msgs))
        s = VKT_ERR_OOM;
    else if (s == VKT_OK)
        msgs = NULL;
    if (s == VKT_OK && tools && !cJSON_AddItemReferenceToObject(vars, "tools", (cJSON *)tools)) s = VKT_ERR_OOM;
    if (s == VKT_OK && !tools && !cJSON_AddNullToObject(vars, "tools")) s = VKT_ERR_OOM;
    if (s == VKT_OK && !cJSON_AddNullToObject(vars, "documents")) s = VKT_ERR_OOM;
    if (s == VKT_OK && !cJSON_AddBoolToObject(vars, "add_generation_prompt", gen)) s = VKT_ERR_OOM;
    if (s == VKT_OK && !cJSON_AddStringToObject(vars, "bos_token", t->bos)) s = VKT_ERR_OOM;
    if (s == VKT_OK && !cJSON_AddStringToObject(vars, "eos_token", t->eos)) s = VKT_ERR_OOM;
    for (const cJSON *e = extra ? extra->child : NULL; s == VKT_OK && e; e = e->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(vars, e->string);
        if (!cJSON_AddItemReferenceToObject(vars, e->string, (cJSON *)e)) s = VKT_ERR_OOM;
    }
    if (s == VKT_OK) {
        vkt_jinja_render_opts opts = {.vars = vars, .fixed_now = t->fixed_now, .now_unix = t->now_unix};
        vkt_jinja_error err;
        s = vkt_jinja_render(tools && t->tool_use ? t->tool_use : t->main, &opts, &out->text, &out->len, &err);
        if (s != VKT_OK && what && err.line)
            vkt_log_error("chat template %s: %s: template line %d: %s", t->name, what, err.line, err.msg);
        else if (s != VKT_OK && what)
            vkt_log_error("chat template %s: %s: %s", t->name, what, err.msg);
    }
    cJSON_Delete(msgs);
    cJSON_Delete(vars);
    return s;
}

static bool is_prefix(const render_text *p, const render_text *of, size_t n) {
    return n <= of->len && !memcmp(p->text, of->text, n);
}

static size_t rtrim_ws(const char *s, size_t n) {
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    return n;
}

/* The span of assistant message i in `full` (see the header for the method). */
static vkt_status assistant_span(const vkt_chat_template *t, const cJSON *messages, int i, const cJSON *tools,
                                 const cJSON *extra, const render_text *full, vkt_chat_span *span) {
    render_text before = {0}, upto = {0};
    char what[96];
    snprintf(what, sizeof what, "rendering messages[:%d] for the span of assistant message %d", i, i);
    vkt_status s = render_prefix(t, messages, i, tools, true, extra, what, &before);
    if (s == VKT_OK) {
        snprintf(what, sizeof what, "rendering messages[:%d] for the span of assistant message %d", i + 1, i);
        s = render_prefix(t, messages, i + 1, tools, false, extra, what, &upto);
    }
    if (s == VKT_OK && (!is_prefix(&before, &upto, before.len) || !is_prefix(&before, full, before.len))) {
        vkt_log_error("chat template %s: assistant message %d: the render of the conversation before it (with the "
                      "generation prompt) is not a prefix of the conversation; the template renders earlier messages "
                      "differently depending on what follows, so spans cannot be computed by prefixes",
                      t->name, i);
        s = VKT_ERR_FORMAT;
    }
    if (s == VKT_OK) {
        size_t end = rtrim_ws(upto.text, upto.len), eos_n = strlen(t->eos);
        /* An end-of-sequence token the template adds after the final message only (Phi-3): the span
         * ends before it where the conversation goes on. */
        if (!is_prefix(&upto, full, end) && eos_n && end >= eos_n && !memcmp(upto.text + end - eos_n, t->eos, eos_n))
            end = rtrim_ws(upto.text, end - eos_n);
        if (end < before.len || !is_prefix(&upto, full, end)) {
            vkt_log_error("chat template %s: assistant message %d: the render of the conversation up to it is not a "
                          "prefix of the whole conversation (the template treats the last message specially), so its "
                          "span cannot be computed by prefixes",
                          t->name, i);
            s = VKT_ERR_FORMAT;
        } else {
            span->message = i, span->begin = (int64_t)before.len, span->end = (int64_t)end;
        }
    }
    free(before.text);
    free(upto.text);
    return s;
}

vkt_status vkt_chat_render(const vkt_chat_template *t, const cJSON *messages, const cJSON *tools,
                           bool add_generation_prompt, const cJSON *extra, vkt_chat_render_out *out) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsArray(messages)) {
        vkt_log_error("chat template %s: messages must be a JSON array", t->name);
        return VKT_ERR_ARG;
    }
    if ((tools && !cJSON_IsArray(tools)) || (extra && !cJSON_IsObject(extra))) {
        vkt_log_error("chat template %s: tools must be an array and extra an object", t->name);
        return VKT_ERR_ARG;
    }
    render_text full = {0};
    VKT_TRY(render_prefix(t, messages, -1, tools, add_generation_prompt, extra, "rendering the conversation", &full));
    int n_asst = 0, k = 0;
    for (const cJSON *m = messages->child; m; m = m->next) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        n_asst += cJSON_IsString(role) && !strcmp(role->valuestring, "assistant");
    }
    out->text = full.text, out->len = full.len;
    out->spans = calloc((size_t)(n_asst ? n_asst : 1), sizeof *out->spans);
    if (!out->spans) {
        vkt_chat_render_free(out);
        return VKT_ERR_OOM;
    }
    int i = 0;
    for (const cJSON *m = messages->child; m; m = m->next, i++) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role) || strcmp(role->valuestring, "assistant")) continue;
        vkt_status s = assistant_span(t, messages, i, tools, extra, &full, &out->spans[k]);
        if (s == VKT_OK && k && out->spans[k].begin < out->spans[k - 1].end) {
            vkt_log_error("chat template %s: the spans of assistant messages %d and %d overlap", t->name,
                          out->spans[k - 1].message, i);
            s = VKT_ERR_FORMAT;
        }
        if (s != VKT_OK) {
            vkt_chat_render_free(out);
            return s;
        }
        k++;
    }
    out->n_spans = k;
    return VKT_OK;
}

vkt_status vkt_chat_render_text(const vkt_chat_template *t, const cJSON *messages, const cJSON *tools,
                                bool add_generation_prompt, const cJSON *extra, char **text, size_t *len) {
    *text = NULL, *len = 0;
    if (!cJSON_IsArray(messages) || (tools && !cJSON_IsArray(tools)) || (extra && !cJSON_IsObject(extra))) {
        vkt_log_error("chat template %s: messages and tools must be JSON arrays, extra an object", t->name);
        return VKT_ERR_ARG;
    }
    render_text r = {0};
    VKT_TRY(render_prefix(t, messages, -1, tools, add_generation_prompt, extra, "rendering the conversation", &r));
    *text = r.text, *len = r.len;
    return VKT_OK;
}

void vkt_chat_render_free(vkt_chat_render_out *out) {
    if (!out) return;
    free(out->text);
    free(out->spans);
    memset(out, 0, sizeof *out);
}
