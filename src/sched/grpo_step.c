/* The GRPO micro-batch program (see grpo_step.h). */
#include "sched/grpo_step.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ops/seq_sum.h"
#include "ops/xent.h"
#include "sched/seq_step.h"

enum { N_METRICS = VKT_GRPO_STEP_N_METRICS, N_ALL = N_METRICS + VKT_GRPO_STEP_MAX_EXTRA };

static const char *const base_names[N_METRICS] = {
    "reward", "reward_std",          "frac_reward_zero_std", "completions/mean_length",
    "kl",     "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"};
static const char *const progress_labels[N_ALL] = {"reward", NULL, "zero_std", "len", "kl", NULL, NULL, "clip"};

typedef struct {
    vkt_tensor seq_id, advantages, norm, stats; /* host-visible: (BT) i32, (S), (1), (8) f32 */
    vkt_grpo_slot host;                         /* pointers into them; completion, group, rewards owned */
} slot_t;

struct vkt_grpo_step {
    vkt_model *m; /* borrowed */
    vkt_grpo_step_cfg cfg;
    int64_t S, BT;
    vkt_arena *host_arena, *dev_arena; /* owned */
    slot_t slot[2];
    vkt_tensor ref_losses;       /* (BT) the reference's per-position losses (beta > 0) */
    vkt_tensor tokvals, tokgrad; /* (BT, 4), (BT) */
    vkt_tensor seqvals, coef;    /* (S, 5), (S) */
    vkt_tensor weights;          /* (BT) per-position weights of the xent backward */
    const char *names[N_ALL];
    vkt_step_program program;
};

static vkt_status record(void *ctx, vkt_model *m, vkt_rec *r, int slot, bool backward) {
    vkt_grpo_step *g = ctx;
    slot_t *s = &g->slot[slot];
    vkt_model_use_slot(m, slot);
    vkt_grpo_opts o = g->cfg.loss;
    const bool with_ref = o.beta > 0, dapo = o.agg == VKT_GRPO_AGG_DAPO;
    if (with_ref) {
        VKT_TRY(vkt_seq_step_forward_base(m, r));
        VKT_TRY(vkt_rec_copy(r, &m->losses, &g->ref_losses));
    }
    VKT_TRY(vkt_model_record_forward(m, r, backward ? VKT_FWD_LOSS_TRAIN : VKT_FWD_LOSS));
    VKT_TRY(vkt_op_grpo_token(r, &m->losses, &s->seq_id, NULL, with_ref ? &g->ref_losses : NULL, &s->advantages,
                              &g->tokvals, &g->tokgrad, &o));
    VKT_TRY(vkt_op_seq_sum(r, &g->tokvals, &s->seq_id, 1.0f, &g->seqvals));
    o.dloss = dapo ? 1.0f : m->dloss; /* dapo divides by the whole step's tokens instead */
    VKT_TRY(vkt_op_grpo_reduce(r, &g->seqvals, dapo ? &s->norm : NULL, &g->coef, &s->stats, &o));
    if (!backward) return VKT_OK;
    return vkt_seq_step_backward(m, r, &g->coef, &s->seq_id, &g->tokgrad, &g->weights);
}

static void *slot_aux(void *ctx, int slot) { return &((vkt_grpo_step *)ctx)->slot[slot].host; }

static void read(void *ctx, vkt_model *m, int slot, vkt_step_micro *out) {
    vkt_grpo_step *g = ctx;
    const slot_t *s = &g->slot[slot];
    const vkt_grpo_stats *st = vkt_tensor_host_ptr(&s->stats);
    const float dev[5] = {st->completion_mean_length, st->kl, st->clip_ratio_low_mean, st->clip_ratio_high_mean,
                          st->clip_ratio_region_mean};
    memset(out, 0, sizeof *out);
    /* dapo's micro-batch loss is its share of the step's; scaled so the step's mean over micro-batches is it */
    bool dapo = g->cfg.loss.agg == VKT_GRPO_AGG_DAPO;
    out->loss = dapo && m->dloss > 0 ? st->loss / m->dloss : st->loss;
    out->weight = s->host.n_seqs, out->tokens = st->n_tokens;
    for (int i = 0; i < 3; i++) out->metrics[i] = s->host.metrics[i];
    for (int i = 0; i < 5; i++) out->metrics[3 + i] = dev[i];
    for (int i = 0; i < g->cfg.n_extra; i++) out->metrics[N_METRICS + i] = s->host.metrics[3 + i];
}

static vkt_status alloc(vkt_grpo_step *g) {
    vkt_device *dev = g->m->dev;
    const vkt_dtype I32 = VKT_DTYPE_I32, F32 = VKT_DTYPE_F32;
    slot_t *s0 = &g->slot[0], *s1 = &g->slot[1];
    const vkt_seq_step_tensor host[] = {
        {&s0->seq_id, I32, g->BT}, {&s0->advantages, F32, g->S}, {&s0->norm, F32, 1}, {&s0->stats, F32, 8},
        {&s1->seq_id, I32, g->BT}, {&s1->advantages, F32, g->S}, {&s1->norm, F32, 1}, {&s1->stats, F32, 8}};
    const vkt_seq_step_tensor device[] = {{&g->ref_losses, F32, g->BT}, {&g->tokvals, F32, 4 * g->BT},
                                          {&g->tokgrad, F32, g->BT},    {&g->seqvals, F32, 5 * g->S},
                                          {&g->coef, F32, g->S},        {&g->weights, F32, g->BT}};
    VKT_TRY(vkt_seq_step_alloc(dev, "grpo batches", true, host, 8, &g->host_arena));
    VKT_TRY(vkt_seq_step_alloc(dev, "grpo scratch", false, device, 6, &g->dev_arena));
    for (int k = 0; k < 2; k++) {
        slot_t *s = &g->slot[k];
        vkt_grpo_slot *h = &s->host;
        h->completion = calloc((size_t)g->S, sizeof *h->completion);
        h->group = calloc((size_t)g->S, sizeof *h->group);
        h->rewards = calloc((size_t)g->S, sizeof *h->rewards);
        if (!h->completion || !h->group || !h->rewards) return VKT_ERR_OOM;
        h->seq_id = vkt_tensor_host_ptr(&s->seq_id);
        h->advantages = vkt_tensor_host_ptr(&s->advantages);
        h->norm = vkt_tensor_host_ptr(&s->norm);
        memset(h->seq_id, 0xff, (size_t)g->BT * 4); /* -1: no completion */
        memset(h->advantages, 0, (size_t)g->S * 4);
        memset(vkt_tensor_host_ptr(&s->stats), 0, 8 * 4);
        h->norm[0] = 1;
    }
    return VKT_OK;
}

vkt_status vkt_grpo_step_create(vkt_model *m, const vkt_grpo_step_cfg *cfg, vkt_grpo_step **out) {
    *out = NULL;
    if (cfg->max_seqs < 1 || cfg->n_extra < 0 || cfg->n_extra > VKT_GRPO_STEP_MAX_EXTRA || !(cfg->loss.beta >= 0) ||
        cfg->loss.group_size < 1) {
        vkt_log_error("grpo_step: max_seqs %lld (>= 1), %d extra metrics (at most %d), beta %g (>= 0), group size %d "
                      "(>= 1)",
                      (long long)cfg->max_seqs, cfg->n_extra, VKT_GRPO_STEP_MAX_EXTRA, cfg->loss.beta,
                      cfg->loss.group_size);
        return VKT_ERR_ARG;
    }
    vkt_grpo_step *g = calloc(1, sizeof *g);
    if (!g) return VKT_ERR_OOM;
    g->m = m, g->cfg = *cfg, g->S = cfg->max_seqs, g->BT = m->B * m->T;
    for (int i = 0; i < N_METRICS; i++) g->names[i] = base_names[i];
    for (int i = 0; i < cfg->n_extra; i++) g->names[N_METRICS + i] = cfg->extra_names[i];
    g->program = (vkt_step_program){.ctx = g,
                                    .n_metrics = N_METRICS + cfg->n_extra,
                                    .metric_names = g->names,
                                    .record = record,
                                    .slot_aux = slot_aux,
                                    .read = read};
    vkt_status st = alloc(g);
    if (st != VKT_OK) {
        vkt_grpo_step_destroy(g);
        return st;
    }
    *out = g;
    return VKT_OK;
}

void vkt_grpo_step_destroy(vkt_grpo_step *g) {
    if (!g) return;
    for (int k = 0; k < 2; k++) {
        vkt_grpo_slot *h = &g->slot[k].host;
        free(h->completion), free(h->group), free(h->rewards);
    }
    vkt_arena_destroy(g->host_arena);
    vkt_arena_destroy(g->dev_arena);
    free(g);
}

const vkt_step_program *vkt_grpo_step_program(vkt_grpo_step *g) { return &g->program; }

const char *const *vkt_grpo_step_progress_labels(const vkt_grpo_step *g) {
    (void)g;
    return progress_labels;
}

const vkt_grpo_step_cfg *vkt_grpo_step_cfg_of(const vkt_grpo_step *g) { return &g->cfg; }

size_t vkt_grpo_step_memory(const vkt_grpo_step *g) {
    return vkt_arena_capacity(g->host_arena) + vkt_arena_capacity(g->dev_arena);
}

vkt_grpo_slot *vkt_grpo_step_slot(vkt_grpo_step *g, int k) { return &g->slot[k].host; }
