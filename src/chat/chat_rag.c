/* Retrieved passages in a conversation (see chat_rag.h). */
#include "chat/chat_rag.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "rag/rag_context.h"

vkt_status vkt_context_place_parse(const char *name, const char *what, vkt_context_place *out) {
    if (strcmp(name, "user") == 0) return *out = VKT_CONTEXT_USER, VKT_OK;
    if (strcmp(name, "system") == 0) return *out = VKT_CONTEXT_SYSTEM, VKT_OK;
    vkt_log_error("%s \"%s\": expected \"user\" (the passages before the question) or \"system\" (in the system "
                  "message)", what, name);
    return VKT_ERR_ARG;
}

static bool has_role(const cJSON *m, const char *role) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(r) && strcmp(r->valuestring, role) == 0;
}

static cJSON *last_with_role(const cJSON *messages, const char *role) {
    cJSON *found = NULL, *m;
    cJSON_ArrayForEach(m, messages) if (has_role(m, role)) found = m;
    return found;
}

/* A content string, or text parts {"type": "text", "text" | "value": ...} joined into buf. */
static const char *content_text(const cJSON *m, char *buf, size_t n) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsString(c)) return c->valuestring;
    if (!cJSON_IsArray(c) || n == 0) return NULL;
    size_t len = 0;
    buf[0] = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(part, "value");
        if (!cJSON_IsString(t)) continue;
        int w = snprintf(buf + len, n - len, "%s", t->valuestring);
        len = w < 0 || (size_t)w >= n - len ? n - 1 : len + (size_t)w;
    }
    return buf;
}

const char *vkt_chat_last_user_text(const cJSON *messages, char *buf, size_t n) {
    const cJSON *m = last_with_role(messages, "user");
    return m ? content_text(m, buf, n) : NULL;
}

/* content := a + sep + b (either may be empty: then no separator). */
static vkt_status set_joined(cJSON *m, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 3);
    if (!s) return VKT_ERR_OOM;
    snprintf(s, la + lb + 3, "%s%s%s", a, la && lb ? "\n\n" : "", b);
    cJSON *v = cJSON_CreateString(s);
    free(s);
    if (!v) return VKT_ERR_OOM;
    if (cJSON_HasObjectItem(m, "content")) cJSON_ReplaceItemInObjectCaseSensitive(m, "content", v);
    else cJSON_AddItemToObject(m, "content", v);
    return VKT_OK;
}

vkt_status vkt_chat_add_context(cJSON *messages, const char *context, vkt_context_place place) {
    if (place == VKT_CONTEXT_USER) {
        cJSON *u = last_with_role(messages, "user");
        if (!u) {
            vkt_log_error("retrieval: the conversation has no user message to put the passages before");
            return VKT_ERR_ARG;
        }
        size_t n = 1 << 16;
        char *buf = malloc(n);
        if (!buf) return VKT_ERR_OOM;
        const char *q = content_text(u, buf, n);
        char *question = strdup(q ? q : "");
        free(buf);
        if (!question) return VKT_ERR_OOM;
        vkt_status s = set_joined(u, context, question);
        free(question);
        return s;
    }
    cJSON *first = cJSON_GetArrayItem(messages, 0);
    if (first && has_role(first, "system")) {
        char buf[1 << 12];
        const char *old = content_text(first, buf, sizeof buf);
        char *keep = strdup(old ? old : "");
        if (!keep) return VKT_ERR_OOM;
        vkt_status s = set_joined(first, keep, context);
        free(keep);
        return s;
    }
    cJSON *sys = cJSON_CreateObject();
    if (!sys || !cJSON_AddStringToObject(sys, "role", "system") || !cJSON_AddStringToObject(sys, "content", context)) {
        cJSON_Delete(sys);
        return VKT_ERR_OOM;
    }
    cJSON_InsertItemInArray(messages, 0, sys);
    return VKT_OK;
}

vkt_status vkt_chat_retrieve(vkt_rag_index *ix, int32_t k, vkt_context_place place, cJSON *messages) {
    char buf[4096];
    const char *q = vkt_chat_last_user_text(messages, buf, sizeof buf);
    if (!q || !*q) return VKT_OK;
    vkt_rag_hits hits = {0};
    VKT_TRY(vkt_rag_query(ix, q, k, NULL, NULL, &hits));
    char *ctx = NULL;
    vkt_status s = hits.n ? vkt_rag_format_context(hits.items, hits.n, false, &ctx) : VKT_OK;
    if (s == VKT_OK && ctx) s = vkt_chat_add_context(messages, ctx, place);
    free(ctx);
    vkt_rag_hits_free(&hits);
    return s;
}
