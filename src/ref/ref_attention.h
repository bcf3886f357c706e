/* CPU reference for fused self-attention (double precision), materialising each score row.
 * Layouts (packed): q, o, do, dq (B, T, NH, HS); k, v, dk, dv (B, T, KVH, HS); lse (B, NH, T).
 * Query head h uses kv head h / (NH / KVH). With packed rows (seg_start, ops/seg_start.h), query i sees
 * key j only when both belong to the same document (equal seg_start), and j <= i when causal. */
#ifndef VKT_REF_ATTENTION_H
#define VKT_REF_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t B, T, NH, KVH, HS;
    double scale;  /* applied to q . k (no default here: pass 1 / sqrt(HS) explicitly) */
    bool causal;   /* query i sees keys j <= i */
    const int32_t *seg_start; /* borrowed, NULL: one document per row; else (B*T) document starts */
} vkt_ref_attention_shape;

/* o = softmax(scale q k^T + mask) v per head; lse = log-sum-exp of each masked score row. */
void vkt_ref_attention_fwd(const vkt_ref_attention_shape *s, const double *q, const double *k, const double *v,
                           double *o, double *lse);
/* Gradients of sum(o * dout): dq, dk, dv OVERWRITTEN (dk, dv summed over each kv head's query heads). */
void vkt_ref_attention_bwd(const vkt_ref_attention_shape *s, const double *dout, const double *q,
                           const double *k, const double *v, double *dq, double *dk, double *dv);
/* The same with the row terms D = rowsum(do * o) given, (B, NH, T), instead of computed exactly: what a
 * kernel computes from o as it stored it (rounded to 16 bits), so that tests of 16-bit storage compare
 * against the gradient of the same D. delta NULL: computed, as vkt_ref_attention_bwd. */
void vkt_ref_attention_bwd_delta(const vkt_ref_attention_shape *s, const double *dout, const double *q,
                                 const double *k, const double *v, const double *delta, double *dq, double *dk,
                                 double *dv);

#endif
