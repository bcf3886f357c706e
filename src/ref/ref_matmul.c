/* Matmul reference: the textbook triple loop in double, one element at a time. */
#include "ref/ref_matmul.h"

#include <stddef.h>

void vkt_ref_matmul(const double *a, const double *b, const double *bias, double *c, const vkt_ref_matmul_desc *d) {
    int64_t nb = d->batch > 1 ? d->batch : 1;
    int64_t lda = d->lda ? d->lda : d->trans_a ? d->m : d->k, ldb = d->ldb ? d->ldb : d->trans_b ? d->k : d->n;
    int64_t ldc = d->ldc ? d->ldc : d->n;
    for (int64_t z = 0; z < nb; z++) {
        const double *az = a + z * d->stride_a, *bz = b + z * d->stride_b;
        double *cz = c + z * d->stride_c;
        for (int64_t i = 0; i < d->m; i++)
            for (int64_t j = 0; j < d->n; j++) {
                double s = 0;
                for (int64_t p = 0; p < d->k; p++) {
                    double av = d->trans_a ? az[p * lda + i] : az[i * lda + p];
                    double bv = d->trans_b ? bz[j * ldb + p] : bz[p * ldb + j];
                    s += av * bv;
                }
                double v = d->alpha * s + (bias ? bias[j] : 0.0);
                cz[i * ldc + j] = d->accumulate ? cz[i * ldc + j] + v : v;
            }
    }
}

void vkt_ref_colsum(const double *dy, double *db, int64_t rows, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t i = 0; i < rows; i++) s += dy[i * n + j];
        db[j] += s;
    }
}

void vkt_ref_linear_fwd(const double *x, const double *w, const double *bias, double *y, int64_t rows, int64_t in,
                        int64_t out) {
    vkt_ref_matmul_desc d = {.m = rows, .n = out, .k = in, .trans_b = true, .alpha = 1};
    vkt_ref_matmul(x, w, bias, y, &d);
}

void vkt_ref_linear_bwd(const double *dy, const double *x, const double *w, double *dx, double *dw, double *db,
                        int64_t rows, int64_t in, int64_t out) {
    if (dx) {
        vkt_ref_matmul_desc d = {.m = rows, .n = in, .k = out, .alpha = 1};
        vkt_ref_matmul(dy, w, NULL, dx, &d);
    }
    if (dw) {
        vkt_ref_matmul_desc d = {.m = out, .n = in, .k = rows, .trans_a = true, .alpha = 1, .accumulate = true};
        vkt_ref_matmul(dy, x, NULL, dw, &d);
    }
    if (db) vkt_ref_colsum(dy, db, rows, out);
}
