/* CPU reference for the pairwise preference losses (double precision); the formulas, conventions and
 * metrics are those of ops/pref_loss.h. Depends on nothing above core: the loss type is an int with the
 * values of vkt_pref_loss_type. */
#ifndef VKT_REF_PREF_H
#define VKT_REF_PREF_H

#include <stdint.h>

enum {
    VKT_REF_PREF_SIGMOID = 0,
    VKT_REF_PREF_ROBUST = 1,
    VKT_REF_PREF_IPO = 2,
    VKT_REF_PREF_ORPO = 3,
    VKT_REF_PREF_BT = 4
};

typedef struct {
    int type;
    double beta, label_smoothing, orpo_lambda, center_rewards_coef, dloss;
} vkt_ref_pref_params;

/* Field for field as vkt_pref_stats. */
typedef struct {
    double loss, rewards_chosen, rewards_rejected, rewards_margins, rewards_accuracies, logps_chosen, logps_rejected,
        nll_loss, log_odds_ratio, log_odds_chosen, reward_min, reward_max, reward_mean;
    int64_t n_pairs, n_bad_pairs;
} vkt_ref_pref_stats;

/* policy (S, ps) and ref (S, rs) (ref may be NULL when the type takes none), pairs (P, 2), margins (P) or
 * NULL. Writes pair_losses (P), dseq (S) = dloss * dL/dvalue and *st (any of them may be NULL); returns
 * the loss. */
double vkt_ref_pref_loss(const vkt_ref_pref_params *o, const double *policy, int64_t ps, const double *ref, int64_t rs,
                         const int32_t *pairs, const double *margins, int64_t P, int64_t S, double *pair_losses,
                         double *dseq, vkt_ref_pref_stats *st);

/* The ORPO average log-prob clamp of pref_loss.comp: log(1 - e^a) stays finite at probability ~1. */
#define VKT_REF_ORPO_MAX_AVG_LOGP (-1e-6)

#endif
