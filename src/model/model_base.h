/* How a model stores its linear weights: the "base weight" layer between the parameter table and the
 * matmul kernels. With format F32 (every pre-training and full fine-tuning model) the linear weights are
 * ordinary f32 entries of the parameter arena. With any other vkt_qformat (LoRA / QLoRA bases, which
 * never train) they are held ONLY as quantized blobs (quant/quant.h) in a separate arena, and the
 * parameter arena holds the remaining tensors at compacted offsets: no f32 copy of a quantized matrix
 * exists on the device. vkt_model_linear_fwd / _bwd (model_ops.h) dispatch to matmul or qmatmul.
 *
 * Which tensors: the linear layers of the blocks: LLaMA q|k|v (one fused group), o_proj, gate|up (one
 * fused group), down_proj; GPT-2 c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj. Embeddings, norms, biases
 * and the LM head stay f32 (bitsandbytes' QLoRA leaves lm_head unquantized too, and the embedding gather
 * has no quantized kernel).
 *
 * Fused groups are quantized as ONE (group rows, in) weight, the rows of q, k, v (or gate, up) stacked as
 * the model stores them. Against bitsandbytes quantizing q_proj, k_proj, v_proj separately: f16, bf16 and
 * int8 (per output row) are identical, row for row. NF4's 64-element blocks flatten the tensor row-major;
 * when in % 64 == 0 (every real model) each part's block boundaries are the same as in the fused tensor,
 * so every block's absmax and every 4-bit code are identical too. What differs is the double
 * quantization of those absmax values: one offset (their mean) and 256-value blocks over the whole group
 * instead of per module, so a dequantized absmax may differ from the per-module one within the 8-bit
 * second-level code's error. One blob per group keeps one kernel launch per fused matmul.
 *
 * Host-only planning (vkt_model_base_plan) is separate from allocation so the fine-tuning memory plan can
 * size the base before anything is allocated. Not thread-safe. */
#ifndef VKT_MODEL_BASE_H
#define VKT_MODEL_BASE_H

#include "model/params.h"
#include "ops/qmatmul.h"

typedef struct {
    vkt_qformat format;   /* F32: nothing is stored apart (offset[i] == table offset) */
    int n;                /* table entries */
    int64_t *offset;      /* owned, table.n: element offset in the parameter arena, -1 when held as a blob */
    vkt_qweight *q;       /* owned, table.n: the blob of a quantized group at its first entry, else zeroed */
    int64_t params_total; /* elements of the parameter arena */
    size_t blob_bytes;    /* blob arena bytes (layout bytes rounded to VKT_QUANT_ALIGN each) */
    vkt_arena *arena;     /* owned: the blobs; NULL for F32 */
} vkt_model_base;

/* True for the roles a storage format applies to (every member of a block linear's fused group). */
bool vkt_model_base_role_stored(vkt_param_role role);

/* Plans the storage of t's tensors (host only): offsets, blob layouts and sizes. align_elems as for the
 * table. The blob tensors stay empty until vkt_model_base_alloc. VKT_ERR_OOM (host). */
vkt_status vkt_model_base_plan(const vkt_param_table *t, vkt_qformat f, int64_t align_elems, vkt_model_base *b);
/* Creates the blob arena and the blob tensors (nothing for F32). */
vkt_status vkt_model_base_alloc(vkt_device *dev, vkt_model_base *b);
/* Destroys the arena and frees the plan; safe on a zeroed or freed struct. */
void vkt_model_base_free(vkt_model_base *b);

/* Uploads a host image of all parameters (t->total floats at the table's offsets): the f32 tensors into
 * params (params_total floats), the linear groups quantized with vkt_quant_pack into their blobs.
 * VKT_ERR_ARG (logged, naming the tensor) when a weight cannot be held in the format (NaN, inf, f16
 * overflow). */
vkt_status vkt_model_base_upload(vkt_device *dev, const vkt_param_table *t, const vkt_model_base *b,
                                 const vkt_tensor *params, const float *host);
/* The inverse: the host image, quantized groups dequantized (vkt_quant_unpack) to the values the kernels
 * use. */
vkt_status vkt_model_base_download(vkt_device *dev, const vkt_param_table *t, const vkt_model_base *b,
                                   const vkt_tensor *params, float *host);

#endif
