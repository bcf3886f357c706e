/* RAFT-style contexts (src/rag/rag_context.h) and the shipped RAG demonstration data. No device.
 *
 * On a generated corpus (12 documents of 3 one-passage sections, each section holding a unique word)
 * a context must: hold k distinct passages, its gold ones from the gold document and the best match
 * for the question, its distractors from elsewhere; be identical for the same (seed, example) in any
 * call order; include the gold at the rate 1 - p_no_gold (2000 draws, bound 4.4 sigma: a fixed seed,
 * so the check is deterministic, and a wrong comparison such as p instead of 1 - p fails by far); put
 * the gold at every position. The shipped data/sft/rag_qa.jsonl must be well formed, name gold
 * documents that exist in data/rag_docs, keep answers short, and its questions must retrieve their
 * gold document (measured 99/104 first, 104/104 in the top 3 with the default chunking). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "expect.h"
#include "harness.h"
#include "rag/rag_context.h"
#include "rag_testutil.h"

#define N_DOCS 12

static void write_corpus(const char *dir) {
    for (int d = 0; d < N_DOCS; d++) {
        char name[32], text[512];
        snprintf(name, sizeof name, "doc%02d.md", d);
        snprintf(text, sizeof text,
                 "# Doc %d\n\n## One\n\nFirst part holds uniq%dx0 here.\n\n## Two\n\nSecond part "
                 "holds uniq%dx1 here.\n\n## Three\n\nThird part holds uniq%dx2 here.\n",
                 d, d, d, d);
        rag_write(dir, name, text);
    }
}

static bool has_id(const vkt_rag_hits *h, int64_t id) {
    for (int32_t i = 0; i < h->n; i++)
        if (h->items[i].id == id) return true;
    return false;
}

/* Checks one context's invariants; returns the gold's position (or -1). */
static int check_context(const vkt_rag_hits *h, int32_t n_gold, const char *gold, int32_t k, const char *word) {
    int bad = h->n != k, pos = -1, gold_seen = 0;
    for (int32_t i = 0; i < h->n; i++) {
        const vkt_rag_hit *x = &h->items[i];
        for (int32_t j = 0; j < i; j++) bad += h->items[j].id == x->id;
        if (!strcmp(x->source, gold)) {
            gold_seen++, pos = i;
            bad += !strstr(x->text, word); /* the gold passage is the one the question asks about */
        }
    }
    bad += gold_seen != n_gold;
    if (bad) printf("FAIL context for %s: %d passages, n_gold %d, seen %d\n", word, h->n, n_gold, gold_seen);
    EXPECT(!bad);
    return pos;
}

static void test_raft(vkt_rag_index *ix) {
    vkt_rag_raft_opts o = vkt_rag_raft_defaults();
    EXPECT(o.k == 4 && o.n_gold == 1 && o.p_no_gold == 0.2);
    o.p_no_gold = 0.3, o.seed = 7;
    enum { N = 2000 };
    static int64_t first[N][4];
    int included = 0, at[4] = {0}, differs = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int e = 0; e < N; e++) {
            int ex = pass ? N - 1 - e : e; /* second pass in reverse: no dependence on call order */
            char q[64], gold[32], word[32];
            snprintf(word, sizeof word, "uniq%dx%d", ex % N_DOCS, ex % 3);
            snprintf(q, sizeof q, "Where is %s?", word);
            snprintf(gold, sizeof gold, "doc%02d.md", ex % N_DOCS);
            vkt_rag_hits h = {0};
            int32_t n_gold = -1;
            EXPECT(vkt_rag_raft_select(ix, q, gold, ex, &o, &h, &n_gold) == VKT_OK);
            int pos = check_context(&h, n_gold, gold, 4, word);
            for (int32_t i = 0; i < h.n && i < 4; i++) {
                if (pass == 0)
                    first[ex][i] = h.items[i].id;
                else
                    differs += first[ex][i] != h.items[i].id;
            }
            if (pass == 0) included += n_gold > 0, at[pos < 0 ? 0 : pos] += pos >= 0;
            vkt_rag_hits_free(&h);
        }
    }
    double rate = (double)included / N, sigma = sqrt(0.7 * 0.3 / N);
    printf("RAFT p_no_gold 0.3: gold in %d of %d (%.4f, want 0.7 +- %.4f); at positions %d %d %d %d; %d ids "
           "differ on the second pass\n",
           included, N, rate, 4.4 * sigma, at[0], at[1], at[2], at[3], differs);
    EXPECT(fabs(rate - 0.7) < 4.4 * sigma && differs == 0);
    EXPECT(at[0] > 200 && at[1] > 200 && at[2] > 200 && at[3] > 200);
    /* Another seed draws other contexts; p 0 and 1 are exact. */
    vkt_rag_hits a = {0}, b = {0};
    int32_t n_gold = 0, other = 0, always = 0, never = 0;
    for (int e = 0; e < 50; e++) {
        vkt_rag_raft_opts o2 = o;
        o2.seed = 8;
        EXPECT(vkt_rag_raft_select(ix, "uniq1x1", "doc01.md", e, &o, &a, NULL) == VKT_OK);
        EXPECT(vkt_rag_raft_select(ix, "uniq1x1", "doc01.md", e, &o2, &b, NULL) == VKT_OK);
        for (int32_t i = 0; i < a.n && i < b.n; i++) other += a.items[i].id != b.items[i].id;
        vkt_rag_hits_free(&a), vkt_rag_hits_free(&b);
        o2.p_no_gold = 0;
        EXPECT(vkt_rag_raft_select(ix, "uniq1x1", "doc01.md", e, &o2, &a, &n_gold) == VKT_OK);
        always += n_gold == 1;
        vkt_rag_hits_free(&a);
        o2.p_no_gold = 1;
        EXPECT(vkt_rag_raft_select(ix, "uniq1x1", "doc01.md", e, &o2, &a, &n_gold) == VKT_OK);
        never += n_gold == 0 && a.n == 4;
        vkt_rag_hits_free(&a);
    }
    EXPECT(other > 50 && always == 50 && never == 50);
}

static void test_raft_options(vkt_rag_index *ix) {
    vkt_rag_hits h = {0}, top = {0};
    int32_t n_gold = 0;
    /* Hard distractors: the question's best passages outside the gold document, in the context. */
    vkt_rag_raft_opts o = {.k = 3, .n_gold = 1, .p_no_gold = 0, .hard_distractors = true, .seed = 1};
    const char *q = "uniq3x2 uniq5x1 uniq7x0";
    EXPECT(vkt_rag_raft_select(ix, q, "doc03.md", 0, &o, &h, &n_gold) == VKT_OK && n_gold == 1 && h.n == 3);
    EXPECT(vkt_rag_query(ix, q, 2, NULL, "doc03.md", &top) == VKT_OK && top.n == 2);
    EXPECT(top.n == 2 && has_id(&h, top.items[0].id) && has_id(&h, top.items[1].id));
    vkt_rag_hits_free(&h), vkt_rag_hits_free(&top);
    /* n_gold 2: the best match, then the document's first passage; then random distractors. */
    o = (vkt_rag_raft_opts){.k = 5, .n_gold = 2, .p_no_gold = 0, .seed = 3};
    EXPECT(vkt_rag_raft_select(ix, "uniq4x2", "doc04.md", 9, &o, &h, &n_gold) == VKT_OK && n_gold == 2 && h.n == 5);
    EXPECT(vkt_rag_document_passages(ix, "doc04.md", &top) == VKT_OK && top.n == 3);
    EXPECT(top.n == 3 && has_id(&h, top.items[0].id) && !has_id(&h, top.items[1].id) && has_id(&h, top.items[2].id));
    vkt_rag_hits_free(&h), vkt_rag_hits_free(&top);
    /* k above what the index holds: every passage outside the gold document, plus the gold. */
    o = (vkt_rag_raft_opts){.k = 100, .n_gold = 1, .p_no_gold = 0};
    EXPECT(vkt_rag_raft_select(ix, "uniq0x0", "doc00.md", 0, &o, &h, &n_gold) == VKT_OK && n_gold == 1 &&
           h.n == 1 + 3 * (N_DOCS - 1));
    vkt_rag_hits_free(&h);
    /* Errors: a gold document the index lacks, impossible options. */
    vkt_rag_raft_opts bad[] = {{.k = 0, .n_gold = 1},
                               {.k = 2, .n_gold = 3},
                               {.k = 2, .n_gold = 0},
                               {.k = 2, .n_gold = 1, .p_no_gold = 1.5},
                               {.k = 2, .n_gold = 1, .p_no_gold = NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(vkt_rag_raft_select(ix, "x", "doc00.md", 0, &bad[i], &h, NULL) == VKT_ERR_ARG && h.n == 0);
    o = vkt_rag_raft_defaults();
    tu_capture_begin();
    vkt_status s = vkt_rag_raft_select(ix, "x", "docs/doc00.md", 0, &o, &h, NULL);
    tu_expect_fail("raft gold missing", s, VKT_ERR_ARG, tu_capture_end(), "'docs/doc00.md' is not in the index",
                   "such as 'doc00.md'", NULL);
}

static void test_format(void) {
    vkt_rag_hit hits[2] = {{.id = 1, .source = "a.md", .chunk = 0, .heading = "Town > Bells", .text = "Seven bells."},
                           {.id = 2, .source = "b.txt", .chunk = 3, .heading = "", .text = "Ferry at nine."}};
    char *t = NULL;
    EXPECT(vkt_rag_format_context(hits, 2, false, &t) == VKT_OK &&
           !strcmp(t, "Context:\n[1] (a.md) Seven bells.\n[2] (b.txt) Ferry at nine."));
    free(t);
    EXPECT(vkt_rag_format_context(hits, 2, true, &t) == VKT_OK &&
           !strcmp(t, "Context:\n[1] (a.md: Town > Bells) Seven bells.\n[2] (b.txt) Ferry at nine."));
    free(t);
    EXPECT(vkt_rag_format_context(hits, 0, true, &t) == VKT_OK && !strcmp(t, "Context:"));
    free(t);
}

static int count_words(const char *s) {
    int n = 0;
    for (const char *p = s; *p; p++) n += (p == s || *(p - 1) == ' ') && *p != ' ';
    return n;
}

/* data/sft/rag_qa.jsonl against data/rag_docs, indexed with the defaults into `index`. */
static void test_shipped_data(const char *index) {
    vkt_rag_chunk_opts co = vkt_rag_chunk_defaults();
    EXPECT(vkt_rag_index_build(vkt_test_data("rag_docs"), index, &co, NULL) == VKT_OK);
    vkt_rag_index *ix = NULL;
    EXPECT(vkt_rag_index_open(index, &ix) == VKT_OK);
    if (!ix) return;
    size_t n = 0;
    char *text = (char *)tu_read(vkt_test_data("sft/rag_qa.jsonl"), &n);
    text[n] = 0;
    int records = 0, bad = 0, top1 = 0, top3 = 0, per_doc_seen = 0;
    char seen_docs[64][32] = {{0}};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        records++;
        cJSON *r = cJSON_Parse(line);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "messages");
        const cJSON *gold = cJSON_GetObjectItemCaseSensitive(r, "gold");
        const cJSON *u = cJSON_GetArrayItem(m, 0), *a = cJSON_GetArrayItem(m, 1);
        const cJSON *uc = cJSON_GetObjectItemCaseSensitive(u, "content");
        const cJSON *ac = cJSON_GetObjectItemCaseSensitive(a, "content");
        bool ok = cJSON_GetArraySize(m) == 2 && cJSON_IsString(gold) && cJSON_IsString(uc) && cJSON_IsString(ac) &&
                  !strcmp(cJSON_GetObjectItemCaseSensitive(u, "role")->valuestring, "user") &&
                  !strcmp(cJSON_GetObjectItemCaseSensitive(a, "role")->valuestring, "assistant") &&
                  count_words(uc->valuestring) <= 16 && count_words(ac->valuestring) <= 12;
        vkt_rag_hits h = {0};
        ok = ok && vkt_rag_document_passages(ix, gold->valuestring, &h) == VKT_OK && h.n > 0;
        vkt_rag_hits_free(&h);
        if (ok && vkt_rag_query(ix, uc->valuestring, 3, NULL, NULL, &h) == VKT_OK) {
            top1 += h.n > 0 && !strcmp(h.items[0].source, gold->valuestring);
            for (int32_t i = 0; i < h.n; i++)
                if (!strcmp(h.items[i].source, gold->valuestring)) {
                    top3++;
                    break;
                }
            bool known = false;
            for (int i = 0; i < per_doc_seen; i++) known |= !strcmp(seen_docs[i], gold->valuestring);
            if (!known && per_doc_seen < 64) snprintf(seen_docs[per_doc_seen++], 32, "%s", gold->valuestring);
        }
        vkt_rag_hits_free(&h);
        if (!ok) printf("FAIL rag_qa.jsonl record %d: %s\n", records, line);
        bad += !ok;
        cJSON_Delete(r);
    }
    const vkt_rag_index_info *info = vkt_rag_index_get_info(ix);
    printf("rag_qa.jsonl: %d records, %d bad, gold document first %d, in the top 3 %d; %d of %lld documents asked "
           "about\n",
           records, bad, top1, top3, per_doc_seen, (long long)info->n_documents);
    EXPECT(records >= 60 && records <= 150 && bad == 0);
    EXPECT(top1 >= records * 9 / 10 && top3 >= records * 97 / 100 && per_doc_seen == info->n_documents);
    free(text);
    vkt_rag_index_close(ix);
}

int main(void) {
    const char *root = tu_mkdir();
    char docs[512], index[512], shipped[512];
    snprintf(docs, sizeof docs, "%s", tu_path(root, "docs"));
    snprintf(index, sizeof index, "%s", tu_path(root, "raft.db"));
    snprintf(shipped, sizeof shipped, "%s", tu_path(root, "lumby.db"));
    mkdir(docs, 0755);
    write_corpus(docs);
    vkt_rag_chunk_opts co = {.chunk_words = 8, .overlap_words = 0};
    vkt_rag_index *ix = NULL;
    EXPECT(vkt_rag_index_build(docs, index, &co, NULL) == VKT_OK && vkt_rag_index_open(index, &ix) == VKT_OK);
    if (ix) {
        EXPECT(vkt_rag_index_get_info(ix)->n_passages == 3 * N_DOCS);
        test_raft(ix);
        test_raft_options(ix);
        vkt_rag_index_close(ix);
    }
    test_format();
    test_shipped_data(shipped);
    tu_rmdir(root);
    expect_failures += g_failures;
    return expect_finish("rag_raft");
}
