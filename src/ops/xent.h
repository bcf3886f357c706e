/* Fused softmax + cross-entropy over the vocabulary, with an ignore index and a device-side mean.
 *
 * Forward, per row r of logits (N = B*T rows of V):  loss_r = logsumexp(x_r) - x_r[t_r], and
 * loss = sum_r loss_r / n_valid over the rows whose target is not the ignore index (Hugging Face
 * convention: prompt and padding positions carry -100). Targets outside [0, V) that are not the ignore
 * index are treated as ignored and counted in n_bad. n_valid and the mean are reduced on the device
 * in a fixed order (no float atomics), into a 16-byte vkt_xent_stats the host may read at any later time.
 *
 * Backward: dlogits_r = (softmax(x_r) - onehot(t_r)) * dloss / n_valid, zero rows for ignored targets.
 * The probabilities are recomputed from saved row statistics (or within the fused pass), never stored.
 * dlogits may alias logits (in place, as llm.c does: the logits are dead after the loss).
 *
 * Logits larger than one storage-buffer binding (V = 50257 at B*T = 1024 is 196 MiB) are split by rows.
 * Storage (mixed precision, issue 10): logits and dlogits are activations and share one dtype, f32, f16 or
 * bf16 (16-bit logits are widened in the shader; max, sum, log and every product are f32; dlogits round
 * once on store). targets are i32; losses, rowstats, stats and weights stay f32 (statistics). Mismatched
 * dtypes are VKT_ERR_ARG, logged. With f16 dlogits the upstream gradient usually needs a loss scale (the
 * smallest normal f16 is 6e-5, and (p - onehot) / n_valid underflows there): see dloss_scale.
 * Not done here: label smoothing, z-loss. */
#ifndef VKT_OP_XENT_H
#define VKT_OP_XENT_H

#include "vk/record.h"

/* Device layout of the small result buffer (a tensor of >= 4 f32 elements). */
typedef struct {
    float loss;       /* mean loss over valid rows; 0 when n_valid == 0 */
    uint32_t n_valid; /* rows with a target in [0, V) */
    uint32_t n_bad;   /* rows with a target out of range that is not the ignore index */
    float loss_sum;   /* sum of per-row losses */
} vkt_xent_stats;
_Static_assert(sizeof(vkt_xent_stats) == 16, "keep in sync with the Stats block of shaders/xent_*.comp");

typedef enum {
    VKT_XENT_AUTO = 0,           /* THREAD_PER_ROW on CPU drivers, GROUP_PER_ROW elsewhere */
    VKT_XENT_GROUP_PER_ROW = 1,  /* one workgroup per row: coalesced loads, log2(WG)+1 barriers per row */
    VKT_XENT_THREAD_PER_ROW = 2, /* one invocation per row, no barriers (lavapipe and other CPU drivers);
                                  * rows wider than 120000 fall back to GROUP_PER_ROW */
} vkt_xent_variant;

typedef struct {
    int32_t ignore_index;     /* default -100 */
    float dloss;              /* upstream gradient of the mean loss, default 1 (1/accum_steps when
                               * accumulating); fixed at record time */
    vkt_xent_variant variant; /* default AUTO */
    int64_t vocab;            /* 0 (default): rows hold V = numel(logits) / N logits. Else rows of
                               * ld = numel(logits) / N elements hold `vocab` logits and ld - vocab padding
                               * elements, which are neither read nor written (in logits and dlogits) */
    /* Optional run-time multiplier of dloss, read on the device by every gradient kernel (xent_bwd,
     * xent_bwd_weighted, xent_fwd_bwd; the forward ignores it) each time the recording runs: the gradient
     * becomes dloss * dloss_scale[dloss_scale_index] * ... For f16 loss scaling, point it at the loss
     * scale in the step scalars (a tensor of VKT_STEP_SCALARS_ELEMS f32, src/optim/optim_types.h) with the
     * index of that field; the optimizer then divides the scale back out. The tensor must start on a
     * binding-aligned offset (any arena tensor does). The losses and stats are never scaled. */
    const vkt_tensor *dloss_scale; /* borrowed, f32; NULL (default): none */
    int64_t dloss_scale_index;     /* element of dloss_scale */
} vkt_xent_opts;

vkt_xent_opts vkt_xent_opts_default(void);

/* Forward. N = numel(targets), V = numel(logits) / N.
 *   logits   (N, V) f32, f16, bf16 targets (N) i32
 *   losses   (N) f32, written      rowstats (N, 2) f32, written: (max, 1/sum exp(x - max)) per row, for _bwd
 *   stats    (4) f32 (vkt_xent_stats), written
 * Returns VKT_ERR_ARG on a dtype mismatch, else a Vulkan status; shape errors abort (VKT_ASSERT). Not
 * thread-safe (records into r). */
vkt_status vkt_op_xent_fwd(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets, const vkt_tensor *losses,
                           const vkt_tensor *rowstats, const vkt_tensor *stats, const vkt_xent_opts *o);

/* Backward from the forward's rowstats and stats (n_valid).
 *   logits (N, V), targets (N), rowstats (N, 2), stats (4): as the forward left them
 *   dlogits (N, V) logits' dtype, overwritten; may be the same tensor as logits. */
vkt_status vkt_op_xent_bwd(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets, const vkt_tensor *rowstats,
                           const vkt_tensor *stats, const vkt_tensor *dlogits, const vkt_xent_opts *o);

/* Backward with per-row weights in place of the uniform 1/n_valid: the gradient of
 * dloss * sum_r weights[r] * loss_r with the weights held fixed,
 *   dlogits_r = (softmax(x_r) - onehot(t_r)) * dloss * weights[r]   (zero rows for ignored targets).
 * For losses of sequence log-probs (DPO, IPO, ORPO) and GRPO's per-token objective: weights[r] = dL/dloss_r,
 * from vkt_op_seq_scatter (ops/seq_scatter.h). The forward's stats are not read (n_valid plays no part),
 * and the uniform path (vkt_op_xent_bwd) is unchanged: a separate shader variant.
 *   logits (N, V), targets (N), rowstats (N, 2): as vkt_op_xent_fwd left them
 *   weights (N) f32
 *   dlogits (N, V) logits' dtype, overwritten; may be the same tensor as logits. */
vkt_status vkt_op_xent_bwd_weighted(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets,
                                    const vkt_tensor *rowstats, const vkt_tensor *weights, const vkt_tensor *dlogits,
                                    const vkt_xent_opts *o);

/* Forward and backward in one pass over each row (two reads of the row, one write; no rowstats).
 *   logits (N, V), targets (N), losses (N) written, stats (4) written,
 *   dlogits (N, V) overwritten; may be the same tensor as logits. */
vkt_status vkt_op_xent_fwd_bwd(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets,
                               const vkt_tensor *losses, const vkt_tensor *stats, const vkt_tensor *dlogits,
                               const vkt_xent_opts *o);

#endif
