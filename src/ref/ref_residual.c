/* Residual add reference: trivially exact, kept so every op has one. */
#include "ref/ref_residual.h"

void vkt_ref_residual_fwd(const double *a, const double *b, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void vkt_ref_residual_bwd(const double *dout, double *da, double *db, int64_t n) {
    for (int64_t i = 0; i < n; i++) da[i] += dout[i], db[i] += dout[i];
}
