/* Conversion between storage types: f32 -> f16 / bf16 (round to nearest even, NaN kept, f16 overflow to
 * inf) and f16 / bf16 -> f32 (exact). Mixed-precision training fills a model's half weight copy with it
 * after the f32 master weights are loaded (model.h: vkt_model_refresh_half). */
#ifndef VKT_OP_CAST_H
#define VKT_OP_CAST_H

#include "vk/record.h"

/* y = x converted; same element count, one of them f32 and the other f16 or bf16 (VKT_ASSERT), or both the
 * same dtype (a copy). Any size (chunked over bindings). */
vkt_status vkt_op_cast(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *y);

#endif
