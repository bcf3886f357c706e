/* Step scheduler (see step.h). */
#include "sched/step.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "dist/dist.h"
#include "dist/flat_sync.h"
#include "dist/grad_buckets.h"
#include "ops/cast.h"
#include "ops/seg_start.h"
#include "ops/xent.h"

struct vkt_step {
    vkt_model *m; /* borrowed */
    vkt_step_cfg cfg;
    vkt_trainable train;      /* borrows the table and views it names */
    vkt_step_program program; /* borrows its ctx; record NULL: the model's language-model loss */
    vkt_arena *state_arena;   /* owned: moments, lr table, norm partials */
    vkt_arena *host_arena;    /* owned: step scalars the host reads */
    vkt_tensor mom1, mom2, lr_table, partials, scalars;
    vkt_tensor decay;        /* AdamW's decay bits (optim/adamw.h) */
    vkt_optim_segment *segs; /* owned */
    int n_segs;
    vkt_rec *micro[2], *optim, *eval; /* owned */
    vkt_rec *half;                    /* owned, ZeRO-1 under mixed precision (else NULL): params_half = half(params)
                                       * after the all-gather (the sharded AdamW writes only this rank's f32 shard) */
    vkt_rec *last[2];                 /* owned, bucketed with grad_accum > 1: the micro-batch that ends a step, with
                                       * the bucket copies (micro[] then has none); NULL otherwise */
    vkt_rec *slot_rec[2];             /* borrowed: the recording last submitted in each slot */
    int64_t n_micro;                  /* micro-batches submitted so far */
    int64_t slot_step[2];             /* optimizer step of the micro-batch last submitted in each slot */
    bool slot_unread[2];
    int64_t next_step, step_base;
    int64_t inject_step;           /* test hook (vkt_step_inject_overflow): the step whose gradients get an inf;
                                    * -1: none */
    int64_t last_collected;        /* newest step whose result was handed out */
    double wait_s;                 /* time the last vkt_step_submit spent waiting for the device */
    vkt_flat_sync *reduce;         /* owned: the gradient all-reduce over data-parallel ranks; NULL on one */
    vkt_grad_buckets *buckets;     /* owned: the same in buckets during the backward; NULL: reduce after it */
    int64_t host_tokens;           /* bucketed: the step's target tokens, counted by the host as it fills */
    double comm_s;                 /* time the last vkt_step_submit spent in it */
    int64_t *shard;                /* owned, ZeRO-1 only (else NULL): shard bounds over the trainable elements,
                                    * dist size + 1 entries; this rank's moments cover [shard[r], shard[r + 1]) */
    vkt_optim_segment *shard_segs; /* owned, ZeRO-1: segs clipped to this rank's shard, offsets from its start */
    float *gathered;               /* owned, ZeRO-1 on rank 0 between vkt_step_gather_state and the download:
                                    * the full moments m then v */
    int optim_t0, optim_t1;        /* timestamp slots around the optimizer recording */
    double loss_sum[2];            /* per step parity: sum of micro losses, count, tokens, metric sums */
    int64_t loss_n[2], tokens[2];
    double metric_sum[2][VKT_STEP_MAX_METRICS];
};

/* Slot's micro-batch into r; with_buckets: the one that ends a step, whose backward sends the gradient
 * buckets out as it completes them (dist/grad_buckets.h). */
static vkt_status record_micro(vkt_step *s, int slot, vkt_rec *r, bool with_buckets) {
    VKT_TRY(vkt_rec_begin(r));
    if (s->program.record) {
        VKT_TRY(s->program.record(s->program.ctx, s->m, r, slot, true));
    } else {
        vkt_model_use_slot(s->m, slot);
        VKT_TRY(vkt_model_record_forward(s->m, r, VKT_FWD_LOSS_GRAD));
        s->m->bwd_hook = with_buckets ? vkt_grad_buckets_hook(s->buckets) : NULL;
        vkt_status st = vkt_model_record_backward(s->m, r);
        s->m->bwd_hook = NULL;
        VKT_TRY(st);
        if (with_buckets) VKT_TRY(vkt_grad_buckets_record_end(s->buckets, r));
    }
    return vkt_rec_end(r);
}

/* The micro-batch recordings: with buckets, the one ending a step carries them (all of them without
 * accumulation). */
static vkt_status record_micros(vkt_step *s) {
    bool split = s->buckets && s->cfg.accum > 1;
    for (int k = 0; k < 2; k++) {
        VKT_TRY(record_micro(s, k, s->micro[k], s->buckets && !split));
        if (split) VKT_TRY(vkt_rec_create(s->m->dev, 0, &s->last[k]));
        if (split) VKT_TRY(record_micro(s, k, s->last[k], true));
        s->slot_rec[k] = s->micro[k];
    }
    return VKT_OK;
}

/* What slot's completed micro-batch measured: the program's read, or the model's loss statistics. */
static void micro_result(vkt_step *s, int slot, vkt_step_micro *out) {
    memset(out, 0, sizeof *out);
    if (s->program.read) {
        s->program.read(s->program.ctx, s->m, slot, out);
        return;
    }
    const vkt_xent_stats *st = (const vkt_xent_stats *)vkt_model_slot_stats(s->m, slot);
    out->loss = st->loss, out->weight = st->n_valid, out->tokens = st->n_valid;
}

static void *slot_aux(const vkt_step *s, int slot) {
    return s->program.slot_aux ? s->program.slot_aux(s->program.ctx, slot) : NULL;
}

static vkt_gradnorm_opts gradnorm_opts(const vkt_step_cfg *c) {
    return (vkt_gradnorm_opts){.max_norm = c->max_grad_norm,
                               .loss_scaling = c->loss_scale.enabled,
                               .growth_interval = c->loss_scale.growth_interval,
                               .growth_factor = c->loss_scale.factor};
}

vkt_loss_scale_cfg vkt_loss_scale_default(void) {
    return (vkt_loss_scale_cfg){.enabled = true, .init = 65536.0f, .growth_interval = 2000, .factor = 2.0f};
}

/* The update's commands: gradient norm and clipping, AdamW, the gradients zeroed for the next step. */
static vkt_status record_update(vkt_step *s, vkt_rec *r) {
    vkt_gradnorm_opts go = gradnorm_opts(&s->cfg);
    const vkt_trainable *t = &s->train;
    VKT_TRY(vkt_gradnorm_record(r, &t->grads, s->segs, s->n_segs, &go, &s->partials, &s->scalars));
    if (s->shard) { /* ZeRO-1: the norm is over every gradient, the update over this rank's shard */
        int64_t lo = s->shard[vkt_dist_rank()], n = s->shard[vkt_dist_rank() + 1] - lo;
        vkt_tensor p = vkt_tensor_rows(&t->params, lo, n), g = vkt_tensor_rows(&t->grads, lo, n);
        VKT_TRY(vkt_adamw_update(r, &s->cfg.adamw, &p, &g, &s->mom1, &s->mom2, &s->lr_table, &s->scalars, s->shard_segs,
                                 s->n_segs, &s->decay));
    } else {
        const vkt_tensor *half = t->params_half.arena ? &t->params_half : NULL;
        VKT_TRY(vkt_adamw_update_half(r, &s->cfg.adamw, &t->params, half, &t->grads, &s->mom1, &s->mom2, &s->lr_table,
                                      &s->scalars, s->segs, s->n_segs, &s->decay));
    }
    return vkt_rec_fill(r, &t->grads, 0);
}

static vkt_status record_optim(vkt_step *s) {
    vkt_rec *r = s->optim;
    VKT_TRY(vkt_rec_begin(r));
    if (s->buckets) VKT_TRY(vkt_grad_buckets_record_upload(s->buckets, r));
    s->optim_t0 = vkt_rec_timestamp(r);
    VKT_TRY(record_update(s, r));
    s->optim_t1 = vkt_rec_timestamp(r);
    return vkt_rec_end(r);
}

vkt_status vkt_step_record_update(vkt_step *s, vkt_rec *r) { return record_update(s, r); }

/* ZeRO-1 under mixed precision: the 16-bit copy of every parameter from the gathered f32 ones, in its own
 * recording submitted after the gather's copy back (each submit starts with a full barrier: ordered after it). */
static vkt_status record_half(vkt_step *s) {
    VKT_TRY(vkt_rec_create(s->m->dev, 0, &s->half));
    VKT_TRY(vkt_rec_begin(s->half));
    VKT_TRY(vkt_op_cast(s->half, &s->train.params, &s->train.params_half));
    return vkt_rec_end(s->half);
}

double vkt_step_optim_ms(vkt_step *s) {
    double ms = 0;
    if (vkt_rec_wait(s->optim) != VKT_OK || vkt_rec_elapsed_ms(s->optim, s->optim_t0, s->optim_t1, &ms) != VKT_OK)
        return 0;
    return ms;
}

static vkt_status zero_state(vkt_step *s) {
    vkt_rec *r = s->eval;
    VKT_TRY(vkt_rec_begin(r));
    VKT_TRY(vkt_rec_fill(r, &s->mom1, 0));
    VKT_TRY(vkt_rec_fill(r, &s->mom2, 0));
    VKT_TRY(vkt_rec_fill(r, &s->train.grads, 0));
    VKT_TRY(vkt_rec_end(r));
    return vkt_rec_submit_wait(r);
}

/* AdamW's decay bits, from the segments it updates (the shard's under ZeRO-1, relative to the shard). */
static vkt_status upload_decay_bits(vkt_step *s) {
    int64_t n = vkt_tensor_numel(&s->decay);
    uint32_t *bits = malloc((size_t)n * sizeof *bits);
    if (!bits) return VKT_ERR_OOM;
    vkt_adamw_decay_bits(s->shard ? s->shard_segs : s->segs, s->n_segs, bits, n);
    vkt_status st = vkt_tensor_upload(s->m->dev, &s->decay, bits, (size_t)n * sizeof *bits);
    free(bits);
    return st;
}

static vkt_status upload_lr_table(vkt_step *s) {
    int64_t n = s->cfg.total_steps > 0 ? s->cfg.total_steps : 1;
    float *table = malloc((size_t)n * sizeof *table);
    if (!table) return VKT_ERR_OOM;
    vkt_adamw_lr_table(&s->cfg.schedule, table, n);
    vkt_status st = vkt_tensor_upload(s->m->dev, &s->lr_table, table, (size_t)n * sizeof *table);
    free(table);
    return st;
}

vkt_trainable vkt_step_trainable_model(const vkt_model *m) {
    VKT_ASSERT(m->grads_arena);
    return (vkt_trainable){.table = &m->table, .params = m->params, .grads = m->grads, .params_half = m->params_half};
}

const vkt_param_table *vkt_step_table(const vkt_step *s) { return s->train.table; }

/* ZeRO-1: this rank's shard of the trainable elements and its segments. */
static vkt_status shard_setup(vkt_step *s) {
    int ranks = vkt_dist_size(), rank = vkt_dist_rank();
    int64_t total = s->train.table->total;
    VKT_ASSERT(vkt_tensor_numel(&s->train.params) == s->train.params.shape[0]); /* flat views */
    s->shard = malloc((size_t)(ranks + 1) * sizeof *s->shard);
    s->shard_segs = calloc((size_t)s->n_segs, sizeof *s->shard_segs);
    if (!s->shard || !s->shard_segs) return VKT_ERR_OOM;
    vkt_dist_shard_bounds(total, ranks, 64, s->shard); /* 256-byte shard starts: any binding alignment */
    int64_t lo = s->shard[rank], hi = s->shard[rank + 1];
    if (hi <= lo) {
        vkt_log_error("optim.zero_stage=1: %lld trainable parameters are too few to shard over %d ranks; use "
                      "optim.zero_stage=0",
                      (long long)total, ranks);
        return VKT_ERR_ARG;
    }
    for (int i = 0; i < s->n_segs; i++) {
        int64_t a = s->segs[i].offset > lo ? s->segs[i].offset : lo;
        int64_t b = s->segs[i].offset + s->segs[i].n < hi ? s->segs[i].offset + s->segs[i].n : hi;
        s->shard_segs[i] = (vkt_optim_segment){b > a ? a - lo : 0, b > a ? b - a : 0, s->segs[i].decay};
    }
    return VKT_OK;
}

/* Elements of the moments this rank holds: its shard (ZeRO-1) or every trainable one. */
static int64_t moment_elems(const vkt_step *s) {
    return s->shard ? s->shard[vkt_dist_rank() + 1] - s->shard[vkt_dist_rank()] : s->train.table->total;
}

vkt_status vkt_step_create(vkt_model *m, const vkt_step_cfg *cfg, int64_t first_step, vkt_step **out) {
    VKT_ASSERT(cfg->accum >= 1);
    vkt_step *s = calloc(1, sizeof *s);
    if (!s) return VKT_ERR_OOM;
    s->m = m, s->cfg = *cfg, s->slot_step[0] = s->slot_step[1] = -1;
    const char *inject = getenv("VKT_TEST_OVERFLOW_STEP");
    s->inject_step = inject && *inject ? strtoll(inject, NULL, 10) : -1;
    s->train = cfg->train ? *cfg->train : vkt_step_trainable_model(m);
    if (cfg->program) s->program = *cfg->program;
    VKT_ASSERT(s->program.n_metrics <= VKT_STEP_MAX_METRICS);
    s->cfg.train = NULL, s->cfg.program = NULL;
    m->dloss = 1.0f / (float)cfg->accum;
    const vkt_param_table *tab = s->train.table;
    s->segs = calloc((size_t)tab->n, sizeof *s->segs);
    vkt_status st = s->segs ? VKT_OK : VKT_ERR_OOM;
    /* A frozen entry becomes an empty segment: the optimizer kernels and the norm skip it. */
    for (int i = 0; st == VKT_OK && i < tab->n; i++)
        s->segs[s->n_segs++] = (vkt_optim_segment){
            tab->p[i].offset, s->train.frozen && s->train.frozen[i] ? 0 : tab->p[i].numel, tab->p[i].decay};
    if (st == VKT_OK && cfg->loss_scale.enabled &&
        (cfg->loss_scale.init <= 0 || cfg->loss_scale.growth_interval < 1 || cfg->loss_scale.factor <= 1)) {
        vkt_log_error("loss scaling: initial scale %g, growth interval %lld, factor %g: need a positive scale, an "
                      "interval >= 1 and a factor > 1",
                      cfg->loss_scale.init, (long long)cfg->loss_scale.growth_interval, cfg->loss_scale.factor);
        st = VKT_ERR_ARG;
    }
    if (st == VKT_OK && cfg->zero_stage == 1 && vkt_dist_size() > 1) st = shard_setup(s);
    vkt_rec *probe = NULL;
    int64_t n_partials = 0, n_lr = cfg->total_steps > 0 ? cfg->total_steps : 1;
    if (st == VKT_OK) st = vkt_rec_create(m->dev, 0, &probe);
    if (st == VKT_OK) {
        vkt_gradnorm_opts go = gradnorm_opts(cfg);
        n_partials = vkt_gradnorm_partials(probe, s->segs, s->n_segs, &go);
    }
    vkt_rec_destroy(probe);
    int64_t total = moment_elems(s);
    int64_t n_decay = vkt_adamw_decay_words(total);
    size_t bytes = (size_t)(2 * total + n_partials + n_lr + n_decay) * 4 + 5 * 4096;
    if (st == VKT_OK) st = vkt_arena_create(m->dev, "optimizer state", bytes, &s->state_arena);
    if (st == VKT_ERR_OOM)
        vkt_log_error("the optimizer state is AdamW's two moments per parameter (%lld parameters, %.3f GiB): choose "
                      "a smaller model (n_embd, n_layer, vocab_size) or fine-tune with LoRA",
                      (long long)total, (double)bytes / (1 << 30));
    if (st == VKT_OK) st = vkt_tensor_alloc(s->state_arena, VKT_DTYPE_F32, total, 1, 1, 1, &s->mom1);
    if (st == VKT_OK) st = vkt_tensor_alloc(s->state_arena, VKT_DTYPE_F32, total, 1, 1, 1, &s->mom2);
    if (st == VKT_OK) st = vkt_tensor_alloc(s->state_arena, VKT_DTYPE_F32, n_lr, 1, 1, 1, &s->lr_table);
    if (st == VKT_OK) st = vkt_tensor_alloc(s->state_arena, VKT_DTYPE_I32, n_decay, 1, 1, 1, &s->decay);
    if (st == VKT_OK)
        st = vkt_tensor_alloc(s->state_arena, VKT_DTYPE_F32, n_partials > 0 ? n_partials : 1, 1, 1, 1, &s->partials);
    if (st == VKT_OK) st = vkt_arena_create_host(m->dev, "step scalars", 4096, &s->host_arena);
    if (st == VKT_OK) st = vkt_tensor_alloc(s->host_arena, VKT_DTYPE_F32, VKT_STEP_SCALARS_ELEMS, 1, 1, 1, &s->scalars);
    /* f16 loss scaling: every recorded loss gradient reads the current scale from the step scalars. */
    m->dloss_scale = st == VKT_OK && cfg->loss_scale.enabled ? s->scalars : (vkt_tensor){0};
    m->dloss_scale_index = (int64_t)(offsetof(vkt_step_scalars, loss_scale) / sizeof(float));
    for (int k = 0; k < 2 && st == VKT_OK; k++) st = vkt_rec_create(m->dev, 0, &s->micro[k]);
    if (st == VKT_OK) st = vkt_rec_create(m->dev, 2, &s->optim);
    if (st == VKT_OK) st = vkt_rec_create(m->dev, 0, &s->eval);
    if (st == VKT_OK && vkt_dist_size() > 1) st = vkt_flat_sync_create(m->dev, &s->train.grads, &s->reduce);
    if (st == VKT_OK && s->shard) st = vkt_flat_sync_set_params(s->reduce, &s->train.params, s->shard);
    if (st == VKT_OK && s->reduce && !s->program.record) {
        vkt_grad_buckets_cfg bc = {.cap_mb = cfg->bucket_mb, .ordered = cfg->ordered_reduce};
        st = vkt_grad_buckets_create(m->dev, s->train.table, (int)m->cfg.n_layer, &s->train.grads,
                                     vkt_flat_sync_staging(s->reduce), &bc, &s->buckets);
    }
    if (st == VKT_OK) st = upload_lr_table(s);
    if (st == VKT_OK) st = upload_decay_bits(s);
    if (st == VKT_OK) st = zero_state(s);
    if (st == VKT_OK) {
        vkt_step_scalars sc = vkt_step_scalars_init();
        sc.step = (uint32_t)first_step;
        if (cfg->loss_scale.enabled) sc.loss_scale = cfg->loss_scale.init;
        memcpy(vkt_tensor_host_ptr(&s->scalars), &sc, sizeof sc);
        s->next_step = s->step_base = first_step;
        s->last_collected = first_step - 1;
    }
    if (st == VKT_OK) st = record_micros(s);
    if (st == VKT_OK) st = record_optim(s);
    if (st == VKT_OK && s->shard && s->train.params_half.arena) st = record_half(s);
    if (st != VKT_OK) {
        vkt_step_destroy(s);
        return st;
    }
    *out = s;
    return VKT_OK;
}

void vkt_step_destroy(vkt_step *s) {
    if (!s) return;
    if (s->m->dloss_scale.arena && s->m->dloss_scale.arena == s->scalars.arena) s->m->dloss_scale = (vkt_tensor){0};
    for (int k = 0; k < 2; k++) vkt_rec_destroy(s->micro[k]), vkt_rec_destroy(s->last[k]);
    vkt_rec_destroy(s->optim);
    vkt_rec_destroy(s->eval);
    vkt_rec_destroy(s->half);
    vkt_grad_buckets_destroy(s->buckets);
    vkt_flat_sync_destroy(s->reduce);
    free(s->shard);
    free(s->shard_segs);
    free(s->gathered);
    vkt_arena_destroy(s->state_arena);
    vkt_arena_destroy(s->host_arena);
    free(s->segs);
    free(s);
}

/* After slot's last submission completed: add its loss to its step's sums. */
static void read_slot(vkt_step *s, int slot) {
    if (!s->slot_unread[slot]) return;
    vkt_step_micro mr;
    micro_result(s, slot, &mr);
    int64_t k = s->slot_step[slot] & 1;
    s->loss_sum[k] += mr.loss;
    s->loss_n[k] += 1;
    s->tokens[k] += mr.tokens;
    for (int i = 0; i < s->program.n_metrics; i++) s->metric_sum[k][i] += mr.metrics[i];
    s->slot_unread[slot] = false;
}

/* Data parallelism: the loss (weighted by tokens, as the gradients are), the tokens and the program's
 * metrics over all ranks. The gradient norm, learning rate and skip flag are already the same on every
 * rank: they come from the reduced gradients. */
static vkt_status global_result(const vkt_step *s, vkt_step_result *r) {
    double v[3 + VKT_STEP_MAX_METRICS] = {r->loss * (double)r->tokens, (double)r->tokens, r->loss};
    for (int i = 0; i < r->n_metrics; i++) v[3 + i] = r->metrics[i];
    VKT_TRY(vkt_dist_sum_f64(v, 3 + r->n_metrics));
    double n = vkt_dist_size();
    r->loss = !s->program.record && v[1] > 0 ? v[0] / v[1] : v[2] / n;
    r->tokens = (int64_t)v[1];
    for (int i = 0; i < r->n_metrics; i++) r->metrics[i] = v[3 + i] / n;
    return VKT_OK;
}

/* Step `step` is complete (its optimizer finished): collect it, once. */
static vkt_status collect(vkt_step *s, int64_t step, vkt_step_result *done) {
    if (step <= s->last_collected) return VKT_OK;
    s->last_collected = step;
    for (int k = 0; k < 2; k++)
        if (s->slot_step[k] == step) read_slot(s, k);
    const vkt_step_scalars *sc = vkt_tensor_host_ptr(&s->scalars);
    int64_t k = step & 1;
    *done = (vkt_step_result){.step = step,
                              .loss = s->loss_n[k] ? s->loss_sum[k] / (double)s->loss_n[k] : 0,
                              .grad_norm = sc->grad_norm,
                              .lr = sc->lr,
                              .tokens = s->tokens[k],
                              .skipped = sc->nonfinite != 0,
                              .n_skipped = sc->n_skipped,
                              .loss_scale = sc->loss_scale,
                              .n_metrics = s->program.n_metrics};
    for (int i = 0; i < s->program.n_metrics; i++)
        done->metrics[i] = s->loss_n[k] ? s->metric_sum[k][i] / (double)s->loss_n[k] : 0;
    s->loss_sum[k] = 0, s->loss_n[k] = 0, s->tokens[k] = 0;
    memset(s->metric_sum[k], 0, sizeof s->metric_sum[k]);
    return s->reduce ? global_result(s, done) : VKT_OK;
}

static vkt_status timed_wait(vkt_step *s, vkt_rec *r) {
    double t = vkt_now_s();
    vkt_status st = vkt_rec_wait(r);
    s->wait_s += vkt_now_s() - t;
    return st;
}

double vkt_step_last_wait_s(const vkt_step *s) { return s->wait_s; }

vkt_step_comm vkt_step_last_comm(const vkt_step *s) {
    if (!s->reduce) return (vkt_step_comm){0};
    vkt_flat_sync_stats st = vkt_flat_sync_last(s->reduce);
    vkt_step_comm c = {.total_s = s->comm_s,
                       .copy_s = st.copy_s,
                       .reduce_s = st.reduce_s,
                       .exposed_s = st.reduce_s,
                       .gather_s = s->shard ? st.gather_s : 0,
                       .bytes = st.bytes};
    if (s->buckets) {
        vkt_grad_buckets_stats b = vkt_grad_buckets_last(s->buckets);
        c.copy_s = 0, c.reduce_s = b.comm_s, c.exposed_s = b.exposed_s < b.comm_s ? b.exposed_s : b.comm_s;
        c.n_buckets = b.n_buckets, c.ordered = s->cfg.ordered_reduce;
    }
    return c;
}

/* Data parallelism, after this step's micro-batches: its gradients become the mean over the ranks'
 * batches. Each rank's micro-batches are normalised by their own token counts (ops/xent.h), so each rank
 * weighs in by its share of the step's tokens: with grad_accum 1 that is exactly the gradient of the
 * global batch, whatever the ranks' targets (-100 masks); with accumulation exactly so when every rank's
 * share is the same in each micro-batch (pre-training), else a token-weighted approximation. */
static vkt_status reduce_grads(vkt_step *s, int64_t step) {
    for (int k = 0; k < 2; k++) {
        VKT_TRY(timed_wait(s, s->slot_rec[k]));
        read_slot(s, k);
    }
    double t0 = vkt_now_s(), tokens[2] = {(double)s->tokens[step & 1], 1};
    VKT_TRY(vkt_dist_sum_f64(tokens, 2)); /* the step's tokens, and the ranks */
    double w = !s->program.record && tokens[0] > 0 ? (double)s->tokens[step & 1] / tokens[0] : 1.0 / tokens[1];
    VKT_TRY(vkt_flat_sync_reduce(s->reduce, w));
    s->comm_s = vkt_now_s() - t0;
    return VKT_OK;
}

/* The same in buckets while the step's last backward runs: the weights are the same, from the token counts
 * the host took as it filled the batches (the device's, read afterwards, must agree). */
static vkt_status reduce_buckets(vkt_step *s, int64_t step) {
    double t0 = vkt_now_s(), tokens[2] = {(double)s->host_tokens, 1};
    VKT_TRY(vkt_dist_sum_f64(tokens, 2));
    double w = tokens[0] > 0 ? (double)s->host_tokens / tokens[0] : 1.0 / tokens[1];
    s->comm_s = vkt_now_s() - t0; /* the step's wait on communication: this exchange and what is not hidden */
    VKT_TRY(vkt_grad_buckets_reduce(s->buckets, w));
    s->comm_s += vkt_grad_buckets_last(s->buckets).exposed_s;
    for (int k = 0; k < 2; k++) {
        VKT_TRY(timed_wait(s, s->slot_rec[k]));
        read_slot(s, k);
    }
    if (s->tokens[step & 1] != s->host_tokens) {
        vkt_log_error("data parallel: step %lld has %lld target tokens on the device but %lld counted on the host "
                      "(targets in [0, vocab_size)): the gradient weights would be wrong; please report this",
                      (long long)step + 1, (long long)s->tokens[step & 1], (long long)s->host_tokens);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

/* Targets that carry a loss in slot's batch (ops/xent.h: in [0, V)). */
static int64_t count_targets(const vkt_step *s, int slot) {
    const int32_t *t = vkt_model_slot_targets(s->m, slot);
    int64_t n = 0, BT = s->m->B * s->m->T, V = s->m->cfg.vocab_size;
    for (int64_t i = 0; i < BT; i++) n += t[i] >= 0 && t[i] < V;
    return n;
}

vkt_status vkt_step_fill_batch(vkt_model *m, int slot, vkt_batch_fn fill, void *ctx) {
    return vkt_step_fill_batch_aux(m, slot, NULL, fill, ctx);
}

vkt_status vkt_step_fill_batch_aux(vkt_model *m, int slot, void *aux, vkt_batch_fn fill, void *ctx) {
    vkt_batch batch = {vkt_model_slot_tokens(m, slot), vkt_model_slot_targets(m, slot),
                       vkt_model_slot_seg_start(m, slot), aux};
    memset(batch.seg_start, 0, (size_t)(m->B * m->T) * sizeof *batch.seg_start);
    VKT_TRY(fill(ctx, &batch));
    return vkt_seg_start_check(batch.seg_start, m->B, m->T, "batch seg_start (document starts of packed rows)");
}

void vkt_step_inject_overflow(vkt_step *s, int64_t step) { s->inject_step = step; }

/* The test hook: once this step's micro-batches are done, one gradient element becomes +inf, as an f16
 * overflow in the backward would make it. */
static vkt_status poison_grads(vkt_step *s) {
    for (int k = 0; k < 2; k++) VKT_TRY(timed_wait(s, s->slot_rec[k]));
    int i = 0;
    while (i < s->n_segs && s->segs[i].n == 0) i++;
    VKT_ASSERT(i < s->n_segs);
    const float inf = INFINITY;
    vkt_tensor g = vkt_tensor_rows(&s->train.grads, s->segs[i].offset, 1);
    vkt_log_info("test hook: step %lld's gradients poisoned with an inf (VKT_TEST_OVERFLOW_STEP)",
                 (long long)s->inject_step);
    return vkt_tensor_upload(s->m->dev, &g, &inf, sizeof inf);
}

vkt_status vkt_step_submit(vkt_step *s, vkt_batch_fn fill, void *ctx, vkt_step_result *done) {
    int64_t step = s->next_step++;
    done->step = -1;
    s->wait_s = 0, s->comm_s = 0, s->host_tokens = 0;
    for (int64_t i = 0; i < s->cfg.accum; i++) {
        int slot = (int)(s->n_micro++ & 1);
        VKT_TRY(timed_wait(s, s->slot_rec[slot]));
        read_slot(s, slot);
        VKT_TRY(vkt_step_fill_batch_aux(s->m, slot, slot_aux(s, slot), fill, ctx));
        bool ends = i == s->cfg.accum - 1;
        vkt_rec *r = ends && s->last[slot] ? s->last[slot] : s->micro[slot];
        if (s->buckets) s->host_tokens += count_targets(s, slot);
        if (s->buckets && ends) VKT_TRY(vkt_grad_buckets_arm(s->buckets)); /* the previous step's are done */
        VKT_TRY(vkt_rec_submit(r));
        s->slot_rec[slot] = r, s->slot_step[slot] = step, s->slot_unread[slot] = true;
    }
    /* The previous optimizer step must finish before its recording is replayed; the micro-batches just
     * queued keep the device busy meanwhile. Its results are read before the scalars are overwritten. */
    VKT_TRY(timed_wait(s, s->optim));
    VKT_TRY(collect(s, step - 1, done));
    if (step == s->inject_step) VKT_TRY(poison_grads(s));
    if (s->buckets)
        VKT_TRY(reduce_buckets(s, step));
    else if (s->reduce)
        VKT_TRY(reduce_grads(s, step));
    VKT_TRY(vkt_rec_submit(s->optim));
    if (!s->shard) return VKT_OK;
    double t0 = vkt_now_s(); /* ZeRO-1: every rank updated its shard; all of them need all */
    VKT_TRY(vkt_flat_sync_gather(s->reduce));
    s->comm_s += vkt_now_s() - t0;
    if (!s->half) return VKT_OK;
    VKT_TRY(vkt_rec_wait(s->half)); /* last step's: long done (the micro-batches that read it were waited) */
    return vkt_rec_submit(s->half);
}

vkt_status vkt_step_drain(vkt_step *s, vkt_step_result *done) {
    done->step = -1;
    for (int k = 0; k < 2; k++) VKT_TRY(vkt_rec_wait(s->slot_rec[k]));
    VKT_TRY(vkt_rec_wait(s->optim));
    if (s->half) VKT_TRY(vkt_rec_wait(s->half));
    return collect(s, s->next_step - 1, done);
}

static vkt_status eval_sums(vkt_model *m, vkt_rec *r, vkt_batch_fn fill, void *ctx, int64_t n, double *sums);

/* Data parallelism: an evaluation's weighted sums (loss, weight, tokens, metrics) over all ranks. */
static vkt_status global_means(const vkt_step *s, vkt_step_micro *sum) {
    int n = s->program.n_metrics;
    double v[3 + VKT_STEP_MAX_METRICS] = {sum->loss, sum->weight, (double)sum->tokens};
    for (int i = 0; i < n; i++) v[3 + i] = sum->metrics[i];
    VKT_TRY(vkt_dist_sum_f64(v, 3 + n));
    sum->loss = v[0], sum->weight = v[1], sum->tokens = (int64_t)v[2];
    for (int i = 0; i < n; i++) sum->metrics[i] = v[3 + i];
    return VKT_OK;
}

vkt_status vkt_step_eval(vkt_step *s, vkt_batch_fn fill, void *ctx, int64_t n, double *loss, vkt_step_result *done) {
    vkt_step_micro mean;
    VKT_TRY(vkt_step_eval_metrics(s, fill, ctx, n, &mean, done));
    *loss = mean.loss;
    return VKT_OK;
}

vkt_status vkt_step_eval_metrics(vkt_step *s, vkt_batch_fn fill, void *ctx, int64_t n, vkt_step_micro *mean,
                                 vkt_step_result *done) {
    VKT_TRY(vkt_step_drain(s, done));
    memset(mean, 0, sizeof *mean);
    if (!s->program.record) {
        double sums[2]; /* loss over target tokens, tokens: summed over the ranks' slices */
        VKT_TRY(eval_sums(s->m, s->eval, fill, ctx, n, sums));
        VKT_TRY(vkt_dist_sum_f64(sums, 2));
        mean->loss = sums[1] > 0 ? sums[0] / sums[1] : 0, mean->tokens = (int64_t)sums[1];
        return VKT_OK;
    }
    vkt_rec *r = s->eval;
    VKT_TRY(vkt_rec_begin(r));
    VKT_TRY(s->program.record(s->program.ctx, s->m, r, 0, false));
    VKT_TRY(vkt_rec_end(r));
    for (int64_t i = 0; i < n; i++) {
        VKT_TRY(vkt_step_fill_batch_aux(s->m, 0, slot_aux(s, 0), fill, ctx));
        VKT_TRY(vkt_rec_submit_wait(r));
        vkt_step_micro mr;
        micro_result(s, 0, &mr);
        mean->loss += mr.loss * mr.weight, mean->weight += mr.weight, mean->tokens += mr.tokens;
        for (int k = 0; k < s->program.n_metrics; k++) mean->metrics[k] += mr.metrics[k] * mr.weight;
    }
    if (vkt_dist_size() > 1) VKT_TRY(global_means(s, mean));
    double w = mean->weight > 0 ? mean->weight : 1;
    mean->loss /= w;
    for (int k = 0; k < s->program.n_metrics; k++) mean->metrics[k] /= w;
    return VKT_OK;
}

vkt_status vkt_eval_loss(vkt_model *m, vkt_rec *r, vkt_batch_fn fill, void *ctx, int64_t n, double *loss) {
    double sums[2];
    VKT_TRY(eval_sums(m, r, fill, ctx, n, sums));
    *loss = sums[1] > 0 ? sums[0] / sums[1] : 0;
    return VKT_OK;
}

/* The model's loss over n batches: sums[0] the loss summed over target tokens, sums[1] the tokens. */
static vkt_status eval_sums(vkt_model *m, vkt_rec *r, vkt_batch_fn fill, void *ctx, int64_t n, double *sums) {
    vkt_model_use_slot(m, 0);
    VKT_TRY(vkt_rec_begin(r));
    VKT_TRY(vkt_model_record_forward(m, r, VKT_FWD_LOSS));
    VKT_TRY(vkt_rec_end(r));
    /* Mean over tokens, not batches: batches with more ignored targets weigh less. */
    double sum = 0, tokens = 0;
    for (int64_t i = 0; i < n; i++) {
        VKT_TRY(vkt_step_fill_batch(m, 0, fill, ctx));
        VKT_TRY(vkt_rec_submit_wait(r));
        const vkt_xent_stats *st = (const vkt_xent_stats *)vkt_model_slot_stats(m, 0);
        sum += st->loss_sum, tokens += st->n_valid;
    }
    sums[0] = sum, sums[1] = tokens;
    return VKT_OK;
}

/* Waits for all queued work without collecting results (they are handed out by the next submit). */
static vkt_status wait_idle(vkt_step *s) {
    for (int k = 0; k < 2; k++) VKT_TRY(vkt_rec_wait(s->slot_rec[k]));
    return vkt_rec_wait(s->optim);
}

bool vkt_step_sharded(const vkt_step *s) { return s->shard != NULL; }

vkt_status vkt_step_gather_state(vkt_step *s) {
    if (!s->shard) return VKT_OK;
    VKT_TRY(wait_idle(s));
    int64_t n = moment_elems(s), total = s->train.table->total;
    float *part = malloc((size_t)n * sizeof *part);
    free(s->gathered);
    s->gathered = vkt_dist_is_root() ? malloc(2 * (size_t)total * sizeof *s->gathered) : NULL;
    vkt_status st = part && (s->gathered || !vkt_dist_is_root()) ? VKT_OK : VKT_ERR_OOM;
    const vkt_tensor *mom[2] = {&s->mom1, &s->mom2};
    for (int k = 0; k < 2 && st == VKT_OK; k++) {
        st = vkt_tensor_download(s->m->dev, mom[k], part, (size_t)n * 4);
        if (st == VKT_OK) st = vkt_dist_gather_f32(part, s->gathered ? s->gathered + k * total : NULL, s->shard);
    }
    free(part);
    return st;
}

vkt_status vkt_step_download_state(vkt_step *s, float *m1, float *m2, int64_t *step, int64_t *updates) {
    VKT_TRY(wait_idle(s));
    size_t bytes = (size_t)s->train.table->total * 4;
    if (s->shard) {              /* the full moments rank 0 gathered */
        VKT_ASSERT(s->gathered); /* vkt_step_gather_state first, on every rank */
        memcpy(m1, s->gathered, bytes);
        memcpy(m2, s->gathered + s->train.table->total, bytes);
        free(s->gathered);
        s->gathered = NULL;
    } else {
        VKT_TRY(vkt_tensor_download(s->m->dev, &s->mom1, m1, bytes));
        VKT_TRY(vkt_tensor_download(s->m->dev, &s->mom2, m2, bytes));
    }
    const vkt_step_scalars *sc = vkt_tensor_host_ptr(&s->scalars);
    *step = sc->step;
    *updates = (int64_t)sc->step - (int64_t)sc->n_skipped;
    return VKT_OK;
}

vkt_status vkt_step_upload_state(vkt_step *s, const float *m1, const float *m2, int64_t step, int64_t updates) {
    VKT_ASSERT(updates >= 0 && updates <= step);
    VKT_TRY(wait_idle(s));
    int64_t lo = s->shard ? s->shard[vkt_dist_rank()] : 0; /* ZeRO-1: this rank's shard of them */
    size_t bytes = (size_t)moment_elems(s) * 4;
    VKT_TRY(vkt_tensor_upload(s->m->dev, &s->mom1, m1 + lo, bytes));
    VKT_TRY(vkt_tensor_upload(s->m->dev, &s->mom2, m2 + lo, bytes));
    vkt_step_scalars *sc = vkt_tensor_host_ptr(&s->scalars);
    sc->step = (uint32_t)step;
    sc->n_skipped = (uint32_t)(step - updates);
    sc->nonfinite = 0;
    s->next_step = s->step_base = step;
    s->last_collected = step - 1;
    return VKT_OK;
}

bool vkt_step_get_loss_scale(const vkt_step *s, double *scale, int64_t *good_steps) {
    if (!s->cfg.loss_scale.enabled) return false;
    const vkt_step_scalars *sc = vkt_tensor_host_ptr(&s->scalars);
    *scale = sc->loss_scale, *good_steps = sc->good_steps;
    return true;
}

void vkt_step_set_loss_scale(vkt_step *s, double scale, int64_t good_steps) {
    VKT_ASSERT(scale > 0 && good_steps >= 0);
    vkt_step_scalars *sc = vkt_tensor_host_ptr(&s->scalars);
    sc->loss_scale = (float)scale, sc->good_steps = (uint32_t)good_steps;
}

size_t vkt_step_memory(const vkt_step *s) { return vkt_arena_capacity(s->state_arena); }
