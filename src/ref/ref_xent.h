/* CPU reference for softmax cross-entropy with an ignore index (double precision). */
#ifndef VKT_REF_XENT_H
#define VKT_REF_XENT_H

#include <stdint.h>

/* losses[r] = logsumexp(logits[r, :]) - logits[r, t_r] (0 for ignored rows: t_r == ignore_index or
 * outside [0, V)). Returns the mean over valid rows (0 if none); *n_valid gets their count. */
double vkt_ref_xent_fwd(const double *logits, const int32_t *targets, double *losses, int64_t N, int64_t V,
                        int32_t ignore_index, int64_t *n_valid);
/* dlogits[r, j] = (softmax(logits[r, :])[j] - [j == t_r]) * dloss / n_valid, zero rows for ignored rows:
 * the gradient of dloss * mean loss. */
void vkt_ref_xent_bwd(const double *logits, const int32_t *targets, double *dlogits, int64_t N, int64_t V,
                      int32_t ignore_index, double dloss);

/* dlogits[r, j] = (softmax(logits[r, :])[j] - [j == t_r]) * dloss * weights[r], zero rows for ignored rows:
 * the gradient of dloss * sum_r weights[r] * loss_r with the weights held fixed. */
void vkt_ref_xent_bwd_weighted(const double *logits, const int32_t *targets, const double *weights, double *dlogits,
                               int64_t N, int64_t V, int32_t ignore_index, double dloss);

#endif
