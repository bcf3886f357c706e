/* Plain loops: dequantize W once (vkt_quant_unpack), then double-precision products and sums.
 * Not here: any blocking or speed; the weight gradient (frozen weights have none). */
#include "ref/ref_qmatmul.h"

#include <stdlib.h>

#include "core/log.h"

static double *dequant(const vkt_qlayout *l, const void *blob) {
    size_t n = (size_t)(l->out * l->in);
    float *w = malloc(n * sizeof *w);
    double *wd = malloc(n * sizeof *wd);
    VKT_ASSERT(w && wd);
    vkt_quant_unpack(l, blob, w);
    for (size_t i = 0; i < n; i++) wd[i] = w[i];
    free(w);
    return wd;
}

void vkt_ref_qmatmul_fwd(const double *x, const vkt_qlayout *l, const void *blob, const double *bias, double *y,
                         int64_t rows, bool accumulate) {
    const int64_t in = l->in, out = l->out;
    double *w = dequant(l, blob);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t o = 0; o < out; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int64_t k = 0; k < in; k++) s += x[i * in + k] * w[o * in + k];
            y[i * out + o] = accumulate ? y[i * out + o] + s : s;
        }
    free(w);
}

void vkt_ref_qmatmul_bwd_dx(const double *dy, const vkt_qlayout *l, const void *blob, double *dx, int64_t rows,
                            bool accumulate) {
    const int64_t in = l->in, out = l->out;
    double *w = dequant(l, blob);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < in; k++) {
            double s = 0;
            for (int64_t o = 0; o < out; o++) s += dy[i * out + o] * w[o * in + k];
            dx[i * in + k] = accumulate ? dx[i * in + k] + s : s;
        }
    free(w);
}
