/* Token embedding lookup with an optional learned position embedding (GPT-2), forward and backward.
 *
 * Out-of-range token ids (id < 0 or id >= V) never cause an out-of-bounds access: they read no table row
 * (their token embedding counts as zero, so out = the position row, or 0 without wpe) and the backward
 * adds nothing for them. The data loader is what rejects bad ids; this only keeps a bad batch harmless.
 * Tables larger than one storage binding (GPT-2's 50257 x 768 f32 wte is 154 MB, lavapipe binds 128 MiB)
 * are split into vocabulary row ranges, one dispatch each; activations are split into row ranges.
 * Not here: tied output projection (that is matmul's), dropout. */
#ifndef VKT_OP_EMBED_H
#define VKT_OP_EMBED_H

#include "vk/record.h"

/* out[b, t, :] = wte[tokens[b, t], :] + wpe[pos0 + t - seg_start[b, t], :]   (no position term when wpe
 * is NULL; seg_start 0 when NULL)
 *   tokens  (B, T) i32, any shape with B*T elements
 *   seg_start (B, T) i32 or NULL: packed rows, the first position of each position's document, so that
 *           positions restart at every document (ops/seg_start.h); borrowed
 *   wte     (V, C)
 *   wpe     (P, C) with pos0 + T <= P, or NULL; rows [0, pos0 + T) must fit one binding
 *   out     (B, T, C), overwritten
 * wte, wpe and out share one dtype: f32, f16 or bf16 (16-bit storage, f32 add). pos0 > 0 is for
 * sampling with a KV cache. */
vkt_status vkt_op_embed_fwd(vkt_rec *r, const vkt_tensor *tokens, const vkt_tensor *wte, const vkt_tensor *wpe,
                            int64_t pos0, const vkt_tensor *seg_start, const vkt_tensor *out);

/* The same with pos0 read on the device from pos[0] (i32), so one recording serves every position (KV-cache
 * sampling: the host writes pos between submits). wpe (P, C) is bound whole (it must fit one binding);
 * rows whose position pos[0] + t is >= P get no position term. */
vkt_status vkt_op_embed_fwd_at(vkt_rec *r, const vkt_tensor *tokens, const vkt_tensor *wte, const vkt_tensor *wpe,
                               const vkt_tensor *pos, const vkt_tensor *out);

/* Scratch elements (i32) the backward needs for n_rows = B*T rows: two row orders and the sort's digit
 * histograms, about 2 n_rows + n_rows (rounded up to blocks of 256). */
int64_t vkt_op_embed_bwd_scratch(int64_t n_rows);

/* d out / d wte[v] = sum of dout over the rows whose token is v; d out / d wpe[pos0 + p] = sum over the
 * rows at position p (t - seg_start[b, t], or t).
 *   dout     (B, T, C) f32, f16 or bf16 (an activation gradient; 16-bit is widened, sums are f32)
 *   tokens   (B, T) i32, as in the forward
 *   seg_start (B, T) i32 or NULL, as in the forward
 *   scratch  (>= vkt_op_embed_bwd_scratch(B*T)) i32, overwritten
 *   dwte     (V, C) f32, accumulated (+=), or NULL (then dwpe must be set) (parameter gradients are f32)
 *   dwpe     (P, C) f32 accumulated (+=) in rows [pos0, pos0 + T), or NULL
 * Other dtypes: VKT_ERR_ARG, logged.
 * Deterministic: the rows are sorted by token with a stable radix sort on the device (8 bits per pass,
 * 2 passes for V < 65536, 3 below 2^24; integer counting only, no atomics), then the first row of each
 * run of equal tokens sums its run in increasing row order (b, then t) into dwte, so repeated runs are
 * bit-identical. Cost: O(B*T * 256) integer work per sort pass, one read of dout, one read-modify-write
 * of each touched dwte row. dwpe sums each position's rows in increasing (b, t) order (packed rows: a
 * walk over each row's documents, see embed_bwd_dwpe.comp). */
vkt_status vkt_op_embed_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *tokens, const vkt_tensor *scratch,
                            int64_t pos0, const vkt_tensor *seg_start, const vkt_tensor *dwte, const vkt_tensor *dwpe);

#endif
