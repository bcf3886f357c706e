/* LayerNorm over the last dimension (Ba, Kiros & Hinton 2016), forward and backward.
 *   y = (x - mean) * rstd * w + b,  mean = sum x / C,  rstd = 1 / sqrt(sum (x - mean)^2 / C + eps)
 * Rows are N = numel(x) / C (e.g. N = B*T); C is taken from w. The forward saves mean and rstd (f32, N)
 * for the backward. The mean and variance use a shifted two-pass scheme, accurate for rows with a large
 * common offset. Large tensors are split by rows at the binding limit. */
#ifndef VKT_OP_LAYERNORM_H
#define VKT_OP_LAYERNORM_H

#include "vk/record.h"

/* x: (N, C) or (B, T, C); w, b: (C); y: like x; mean, rstd: (N) f32. x, w, b, y share one storage dtype
 * (f32, f16 or bf16; math in f32). eps: 1e-5 for GPT-2. y must not overlap x. */
vkt_status vkt_op_layernorm_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *b, float eps,
                                const vkt_tensor *y, const vkt_tensor *mean, const vkt_tensor *rstd);

/* f32 elements of scratch that vkt_op_layernorm_bwd needs for n_rows rows of C (dw/db partial sums, about
 * 2 C N / 16, and 8 floats of statistics per row for the CPU drivers' two-pass kernels); depends on the
 * device's binding limit. */
int64_t vkt_op_layernorm_bwd_scratch(const vkt_rec *r, int64_t n_rows, int64_t C);

/* With g = dy * w and xhat = (x - mean) * rstd:
 *   dx  = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))   (overwrites dx; accumulate_dx: dx += it, the
 *                                                             residual stream's gradient, in f32, rounded once)
 *   dw += sum_rows dy * xhat,  db += sum_rows dy               (accumulate; fixed-order sums, no atomics)
 * x, dy, dx: (N, C); w, dw, db: (C); mean, rstd: (N) from the forward; scratch: at least
 * vkt_op_layernorm_bwd_scratch(N, C) f32 elements, clobbered. x, w, dy, dx share one storage dtype (f32,
 * f16 or bf16: activations, their gradients and the half weight copy of a mixed precision run; f32 math);
 * mean, rstd, dw, db and scratch are f32 (statistics and parameter gradients). Mismatches: VKT_ERR_ARG,
 * logged. dx must not overlap x or dy. */
vkt_status vkt_op_layernorm_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *mean,
                                const vkt_tensor *rstd, const vkt_tensor *dy, const vkt_tensor *dx, bool accumulate_dx,
                                const vkt_tensor *dw, const vkt_tensor *db, const vkt_tensor *scratch);

#endif
