/* CPU reference for the LoRA branch (src/ops/lora.h), double precision, plain loops. */
#ifndef VKT_REF_LORA_H
#define VKT_REF_LORA_H

#include <stdint.h>

/* y[i, j] += s sum_k (sum_c x[i, c] a[k, c]) b[j, k] for j < out, y rows ldy apart.
 * x (rows, in), a (rank, in), b (out, rank); u (rows, rank) gets x A^T. */
void vkt_ref_lora_fwd(const double *x, const double *a, const double *b, double *u, double *y, int64_t rows, int64_t in,
                      int64_t out, int64_t rank, int64_t ldy, double s);
/* dx += s (dy B) A (dx may be NULL), da += s (dy B)^T x, db += s dy^T (x A^T); dy rows ldy apart. */
void vkt_ref_lora_bwd(const double *dy, const double *x, const double *a, const double *b, double *dx, double *da,
                      double *db, int64_t rows, int64_t in, int64_t out, int64_t rank, int64_t ldy, double s);

#endif
