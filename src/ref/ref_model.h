/* Whole-model CPU reference for GPT-2 and LLaMA: forward, loss and every parameter gradient, in double,
 * composed from the per-op references in src/ref. The oracle the Vulkan model is tested against, on tiny
 * configurations (it is slow and allocates all activations). */
#ifndef VKT_REF_MODEL_H
#define VKT_REF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "model/params.h"

/* Mean cross-entropy over positions whose target is not -100.
 *   params  (table->total) at the table's offsets
 *   tokens, targets  (B, T)
 *   logits  (B*T, V) out, or NULL
 *   grads   (table->total) out, overwritten (padding zero), or NULL to skip the backward
 * bidirectional: attention without the causal mask. */
double vkt_ref_model_loss(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                          const int32_t *tokens, const int32_t *targets, int64_t B, int64_t T, bool bidirectional,
                          double *logits, double *grads);
/* The same over packed rows: seg_start (B, T), each position's document start (ops/seg_start.h), or NULL.
 * Attention stays within documents and positions (RoPE, learned position embeddings) restart at each. */
double vkt_ref_model_loss_packed(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                                 const int32_t *tokens, const int32_t *targets, const int32_t *seg_start, int64_t B,
                                 int64_t T, bool bidirectional, double *logits, double *grads);

/* Per-position losses and the gradient of sum_r weights[r] * loss_r with the weights held fixed (the
 * weighted cross-entropy backward of sequence-level objectives: DPO, IPO, ORPO; ops/seq_scatter.h), causal,
 * over packed rows (seg_start or NULL).
 *   losses  (B*T) out: -log p(target) per position, 0 where the target is -100
 *   weights (B*T), or NULL with grads NULL (forward only)
 *   grads   (table->total) out, overwritten, or NULL */
void vkt_ref_model_weighted(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                            const int32_t *tokens, const int32_t *targets, const int32_t *seg_start, int64_t B,
                            int64_t T, const double *weights, double *losses, double *grads);

/* The final-norm output (the hidden state a sequence-classification head reads), causal, over packed rows
 * (seg_start or NULL): hidden (B*T, C) out, or NULL. With dhidden (B*T, C) = d(loss)/d(hidden), grads
 * (table->total) gets the parameter gradient, overwritten (the LM head's is 0); both NULL: forward only. */
void vkt_ref_model_hidden(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                          const int32_t *tokens, const int32_t *seg_start, int64_t B, int64_t T, double *hidden,
                          const double *dhidden, double *grads);

/* One AdamW step over the whole table in double, as the device optimizer does: grads clipped to global
 * norm max_norm (<= 0: no clipping), decoupled weight decay on entries with decay set.
 * m, v: (table->total) moments, updated. step counts from 1. Returns the gradient norm before clipping. */
double vkt_ref_model_adamw(const vkt_param_table *table, double *params, const double *grads, double *m, double *v,
                           int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
                           double max_norm);

#endif
