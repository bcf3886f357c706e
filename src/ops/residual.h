/* Residual connection: out = a + b, and its backward (both inputs receive dout). */
#ifndef VKT_OP_RESIDUAL_H
#define VKT_OP_RESIDUAL_H

#include "vk/record.h"

/* out = a + b. a, b, out: same number of elements (any shape, f32). out may alias a or b. */
vkt_status vkt_op_residual_fwd(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *out);
/* d(a+b)/da = d(a+b)/db = 1: da += dout and db += dout (accumulating, as the residual stream's gradient
 * collects contributions from every branch). */
vkt_status vkt_op_residual_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *da, const vkt_tensor *db);

#endif
