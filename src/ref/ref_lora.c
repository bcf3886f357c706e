/* LoRA reference (see ref_lora.h): the four products written out, intermediates in double. */
#include "ref/ref_lora.h"

#include <stdlib.h>

static double xd(const double *x, const double *mask, int64_t e) { return mask ? mask[e] * x[e] : x[e]; }

void vkt_ref_lora_fwd(const double *x, const double *mask, const double *a, const double *b, double *u, double *y,
                      int64_t rows, int64_t in, int64_t out, int64_t rank, int64_t ldy, double s) {
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t k = 0; k < rank; k++) {
            double acc = 0;
            for (int64_t c = 0; c < in; c++) acc += xd(x, mask, i * in + c) * a[k * in + c];
            u[i * rank + k] = acc;
        }
        for (int64_t j = 0; j < out; j++) {
            double acc = 0;
            for (int64_t k = 0; k < rank; k++) acc += u[i * rank + k] * b[j * rank + k];
            y[i * ldy + j] += s * acc;
        }
    }
}

void vkt_ref_lora_bwd(const double *dy, const double *x, const double *mask, const double *a, const double *b,
                      double *dx, double *da, double *db, int64_t rows, int64_t in, int64_t out, int64_t rank,
                      int64_t ldy, double s) {
    double *g = malloc((size_t)rank * sizeof *g), *u = malloc((size_t)rank * sizeof *u);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t k = 0; k < rank; k++) {
            double gk = 0, uk = 0;
            for (int64_t j = 0; j < out; j++) gk += dy[i * ldy + j] * b[j * rank + k];
            for (int64_t c = 0; c < in; c++) uk += xd(x, mask, i * in + c) * a[k * in + c];
            g[k] = gk, u[k] = uk;
        }
        for (int64_t j = 0; j < out; j++)
            for (int64_t k = 0; k < rank; k++) db[j * rank + k] += s * dy[i * ldy + j] * u[k];
        for (int64_t k = 0; k < rank; k++)
            for (int64_t c = 0; c < in; c++) da[k * in + c] += s * g[k] * xd(x, mask, i * in + c);
        if (dx)
            for (int64_t c = 0; c < in; c++) {
                double acc = 0;
                for (int64_t k = 0; k < rank; k++) acc += g[k] * a[k * in + c];
                dx[i * in + c] += s * acc * (mask ? mask[i * in + c] : 1.0);
            }
    }
    free(g), free(u);
}

static uint32_t pcg(uint32_t v) {
    uint32_t st = v * 747796405u + 2891336453u;
    uint32_t w = ((st >> ((st >> 28u) + 4u)) ^ st) * 277803737u;
    return (w >> 22u) ^ w;
}

uint32_t vkt_ref_lora_dropout_hash(uint32_t seed, uint32_t stream, uint32_t ctr, uint32_t i) {
    return pcg(pcg(pcg(pcg(seed) ^ stream) ^ ctr) ^ i);
}

void vkt_ref_lora_dropout_mask(uint32_t seed, uint32_t stream, uint32_t ctr, float p, int64_t n, double *mask) {
    double thr = (double)p * 4294967296.0;
    uint32_t threshold = thr >= 4294967295.0 ? 0xffffffffu : (uint32_t)thr;
    float inv_keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++)
        mask[i] = vkt_ref_lora_dropout_hash(seed, stream, ctr, (uint32_t)i) >= threshold ? (double)inv_keep : 0.0;
}
