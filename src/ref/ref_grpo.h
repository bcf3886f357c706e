/* CPU reference for GRPO's objective (double precision); formulas and conventions of ops/grpo.h. The
 * enums are ints with the values of vkt_grpo_scale and vkt_grpo_agg (ref depends on nothing above core). */
#ifndef VKT_REF_GRPO_H
#define VKT_REF_GRPO_H

#include <stdint.h>

typedef struct {
    int64_t group_size;
    int scale; /* vkt_grpo_scale */
    double epsilon_low, epsilon_high, beta;
    int agg; /* vkt_grpo_agg */
    int64_t max_completion_length;
    double dloss;
} vkt_ref_grpo_params;

/* advantages (S) from rewards (S); stats[0..2] = reward, reward_std, frac_reward_zero_std. */
void vkt_ref_grpo_advantages(const vkt_ref_grpo_params *o, const double *rewards, int64_t S, double *advantages,
                             double stats[3]);

/* Per-position values (N, 4) = (l, k3, low, high) and tokgrad (N) = dl/dlogp_new, from losses (N)
 * (logp_new = -loss), seq_ids (N), the old policy's and the reference's per-position losses (N) or NULL,
 * advantages (S). */
void vkt_ref_grpo_token(const vkt_ref_grpo_params *o, const double *losses, const int32_t *seq_ids,
                        const double *old_losses, const double *ref_losses, const double *advantages, int64_t N,
                        int64_t S, double *tokvals, double *tokgrad);

/* From per-completion sums (S, 5): coef (S) and stats[0..6] = loss, kl, clip low, high, region, n_tokens,
 * mean length. norm: dapo's accumulated-batch token count, or NULL. */
void vkt_ref_grpo_reduce(const vkt_ref_grpo_params *o, const double *seqvals, int64_t S, const double *norm,
                         double *coef, double stats[7]);

#endif
