/* Attention of a few new query positions against a key/value cache (sampling with a KV cache).
 *
 *   q      (B, Tq, NH, HS)    queries of positions pos0 .. pos0 + Tq - 1 (a vkt_attention_view: packed, or
 *                             the q columns of a fused qkv row)
 *   kc, vc (B, Tmax, KVH, HS) the cache; rows 0 .. pos0 + Tq - 1 hold keys / values of those positions
 *   o      (B, Tq, NH, HS)    o[b,t,h,:] = sum_{j <= pos0 + t} softmax_j(scale q . kc[b,j,h/G,:]) vc[b,j,h/G,:]
 *   pos    (>= 1) i32         pos[0] = pos0, read on the device
 * G = NH / KVH (grouped-query attention). Forward only (inference): nothing saved for a backward.
 *
 * pos0 lives in device memory, not in the recording: a command buffer recorded once for Tq = 1 is replayed
 * for every new token after the host writes the next position (a host-visible tensor, written between
 * submits). The kernel clamps the key range to Tmax, so a bad pos0 reads nothing out of bounds (its
 * output is then meaningless, not undefined).
 *
 * One workgroup per (b, t, h) row: its invocations take keys j = lane, lane + WG, ... with their own
 * online softmax (running max, sum and output in registers), then combine the WG partial states through
 * shared memory in a fixed order after one barrier, so results are deterministic and the kernel makes no
 * assumption about the subgroup size. Work per token is O(pos0 * HS) per head instead of a full forward
 * over the window. f32 storage and arithmetic, HS <= VKT_ATTENTION_DECODE_MAX_HS. */
#ifndef VKT_OP_ATTENTION_DECODE_H
#define VKT_OP_ATTENTION_DECODE_H

#include "ops/attention.h"

#define VKT_ATTENTION_DECODE_MAX_HS 128

typedef struct {
    int64_t B, Tq, Tmax, NH, KVH, HS; /* KVH divides NH; Tq <= Tmax */
    float scale;                      /* score scale; 0 means 1 / sqrt(HS) */
} vkt_attention_decode_cfg;

/* Writes the new keys and values into the cache: kc[b, pos0 + t] = k[b, t], vc[b, pos0 + t] = v[b, t]
 * for t < Tq (rows past Tmax are dropped). k, v: views with B*Tq rows of KVH heads (packed or the k / v
 * columns of a fused qkv, see vkt_attention_views_fused with T = Tq); kc, vc: (B, Tmax, KVH, HS) f32,
 * other rows untouched; pos: as above. */
vkt_status vkt_op_attention_decode_append(vkt_rec *r, const vkt_attention_decode_cfg *cfg, const vkt_attention_view *k,
                                          const vkt_attention_view *v, const vkt_tensor *pos, const vkt_tensor *kc,
                                          const vkt_tensor *vc);

/* o = causal attention of q (positions pos0 + t) over cache rows [0, pos0 + t] (see above). o is
 * overwritten and must not alias q or the cache. */
vkt_status vkt_op_attention_decode_fwd(vkt_rec *r, const vkt_attention_decode_cfg *cfg, const vkt_attention_view *q,
                                       const vkt_tensor *kc, const vkt_tensor *vc, const vkt_tensor *pos,
                                       const vkt_tensor *o);

#endif
