/* The micro-batch of a preference step (DPO, IPO, ORPO) as a step program (sched/step.h): what the
 * trainer's step records per input slot in place of the language-model loss, with the chosen and rejected
 * sequences of every pair in one batch (sft/pref_pack.h lays them out). The step keeps its pipelining,
 * gradient accumulation, optimizer and skipping of non-finite steps.
 *
 * Per micro-batch (the op sequence of ops/pref_loss.h):
 *   1. reference log-probs per sequence, by the reference mode:
 *        MODEL  the same model with its linear-layer hook removed for one forward (for LoRA / QLoRA the
 *               frozen base, adapters detached: no second copy of the weights), then seq_sum
 *        HOST   precomputed once before training (vkt_pref_step_reference) and written by the filler into
 *               the slot's ref array (full fine-tuning, whose weights are the policy: a frozen copy would
 *               double the weight memory, one reference forward per epoch instead of per step)
 *        NONE   ORPO takes none
 *   2. the policy forward (VKT_FWD_LOSS_TRAIN: per-position losses, dropout on) -> seq_sum -> pref_loss
 *      (dloss = m->dloss, 1 / accumulation steps) -> seq_scatter -> weighted xent backward in place over
 *      the logits -> the model backward (adapters through the hook)
 * An evaluation records 1 and 2 without the backward. Metrics are TRL's (ops/pref_loss.h), read per slot.
 *
 * Not here: where batches come from (the filler writes tokens, targets, seg_start and the vkt_pref_slot
 * arrays), the Bradley-Terry reward model (sched/reward_step.h: a score head instead of log-probs). Not
 * thread-safe. */
#ifndef VKT_PREF_STEP_H
#define VKT_PREF_STEP_H

#include "ops/pref_loss.h"
#include "sched/step.h"

typedef enum {
    VKT_PREF_REF_NONE = 0,  /* no reference (ORPO) */
    VKT_PREF_REF_MODEL = 1, /* the model without its hook, a forward per micro-batch */
    VKT_PREF_REF_HOST = 2,  /* precomputed log-probs written per batch by the filler */
} vkt_pref_ref_mode;

typedef struct {
    vkt_pref_opts loss;    /* type and coefficients; dloss is taken from the model at record time */
    vkt_pref_ref_mode ref; /* NONE exactly for ORPO (VKT_ERR_ARG otherwise) */
    int64_t max_pairs;     /* pair-table rows of a batch (vkt_pref_pack_max_pairs), >= 1 */
} vkt_pref_step_cfg;

/* One slot's extra inputs (vkt_batch.aux), host memory the filler writes:
 *   seq_id     (B*T) i32: the sequence each target position counts for, -1 for none (pref_pack.h)
 *   pairs      (max_pairs, 2) i32: chosen, rejected sequence; (-1, -1) rows are padding
 *   ref        (2 max_pairs) f32: reference log p per sequence (HOST mode), else NULL
 *   pair_index (max_pairs) i64: each pair's index in its data (host only; the reference pass maps with it)
 *   n_pairs    pairs in the batch
 * and for a reward model (sched/reward_step.h; NULL otherwise):
 *   seq_last   (2 max_pairs) i32: each sequence's last position (sft/pref_pack.h), -1 past the batch's
 *   last_id    (B*T) i32: the sequence whose last token is the input at each position, -1 elsewhere
 *              (vkt_score_last_ids of seq_last; the filler writes both) */
typedef struct {
    int32_t *seq_id, *pairs;
    float *ref;
    int64_t *pair_index;
    int32_t n_pairs;
    int32_t *seq_last, *last_id;
} vkt_pref_slot;

typedef struct vkt_pref_step vkt_pref_step;

/* Allocates the slots and scratch for m's (B, T) and cfg; m is borrowed and must outlive it. VKT_ERR_ARG
 * (logged) for a reference mode that does not fit the loss type or max_pairs < 1. */
vkt_status vkt_pref_step_create(vkt_model *m, const vkt_pref_step_cfg *cfg, vkt_pref_step **out);
void vkt_pref_step_destroy(vkt_pref_step *p); /* NULL-safe */

/* The program to put in vkt_step_cfg.program (valid while p lives). Its metrics, in order: rewards/chosen,
 * rewards/rejected, rewards/margins, rewards/accuracies, logps/chosen, logps/rejected, and for ORPO also
 * nll_loss, log_odds_ratio, log_odds_chosen. */
const vkt_step_program *vkt_pref_step_program(vkt_pref_step *p);
/* Short labels for the progress line, one per metric, NULL where a metric is left out of it. */
const char *const *vkt_pref_step_progress_labels(const vkt_pref_step *p);
const vkt_pref_step_cfg *vkt_pref_step_cfg_of(const vkt_pref_step *p);
size_t vkt_pref_step_memory(const vkt_pref_step *p);

/* The reference log-probs of one batch: fills slot 0 through fill (aux = that slot's vkt_pref_slot), runs
 * the model without its hook, forward only, and writes log p of sequence s into out[s] (2 max_pairs floats;
 * 0 past the batch's sequences); *slot then shows the batch's pairs. Synchronous; not during a step (drain
 * it first). For HOST mode before training, and for tests. */
vkt_status vkt_pref_step_reference(vkt_pref_step *p, vkt_batch_fn fill, void *ctx, float *out,
                                   const vkt_pref_slot **slot);

#endif
