/* Per-sequence sums of per-position values: sequence log-probabilities from cross-entropy losses.
 *
 * A batch of rows (N = B*T positions) holds sequences; a per-position table of int32 sequence ids says
 * which sequence each position counts for (-1: none, e.g. prompt and padding). Several sequences may
 * share a row (packing), and a sequence's positions need not be contiguous. With the per-position losses
 * loss_i = -log p(target_i) of vkt_op_xent_fwd as the values and scale = -1,
 *   out[s] = (log p(s) = sum_{i in s} -loss_i,  n_tokens(s))
 * which is what DPO, IPO and ORPO consume (ops/pref_loss.h). GRPO sums its per-token terms with it too.
 * Deterministic: a fixed order of additions (no float atomics); see shaders/seq_sum.comp for the cost.
 * Not done here: the gradient (ops/seq_scatter.h broadcasts per-sequence gradients back to positions). */
#ifndef VKT_OP_SEQ_SUM_H
#define VKT_OP_SEQ_SUM_H

#include "vk/record.h"

#define VKT_SEQ_SUM_MAX_K 4

/* out[s, k] = scale * sum of values[i, k] over the positions i with seq_ids[i] == s, for k < K;
 * out[s, K] = the number of those positions (an exact integer in f32 up to 2^24).
 *   values  (N, K) f32, K = numel(values) / N in [1, VKT_SEQ_SUM_MAX_K]
 *   seq_ids (N) i32: -1 or a sequence index; ids outside [0, S) count for no sequence (validate the table
 *           on the host with vkt_seq_ids_check when it is built)
 *   out     (S, K + 1) f32, overwritten; S = numel(out) / (K + 1)
 * Every tensor must fit one binding. Returns a Vulkan status; shape errors abort (VKT_ASSERT). Not
 * thread-safe (records into r). */
vkt_status vkt_op_seq_sum(vkt_rec *r, const vkt_tensor *values, const vkt_tensor *seq_ids, float scale,
                          const vkt_tensor *out);

/* Host check of a sequence-id table before upload: every id is -1 or in [0, S). On failure logs
 * "<what>: position P (row R, column C of T) has sequence id X; ids must be -1 or in [0, S)" and returns
 * VKT_ERR_FORMAT. T is the row length for the message (pass n when rows do not apply). */
vkt_status vkt_seq_ids_check(const int32_t *seq_ids, int64_t n, int64_t T, int64_t S, const char *what);

#endif
