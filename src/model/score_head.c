/* The scalar score head (see score_head.h). */
#include "model/score_head.h"

#include <string.h>

#include "core/log.h"
#include "ops/matmul.h"
#include "ops/seq_scatter.h"
#include "ops/seq_sum.h"

vkt_status vkt_score_head_create(vkt_device *dev, int64_t BT, vkt_score_head *h) {
    memset(h, 0, sizeof *h);
    h->BT = BT;
    VKT_TRY(vkt_arena_create(dev, "score head", (size_t)(2 * BT) * 4 + 2048, &h->arena));
    VKT_TRY(vkt_tensor_alloc(h->arena, VKT_DTYPE_F32, BT, 1, 1, 1, &h->scores));
    return vkt_tensor_alloc(h->arena, VKT_DTYPE_F32, BT, 1, 1, 1, &h->factor);
}

void vkt_score_head_destroy(vkt_score_head *h) {
    vkt_arena_destroy(h->arena);
    memset(h, 0, sizeof *h);
}

vkt_status vkt_score_head_fwd(vkt_score_head *h, vkt_rec *r, const vkt_model *m, const vkt_tensor *w,
                              const vkt_tensor *last_id, const vkt_tensor *rewards) {
    int64_t C = m->cfg.n_embd;
    VKT_ASSERT(h->BT == m->B * m->T && vkt_tensor_numel(w) == C && vkt_tensor_numel(last_id) == h->BT);
    VKT_TRY(vkt_op_matmul_fwd(r, &m->normf, w, NULL, &h->scores, h->BT, C, 1));
    return vkt_op_seq_sum(r, &h->scores, last_id, 1.0f, rewards);
}

vkt_status vkt_score_head_bwd(vkt_score_head *h, vkt_rec *r, vkt_model *m, const vkt_tensor *w,
                              const vkt_tensor *dw, const vkt_tensor *last_id, const vkt_tensor *drewards) {
    int64_t C = m->cfg.n_embd;
    VKT_ASSERT(h->BT == m->B * m->T && vkt_tensor_numel(w) == C);
    const float minus_one = -1.0f;
    uint32_t word;
    memcpy(&word, &minus_one, sizeof word);
    VKT_TRY(vkt_rec_fill(r, &h->factor, word));
    VKT_TRY(vkt_op_seq_scatter(r, drewards, last_id, &h->factor, &h->scores));
    VKT_TRY(vkt_op_matmul_bwd(r, &h->scores, &m->normf, w, &m->dtmp_c, dw, NULL, h->BT, C, 1));
    return vkt_model_record_backward_hidden(m, r, &m->dtmp_c);
}

vkt_status vkt_score_last_ids(const int32_t *seq_last, int64_t S, int64_t n, int32_t *last_id) {
    for (int64_t i = 0; i < n; i++) last_id[i] = -1;
    for (int64_t s = 0; s < S; s++) {
        int32_t p = seq_last[s];
        if (p < 0) continue;
        if (p >= n || last_id[p] >= 0) {
            vkt_log_error("score head: sequence %lld ends at position %d, %s", (long long)s, (int)p,
                          p >= n ? "outside the batch" : "where another sequence ends");
            return VKT_ERR_FORMAT;
        }
        last_id[p] = (int32_t)s;
    }
    return VKT_OK;
}

int vkt_score_head_find(const vkt_param_table *t) {
    static const char suffix[] = ".score.weight";
    for (int i = 0; i < t->n; i++) {
        const char *name = t->p[i].name;
        size_t n = strlen(name), k = sizeof suffix - 1;
        if (!strcmp(name, "score.weight") || (n > k && !strcmp(name + n - k, suffix))) return i;
    }
    return -1;
}
