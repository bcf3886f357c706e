/* LoRA branch of a Linear layer (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2021,
 * eq. 3; Hugging Face PEFT's lora.Linear): y[:, window] += s (x A^T) B^T with A (r, in), B (out, r) and
 * s = lora_alpha / r (or lora_alpha / sqrt(r) with rsLoRA), added to a frozen layer's output.
 *
 * The window is a column range of a possibly wider output: the model computes q, k and v (and gate and
 * up) in one fused matmul, and an adapter on k_proj adds into k's columns only. The caller passes y and
 * dy as views starting at the window's first column with row stride ldy.
 *
 * Forward (two matmuls, the rank-r intermediate kept for the backward):
 *   u  = x A^T                 (rows, r), overwritten
 *   y += s u B^T               window (rows, out), accumulated
 * Backward, with g = dy_window B (rows, r) in a scratch tensor:
 *   dB += s dy_window^T u      dA += s g^T x      dx += s g A   (dx accumulated: the frozen layer's own
 *                                                               backward wrote dx = dy W first)
 * With dropout (PEFT's lora_dropout, applied to the adapter input only): xd = mask * x with mask 0 with
 * probability p, else 1 / (1 - p); u = xd A^T, dA += s g^T xd, dx += mask * (s g A). The mask is a hash of
 * (seed, module stream, a pass counter in device memory, element), recomputed in the backward instead of
 * stored (shaders/lora_dropout.comp; mirrored by vkt_ref_lora_dropout_mask); vkt_op_lora_dropout_tick
 * advances the counter once per training pass.
 * Storage (mixed precision, issue 10): x, a, b, u, y, dy, g, dx and the dropout scratches share one dtype,
 * f32, f16 or bf16 (activations, and the half copy of the adapter a mixed precision run holds; the
 * matmuls accumulate in f32 and round u, g, y and dx once per product); da and db are f32 (parameter
 * gradients). Mismatches are VKT_ERR_ARG, logged (by the matmuls and the dropout).
 * Not done here: bias on the adapter.
 * Only records into r (no submission); not thread-safe, like the recorder. */
#ifndef VKT_OP_LORA_H
#define VKT_OP_LORA_H

#include "vk/record.h"

typedef struct {
    float p;                   /* drop probability in [0, 1) */
    uint32_t seed, stream;     /* the adapter's seed; this module's index (its own mask) */
    const vkt_tensor *counter; /* (1) u32 pass counter (device memory), read */
    const vkt_tensor *xd;      /* (rows, in) scratch: the dropped input, overwritten */
    const vkt_tensor *tmp;     /* (rows, in) scratch for s g A before the mask (backward), overwritten */
    int64_t row0;              /* rows of the whole batch before x's first (data-parallel ranks: the rows of the
                                * ranks before this one), so each row draws the mask it would in one process */
} vkt_lora_dropout;

typedef struct {
    int64_t rows, in, out, rank;     /* x (rows, in), A (rank, in), B (out, rank) */
    int64_t ldy;                     /* row stride of y and dy in elements; 0: out (no window) */
    float scale;                     /* s: lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA */
    const vkt_lora_dropout *dropout; /* borrowed, NULL or p == 0: none (inference, evaluation) */
} vkt_lora_desc;

/* Records u = x A^T and y[:, :out] += s u B^T.
 *   x (rows, in) f32;  a (rank, in);  b (out, rank);  u (rows, rank) overwritten;  y window (rows, ldy) */
vkt_status vkt_op_lora_fwd(vkt_rec *r, const vkt_lora_desc *d, const vkt_tensor *x, const vkt_tensor *a,
                           const vkt_tensor *b, const vkt_tensor *u, const vkt_tensor *y);

/* Records the backward (see the top of this file). dy is the window of the output gradient (rows, ldy);
 * u the forward's (rows, rank); g a (rows, rank) scratch, overwritten. dx may be NULL (nothing below
 * needs it); da (rank, in) and db (out, rank) are accumulated. */
vkt_status vkt_op_lora_bwd(vkt_rec *r, const vkt_lora_desc *d, const vkt_tensor *dy, const vkt_tensor *x,
                           const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *u, const vkt_tensor *g,
                           const vkt_tensor *dx, const vkt_tensor *da, const vkt_tensor *db);

/* Records counter[0] += 1 (after a training pass's last use of the masks). */
vkt_status vkt_op_lora_dropout_tick(vkt_rec *r, const vkt_tensor *counter);

#endif
