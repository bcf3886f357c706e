/* CPU reference for matmul and the Linear layer (double precision, plain loops). */
#ifndef VKT_REF_MATMUL_H
#define VKT_REF_MATMUL_H

#include <stdbool.h>
#include <stdint.h>

/* Same meaning as vkt_matmul_desc (src/ops/matmul.h): op(A) (m, k), op(B) (k, n), C (m, n), row-major. */
typedef struct {
    int64_t m, n, k;
    bool trans_a, trans_b;                /* A stored (k, m); B stored (n, k) */
    int64_t batch;                        /* <= 1: one product */
    int64_t stride_a, stride_b, stride_c; /* elements between batches */
    double alpha;
    bool accumulate;
    int64_t lda, ldb, ldc;                /* row strides as stored; 0: contiguous */
} vkt_ref_matmul_desc;

/* C (+)= alpha * op(A) op(B) + bias (bias (n) or NULL), for every batch. */
void vkt_ref_matmul(const double *a, const double *b, const double *bias, double *c, const vkt_ref_matmul_desc *d);
/* db[j] += sum_i dy[i, j]. dy (rows, n). */
void vkt_ref_colsum(const double *dy, double *db, int64_t rows, int64_t n);
/* y = x W^T + b. x (rows, in), w (out, in), bias (out) or NULL, y (rows, out). */
void vkt_ref_linear_fwd(const double *x, const double *w, const double *bias, double *y, int64_t rows, int64_t in,
                        int64_t out);
/* dx = dy W (overwritten), dw += dy^T x, db += colsum(dy); any output may be NULL. */
void vkt_ref_linear_bwd(const double *dy, const double *x, const double *w, double *dx, double *dw, double *db,
                        int64_t rows, int64_t in, int64_t out);

#endif
