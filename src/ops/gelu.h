/* GELU (tanh approximation, as in GPT-2) and SiLU, elementwise, forward and backward.
 *   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))      (Hendrycks & Gimpel 2016)
 *   silu(x) = x sigmoid(x)                                           (Elfwing et al. 2017; "swish")
 * Any shape; tensors are treated as flat and split at the binding limit. */
#ifndef VKT_OP_GELU_H
#define VKT_OP_GELU_H

#include <stdbool.h>

#include "vk/record.h"

/* y = gelu(x). x, y: same element count (e.g. (B*T, 4C)); both f32, both f16 or both bf16 (f32 math).
 * y must not alias x unless it is the same view (elementwise, read before write). */
vkt_status vkt_op_gelu_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *y);
/* dx = dy * gelu'(x), overwriting dx; with accumulate, dx += dy * gelu'(x) instead (for an activation
 * whose gradient also collects other contributions; costs one extra read of dx). x, dy, dx: same element
 * count and one storage dtype, f32, f16 or bf16 (activations and their gradients share the run's dtype;
 * f32 math, dx rounded once); mismatches are VKT_ERR_ARG, logged. */
vkt_status vkt_op_gelu_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *dy, const vkt_tensor *dx,
                           bool accumulate);

/* Same contracts for SiLU: y = silu(x); dx (=|+=) dy * silu'(x). */
vkt_status vkt_op_silu_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *y);
vkt_status vkt_op_silu_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *dy, const vkt_tensor *dx,
                           bool accumulate);

#endif
