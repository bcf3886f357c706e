/* CPU reference for RMSNorm over rows of C (double precision). */
#ifndef VKT_REF_RMSNORM_H
#define VKT_REF_RMSNORM_H

#include <stdint.h>

/* y = x rstd w, rstd = 1 / sqrt(mean x^2 + eps). x, y: (N, C); w: (C); rstd: (N) output (may be NULL). */
void vkt_ref_rmsnorm_fwd(const double *x, const double *w, double eps, double *y, double *rstd, int64_t N, int64_t C);
/* dx = rstd g - x rstd^3 mean_c(g x), g = dy w (overwrites); dw += sum dy x rstd. */
void vkt_ref_rmsnorm_bwd(const double *x, const double *w, const double *rstd, const double *dy, double *dx, double *dw,
                         int64_t N, int64_t C);

#endif
