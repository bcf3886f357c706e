/* The reward-model micro-batch program (see reward_step.h). */
#include "sched/reward_step.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

enum { N_METRICS = 7 };

static const char *const metric_names[N_METRICS] = {"rewards/chosen", "rewards/rejected", "margin",     "accuracy",
                                                    "min_reward",     "mean_reward",      "max_reward"};
static const char *const progress_labels[N_METRICS] = {NULL, NULL, "margin", "acc", NULL, NULL, NULL};

typedef struct {
    vkt_tensor seq_id, pairs, last_id, stats; /* host-visible: (BT) i32, (P, 2) i32, (BT) i32, (16) f32 */
    vkt_pref_slot host;                       /* pointers into them; pair_index and seq_last owned */
} slot_t;

struct vkt_reward_step {
    vkt_model *m; /* borrowed */
    vkt_reward_step_cfg cfg;
    int64_t P, S, BT;
    vkt_arena *host_arena, *dev_arena; /* owned */
    slot_t slot[2];
    vkt_score_head head;
    vkt_tensor rewards;     /* (S, 2) host-visible */
    vkt_tensor pair_losses; /* (P) */
    vkt_tensor drewards;    /* (S) */
    vkt_step_program program;
};

static vkt_status record(void *ctx, vkt_model *m, vkt_rec *r, int slot, bool backward) {
    vkt_reward_step *p = ctx;
    slot_t *s = &p->slot[slot];
    vkt_model_use_slot(m, slot);
    VKT_TRY(vkt_model_record_forward(m, r, backward ? VKT_FWD_HIDDEN_TRAIN : VKT_FWD_HIDDEN));
    VKT_TRY(vkt_score_head_fwd(&p->head, r, m, &p->cfg.w, &s->last_id, &p->rewards));
    vkt_pref_opts o = vkt_pref_opts_default(VKT_PREF_BT);
    o.center_rewards_coef = p->cfg.center_rewards_coef, o.dloss = m->dloss;
    VKT_TRY(vkt_op_pref_loss(r, &p->rewards, NULL, &s->pairs, NULL, &p->pair_losses, &p->drewards, &s->stats, &o));
    if (!backward) return VKT_OK;
    const vkt_tensor *dw = p->cfg.dw.arena ? &p->cfg.dw : NULL;
    return vkt_score_head_bwd(&p->head, r, m, &p->cfg.w, dw, &s->last_id, &p->drewards);
}

static void *slot_aux(void *ctx, int slot) { return &((vkt_reward_step *)ctx)->slot[slot].host; }

/* Positions holding the slot's sequences: each runs from its row's document start to its last position. */
static int64_t sequence_tokens(const vkt_reward_step *p, const vkt_model *m, int slot) {
    const int32_t *seg = vkt_model_slot_seg_start(m, slot), *last = p->slot[slot].host.seq_last;
    int64_t n = 0;
    for (int64_t s = 0; s < p->S; s++)
        if (last[s] >= 0) n += last[s] % m->T - seg[last[s]] + 1;
    return n;
}

static void read(void *ctx, vkt_model *m, int slot, vkt_step_micro *out) {
    vkt_reward_step *p = ctx;
    const vkt_pref_stats *ps = vkt_tensor_host_ptr(&p->slot[slot].stats);
    const float v[N_METRICS] = {ps->rewards_chosen,     ps->rewards_rejected, ps->rewards_margins,
                                ps->rewards_accuracies, ps->reward_min,       ps->reward_mean,
                                ps->reward_max};
    memset(out, 0, sizeof *out);
    out->loss = ps->loss, out->weight = ps->n_pairs, out->tokens = sequence_tokens(p, m, slot);
    for (int i = 0; i < N_METRICS; i++) out->metrics[i] = v[i];
}

static vkt_status alloc(vkt_reward_step *p) {
    vkt_device *dev = p->m->dev;
    const size_t slack = 1024; /* per tensor: offset alignment */
    size_t host = 2 * ((size_t)(2 * p->BT + 2 * p->P + 16) * 4 + 4 * slack) + (size_t)(2 * p->S) * 4 + slack;
    size_t device = (size_t)(p->P + p->S) * 4 + 2 * slack;
    VKT_TRY(vkt_arena_create_host(dev, "reward batches", host, &p->host_arena));
    VKT_TRY(vkt_arena_create(dev, "reward scratch", device, &p->dev_arena));
    for (int k = 0; k < 2; k++) {
        slot_t *s = &p->slot[k];
        VKT_TRY(vkt_tensor_alloc(p->host_arena, VKT_DTYPE_I32, p->BT, 1, 1, 1, &s->seq_id));
        VKT_TRY(vkt_tensor_alloc(p->host_arena, VKT_DTYPE_I32, p->P, 2, 1, 1, &s->pairs));
        VKT_TRY(vkt_tensor_alloc(p->host_arena, VKT_DTYPE_I32, p->BT, 1, 1, 1, &s->last_id));
        VKT_TRY(vkt_tensor_alloc(p->host_arena, VKT_DTYPE_F32, 16, 1, 1, 1, &s->stats));
        s->host.pair_index = calloc((size_t)p->P, sizeof *s->host.pair_index);
        s->host.seq_last = calloc((size_t)p->S, sizeof *s->host.seq_last);
        if (!s->host.pair_index || !s->host.seq_last) return VKT_ERR_OOM;
        s->host.seq_id = vkt_tensor_host_ptr(&s->seq_id);
        s->host.pairs = vkt_tensor_host_ptr(&s->pairs);
        s->host.last_id = vkt_tensor_host_ptr(&s->last_id);
        memset(vkt_tensor_host_ptr(&s->stats), 0, 16 * 4);
        for (int64_t i = 0; i < p->BT; i++) s->host.last_id[i] = -1;
        for (int64_t i = 0; i < 2 * p->P; i++) s->host.pairs[i] = -1;
        for (int64_t i = 0; i < p->S; i++) s->host.seq_last[i] = -1;
    }
    VKT_TRY(vkt_tensor_alloc(p->host_arena, VKT_DTYPE_F32, p->S, 2, 1, 1, &p->rewards));
    VKT_TRY(vkt_tensor_alloc(p->dev_arena, VKT_DTYPE_F32, p->P, 1, 1, 1, &p->pair_losses));
    VKT_TRY(vkt_tensor_alloc(p->dev_arena, VKT_DTYPE_F32, p->S, 1, 1, 1, &p->drewards));
    return vkt_score_head_create(dev, p->BT, &p->head);
}

vkt_status vkt_reward_step_create(vkt_model *m, const vkt_reward_step_cfg *cfg, vkt_reward_step **out) {
    *out = NULL;
    int64_t C = m->cfg.n_embd;
    bool dw_ok = !cfg->dw.arena || vkt_tensor_numel(&cfg->dw) == C;
    if (cfg->max_pairs < 1 || !cfg->w.arena || vkt_tensor_numel(&cfg->w) != C || !dw_ok) {
        vkt_log_error("reward step: a batch holds at least one pair (max_pairs %lld) and the score head is (1, %lld) "
                      "(its weight has %lld elements)",
                      (long long)cfg->max_pairs, (long long)C, (long long)vkt_tensor_numel(&cfg->w));
        return VKT_ERR_ARG;
    }
    vkt_reward_step *p = calloc(1, sizeof *p);
    if (!p) return VKT_ERR_OOM;
    p->m = m, p->cfg = *cfg, p->P = cfg->max_pairs, p->S = 2 * cfg->max_pairs, p->BT = m->B * m->T;
    p->program = (vkt_step_program){.ctx = p,
                                    .n_metrics = N_METRICS,
                                    .metric_names = metric_names,
                                    .record = record,
                                    .slot_aux = slot_aux,
                                    .read = read};
    vkt_status st = alloc(p);
    if (st != VKT_OK) {
        vkt_reward_step_destroy(p);
        return st;
    }
    *out = p;
    return VKT_OK;
}

void vkt_reward_step_destroy(vkt_reward_step *p) {
    if (!p) return;
    vkt_score_head_destroy(&p->head);
    for (int k = 0; k < 2; k++) free(p->slot[k].host.pair_index), free(p->slot[k].host.seq_last);
    vkt_arena_destroy(p->host_arena);
    vkt_arena_destroy(p->dev_arena);
    free(p);
}

const vkt_step_program *vkt_reward_step_program(vkt_reward_step *p) { return &p->program; }

const char *const *vkt_reward_step_progress_labels(const vkt_reward_step *p) {
    (void)p;
    return progress_labels;
}

size_t vkt_reward_step_memory(const vkt_reward_step *p) {
    return vkt_arena_capacity(p->host_arena) + vkt_arena_capacity(p->dev_arena) + vkt_arena_capacity(p->head.arena);
}

const vkt_tensor *vkt_reward_step_rewards(const vkt_reward_step *p) { return &p->rewards; }
