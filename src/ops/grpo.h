/* GRPO's objective on the device (TRL's GRPOTrainer): group-normalised advantages, the clipped per-token
 * surrogate with the k3 KL penalty, and its aggregation over tokens.
 *
 * A batch holds S completions, G per prompt in consecutive order. Per step the trainer records:
 *   1. vkt_op_grpo_advantages: rewards (S) -> advantages (S) and reward metrics
 *   2. vkt_op_xent_fwd over the batch (policy, adapters on) -> per-position losses, loss_i = -logp_new(i)
 *   3. vkt_op_grpo_token: losses, completion ids per position, old/ref losses, advantages ->
 *      per-token values (l, k3, low, high) and dl/dlogp_new per token (old losses: NULL for one update per
 *      generation batch, else a vkt_rec_copy of the losses of the batch's first pass; ref losses: a
 *      vkt_op_xent_fwd of the reference, adapters disabled, once per generation batch)
 *   4. vkt_op_seq_sum(tokvals, scale +1) -> per-completion sums (S, 5)
 *   5. vkt_op_grpo_reduce -> loss, metrics, per-completion coefficient c_s (L = sum_s c_s sum_i l_i)
 *   6. vkt_op_seq_scatter(coef = c, tok = dl/dlogp_new) -> per-position weights
 *   7. vkt_op_xent_bwd_weighted, then the model backward
 * Conventions are TRL's (trl/trainer/grpo_trainer.py, 2026): epsilon 0.2, epsilon_high = epsilon, beta 0
 * by default (no reference model); loss_type "dapo" is TRL's default. Not done here: two-sided clipping
 * (delta), cispo/sapo/vespo/luspo, sequence-level importance sampling, the entropy bonus, NaN rewards. */
#ifndef VKT_OP_GRPO_H
#define VKT_OP_GRPO_H

#include "vk/record.h"

typedef enum {
    VKT_GRPO_SCALE_GROUP = 0, /* A = (r - mean_g) / (std_g + 1e-4)   (TRL scale_rewards "group", default) */
    VKT_GRPO_SCALE_BATCH = 1, /* A = (r - mean_g) / (std_batch + 1e-4) ("batch") */
    VKT_GRPO_SCALE_NONE = 2,  /* A = r - mean_g                        ("none", Dr. GRPO) */
} vkt_grpo_scale;

typedef enum {
    VKT_GRPO_AGG_DAPO = 0,    /* token sum / active tokens of the whole accumulated batch (TRL default) */
    VKT_GRPO_AGG_GRPO = 1,    /* mean over each completion's tokens, then over completions */
    VKT_GRPO_AGG_BNPO = 2,    /* token sum / active tokens of this micro-batch */
    VKT_GRPO_AGG_DR_GRPO = 3, /* token sum / (S * max_completion_length) */
} vkt_grpo_agg;

typedef struct {
    int32_t group_size;              /* G: completions per prompt; S must be a multiple */
    vkt_grpo_scale scale;            /* advantage scaling */
    float epsilon_low, epsilon_high; /* clip range [1 - low, 1 + high] (TRL epsilon, epsilon_high: 0.2) */
    float beta;                      /* KL weight (TRL default 0); > 0 needs reference log-probs */
    vkt_grpo_agg agg;                /* TRL's loss_type */
    int32_t max_completion_length;   /* dr_grpo's constant */
    float dloss;                     /* scales the coefficients: 1, or 1/accum steps for grpo/bnpo/dr_grpo
                                      * (dapo divides by the whole accumulated batch's tokens instead) */
} vkt_grpo_opts;

vkt_grpo_opts vkt_grpo_opts_default(int32_t group_size);

/* Device layout of vkt_op_grpo_advantages' metrics (4 f32), TRL's names. */
typedef struct {
    float reward;               /* mean reward over the batch */
    float reward_std;           /* its standard deviation (Bessel) */
    float frac_reward_zero_std; /* share of completions whose scaling std is 0 (no learning signal) */
    float _reserved;
} vkt_grpo_adv_stats;
_Static_assert(sizeof(vkt_grpo_adv_stats) == 16, "keep in sync with shaders/grpo_adv.comp");

/* Device layout of vkt_op_grpo_reduce's metrics (8 f32), TRL's names. */
typedef struct {
    float loss;
    float kl;                     /* token mean of k3 (0 without reference log-probs) */
    float clip_ratio_low_mean;    /* clip_ratio/low_mean: ratio < 1 - eps_low with A < 0, token mean */
    float clip_ratio_high_mean;   /* clip_ratio/high_mean: ratio > 1 + eps_high with A > 0 */
    float clip_ratio_region_mean; /* clip_ratio/region_mean: either */
    uint32_t n_tokens;            /* completion tokens in the micro-batch */
    float completion_mean_length; /* completions/mean_length */
    float _reserved;
} vkt_grpo_stats;
_Static_assert(sizeof(vkt_grpo_stats) == 32, "keep in sync with shaders/grpo_reduce.comp");

/*   rewards (S) f32; advantages (S) f32, written; stats (4) f32, written (vkt_grpo_adv_stats).
 * A group of equal rewards gets advantages of exactly 0. */
vkt_status vkt_op_grpo_advantages(vkt_rec *r, const vkt_tensor *rewards, const vkt_tensor *advantages,
                                  const vkt_tensor *stats, const vkt_grpo_opts *o);

/*   losses     (N) f32: the policy's per-position cross-entropy (loss_i = -logp_new(i))
 *   seq_ids    (N) i32: completion index per position, -1 for prompt and padding (ops/seq_sum.h)
 *   old_losses (N) f32 or NULL: per-position cross-entropy of the policy that sampled, kept from its
 *              vkt_op_xent_fwd (log-prob = -loss); NULL: the current policy detached, ratio 1 (TRL's
 *              num_iterations = 1)
 *   ref_losses (N) f32 or NULL: the reference's per-position cross-entropy (adapters disabled; needed
 *              when beta > 0)
 *   advantages (S) f32
 *   tokvals    (N, 4) f32, written: (l, k3, low-clipped, high-clipped) per position, zeros off completions
 *   tokgrad    (N) f32, written: dl/dlogp_new per position */
vkt_status vkt_op_grpo_token(vkt_rec *r, const vkt_tensor *losses, const vkt_tensor *seq_ids,
                             const vkt_tensor *old_losses, const vkt_tensor *ref_losses, const vkt_tensor *advantages,
                             const vkt_tensor *tokvals, const vkt_tensor *tokgrad, const vkt_grpo_opts *o);

/*   seqvals (S, 5) f32: vkt_op_seq_sum(tokvals, seq_ids, +1)
 *   norm    (1) f32 or NULL: dapo's token count of the whole accumulated batch, written by the trainer
 *           each step (NULL: this micro-batch's count, which equals bnpo)
 *   coef    (S) f32, written: dloss * dL/d(sum of the completion's l_i)
 *   stats   (8) f32, written: vkt_grpo_stats */
vkt_status vkt_op_grpo_reduce(vkt_rec *r, const vkt_tensor *seqvals, const vkt_tensor *norm, const vkt_tensor *coef,
                              const vkt_tensor *stats, const vkt_grpo_opts *o);

#endif
