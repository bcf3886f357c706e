/* Residual connection: out = a + b, and its backward (both inputs receive dout). */
#ifndef VKT_OP_RESIDUAL_H
#define VKT_OP_RESIDUAL_H

#include "vk/record.h"

/* out = a + b. a, b, out: same number of elements (any shape); one storage dtype, f32, f16 or bf16 (the
 * residual stream and its gradient are activations: mixed precision runs keep them in the run's 16-bit
 * dtype; the sum is f32, rounded once). out may alias a or b. Mismatched dtypes: VKT_ERR_ARG, logged. */
vkt_status vkt_op_residual_fwd(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *out);
/* d(a+b)/da = d(a+b)/db = 1: da += dout and db += dout (accumulating, as the residual stream's gradient
 * collects contributions from every branch). Same dtypes as the forward (16-bit: each += rounds once). */
vkt_status vkt_op_residual_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *da, const vkt_tensor *db);

#endif
