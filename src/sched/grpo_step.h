/* The micro-batch of a GRPO step as a step program (sched/step.h): what the trainer's step records per input
 * slot in place of the language-model loss. The completions of one generation batch (rl/rollout.h) are laid
 * out by rl/grpo_batch.h, one micro-batch per replay, with gradient accumulation over them; their advantages
 * are computed on the host from the rewards (vkt_grpo_group_advantages) before the step is submitted.
 *
 * Per micro-batch (the op sequence of ops/grpo.h, num_iterations 1: old log-probs = the current ones,
 * detached, so the ratio is 1 and its gradient is the advantage's):
 *   1. beta > 0 only: the reference forward, the model with its linear-layer hook removed (for LoRA / QLoRA the
 *      frozen base with the adapters detached; sched/seq_step.h), its per-position losses kept
 *   2. the policy forward (VKT_FWD_LOSS_TRAIN: per-position losses, adapter dropout on)
 *   3. vkt_op_grpo_token -> per-token (l, k3, clipped low, high) and dl/dlogp
 *   4. vkt_op_seq_sum -> per-completion sums; vkt_op_grpo_reduce -> loss, metrics, per-completion coefficients
 *      (dapo: divided by the completion tokens of the whole step, which the filler writes into the slot's norm;
 *      grpo / bnpo / dr_grpo: scaled by m->dloss, 1 / accumulation steps, as TRL's trainer does)
 *   5. the backward (sched/seq_step.h): seq_scatter -> weighted cross-entropy backward -> model backward
 * An evaluation records 1-4 without the backward.
 *
 * Metrics, TRL's names: reward, reward_std, frac_reward_zero_std (computed on the host with the advantages and
 * written by the filler, the generation batch's values), completions/mean_length, kl, clip_ratio/low_mean,
 * clip_ratio/high_mean, clip_ratio/region_mean (the device's, per micro-batch; the step averages them; the
 * mean length is over max_seqs completions, as the trainer fills every micro-batch of a step), then up
 * to VKT_GRPO_STEP_MAX_EXTRA more the filler writes (the reward terms' means, rewards/<name>/mean). The loss of
 * a micro-batch is reported as the step's loss would be if every micro-batch were like it (dapo: its token sum
 * times the accumulation steps over the step's tokens), so the step's mean is TRL's loss. Not thread-safe. */
#ifndef VKT_GRPO_STEP_H
#define VKT_GRPO_STEP_H

#include "ops/grpo.h"
#include "sched/step.h"

enum { VKT_GRPO_STEP_MAX_EXTRA = 4, VKT_GRPO_STEP_N_METRICS = 8 };

typedef struct {
    vkt_grpo_opts loss;             /* group size, clip range, beta, loss type; dloss is set at record time */
    int64_t max_seqs;               /* S: completions per micro-batch (vkt_grpo_batch_opts.max_seqs), >= 1 */
    int n_extra;                    /* extra host metrics (<= VKT_GRPO_STEP_MAX_EXTRA) */
    const char *const *extra_names; /* borrowed (n_extra), must outlive the step: their metric names */
} vkt_grpo_step_cfg;

/* One slot's inputs (vkt_batch.aux), host memory the filler writes (vkt_grpo_batch_fill's seq_id, completion,
 * group, rewards and advantages arrays; the model's slot holds tokens, targets and seg_start):
 *   norm     dapo: the completion tokens of the whole step (every micro-batch of it), >= 1
 *   metrics  reward, reward_std, frac_reward_zero_std of the generation batch, then the n_extra values */
typedef struct {
    int32_t *seq_id;             /* (BT) */
    float *advantages, *rewards; /* (S) */
    int64_t *completion;         /* (S) host only */
    int32_t *group;              /* (S) host only */
    float *norm;                 /* (1) */
    float metrics[3 + VKT_GRPO_STEP_MAX_EXTRA];
    int32_t n_seqs;
} vkt_grpo_slot;

typedef struct vkt_grpo_step vkt_grpo_step;

/* Allocates the slots and scratch for m's (B, T) and cfg; m is borrowed and must outlive it. VKT_ERR_ARG
 * (logged) for max_seqs < 1, n_extra out of range, or beta < 0. */
vkt_status vkt_grpo_step_create(vkt_model *m, const vkt_grpo_step_cfg *cfg, vkt_grpo_step **out);
void vkt_grpo_step_destroy(vkt_grpo_step *g); /* NULL-safe */

/* The program to put in vkt_step_cfg.program (valid while g lives). */
const vkt_step_program *vkt_grpo_step_program(vkt_grpo_step *g);
/* Short labels for the progress line, one per metric, NULL where a metric is left out of it. */
const char *const *vkt_grpo_step_progress_labels(const vkt_grpo_step *g);
const vkt_grpo_step_cfg *vkt_grpo_step_cfg_of(const vkt_grpo_step *g);
size_t vkt_grpo_step_memory(const vkt_grpo_step *g);
/* Slot k's host arrays (the filler's vkt_batch.aux; tests fill them directly). */
vkt_grpo_slot *vkt_grpo_step_slot(vkt_grpo_step *g, int k);

#endif
