/* CPU reference for LayerNorm over rows of C (double precision, plain two-pass mean and variance). */
#ifndef VKT_REF_LAYERNORM_H
#define VKT_REF_LAYERNORM_H

#include <stdint.h>

/* x, y: (N, C); w, b: (C); mean, rstd: (N) outputs (either may be NULL). */
void vkt_ref_layernorm_fwd(const double *x, const double *w, const double *b, double eps, double *y, double *mean,
                           double *rstd, int64_t N, int64_t C);
/* dx = rstd (g - mean_c g - xhat mean_c(g xhat)), g = dy w (overwrites); dw += sum dy xhat; db += sum dy.
 * mean, rstd: from vkt_ref_layernorm_fwd. */
void vkt_ref_layernorm_bwd(const double *x, const double *w, const double *mean, const double *rstd, const double *dy,
                           double *dx, double *dw, double *db, int64_t N, int64_t C);

#endif
