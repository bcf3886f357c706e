/* RMSNorm reference (see ref_rmsnorm.h). */
#include "ref/ref_rmsnorm.h"

#include <math.h>

void vkt_ref_rmsnorm_fwd(const double *x, const double *w, double eps, double *y, double *rstd, int64_t N, int64_t C) {
    for (int64_t i = 0; i < N; i++) {
        const double *xr = x + i * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += xr[c] * xr[c];
        double rs = 1.0 / sqrt(s / (double)C + eps);
        for (int64_t c = 0; c < C; c++) y[i * C + c] = xr[c] * rs * w[c];
        if (rstd) rstd[i] = rs;
    }
}

void vkt_ref_rmsnorm_bwd(const double *x, const double *w, const double *rstd, const double *dy, double *dx, double *dw,
                         int64_t N, int64_t C) {
    for (int64_t i = 0; i < N; i++) {
        const double *xr = x + i * C, *gr = dy + i * C;
        double rs = rstd[i], s = 0;
        for (int64_t c = 0; c < C; c++) {
            s += gr[c] * w[c] * xr[c];
            dw[c] += gr[c] * xr[c] * rs;
        }
        s /= (double)C;
        for (int64_t c = 0; c < C; c++) dx[i * C + c] = rs * gr[c] * w[c] - xr[c] * rs * rs * rs * s;
    }
}
