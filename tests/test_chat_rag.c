/* Retrieved passages in a conversation (src/chat/chat_rag.h), as data.retrieve and `chat --index` place
 * them. No device. Checks the exact resulting contents for both placements (user: "<context>\n\n<question>"
 * on the LAST user message only; system: appended to an existing system message after a blank line, or a
 * new first message), text-part contents, the error for a conversation with no user message, and a
 * retrieval over a generated index whose passage for the question's unique word must be the one inserted. */
#include <string.h>

#include <cjson/cJSON.h>

#include "chat/chat_rag.h"
#include "rag_testutil.h"

static cJSON *parse(const char *json) {
    cJSON *m = cJSON_Parse(json);
    if (!m) exit(1);
    return m;
}

static const char *content(const cJSON *messages, int i) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(messages, i), "content");
    return cJSON_IsString(c) ? c->valuestring : "(not a string)";
}

static const char *role(const cJSON *messages, int i) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(messages, i), "role");
    return cJSON_IsString(c) ? c->valuestring : "(none)";
}

static void placement(void) {
    const char *conv = "[{\"role\":\"user\",\"content\":\"q1\"},{\"role\":\"assistant\",\"content\":\"a1\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q2 \"},{\"type\":\"text\","
                       "\"value\":\"more\"}]}]";
    cJSON *m = parse(conv);
    char buf[64];
    CHECK(strcmp(vkt_chat_last_user_text(m, buf, sizeof buf), "q2 more") == 0, "last user text from parts");
    CHECK(vkt_chat_add_context(m, "Context:\n[1] (a.md) x", VKT_CONTEXT_USER) == VKT_OK, "user placement");
    CHECK(strcmp(content(m, 2), "Context:\n[1] (a.md) x\n\nq2 more") == 0, "user content is '%s'", content(m, 2));
    CHECK(strcmp(content(m, 0), "q1") == 0, "an earlier user turn is untouched: '%s'", content(m, 0));
    CHECK(cJSON_GetArraySize(m) == 3, "no message added");
    cJSON_Delete(m);

    m = parse(conv);
    CHECK(vkt_chat_add_context(m, "CTX", VKT_CONTEXT_SYSTEM) == VKT_OK, "system placement, no system message");
    CHECK(cJSON_GetArraySize(m) == 4 && strcmp(role(m, 0), "system") == 0 && strcmp(content(m, 0), "CTX") == 0,
          "a new first system message holds the context");
    cJSON_Delete(m);

    m = parse("[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"q\"}]");
    CHECK(vkt_chat_add_context(m, "CTX", VKT_CONTEXT_SYSTEM) == VKT_OK, "system placement with a system message");
    CHECK(cJSON_GetArraySize(m) == 2 && strcmp(content(m, 0), "Be brief.\n\nCTX") == 0, "system content is '%s'",
          content(m, 0));
    cJSON_Delete(m);

    m = parse("[{\"role\":\"system\",\"content\":\"s\"}]");
    tu_capture_begin();
    vkt_status s = vkt_chat_add_context(m, "CTX", VKT_CONTEXT_USER);
    tu_expect_fail("no user message", s, VKT_ERR_ARG, tu_capture_end(), "no user message", NULL);
    cJSON_Delete(m);

    vkt_context_place p;
    tu_capture_begin();
    s = vkt_context_place_parse("assistant", "data.retrieve_into", &p);
    tu_expect_fail("bad placement", s, VKT_ERR_ARG, tu_capture_end(), "data.retrieve_into", "\"user\"", NULL);
}

static void retrieval(void) {
    const char *dir = tu_mkdir();
    char docs[1100];
    snprintf(docs, sizeof docs, "%s/docs", dir);
    mkdir(docs, 0755);
    rag_write(docs, "ferry.md", "# Ferry\n\nThe ferry zorbleton leaves at nine.\n");
    rag_write(docs, "mill.md", "# Mill\n\nThe mill grinds barley every Tuesday.\n");
    rag_write(docs, "inn.md", "# Inn\n\nThe inn has seven rooms.\n");
    vkt_rag_chunk_opts co = vkt_rag_chunk_defaults();
    CHECK(vkt_rag_index_build(docs, tu_path(dir, "ix.db"), &co, NULL) == VKT_OK, "index build");
    vkt_rag_index *ix = NULL;
    CHECK(vkt_rag_index_open(tu_path(dir, "ix.db"), &ix) == VKT_OK, "index open");
    cJSON *m = parse("[{\"role\":\"user\",\"content\":\"When does zorbleton leave?\"}]");
    CHECK(ix && vkt_chat_retrieve(ix, 1, VKT_CONTEXT_USER, m) == VKT_OK, "retrieve");
    const char *want = "Context:\n[1] (ferry.md) The ferry zorbleton leaves at nine.\n\nWhen does zorbleton leave?";
    CHECK(strcmp(content(m, 0), want) == 0, "retrieved content is '%s'", content(m, 0));
    cJSON_Delete(m);
    vkt_rag_index_close(ix);
    tu_rmdir(dir);
}

int main(void) {
    placement();
    retrieval();
    printf("%s chat_rag (%d failure(s))\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
