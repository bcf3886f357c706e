/* The preference micro-batch program (see pref_step.h). */
#include "sched/pref_step.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ops/seq_sum.h"
#include "ops/xent.h"
#include "sched/seq_step.h"

enum { N_DPO_METRICS = 6, N_ORPO_METRICS = 9 };

static const char *const metric_names[N_ORPO_METRICS] = {"rewards/chosen",     "rewards/rejected", "rewards/margins",
                                                         "rewards/accuracies", "logps/chosen",     "logps/rejected",
                                                         "nll_loss",           "log_odds_ratio",   "log_odds_chosen"};
static const char *const progress_labels[N_ORPO_METRICS] = {NULL, NULL, "margin", "acc", NULL, NULL, "nll", NULL, NULL};

typedef struct {
    vkt_tensor seq_id, pairs, ref, stats; /* host-visible: (BT) i32, (P, 2) i32, (S) f32 (HOST mode), (16) f32 */
    vkt_pref_slot host;                   /* pointers into them, and pair_index (owned) */
} slot_t;

struct vkt_pref_step {
    vkt_model *m; /* borrowed */
    vkt_pref_step_cfg cfg;
    int64_t P, S, BT;
    vkt_arena *host_arena, *dev_arena; /* owned */
    slot_t slot[2];
    vkt_tensor policy, ref_seq; /* (S, 2) log p and token count per sequence: policy (device), reference
                                 * (host-visible: the reference pass reads it back) */
    vkt_tensor pair_losses;     /* (P) */
    vkt_tensor dseq;            /* (S) */
    vkt_tensor weights;         /* (BT) per-position weights of the xent backward */
    vkt_rec *ref_rec;           /* owned: the reference pass, recorded at its first use */
    bool ref_recorded;
    vkt_step_program program;
};

/* The reference forward: the model's forward with its hook (adapters) removed, then the sequence sums. */
static vkt_status record_reference(vkt_pref_step *p, vkt_rec *r, int slot) {
    VKT_TRY(vkt_seq_step_forward_base(p->m, r));
    return vkt_op_seq_sum(r, &p->m->losses, &p->slot[slot].seq_id, -1.0f, &p->ref_seq);
}

static vkt_status record(void *ctx, vkt_model *m, vkt_rec *r, int slot, bool backward) {
    vkt_pref_step *p = ctx;
    slot_t *s = &p->slot[slot];
    vkt_model_use_slot(m, slot);
    const vkt_tensor *ref = NULL;
    if (p->cfg.ref == VKT_PREF_REF_MODEL) {
        VKT_TRY(record_reference(p, r, slot));
        ref = &p->ref_seq;
    } else if (p->cfg.ref == VKT_PREF_REF_HOST) {
        ref = &s->ref;
    }
    VKT_TRY(vkt_model_record_forward(m, r, backward ? VKT_FWD_LOSS_TRAIN : VKT_FWD_LOSS));
    VKT_TRY(vkt_op_seq_sum(r, &m->losses, &s->seq_id, -1.0f, &p->policy));
    vkt_pref_opts o = p->cfg.loss;
    o.dloss = m->dloss;
    VKT_TRY(vkt_op_pref_loss(r, &p->policy, ref, &s->pairs, NULL, &p->pair_losses, &p->dseq, &s->stats, &o));
    if (!backward) return VKT_OK;
    return vkt_seq_step_backward(m, r, &p->dseq, &s->seq_id, NULL, &p->weights);
}

static void *slot_aux(void *ctx, int slot) { return &((vkt_pref_step *)ctx)->slot[slot].host; }

static void read(void *ctx, vkt_model *m, int slot, vkt_step_micro *out) {
    vkt_pref_step *p = ctx;
    const vkt_pref_stats *ps = vkt_tensor_host_ptr(&p->slot[slot].stats);
    const vkt_xent_stats *xs = (const vkt_xent_stats *)vkt_model_slot_stats(m, slot);
    const float v[N_ORPO_METRICS] = {ps->rewards_chosen,     ps->rewards_rejected, ps->rewards_margins,
                                     ps->rewards_accuracies, ps->logps_chosen,     ps->logps_rejected,
                                     ps->nll_loss,           ps->log_odds_ratio,   ps->log_odds_chosen};
    memset(out, 0, sizeof *out);
    out->loss = ps->loss, out->weight = ps->n_pairs, out->tokens = xs->n_valid;
    for (int i = 0; i < p->program.n_metrics; i++) out->metrics[i] = v[i];
}

static vkt_status check_cfg(const vkt_pref_step_cfg *c) {
    bool wants_ref =
        c->loss.type == VKT_PREF_DPO_SIGMOID || c->loss.type == VKT_PREF_DPO_ROBUST || c->loss.type == VKT_PREF_IPO;
    if (c->loss.type == VKT_PREF_BT) {
        vkt_log_error("pref_step: the Bradley-Terry reward-model loss reads a score head's rewards, not log-probs: "
                      "use the reward step (sched/reward_step.h)");
        return VKT_ERR_UNSUPPORTED;
    }
    if (wants_ref != (c->ref != VKT_PREF_REF_NONE) || c->max_pairs < 1) {
        vkt_log_error("pref_step: reference mode %d with loss type %d and max_pairs %lld: DPO and IPO need a "
                      "reference, ORPO takes none, and a batch holds at least one pair",
                      (int)c->ref, (int)c->loss.type, (long long)c->max_pairs);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

static vkt_status alloc(vkt_pref_step *p) {
    vkt_device *dev = p->m->dev;
    const vkt_dtype I32 = VKT_DTYPE_I32, F32 = VKT_DTYPE_F32;
    slot_t *s0 = &p->slot[0], *s1 = &p->slot[1];
    const vkt_seq_step_tensor host[] = {
        {&s0->seq_id, I32, p->BT}, {&s0->pairs, I32, 2 * p->P}, {&s0->ref, F32, p->S}, {&s0->stats, F32, 16},
        {&s1->seq_id, I32, p->BT}, {&s1->pairs, I32, 2 * p->P}, {&s1->ref, F32, p->S}, {&s1->stats, F32, 16},
        {&p->ref_seq, F32, 2 * p->S}};
    const vkt_seq_step_tensor device[] = {
        {&p->policy, F32, 2 * p->S}, {&p->pair_losses, F32, p->P}, {&p->dseq, F32, p->S}, {&p->weights, F32, p->BT}};
    VKT_TRY(vkt_seq_step_alloc(dev, "preference batches", true, host, 9, &p->host_arena));
    VKT_TRY(vkt_seq_step_alloc(dev, "preference scratch", false, device, 4, &p->dev_arena));
    for (int k = 0; k < 2; k++) {
        slot_t *s = &p->slot[k];
        s->host.pair_index = calloc((size_t)p->P, sizeof *s->host.pair_index);
        if (!s->host.pair_index) return VKT_ERR_OOM;
        s->host.seq_id = vkt_tensor_host_ptr(&s->seq_id);
        s->host.pairs = vkt_tensor_host_ptr(&s->pairs);
        s->host.ref = p->cfg.ref == VKT_PREF_REF_HOST ? vkt_tensor_host_ptr(&s->ref) : NULL;
        memset(vkt_tensor_host_ptr(&s->stats), 0, 16 * 4);
        memset(vkt_tensor_host_ptr(&s->ref), 0, (size_t)p->S * 4);
    }
    return vkt_rec_create(dev, 0, &p->ref_rec);
}

vkt_status vkt_pref_step_create(vkt_model *m, const vkt_pref_step_cfg *cfg, vkt_pref_step **out) {
    *out = NULL;
    VKT_TRY(check_cfg(cfg));
    vkt_pref_step *p = calloc(1, sizeof *p);
    if (!p) return VKT_ERR_OOM;
    p->m = m, p->cfg = *cfg, p->P = cfg->max_pairs, p->S = 2 * cfg->max_pairs, p->BT = m->B * m->T;
    p->program = (vkt_step_program){.ctx = p,
                                    .n_metrics = cfg->loss.type == VKT_PREF_ORPO ? N_ORPO_METRICS : N_DPO_METRICS,
                                    .metric_names = metric_names,
                                    .record = record,
                                    .slot_aux = slot_aux,
                                    .read = read};
    vkt_status st = alloc(p);
    if (st != VKT_OK) {
        vkt_pref_step_destroy(p);
        return st;
    }
    *out = p;
    return VKT_OK;
}

void vkt_pref_step_destroy(vkt_pref_step *p) {
    if (!p) return;
    vkt_rec_destroy(p->ref_rec);
    for (int k = 0; k < 2; k++) free(p->slot[k].host.pair_index);
    vkt_arena_destroy(p->host_arena);
    vkt_arena_destroy(p->dev_arena);
    free(p);
}

const vkt_step_program *vkt_pref_step_program(vkt_pref_step *p) { return &p->program; }

const char *const *vkt_pref_step_progress_labels(const vkt_pref_step *p) {
    (void)p;
    return progress_labels;
}

const vkt_pref_step_cfg *vkt_pref_step_cfg_of(const vkt_pref_step *p) { return &p->cfg; }

size_t vkt_pref_step_memory(const vkt_pref_step *p) {
    return vkt_arena_capacity(p->host_arena) + vkt_arena_capacity(p->dev_arena);
}

vkt_status vkt_pref_step_reference(vkt_pref_step *p, vkt_batch_fn fill, void *ctx, float *out,
                                   const vkt_pref_slot **slot) {
    vkt_rec *r = p->ref_rec;
    if (!p->ref_recorded) {
        vkt_model_use_slot(p->m, 0);
        VKT_TRY(vkt_rec_begin(r));
        VKT_TRY(record_reference(p, r, 0));
        VKT_TRY(vkt_rec_end(r));
        p->ref_recorded = true;
    }
    VKT_TRY(vkt_step_fill_batch_aux(p->m, 0, &p->slot[0].host, fill, ctx));
    VKT_TRY(vkt_rec_submit_wait(r));
    const float *seq = vkt_tensor_host_ptr(&p->ref_seq);
    for (int64_t s = 0; s < p->S; s++) out[s] = seq[2 * s];
    *slot = &p->slot[0].host;
    return VKT_OK;
}
