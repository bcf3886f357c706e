/* LoRA reference (see ref_lora.h): the four products written out, intermediates in double. */
#include "ref/ref_lora.h"

#include <stdlib.h>

void vkt_ref_lora_fwd(const double *x, const double *a, const double *b, double *u, double *y, int64_t rows, int64_t in,
                      int64_t out, int64_t rank, int64_t ldy, double s) {
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t k = 0; k < rank; k++) {
            double acc = 0;
            for (int64_t c = 0; c < in; c++) acc += x[i * in + c] * a[k * in + c];
            u[i * rank + k] = acc;
        }
        for (int64_t j = 0; j < out; j++) {
            double acc = 0;
            for (int64_t k = 0; k < rank; k++) acc += u[i * rank + k] * b[j * rank + k];
            y[i * ldy + j] += s * acc;
        }
    }
}

void vkt_ref_lora_bwd(const double *dy, const double *x, const double *a, const double *b, double *dx, double *da,
                      double *db, int64_t rows, int64_t in, int64_t out, int64_t rank, int64_t ldy, double s) {
    double *g = malloc((size_t)rank * sizeof *g), *u = malloc((size_t)rank * sizeof *u);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t k = 0; k < rank; k++) {
            double gk = 0, uk = 0;
            for (int64_t j = 0; j < out; j++) gk += dy[i * ldy + j] * b[j * rank + k];
            for (int64_t c = 0; c < in; c++) uk += x[i * in + c] * a[k * in + c];
            g[k] = gk, u[k] = uk;
        }
        for (int64_t j = 0; j < out; j++)
            for (int64_t k = 0; k < rank; k++) db[j * rank + k] += s * dy[i * ldy + j] * u[k];
        for (int64_t k = 0; k < rank; k++)
            for (int64_t c = 0; c < in; c++) da[k * in + c] += s * g[k] * x[i * in + c];
        if (dx)
            for (int64_t c = 0; c < in; c++) {
                double acc = 0;
                for (int64_t k = 0; k < rank; k++) acc += g[k] * a[k * in + c];
                dx[i * in + c] += s * acc;
            }
    }
    free(g), free(u);
}
