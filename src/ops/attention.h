/* Fused scaled-dot-product self-attention (flash-attention style), forward and backward.
 *
 * Layout avoids permutes around the projection matmuls: token rows hold heads side by side.
 *   q     (B, T, NH, HS)     k, v  (B, T, KVH, HS)     o, do  (B, T, NH, HS) = (B, T, C)
 *   lse   (B, NH, T)  per-row log-sum-exp of the scaled, masked scores (natural log), saved by the
 *         forward for the backward
 * KVH divides NH: query head h uses kv head h / (NH / KVH) (grouped-query attention; KVH == NH is plain
 * multi-head attention). q, k, v and their gradients are vkt_attention_view's, so they may be packed
 * tensors or column slices of one fused (B, T, (NH + 2 KVH) HS) qkv buffer (GPT-2's c_attn output),
 * see vkt_attention_views_packed / vkt_attention_views_fused.
 *
 * The forward never materialises the T x T matrix: it streams key blocks with an online softmax. The
 * backward recomputes P from lse in two passes (dq with D = rowsum(do * o), then dk/dv), each owning its
 * output rows, so it needs no atomics and sums in a fixed order: results are deterministic.
 * Storage: q, k, v, o, do and the gradients share one dtype, f32, f16 or bf16 (16-bit storage needs the
 * device's storageBuffer16BitAccess); lse and delta are f32; arithmetic is always f32.
 * Head size up to 128 (VKT_ATTENTION_MAX_HS).
 *
 * Packing (several documents in one row of T positions, SFT): cfg.seg_start gives each position the
 * first position of its document, and query i then sees only keys j of its own document: seg[i] <= j <= i
 * (causal) or seg[i] <= j, seg[j] <= i (bidirectional: j's document has started by i). Each document
 * thus behaves exactly as if it ran alone in its own row. Key blocks before a tile's first document (and,
 * bidirectional, after its last) are skipped, so packed rows also cost less (8 documents per row: about
 * 1/8 of the time). An all-zero table gives the same bits as no table, at the cost of one int read per
 * query (key) row and per block, plus one per key under the bidirectional mask: on lavapipe no slower
 * than without a table (the model always binds one: packing is decided per batch, the step recorded once).
 * Per-row document ends found by binary search instead would spare that per-key read, but made LLVM's
 * code 4x slower on lavapipe (and the tiled kernels' compile far longer): not done.
 * Not handled here: rotary embeddings (rope op), dropout, attention bias/ALiBi, padding masks (padding at
 * a row's end needs none under the causal mask: no real position sees it). */
#ifndef VKT_OP_ATTENTION_H
#define VKT_OP_ATTENTION_H

#include <stdbool.h>

#include "vk/record.h"

#define VKT_ATTENTION_MAX_HS 128

typedef enum {
    VKT_ATTENTION_AUTO = 0,  /* env VKT_ATTENTION_VARIANT=row|tiled, else row on CPU devices, else tiled */
    VKT_ATTENTION_ROW = 1,   /* 8 query (key) rows per invocation in private arrays, register-tile
                              * blocks of 4 keys (queries) read as 8-element words; no shared memory, no
                              * barriers: for CPU drivers, where loads and barriers are the expensive
                              * part (shaders/attention_*_row.comp) */
    VKT_ATTENTION_TILED = 2, /* one row per invocation, 64 per workgroup sharing shared-memory tiles of
                              * keys (fwd, dq) or queries (dkv): for GPUs */
} vkt_attention_variant;

typedef struct {
    int64_t B, T, NH, KVH, HS;     /* KVH divides NH; HS <= VKT_ATTENTION_MAX_HS */
    float scale;                   /* score scale; 0 means 1 / sqrt(HS) */
    bool causal;                   /* true: query i sees keys j <= i; false: all keys (bidirectional) */
    vkt_attention_variant variant;
    const vkt_tensor *seg_start;   /* borrowed, NULL: one document per row. (B, T) i32 (B*T elements,
                                    * row-major): the first position of each position's document, a
                                    * well-formed table (vkt_seg_start_check in ops/seg_start.h) */
} vkt_attention_cfg;

/* One of q, k, v (or dq, dk, dv): element (b, t, head, d) is at t.offset-relative index
 * (b*T + t) * row_stride + col + head*HS + d. `t` must hold at least B*T*row_stride elements. */
typedef struct {
    vkt_tensor t;        /* borrowed buffer view */
    int64_t row_stride;  /* elements between consecutive tokens */
    int64_t col;         /* element offset of head 0 inside a token row */
} vkt_attention_view;

/* q, k, v as three packed tensors (B, T, NH, HS), (B, T, KVH, HS), (B, T, KVH, HS). */
void vkt_attention_views_packed(const vkt_attention_cfg *cfg, const vkt_tensor *q, const vkt_tensor *k,
                                const vkt_tensor *v, vkt_attention_view out[3]);
/* q, k, v as column slices [q | k | v] of one fused tensor (B, T, (NH + 2 KVH) HS). */
void vkt_attention_views_fused(const vkt_attention_cfg *cfg, const vkt_tensor *qkv, vkt_attention_view out[3]);

/* Chosen variant for cfg on r's device (resolves AUTO); for reports and tests. */
vkt_attention_variant vkt_attention_variant_for(const vkt_rec *r, const vkt_attention_cfg *cfg);
const char *vkt_attention_variant_name(vkt_attention_variant v);
/* Invocations per workgroup of a (resolved) variant's kernels. */
uint32_t vkt_attention_workgroup(vkt_attention_variant v);

/* o = softmax(scale q k^T + mask) v per head; lse = log-sum-exp of each score row.
 * qkv: views (q, k, v); o: (B, T, NH, HS) overwritten; lse: (B, NH, T) overwritten. o must not alias
 * q, k or v. Errors: pipeline creation failures. Records only; not thread-safe (like vkt_rec). */
vkt_status vkt_op_attention_fwd(vkt_rec *r, const vkt_attention_cfg *cfg, const vkt_attention_view qkv[3],
                                const vkt_tensor *o, const vkt_tensor *lse);

/* Backward: with P = exp(scale q k^T + mask - lse), dP = do v^T, D = rowsum(do * o),
 * dS = P * (dP - D):  dq = scale dS k,  dk = scale dS^T q,  dv = P^T do  (summed over each kv head's
 * query-head group). dqkv: views (dq, dk, dv), OVERWRITTEN, not accumulated: q, k, v are activations
 * (the qkv projection's output), and a fused dqkv buffer is fully written since its three column ranges
 * are disjoint. delta: (B, NH, T) scratch, overwritten with D. do: (B, T, NH, HS); o, lse: from the
 * forward. Gradient views must not alias any input. */
vkt_status vkt_op_attention_bwd(vkt_rec *r, const vkt_attention_cfg *cfg, const vkt_tensor *dout,
                                const vkt_attention_view qkv[3], const vkt_tensor *o, const vkt_tensor *lse,
                                const vkt_attention_view dqkv[3], const vkt_tensor *delta);

#endif
