/* RAFT-style context selection and the context text block (rag_context.h). The gold document's
 * passages come from the index (vkt_rag_document_passages), so "is this passage gold" is a comparison
 * of ids, and random distractors are drawn by passage id without loading the whole index. */
#include "rag/rag_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"

vkt_rag_raft_opts vkt_rag_raft_defaults(void) { return (vkt_rag_raft_opts){.k = 4, .n_gold = 1, .p_no_gold = 0.2}; }

static vkt_status check_opts(const vkt_rag_raft_opts *o) {
    if (o->k < 1 || o->n_gold < 1 || o->n_gold > o->k) {
        vkt_log_error("RAFT context: k = %d and n_gold = %d; need k >= 1 and 1 <= n_gold <= k", o->k, o->n_gold);
        return VKT_ERR_ARG;
    }
    if (!(o->p_no_gold >= 0.0 && o->p_no_gold <= 1.0)) {
        vkt_log_error("RAFT context: p_no_gold = %g is outside [0, 1]", o->p_no_gold);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

static bool contains(const vkt_rag_hits *h, int64_t id) {
    for (int32_t i = 0; i < h->n; i++)
        if (h->items[i].id == id) return true;
    return false;
}

/* Moves src's passages that dst lacks to the end of dst, at most `limit` of them; frees src. */
static vkt_status move_new(vkt_rag_hits *dst, vkt_rag_hits *src, int32_t limit) {
    vkt_status s = VKT_OK;
    vkt_rag_hit *items = realloc(dst->items, (size_t)(dst->n + src->n + 1) * sizeof *items);
    if (!items)
        s = VKT_ERR_OOM;
    else
        dst->items = items;
    for (int32_t i = 0; s == VKT_OK && i < src->n; i++) {
        if (limit > 0 && !contains(dst, src->items[i].id)) {
            dst->items[dst->n++] = src->items[i];
            src->items[i] = (vkt_rag_hit){0};
            limit--;
        }
    }
    vkt_rag_hits_free(src);
    return s;
}

static vkt_status gold_passages(vkt_rag_index *ix, const char *question, const char *gold, const vkt_rag_hits *doc,
                                int32_t n_gold, vkt_rag_hits *sel) {
    vkt_rag_hits best = {0};
    VKT_TRY(vkt_rag_query(ix, question, n_gold, gold, NULL, &best));
    VKT_TRY(move_new(sel, &best, n_gold));
    for (int32_t i = 0; i < doc->n && sel->n < n_gold; i++)
        if (!contains(sel, doc->items[i].id)) VKT_TRY(vkt_rag_passage_get(ix, doc->items[i].id, sel));
    return VKT_OK;
}

/* Uniform distractors until sel holds k passages or no passage outside the gold document is left. By
 * rejection while candidates are plentiful (expected < 2 draws each); by a partial shuffle of the
 * remaining candidates otherwise, so a nearly exhausted index costs no long rejection runs. */
static vkt_status random_distractors(vkt_rag_index *ix, const vkt_rag_hits *doc, int32_t k, vkt_rng *rng,
                                     vkt_rag_hits *sel) {
    const int64_t n = vkt_rag_index_get_info(ix)->n_passages;
    int64_t taken = 0; /* distractors already in sel */
    for (int32_t i = 0; i < sel->n; i++) taken += !contains(doc, sel->items[i].id);
    int64_t avail = n - doc->n - taken;
    while (sel->n < k && avail > 2 * (int64_t)(k - sel->n)) {
        int64_t id = 1 + (int64_t)(vkt_rng_u64(rng) % (uint64_t)n);
        if (contains(doc, id) || contains(sel, id)) continue;
        VKT_TRY(vkt_rag_passage_get(ix, id, sel));
        avail--;
    }
    if (sel->n >= k || avail <= 0) return VKT_OK;
    int64_t *cand = malloc((size_t)avail * sizeof *cand), m = 0;
    if (!cand) return VKT_ERR_OOM;
    for (int64_t id = 1; id <= n && m < avail; id++)
        if (!contains(doc, id) && !contains(sel, id)) cand[m++] = id;
    vkt_status s = VKT_OK;
    for (int64_t i = 0; s == VKT_OK && i < m && sel->n < k; i++) {
        int64_t j = i + (int64_t)(vkt_rng_u64(rng) % (uint64_t)(m - i));
        int64_t t = cand[i];
        cand[i] = cand[j], cand[j] = t;
        s = vkt_rag_passage_get(ix, cand[i], sel);
    }
    free(cand);
    return s;
}

static vkt_status select_into(vkt_rag_index *ix, const char *question, const char *gold, const vkt_rag_hits *doc,
                              const vkt_rag_raft_opts *o, vkt_rng *rng, vkt_rag_hits *sel) {
    bool include_gold = !(vkt_rng_uniform(rng) < o->p_no_gold);
    if (include_gold) VKT_TRY(gold_passages(ix, question, gold, doc, o->n_gold, sel));
    if (o->hard_distractors && sel->n < o->k) {
        vkt_rag_hits hard = {0};
        VKT_TRY(vkt_rag_query(ix, question, o->k - sel->n, NULL, gold, &hard));
        VKT_TRY(move_new(sel, &hard, o->k - sel->n));
    }
    VKT_TRY(random_distractors(ix, doc, o->k, rng, sel));
    for (int32_t i = sel->n - 1; i > 0; i--) {
        int32_t j = (int32_t)(vkt_rng_u64(rng) % (uint64_t)(i + 1));
        vkt_rag_hit t = sel->items[i];
        sel->items[i] = sel->items[j], sel->items[j] = t;
    }
    return VKT_OK;
}

vkt_status vkt_rag_raft_select(vkt_rag_index *ix, const char *question, const char *gold_source, int64_t example,
                               const vkt_rag_raft_opts *opts, vkt_rag_hits *out, int32_t *n_gold_out) {
    VKT_TRY(check_opts(opts));
    vkt_rag_hits doc = {0};
    VKT_TRY(vkt_rag_document_passages(ix, gold_source, &doc));
    if (doc.n == 0) {
        vkt_rag_hits first = {0};
        vkt_status s = vkt_rag_passage_get(ix, 1, &first);
        vkt_log_error("%s: the gold document '%s' is not in the index (sources are paths relative to the indexed "
                      "folder, such as '%s')",
                      vkt_rag_index_path(ix), gold_source, s == VKT_OK ? first.items[0].source : "?");
        vkt_rag_hits_free(&first);
        return VKT_ERR_ARG;
    }
    /* splitmix64 inside vkt_rng_init decorrelates neighbouring examples' seeds. */
    vkt_rng rng;
    vkt_rng_init(&rng, opts->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)example));
    vkt_status s = select_into(ix, question, gold_source, &doc, opts, &rng, out);
    int32_t n_gold = 0;
    for (int32_t i = 0; s == VKT_OK && i < out->n; i++) n_gold += contains(&doc, out->items[i].id);
    if (n_gold_out) *n_gold_out = n_gold;
    if (s != VKT_OK) vkt_rag_hits_free(out);
    vkt_rag_hits_free(&doc);
    return s;
}

vkt_status vkt_rag_format_context(const vkt_rag_hit *hits, int32_t n, bool with_headings, char **out) {
    size_t bytes = sizeof "Context:";
    for (int32_t i = 0; i < n; i++)
        bytes += strlen(hits[i].source) + strlen(hits[i].heading) + strlen(hits[i].text) + 32;
    char *t = malloc(bytes);
    if (!t) return VKT_ERR_OOM;
    size_t at = (size_t)snprintf(t, bytes, "Context:");
    for (int32_t i = 0; i < n; i++) {
        const vkt_rag_hit *h = &hits[i];
        bool head = with_headings && h->heading[0];
        at += (size_t)snprintf(t + at, bytes - at, "\n[%d] (%s%s%s) %s", i + 1, h->source, head ? ": " : "",
                               head ? h->heading : "", h->text);
    }
    *out = t;
    return VKT_OK;
}
