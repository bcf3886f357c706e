/* CPU reference (double) of the scalar score head of model/score_head.h: a sequence's reward is
 * w . hidden[p] at its last position p (the position whose input is its last token). The Bradley-Terry loss
 * on these rewards is vkt_ref_pref_loss with VKT_REF_PREF_BT (ref/ref_pref.h). */
#ifndef VKT_REF_REWARD_H
#define VKT_REF_REWARD_H

#include <stdint.h>

/* rewards[s] = w . hidden[seq_last[s]] (C columns), 0 where seq_last[s] < 0. */
void vkt_ref_score_head_fwd(const double *hidden, const double *w, const int32_t *seq_last, int64_t S, int64_t C,
                            double *rewards);
/* From drewards (S) = dL/dreward: dhidden (N, C) overwritten (drewards[s] w at row seq_last[s], 0 elsewhere),
 * dw (C) += sum_s drewards[s] hidden[seq_last[s]]; either may be NULL. */
void vkt_ref_score_head_bwd(const double *hidden, const double *w, const int32_t *seq_last, const double *drewards,
                            int64_t S, int64_t N, int64_t C, double *dhidden, double *dw);

#endif
