/* Retrieval-augmented fine-tuning data (see sft_retrieve.h). */
#include "sft/sft_retrieve.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static bool holds_gold(const vkt_rag_hits *h, const char *gold) {
    for (int32_t i = 0; gold && i < h->n; i++)
        if (strcmp(h->items[i].source, gold) == 0) return true;
    return false;
}

/* A system context put into a conversation without a system message is a new first message: the per-message
 * loss flags (e->train, one per message before it) move up by one with it, or they would mark the wrong
 * messages (and one past their end) as trained. */
static vkt_status shift_flags_for_new_first(vkt_sft_example *e, int n_before) {
    if (cJSON_GetArraySize(e->messages) == n_before) return VKT_OK;
    uint8_t *t = realloc(e->train, (size_t)n_before + 1);
    if (!t) return VKT_ERR_OOM;
    memmove(t + 1, t, (size_t)n_before);
    t[0] = 0;
    e->train = t;
    return VKT_OK;
}

static vkt_status augment(const vkt_sft_dataset *d, vkt_sft_example *e, int64_t index, const vkt_sft_retrieve_opts *o,
                          vkt_sft_retrieve_stats *st) {
    char buf[4096], where[1200];
    const char *q = e->kind == VKT_SFT_CHAT ? vkt_chat_last_user_text(e->messages, buf, sizeof buf) : NULL;
    if (!q || !*q) return st->n_untouched++, VKT_OK;
    vkt_rag_hits hits = {0};
    vkt_status s;
    if (o->training && e->gold) {
        int32_t n_gold = 0;
        s = vkt_rag_raft_select(o->index, q, e->gold, index, &o->raft, &hits, &n_gold);
        if (s != VKT_OK)
            vkt_log_error("%s: the record's gold document \"%s\" (see above)",
                          vkt_sft_example_where(d, e, where, sizeof where), e->gold);
        st->n_raft++, st->n_gold_kept += n_gold > 0;
    } else {
        s = vkt_rag_query(o->index, q, o->raft.k, NULL, NULL, &hits);
        st->n_topk++, st->n_gold_named += e->gold != NULL, st->n_gold_hit += holds_gold(&hits, e->gold);
    }
    char *ctx = NULL;
    int n_before = cJSON_GetArraySize(e->messages);
    if (s == VKT_OK) s = vkt_rag_format_context(hits.items, hits.n, false, &ctx);
    if (s == VKT_OK) s = vkt_chat_add_context(e->messages, ctx, o->place);
    if (s == VKT_OK) s = shift_flags_for_new_first(e, n_before);
    free(ctx);
    vkt_rag_hits_free(&hits);
    return s;
}

vkt_status vkt_sft_retrieve(vkt_sft_dataset *d, const vkt_sft_retrieve_opts *o, vkt_sft_retrieve_stats *stats) {
    vkt_sft_retrieve_stats st = {0};
    for (int64_t i = 0; i < d->n; i++) VKT_TRY(augment(d, &d->ex[i], i, o, &st));
    if (stats) *stats = st;
    return VKT_OK;
}
