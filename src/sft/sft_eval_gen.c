/* Generations at SFT evaluations (see sft_eval_gen.h). */
#include "sft/sft_eval_gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"

/* The index of the last assistant message, or -1. */
static int last_assistant(const cJSON *messages) {
    int i = 0, last = -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (cJSON_IsString(r) && strcmp(r->valuestring, "assistant") == 0) last = i;
        i++;
    }
    return last;
}

static const char *content_of(const cJSON *m) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    return cJSON_IsString(c) ? c->valuestring : "";
}

/* The reply to a conversation's prompt (its messages before the last assistant one). */
static vkt_status chat_line(vkt_chat *chat, const vkt_sft_example *e, const vkt_generate_opts *go, cJSON *line) {
    int last = last_assistant(e->messages);
    cJSON *prompt = cJSON_CreateArray();
    for (int i = 0; i < last; i++) cJSON_AddItemToArray(prompt, cJSON_Duplicate(cJSON_GetArrayItem(e->messages, i), true));
    char *reply = NULL;
    vkt_status s = vkt_chat_reply(chat, prompt, e->tools, go, &reply, NULL);
    cJSON_AddItemToObject(line, "prompt", prompt);
    cJSON_AddStringToObject(line, "reference", content_of(cJSON_GetArrayItem(e->messages, last)));
    if (s == VKT_OK) cJSON_AddStringToObject(line, "generated", reply);
    free(reply);
    return s;
}

/* The continuation of a prompt string, encoded as training encodes it ([BOS] + prompt). */
static vkt_status plain_line(const vkt_sft_eval_gen *g, vkt_gen_session *sess, const vkt_sft_example *e,
                             const vkt_generate_opts *go, cJSON *line) {
    vkt_tok_ids ids = {0};
    vkt_status s = vkt_tok_adds_bos(g->tok) ? vkt_tok_ids_push(&ids, vkt_tok_bos(g->tok)) : VKT_OK;
    if (s == VKT_OK) s = vkt_tok_encode(g->tok, e->prompt, strlen(e->prompt), false, &ids);
    int32_t *out = NULL;
    int64_t n_out = 0;
    if (s == VKT_OK && ids.len == 0) s = vkt_tok_ids_push(&ids, vkt_tok_eot(g->tok) >= 0 ? vkt_tok_eot(g->tok) : 0);
    if (s == VKT_OK) s = vkt_gen_session_run(sess, g->tok, ids.data, (int64_t)ids.len, go, &out, &n_out);
    vkt_tok_bytes text = {0};
    if (s == VKT_OK) s = vkt_tok_decode(g->tok, out, (size_t)n_out, true, &text);
    cJSON_AddStringToObject(line, "prompt", e->prompt);
    cJSON_AddStringToObject(line, "reference", e->completion);
    if (s == VKT_OK) cJSON_AddStringToObject(line, "generated", text.data ? text.data : "");
    vkt_tok_bytes_free(&text);
    free(out);
    vkt_tok_ids_free(&ids);
    return s;
}

static vkt_status write_lines(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        vkt_log_error("%s: cannot write the evaluation generations (%s)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    bool ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    return ok ? VKT_OK : VKT_ERR_IO;
}

vkt_status vkt_sft_eval_generate(const vkt_sft_eval_gen *g, const char *dir, int64_t step) {
    if (g->n <= 0 || !g->val || g->val->n == 0) return VKT_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/generations", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("%s: cannot make the generations folder (%s)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    vkt_generate_opts go = {.max_tokens = g->max_tokens, .sampler = {.temperature = 0, .top_p = 1}, .stop_at_eos = true};
    vkt_chat *chat = NULL;
    vkt_gen_session *sess = NULL;
    vkt_status s = VKT_OK;
    size_t cap = 1 << 12, len = 0;
    char *all = calloc(cap, 1);
    if (!all) s = VKT_ERR_OOM;
    for (int64_t i = 0, done = 0; s == VKT_OK && i < g->val->n && done < g->n; i++) {
        const vkt_sft_example *e = &g->val->ex[i];
        if (e->kind == VKT_SFT_TEXT || (e->kind == VKT_SFT_CHAT && (!g->tmpl || last_assistant(e->messages) < 1))) continue;
        /* Each engine copies the model: made when the first record that needs it comes. */
        if (e->kind == VKT_SFT_CHAT && !chat) s = vkt_chat_create_ex(g->dev, g->model, g->tok, g->tmpl, 0, g->adapter, &chat);
        if (e->kind != VKT_SFT_CHAT && !sess) s = vkt_gen_session_create_ex(g->dev, g->model, 0, g->adapter, &sess);
        if (s != VKT_OK) break;
        cJSON *line = cJSON_CreateObject();
        char where[1200];
        cJSON_AddStringToObject(line, "record", vkt_sft_example_where(g->val, e, where, sizeof where));
        s = e->kind == VKT_SFT_CHAT ? chat_line(chat, e, &go, line) : plain_line(g, sess, e, &go, line);
        char *text = s == VKT_OK ? cJSON_PrintUnformatted(line) : NULL;
        cJSON_Delete(line);
        if (s == VKT_OK && !text) s = VKT_ERR_OOM;
        size_t n = text ? strlen(text) : 0;
        if (s == VKT_OK && len + n + 2 > cap) {
            while (len + n + 2 > cap) cap *= 2;
            char *grown = realloc(all, cap);
            if (!grown) s = VKT_ERR_OOM;
            else all = grown;
        }
        if (s == VKT_OK) memcpy(all + len, text, n), len += n, all[len++] = '\n', all[len] = 0;
        free(text);
        done++;
    }
    snprintf(path, sizeof path, "%s/generations/step-%06lld.jsonl", dir, (long long)step);
    if (s == VKT_OK) s = write_lines(path, all);
    if (s == VKT_OK) vkt_log_info("evaluation generations: %s", path);
    free(all);
    vkt_gen_session_destroy(sess);
    vkt_chat_destroy(chat);
    return s;
}
