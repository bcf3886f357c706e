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

/* out[b, t, :] = wte[tokens[b, t], :] + wpe[pos0 + t, :]   (no position term when wpe is NULL)
 *   tokens  (B, T) i32, any shape with B*T elements
 *   wte     (V, C)
 *   wpe     (P, C) with pos0 + T <= P, or NULL; rows [0, pos0 + T) must fit one binding
 *   out     (B, T, C), overwritten
 * wte, wpe and out share one dtype: f32, f16 or bf16 (16-bit storage, f32 add). pos0 > 0 is for
 * sampling with a KV cache. */
vkt_status vkt_op_embed_fwd(vkt_rec *r, const vkt_tensor *tokens, const vkt_tensor *wte, const vkt_tensor *wpe,
                            int64_t pos0, const vkt_tensor *out);

/* d out / d wte[v] = sum of dout over the rows whose token is v; d out / d wpe[pos0 + t] = sum over b.
 *   dout     (B, T, C) f32
 *   tokens   (B, T) i32, as in the forward
 *   scratch  (>= B*T) i32, overwritten (the rows sorted by token)
 *   dwte     (V, C) f32, accumulated (+=)
 *   dwpe     (P, C) f32 accumulated (+=) in rows [pos0, pos0 + T), or NULL
 * Deterministic: each sum runs in increasing row order (b, then t) with no atomics, so repeated runs are
 * bit-identical. Cost: O((B*T)^2) integer compares to sort rows by token (fine up to B*T ~ 16k), then one
 * read of dout. */
vkt_status vkt_op_embed_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *tokens, const vkt_tensor *scratch,
                            int64_t pos0, const vkt_tensor *dwte, const vkt_tensor *dwpe);

#endif
