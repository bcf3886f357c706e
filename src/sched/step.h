/* The training step scheduler: records the forward+backward of one micro-batch (twice, one per input
 * slot) and the optimizer step once, then replays them.
 *
 * Per optimizer step: `accum` micro-batches, each a replay of the fwd+bwd recording of the slot its batch
 * was written to, then one replay of the optimizer recording (gradient norm and clipping, AdamW with the
 * learning rate from a device-side table, zeroing of the gradients). Only the token batch changes per
 * step; the learning rate and the step counter live in device memory.
 *
 * Pipelining: the host fills slot s while the device runs slot 1 - s, and the loss of step k is read
 * after step k + 1 has been queued, so the queue never drains between steps.
 *
 * Non-finite steps: the optimizer recording skips the update on the device when the gradient norm is NaN
 * or inf (optim/optim_types.h); the host reads that flag with the step's loss, so detecting it costs no
 * extra wait. A non-finite loss on a row that counts makes its gradients, hence the norm, non-finite.
 *
 * Data parallelism (dist/dist.h, several ranks): the gradients are averaged over the ranks (weighted by
 * their tokens) before the norm and AdamW, so every rank applies the same update; results and evaluations
 * report the loss over all ranks' batches. The language-model loss reduces them in buckets while the step's
 * last backward runs (dist/grad_buckets.h: that micro-batch has a recording of its own with the bucket
 * copies when the step accumulates several); programs, once after the backward (dist/flat_sync.h). */
#ifndef VKT_STEP_H
#define VKT_STEP_H

#include "model/model.h"
#include "optim/adamw.h"
#include "optim/gradnorm.h"

/* One micro-batch to fill, (B, T) i32 arrays each, row-major; the struct and the arrays are borrowed (the
 * model's host-visible input slot) and valid only during the call.
 *   tokens     input ids
 *   targets    the id to predict at each position, -100 where no loss
 *   seg_start  packed rows (ops/seg_start.h): each position's document start. ZEROED by the caller before
 *              every fill (one document per row), so a filler that does not pack leaves it alone; a
 *              packing filler writes it, and the step refuses (VKT_ERR_ARG) a table that is not well
 *              formed. Every document then trains exactly as if it were alone in its row. */
typedef struct {
    int32_t *tokens, *targets, *seg_start;
    void *aux; /* the step program's per-slot inputs (vkt_step_program.slot_aux), NULL for the LM loss */
} vkt_batch;

/* Fills one micro-batch (see vkt_batch); a non-OK status stops the step or evaluation and is returned. */
typedef vkt_status (*vkt_batch_fn)(void *ctx, const vkt_batch *batch);

/* Fills input slot `slot` of m through fill as the step does: document starts zeroed before, checked
 * (vkt_seg_start_check) after. For callers that replay their own recordings (evaluation dumps, benches).
 * aux: the batch's extra inputs (vkt_batch.aux), or NULL. */
vkt_status vkt_step_fill_batch(vkt_model *m, int slot, vkt_batch_fn fill, void *ctx);
vkt_status vkt_step_fill_batch_aux(vkt_model *m, int slot, void *aux, vkt_batch_fn fill, void *ctx);

#define VKT_STEP_MAX_METRICS 12

/* What one micro-batch measured, read from its slot once it completed. */
typedef struct {
    double loss;    /* its objective */
    double weight;  /* its weight in an evaluation's mean (pairs, tokens) */
    int64_t tokens; /* target positions that carried a loss */
    double metrics[VKT_STEP_MAX_METRICS];
} vkt_step_micro;

/* A micro-batch other than the model's own language-model loss (preference objectives, sched/pref_step.h):
 * what the step records per slot, the extra inputs the filler writes, and what is read back. The step keeps
 * its pipelining, accumulation, optimizer and skipping of non-finite steps; the program only replaces the
 * forward + backward of one micro-batch. */
typedef struct {
    void *ctx;                       /* borrowed */
    int n_metrics;                   /* <= VKT_STEP_MAX_METRICS */
    const char *const *metric_names; /* (n_metrics) names for metrics.jsonl */
    /* Records slot's micro-batch into r: forward and loss, plus the backward into the gradients when
     * backward is set (training; the loss gradient scaled by m->dloss), else forward only (evaluation). */
    vkt_status (*record)(void *ctx, vkt_model *m, vkt_rec *r, int slot, bool backward);
    /* Host arrays of slot's extra inputs, passed to the filler as vkt_batch.aux. */
    void *(*slot_aux)(void *ctx, int slot);
    /* After slot's last submission completed: what it measured. */
    void (*read)(void *ctx, vkt_model *m, int slot, vkt_step_micro *out);
} vkt_step_program;

/* What the optimizer trains: a parameter table (names, shapes, offsets, decay flags) over flat parameter
 * and gradient views. The model's own (vkt_step_trainable_model) for pre-training and full fine-tuning; a
 * LoRA adapter's for adapter training, whose frozen base then has no gradients or moments at all. */
typedef struct {
    const vkt_param_table *table; /* borrowed */
    vkt_tensor params, grads;     /* flat f32 views of table->total elements */
    const bool *frozen;           /* borrowed, NULL or table->n flags: entries the optimizer leaves as they
                                   * are (no update, not in the gradient norm); their moments stay 0 */
    vkt_tensor params_half;       /* mixed precision: the f16 / bf16 copy of params (same layout) that AdamW
                                   * refreshes with each update; arena NULL: none */
} vkt_trainable;

/* Dynamic loss scaling for f16 training (torch.cuda.amp.GradScaler's rule, entirely on the device): the
 * loss gradient is multiplied by the scale, the gradient-norm pass divides it out of the norm and the
 * clip scale, and a step whose scaled gradients are not finite is skipped (as any non-finite step) and
 * halves the scale; growth_interval finite steps in a row double it. */
typedef struct {
    bool enabled;
    float init;              /* initial scale (65536) */
    int64_t growth_interval; /* finite steps in a row before the scale grows (2000) */
    float factor;            /* growth factor; the backoff is its inverse (2) */
} vkt_loss_scale_cfg;

/* GradScaler's defaults, enabled. */
vkt_loss_scale_cfg vkt_loss_scale_default(void);

/* The model's parameters and gradients (m needs gradients), nothing frozen. */
vkt_trainable vkt_step_trainable_model(const vkt_model *m);

typedef struct {
    vkt_adamw_cfg adamw;
    vkt_lr_schedule schedule;
    float max_grad_norm;     /* <= 0: no clipping */
    int64_t accum;           /* micro-batches per optimizer step (>= 1) */
    int64_t total_steps;     /* length of the learning-rate table */
    const vkt_trainable *train; /* borrowed, copied at create: what trains; NULL: the whole model */
    const vkt_step_program *program; /* borrowed, copied at create: the micro-batch; NULL: the model's
                                      * language-model loss */
    int zero_stage;          /* several ranks: 1 shards the AdamW moments over them (ZeRO stage 1, see
                              * vkt_step_gather_state); 0 (or one rank): every rank holds all of them */
    double bucket_mb;        /* several ranks: the gradient all-reduce in buckets of about this many MiB that
                              * overlaps the backward (dist/grad_buckets.h); 0: one all-reduce after it.
                              * Programs (cfg.program) always reduce after the backward */
    bool ordered_reduce;     /* several ranks: the deterministic reduction (rank-order sums, dist/dist.h):
                              * a run's losses and weights repeat bit for bit whatever the timing */
    vkt_loss_scale_cfg loss_scale; /* f16 mixed precision (zeroed: off) */
} vkt_step_cfg;

/* What a completed optimizer step measured. */
typedef struct {
    int64_t step;            /* 0-based index of the step */
    double loss;             /* mean over its micro-batches */
    double grad_norm, lr;
    int64_t tokens;          /* target positions that carried a loss */
    bool skipped;            /* the gradient norm was not finite: the device left params and moments as
                              * they were */
    int64_t n_skipped;       /* steps skipped so far, a resumed run's earlier ones included */
    double loss_scale;       /* the loss scale after this step (1 without loss scaling) */
    int n_metrics;           /* the program's metrics, means over the step's micro-batches (0 without one) */
    double metrics[VKT_STEP_MAX_METRICS];
} vkt_step_result;

typedef struct vkt_step vkt_step;

/* Creates the optimizer state and the recordings for m (which must have gradients unless cfg->train
 * names other ones). The step counter starts at `first_step` (resume). */
vkt_status vkt_step_create(vkt_model *m, const vkt_step_cfg *cfg, int64_t first_step, vkt_step **out);
void vkt_step_destroy(vkt_step *s);

/* Queues one optimizer step, calling fill once per micro-batch. *done gets the previous step's result
 * (done->step = -1 when there is none yet). */
vkt_status vkt_step_submit(vkt_step *s, vkt_batch_fn fill, void *ctx, vkt_step_result *done);
/* Test hook: step `step`'s accumulated gradients get one +inf element before its optimizer runs (as an f16
 * overflow would), so the step must be skipped (and, with loss scaling, the scale halved). The environment
 * variable VKT_TEST_OVERFLOW_STEP=<step> does the same for any run (scripts/gpu_check.sh). */
void vkt_step_inject_overflow(vkt_step *s, int64_t step);
/* Device milliseconds of the last completed optimizer step (0 without timestamps). */
double vkt_step_optim_ms(vkt_step *s);
/* Records one optimizer update (norm, clipping, AdamW, gradients zeroed) into r, which the caller has begun:
 * for profiling it command by command (train_bench.c). It updates the parameters like a step does. */
vkt_status vkt_step_record_update(vkt_step *s, vkt_rec *r);
/* Seconds the last vkt_step_submit spent blocked on the device (the rest is host work). */
double vkt_step_last_wait_s(const vkt_step *s);
/* What the last vkt_step_submit spent on data-parallel ranks (dist/dist.h; all 0 on one rank), in seconds:
 *   total     what the step waited for: one reduction after the backward: from the token count exchange
 *             to queueing the copies back; buckets: the token count exchange and the exposed part of the
 *             reductions; ZeRO-1's gather included in both;
 *   copy      one reduction after the backward: waiting for the device to write the gradients out (0 with
 *             buckets: their copies run inside the backward);
 *   reduce    the all-reduce in flight (waiting for the slowest rank included); with buckets the wall time
 *             during which at least one bucket was in flight;
 *   exposed   of reduce, the part after the backward ended, that the step waited for (the rest was hidden
 *             behind the backward);
 *   gather    ZeRO-1: the optimizer, the shard out and the parameter all-gather (never hidden). */
typedef struct {
    double total_s, copy_s, reduce_s, exposed_s, gather_s;
    size_t bytes;  /* the gradient bytes each rank reduces per step */
    int n_buckets; /* 0: one reduction after the backward */
    bool ordered;  /* the deterministic reduction */
} vkt_step_comm;
vkt_step_comm vkt_step_last_comm(const vkt_step *s);
/* Waits for everything queued; *done gets the last step's result (step = -1 if none). */
vkt_status vkt_step_drain(vkt_step *s, vkt_step_result *done);

/* Mean loss over n batches with the current parameters, forward only. Drains the queue first: *done gets
 * the result of the last training step if it was not handed out yet (step = -1 otherwise). */
vkt_status vkt_step_eval(vkt_step *s, vkt_batch_fn fill, void *ctx, int64_t n, double *loss,
                         vkt_step_result *done);
/* The same with the program's metrics: *mean gets the loss and metrics averaged over the n batches,
 * weighted by each batch's weight (the model's loss: by tokens), and the tokens summed. */
vkt_status vkt_step_eval_metrics(vkt_step *s, vkt_batch_fn fill, void *ctx, int64_t n, vkt_step_micro *mean,
                                 vkt_step_result *done);

/* Mean loss per target token over n batches from fill, forward only, recorded into r (any model, with
 * or without gradients). Synchronous. */
vkt_status vkt_eval_loss(vkt_model *m, vkt_rec *r, vkt_batch_fn fill, void *ctx, int64_t n, double *loss);

/* The table the optimizer state follows (the trainable set's). */
const vkt_param_table *vkt_step_table(const vkt_step *s);

/* ZeRO-1 (vkt_step_cfg.zero_stage 1 on several ranks): each rank keeps the moments of one contiguous shard of
 * the trainable elements, updates only that shard's parameters (the gradient norm still covers all of
 * them) and all-gathers the parameters after every update, so all ranks keep identical weights. For a
 * checkpoint every rank calls vkt_step_gather_state (collective: rank 0 receives the full moments), then
 * rank 0 alone downloads them; upload takes the full moments on every rank (a checkpoint resumes on any
 * number of ranks, with or without sharding). */
bool vkt_step_sharded(const vkt_step *s);
vkt_status vkt_step_gather_state(vkt_step *s); /* a no-op without sharding */

/* Optimizer state for checkpoints: moments m and v (vkt_step_table(s)->total f32 each), the step counter (steps run,
 * skipped ones included) and the AdamW updates applied (step minus skipped steps; the t of the bias
 * corrections). Upload needs 0 <= updates <= step (VKT_ASSERT). */
vkt_status vkt_step_download_state(vkt_step *s, float *m, float *v, int64_t *step, int64_t *updates);
vkt_status vkt_step_upload_state(vkt_step *s, const float *m, const float *v, int64_t step, int64_t updates);
/* f16 loss scaling state for checkpoints: the current scale and the finite steps in a row since it last
 * changed. Get returns false (and leaves them) when the step has no loss scaling; read it after
 * vkt_step_download_state (the queue idle). Set (after vkt_step_upload_state) needs scale > 0. */
bool vkt_step_get_loss_scale(const vkt_step *s, double *scale, int64_t *good_steps);
void vkt_step_set_loss_scale(vkt_step *s, double scale, int64_t good_steps);
size_t vkt_step_memory(const vkt_step *s);

#endif
