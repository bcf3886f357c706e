/* RMSNorm over the last dimension (Zhang & Sennrich 2019; LLaMA), forward and backward.
 *   y = x * rstd * w,  rstd = 1 / sqrt(sum x^2 / C + eps)
 * Rows are N = numel(x) / C; C is taken from w. The forward saves rstd (f32, N) for the backward. Large
 * tensors are split by rows at the binding limit. */
#ifndef VKT_OP_RMSNORM_H
#define VKT_OP_RMSNORM_H

#include "vk/record.h"

/* x: (N, C) or (B, T, C); w: (C); y: like x; rstd: (N) f32. x, w, y share one storage dtype (f32, f16 or
 * bf16; math in f32). eps: 1e-5 or 1e-6 for LLaMA models. y must not overlap x. */
vkt_status vkt_op_rmsnorm_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, float eps, const vkt_tensor *y,
                              const vkt_tensor *rstd);

/* f32 elements of scratch that vkt_op_rmsnorm_bwd needs (column partial sums); depends on the device's
 * binding limit. */
int64_t vkt_op_rmsnorm_bwd_scratch(const vkt_rec *r, int64_t n_rows, int64_t C);

/* With g = dy * w:
 *   dx  = rstd * g - x * rstd^3 * mean_c(g * x)   (overwrites dx; accumulate_dx: dx += it, the residual
 *                                                  stream's gradient, in f32, rounded once)
 *   dw += sum_rows dy * x * rstd                  (accumulates; fixed-order sums, no atomics)
 * x, dy, dx: (N, C); w, dw: (C); rstd: (N) from the forward; scratch: at least vkt_op_rmsnorm_bwd_scratch
 * f32 elements, clobbered. x, w, dy, dx share one storage dtype (f32, f16 or bf16: activations, their
 * gradients and the half weight copy of a mixed precision run; f32 math); rstd, dw and scratch are f32
 * (statistics and parameter gradients). Mismatches: VKT_ERR_ARG, logged. dx must not overlap x or dy. */
vkt_status vkt_op_rmsnorm_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *rstd,
                              const vkt_tensor *dy, const vkt_tensor *dx, bool accumulate_dx, const vkt_tensor *dw,
                              const vkt_tensor *scratch);

#endif
