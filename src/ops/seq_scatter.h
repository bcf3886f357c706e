/* Per-sequence gradients to per-position weights, for the weighted cross-entropy backward.
 *
 * A loss L of sequence log-probs logp(s) = -sum_{i in s} loss_i (ops/seq_sum.h) has
 *   dL/dloss_i = -dL/dlogp(s)   for every position i of sequence s,
 * the weight vkt_op_xent_bwd_weighted (ops/xent.h) multiplies into that row's softmax gradient. GRPO's
 * objective is a sum over tokens, L = sum_s c_s sum_{i in s} l_i(logp_i), so its weights need a per-token
 * factor too: dL/dloss_i = -c_s * dl_i/dlogp_i. One op covers both:
 *   weights[i] = -coef[s] * (tok ? tok[i] : 1)   for s = seq_ids[i] in [0, S),   0 for the other positions. */
#ifndef VKT_OP_SEQ_SCATTER_H
#define VKT_OP_SEQ_SCATTER_H

#include "vk/record.h"

/*   coef    (S) f32: dL/dlogp(s) (ops/pref_loss.h's dseq), or GRPO's per-sequence coefficient
 *   seq_ids (N) i32: as for vkt_op_seq_sum
 *   tok     (N) f32 or NULL: a per-position factor (GRPO's dl_i/dlogp_i), 1 when NULL
 *   weights (N) f32, overwritten
 * Returns a Vulkan status; shape errors abort (VKT_ASSERT). Not thread-safe (records into r). */
vkt_status vkt_op_seq_scatter(vkt_rec *r, const vkt_tensor *coef, const vkt_tensor *seq_ids, const vkt_tensor *tok,
                              const vkt_tensor *weights);

#endif
