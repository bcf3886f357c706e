/* Chat replies (see chat.h). */
#include "chat/chat.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_util.h"
#include "io/file.h"

struct vkt_chat {
    vkt_gen_session *session;
    vkt_tokenizer *tok;
    const vkt_chat_template *tmpl;
    int32_t stop[8];
    int n_stop;
};

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* tokenizer_config.json in the folder spec names, or beside the file it names. */
static void config_beside(const char *tokenizer_spec, char *out, size_t n) {
    out[0] = 0;
    if (!tokenizer_spec || !tokenizer_spec[0]) return;
    if (vkt_path_is_dir(tokenizer_spec)) {
        snprintf(out, n, "%s/tokenizer_config.json", tokenizer_spec);
        return;
    }
    const char *slash = strrchr(tokenizer_spec, '/');
    if (slash) snprintf(out, n, "%.*s/tokenizer_config.json", (int)(slash - tokenizer_spec), tokenizer_spec);
    else snprintf(out, n, "tokenizer_config.json");
}

static const char *piece_or_null(const vkt_tokenizer *tok, int32_t id, char *buf, size_t n) {
    size_t len = 0;
    const char *p = id >= 0 ? vkt_tok_piece(tok, id, &len) : NULL;
    if (!p || len >= n) return NULL;
    memcpy(buf, p, len);
    buf[len] = 0;
    return buf;
}

vkt_status vkt_chat_template_resolve(const char *spec, const char *tokenizer_spec, const vkt_tokenizer *tok,
                                     vkt_chat_template **out) {
    char bos_buf[64], eos_buf[64];
    const char *bos = piece_or_null(tok, vkt_tok_bos(tok), bos_buf, sizeof bos_buf);
    const char *eos = piece_or_null(tok, vkt_tok_eos(tok), eos_buf, sizeof eos_buf);
    if (spec && (strcmp(spec, "chatml") == 0 || strcmp(spec, "llama3") == 0))
        return vkt_chat_template_builtin(spec, bos, eos, out);
    if (spec && ends_with(spec, ".json")) return vkt_chat_template_load_hf(spec, out);
    if (spec) {
        char *text = NULL;
        size_t len = 0;
        VKT_TRY(vkt_tok_read_file(spec, "chat template", &text, &len));
        vkt_status s = vkt_chat_template_from_source(text, len, spec, bos, eos, out);
        free(text);
        return s;
    }
    char path[1200];
    config_beside(tokenizer_spec, path, sizeof path);
    if (!path[0] || !vkt_path_exists(path)) {
        vkt_log_error("the model has no chat template (no tokenizer_config.json beside its tokenizer%s%s): pass one, "
                      "e.g. --template chatml, --template llama3, or a .jinja file", tokenizer_spec ? " " : "",
                      tokenizer_spec ? tokenizer_spec : "");
        return VKT_ERR_FORMAT;
    }
    return vkt_chat_template_load_hf(path, out);
}

int vkt_chat_stop_ids(const vkt_tokenizer *tok, int32_t *ids, int cap) {
    static const char *markers[] = {"<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>"};
    int n = 0;
    int32_t eos = vkt_tok_eos(tok) >= 0 ? vkt_tok_eos(tok) : vkt_tok_eot(tok);
    if (eos >= 0 && n < cap) ids[n++] = eos;
    for (size_t i = 0; i < sizeof markers / sizeof *markers && n < cap; i++) {
        int32_t id = vkt_tok_find(tok, markers[i], strlen(markers[i]));
        if (id < 0 || !vkt_tok_is_special(tok, id)) continue; /* a marker the vocabulary spells as text */
        bool seen = false;
        for (int k = 0; k < n; k++) seen |= ids[k] == id;
        if (!seen) ids[n++] = id;
    }
    return n;
}

vkt_status vkt_chat_create(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const vkt_chat_template *tmpl,
                           int64_t context, vkt_chat **out) {
    return vkt_chat_create_ex(dev, src, tok, tmpl, context, NULL, out);
}

vkt_status vkt_chat_create_ex(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const vkt_chat_template *tmpl,
                              int64_t context, const vkt_gen_adapter *adapter, vkt_chat **out) {
    *out = NULL;
    vkt_chat *c = calloc(1, sizeof *c);
    if (!c) return VKT_ERR_OOM;
    c->tok = tok, c->tmpl = tmpl;
    c->n_stop = vkt_chat_stop_ids(tok, c->stop, (int)(sizeof c->stop / sizeof *c->stop));
    vkt_status s = vkt_gen_session_create_ex(dev, src, context, adapter, &c->session);
    if (s != VKT_OK) {
        free(c);
        return s;
    }
    *out = c;
    return VKT_OK;
}

void vkt_chat_destroy(vkt_chat *c) {
    if (!c) return;
    vkt_gen_session_destroy(c->session);
    free(c);
}

/* The prompt ids for messages with a generation prompt, dropping the oldest turns until it and max_new fit. */
static vkt_status prompt_ids(vkt_chat *c, const cJSON *messages, const cJSON *tools, int64_t max_new,
                             vkt_tok_ids *ids, int *dropped) {
    int n_msgs = cJSON_GetArraySize(messages);
    const cJSON *first = cJSON_GetArrayItem(messages, 0);
    const cJSON *role = first ? cJSON_GetObjectItemCaseSensitive(first, "role") : NULL;
    int lead = cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0 ? 1 : 0;
    int64_t context = vkt_gen_session_context(c->session);
    for (int drop = 0; lead + drop < n_msgs; drop++) {
        cJSON *kept = drop ? cJSON_CreateArray() : NULL;
        if (kept) {
            int i = 0;
            const cJSON *m;
            cJSON_ArrayForEach(m, messages) {
                if (i < lead || i >= lead + drop) cJSON_AddItemToArray(kept, cJSON_Duplicate(m, true));
                i++;
            }
        }
        vkt_chat_render_out r = {0};
        VKT_TRY(vkt_chat_render(c->tmpl, kept ? kept : messages, tools, true, NULL, &r));
        cJSON_Delete(kept);
        ids->len = 0;
        vkt_status s = vkt_tok_encode(c->tok, r.text, r.len, true, ids);
        vkt_chat_render_free(&r);
        VKT_TRY(s);
        if ((int64_t)ids->len + max_new <= context && ids->len > 0) {
            if (dropped) *dropped = drop;
            return VKT_OK;
        }
    }
    vkt_log_error("chat: the last message and a reply of %lld tokens do not fit the context of %lld tokens; shorten "
                  "the message or lower the reply length", (long long)max_new, (long long)context);
    return VKT_ERR_ARG;
}

vkt_status vkt_chat_reply(vkt_chat *c, const cJSON *messages, const cJSON *tools, const vkt_generate_opts *opts,
                          char **reply, int *dropped) {
    *reply = NULL;
    vkt_tok_ids ids = {0};
    vkt_status s = prompt_ids(c, messages, tools, opts->max_tokens, &ids, dropped);
    vkt_generate_opts go = *opts;
    go.stop_ids = c->stop, go.n_stop = c->n_stop, go.stop_at_eos = false, go.stream_reply = true;
    int32_t *out = NULL;
    int64_t n_out = 0;
    if (s == VKT_OK) s = vkt_gen_session_run(c->session, c->tok, ids.data, (int64_t)ids.len, &go, &out, &n_out);
    if (s == VKT_OK) {
        if (n_out > 0) {
            bool stopped = false;
            for (int k = 0; k < c->n_stop; k++) stopped |= out[n_out - 1] == c->stop[k];
            n_out -= stopped;
        }
        vkt_tok_bytes text = {0};
        s = vkt_tok_decode(c->tok, out, (size_t)n_out, true, &text);
        if (s == VKT_OK) *reply = text.data ? text.data : calloc(1, 1);
        else vkt_tok_bytes_free(&text);
        if (s == VKT_OK && !*reply) s = VKT_ERR_OOM;
    }
    free(out);
    vkt_tok_ids_free(&ids);
    return s;
}
