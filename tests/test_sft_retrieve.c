/* Retrieval-augmented fine-tuning data (src/sft/sft_retrieve.h). No device. On a three-document index:
 * a training record with a gold document and p_no_gold 0 gets exactly its gold passage (k 1) before the
 * question; with p_no_gold 1 never; a record without gold and every validation record get the top-k
 * passage for the question; a text record is left alone; a gold document the index lacks fails naming
 * FILE:LINE; the stats count each case. With the context in the system message (a new first message) the
 * per-message loss flags move with the messages: the assistant turns stay the trained ones. */
#include <string.h>

#include "rag_testutil.h"
#include "sft/sft_retrieve.h"

static const char *RECORDS =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"When does the zorbleton ferry leave?\"},"
    "{\"role\":\"assistant\",\"content\":\"At nine.\"}],\"gold\":\"ferry.md\"}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"What does the mill grind?\"},"
    "{\"role\":\"assistant\",\"content\":\"Barley.\"}]}\n"
    "{\"text\":\"The inn has seven rooms.\"}\n";

static const char *user_content(const vkt_sft_example *e) {
    const cJSON *m = cJSON_GetArrayItem(e->messages, 0);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    return cJSON_IsString(c) ? c->valuestring : "";
}

static void load(vkt_sft_dataset *d, const char *text) {
    memset(d, 0, sizeof *d);
    if (vkt_sft_dataset_add_mem(d, text, strlen(text), "qa.jsonl", NULL) != VKT_OK) exit(1);
}

int main(void) {
    const char *dir = tu_mkdir();
    char docs[1100];
    snprintf(docs, sizeof docs, "%s/docs", dir);
    mkdir(docs, 0755);
    rag_write(docs, "ferry.md", "# Ferry\n\nThe zorbleton ferry leaves at nine.\n");
    rag_write(docs, "mill.md", "# Mill\n\nThe mill grinds barley.\n");
    rag_write(docs, "inn.md", "# Inn\n\nThe inn has seven rooms.\n");
    vkt_rag_chunk_opts co = vkt_rag_chunk_defaults();
    vkt_rag_index *ix = NULL;
    CHECK(vkt_rag_index_build(docs, tu_path(dir, "ix.db"), &co, NULL) == VKT_OK, "build");
    CHECK(vkt_rag_index_open(tu_path(dir, "ix.db"), &ix) == VKT_OK, "open");

    vkt_sft_retrieve_opts o = {.index = ix, .raft = vkt_rag_raft_defaults(), .place = VKT_CONTEXT_USER, .training = true};
    o.raft.k = 1, o.raft.p_no_gold = 0;
    vkt_sft_dataset d;
    vkt_sft_retrieve_stats st;
    load(&d, RECORDS);
    CHECK(vkt_sft_retrieve(&d, &o, &st) == VKT_OK, "training, gold always in");
    CHECK(strcmp(user_content(&d.ex[0]), "Context:\n[1] (ferry.md) The zorbleton ferry leaves at nine.\n\nWhen does the "
                                         "zorbleton ferry leave?") == 0, "RAFT context: '%s'", user_content(&d.ex[0]));
    CHECK(strcmp(user_content(&d.ex[1]), "Context:\n[1] (mill.md) The mill grinds barley.\n\nWhat does the mill grind?") == 0,
          "top-k context without gold: '%s'", user_content(&d.ex[1]));
    CHECK(strcmp(d.ex[2].text, "The inn has seven rooms.") == 0, "text untouched");
    CHECK(st.n_raft == 1 && st.n_gold_kept == 1 && st.n_topk == 1 && st.n_untouched == 1, "stats %lld %lld %lld %lld",
          (long long)st.n_raft, (long long)st.n_gold_kept, (long long)st.n_topk, (long long)st.n_untouched);
    vkt_sft_dataset_free(&d);

    o.raft.p_no_gold = 1;
    load(&d, RECORDS);
    CHECK(vkt_sft_retrieve(&d, &o, &st) == VKT_OK, "training, gold always out");
    CHECK(strstr(user_content(&d.ex[0]), "ferry.md") == NULL && strstr(user_content(&d.ex[0]), "Context:\n[1] ("),
          "p_no_gold 1 leaves the gold out: '%s'", user_content(&d.ex[0]));
    CHECK(st.n_gold_kept == 0, "no gold kept");
    vkt_sft_dataset_free(&d);

    o.training = false;
    load(&d, RECORDS);
    CHECK(vkt_sft_retrieve(&d, &o, &st) == VKT_OK, "validation");
    CHECK(strstr(user_content(&d.ex[0]), "(ferry.md)") != NULL, "validation uses top-k: '%s'", user_content(&d.ex[0]));
    CHECK(st.n_raft == 0 && st.n_topk == 2 && st.n_gold_named == 1 && st.n_gold_hit == 1, "validation stats");
    vkt_sft_dataset_free(&d);

    o.place = VKT_CONTEXT_SYSTEM;
    load(&d, "{\"messages\":[{\"role\":\"user\",\"content\":\"When does the zorbleton ferry leave?\"},"
             "{\"role\":\"assistant\",\"content\":\"At nine.\"},{\"role\":\"user\",\"content\":\"Where to?\"},"
             "{\"role\":\"assistant\",\"content\":\"Lumby.\"}],\"gold\":\"ferry.md\"}\n");
    CHECK(vkt_sft_retrieve(&d, &o, &st) == VKT_OK, "system context");
    const cJSON *first = cJSON_GetArrayItem(d.ex[0].messages, 0);
    CHECK(cJSON_GetArraySize(d.ex[0].messages) == 5 &&
              strcmp(cJSON_GetObjectItemCaseSensitive(first, "role")->valuestring, "system") == 0,
          "the context is a new first (system) message");
    for (int i = 0; i < 5; i++) {
        const char *role = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d.ex[0].messages, i), "role")->valuestring;
        CHECK(d.ex[0].train[i] == (strcmp(role, "assistant") == 0), "message %d (%s): loss flag %d", i, role,
              d.ex[0].train[i]);
    }
    vkt_sft_dataset_free(&d);
    o.place = VKT_CONTEXT_USER;

    o.training = true, o.raft.p_no_gold = 0;
    load(&d, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}],"
             "\"gold\":\"missing.md\"}\n");
    tu_capture_begin();
    vkt_status s = vkt_sft_retrieve(&d, &o, &st);
    tu_expect_fail("unknown gold", s, VKT_ERR_ARG, tu_capture_end(), "qa.jsonl:1", "missing.md", NULL);
    vkt_sft_dataset_free(&d);

    vkt_sft_example e;
    char why[256];
    cJSON *rec = cJSON_Parse("{\"text\":\"t\",\"gold\":3}");
    CHECK(vkt_sft_example_from_json(rec, &e, why, sizeof why) == VKT_ERR_FORMAT && strstr(why, "\"gold\""),
          "a non-string gold is refused: %s", why);
    cJSON_Delete(rec);

    vkt_rag_index_close(ix);
    tu_rmdir(dir);
    printf("%s sft_retrieve (%d failure(s))\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
