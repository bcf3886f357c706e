/* CPU reference for the LoRA branch (src/ops/lora.h), double precision, plain loops. */
#ifndef VKT_REF_LORA_H
#define VKT_REF_LORA_H

#include <stdint.h>

/* y[i, j] += s sum_k (sum_c xd[i, c] a[k, c]) b[j, k] for j < out, y rows ldy apart, xd = mask * x (mask
 * (rows, in), or NULL for none). x (rows, in), a (rank, in), b (out, rank); u (rows, rank) gets xd A^T. */
void vkt_ref_lora_fwd(const double *x, const double *mask, const double *a, const double *b, double *u, double *y,
                      int64_t rows, int64_t in, int64_t out, int64_t rank, int64_t ldy, double s);
/* dx += mask * s (dy B) A (dx may be NULL), da += s (dy B)^T xd, db += s dy^T (xd A^T); dy rows ldy apart. */
void vkt_ref_lora_bwd(const double *dy, const double *x, const double *mask, const double *a, const double *b,
                      double *dx, double *da, double *db, int64_t rows, int64_t in, int64_t out, int64_t rank,
                      int64_t ldy, double s);
/* The dropout mask of shaders/lora_dropout.comp for pass counter ctr: mask[i] = 0 where the hash of
 * (seed, stream, ctr, i) is below p * 2^32, else 1 / (1 - p) (as f32, like the shader), i < n. */
uint32_t vkt_ref_lora_dropout_hash(uint32_t seed, uint32_t stream, uint32_t ctr, uint32_t i);
void vkt_ref_lora_dropout_mask(uint32_t seed, uint32_t stream, uint32_t ctr, float p, int64_t n, double *mask);

#endif
