/* LayerNorm reference (see ref_layernorm.h). */
#include "ref/ref_layernorm.h"

#include <math.h>

void vkt_ref_layernorm_fwd(const double *x, const double *w, const double *b, double eps, double *y, double *mean,
                           double *rstd, int64_t N, int64_t C) {
    for (int64_t i = 0; i < N; i++) {
        const double *xr = x + i * C;
        double m = 0, v = 0;
        for (int64_t c = 0; c < C; c++) m += xr[c];
        m /= (double)C;
        for (int64_t c = 0; c < C; c++) v += (xr[c] - m) * (xr[c] - m);
        double rs = 1.0 / sqrt(v / (double)C + eps);
        for (int64_t c = 0; c < C; c++) y[i * C + c] = (xr[c] - m) * rs * w[c] + b[c];
        if (mean) mean[i] = m;
        if (rstd) rstd[i] = rs;
    }
}

void vkt_ref_layernorm_bwd(const double *x, const double *w, const double *mean, const double *rstd, const double *dy,
                           double *dx, double *dw, double *db, int64_t N, int64_t C) {
    for (int64_t i = 0; i < N; i++) {
        const double *xr = x + i * C, *gr = dy + i * C;
        double sg = 0, sgx = 0;
        for (int64_t c = 0; c < C; c++) {
            double xh = (xr[c] - mean[i]) * rstd[i], g = gr[c] * w[c];
            sg += g, sgx += g * xh;
            dw[c] += gr[c] * xh;
            db[c] += gr[c];
        }
        sg /= (double)C, sgx /= (double)C;
        for (int64_t c = 0; c < C; c++) {
            double xh = (xr[c] - mean[i]) * rstd[i];
            dx[i * C + c] = rstd[i] * (gr[c] * w[c] - sg - xh * sgx);
        }
    }
}
