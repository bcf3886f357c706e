/* CPU reference for the global gradient norm and clip scale (double precision). */
#ifndef VKT_REF_GRADNORM_H
#define VKT_REF_GRADNORM_H

#include <stdint.h>

/* sqrt(sum of g[i]^2) over the n_ranges ranges [offset[k], offset[k] + n[k]). */
double vkt_ref_gradnorm(const double *g, const int64_t *offset, const int64_t *n, int n_ranges);
/* min(1, max_norm / (norm + 1e-6)), or 1 when max_norm <= 0. */
double vkt_ref_clip_scale(double norm, double max_norm);

#endif
