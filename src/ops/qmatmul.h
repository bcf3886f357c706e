/* Linear layers on a frozen weight held in a storage format (f32, f16, bf16, int8, NF4; src/quant/quant.h),
 * dequantized inside the kernels: for LoRA / QLoRA base weights, which get no gradient.
 *
 *   forward     y  (+)= x W^T (+ bias)     x (rows, in) f32, y (rows, out) f32
 *   input grad  dx (+)= dy W               dy (rows, out) f32, dx (rows, in) f32
 * W (out, in) is never materialised in f32: each kernel dequantizes the weights it loads, in registers
 * (reg variant, for CPU drivers) or once per shared-memory tile (smem variant, for GPUs); f32
 * arithmetic and accumulation, the f32 products summed over k in order per output. No dW: a frozen
 * weight has none, and this op has no weight-gradient path.
 *
 * Variant choice: VKT_QMATMUL_VARIANT=reg|smem, else VKT_MATMUL_VARIANT when it names reg or smem, else
 * reg on CPU drivers and smem elsewhere. Operands larger than one storage binding
 * (vkt_rec_max_binding_bytes, lowered in tests with VKT_MAX_BINDING_BYTES) are split into dispatches
 * along rows, output columns and k (with accumulation), each binding a window of every blob section.
 * Speed on CPU drivers needs in % 8 == 0 (weights read 8 per load) and, for x / dy read 8 floats per
 * load, in % 8 == 0 (forward) or out % 8 == 0 (input grad); other shapes are correct but slower.
 * 16-bit formats are read as 32-bit words: no 16-bit storage feature is needed. The reg variant uses
 * 64-bit integer types (shaderInt64), like matmul_wide. All functions only record; not thread-safe. */
#ifndef VKT_OP_QMATMUL_H
#define VKT_OP_QMATMUL_H

#include <stdbool.h>

#include "ops/matmul.h"
#include "quant/quant.h"
#include "vk/record.h"

/* A stored frozen weight on the device. */
typedef struct {
    vkt_tensor blob;    /* U8 view of layout.bytes bytes (borrowed from its arena): the blob of quant.h */
    vkt_qlayout layout; /* format and (out, in) */
} vkt_qweight;

/* Quantizes w (out, in) f32 on the host (vkt_quant_pack) and uploads the blob into a new U8 tensor of
 * `arena` (synchronous; for load time). w is borrowed. Errors: VKT_ERR_ARG for weights the format cannot
 * hold (see vkt_quant_pack), VKT_ERR_OOM (host or arena). */
vkt_status vkt_qweight_upload(vkt_device *dev, vkt_arena *arena, const float *w, int64_t out, int64_t in, vkt_qformat f,
                              vkt_qweight *q);

/* Activations (x, y, bias; dy, dx) are f32, or all f16 or all bf16 (mixed precision: 16-bit storage, f32
 * arithmetic, the output rounded once per store; a K split at the binding limit accumulates, rounding
 * again). Mismatched dtypes: VKT_ERR_ARG, logged.
 * y (+)= x W^T (+ bias).
 *   x     (rows, in) f32
 *   w     the stored W (out, in)
 *   bias  (out) f32, or NULL
 *   y     (rows, out) f32; overwritten, or accumulated into when `accumulate`
 * variant: VKT_MATMUL_AUTO (see above), VKT_MATMUL_REG or VKT_MATMUL_SMEM (others: VKT_ERR_UNSUPPORTED). */
vkt_status vkt_op_qmatmul_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_qweight *w, const vkt_tensor *bias,
                              const vkt_tensor *y, int64_t rows, bool accumulate, vkt_matmul_variant variant);

/* dx (+)= dy W: the input gradient of the forward (d(x W^T)/dx applied to dy).
 *   dy    (rows, out) f32
 *   dx    (rows, in) f32; overwritten, or accumulated into when `accumulate` (LoRA adds its own path) */
vkt_status vkt_op_qmatmul_bwd_dx(vkt_rec *r, const vkt_tensor *dy, const vkt_qweight *w, const vkt_tensor *dx,
                                 int64_t rows, bool accumulate, vkt_matmul_variant variant);

/* The variant these ops use on this device (after the environment), and the workgroup size it runs. */
vkt_matmul_variant vkt_qmatmul_pick(const vkt_rec *r, vkt_matmul_variant requested);
uint32_t vkt_qmatmul_wg(vkt_matmul_variant v);

#endif
