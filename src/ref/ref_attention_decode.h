/* CPU reference for KV-cache attention (double precision): queries of positions pos0 .. pos0 + Tq - 1
 * against cache rows 0 .. pos0 + t. Layouts (packed): q, o (B, Tq, NH, HS); kc, vc (B, Tmax, KVH, HS).
 * Query head h uses kv head h / (NH / KVH). */
#ifndef VKT_REF_ATTENTION_DECODE_H
#define VKT_REF_ATTENTION_DECODE_H

#include <stdint.h>

typedef struct {
    int64_t B, Tq, Tmax, NH, KVH, HS;
    double scale; /* applied to q . k (pass 1 / sqrt(HS) explicitly) */
} vkt_ref_attention_decode_shape;

/* o[b,t,h,:] = sum_{j <= pos0 + t} softmax_j(scale q[b,t,h,:] . kc[b,j,h/G,:]) vc[b,j,h/G,:];
 * requires pos0 + Tq <= Tmax. */
void vkt_ref_attention_decode_fwd(const vkt_ref_attention_decode_shape *s, int64_t pos0, const double *q,
                                  const double *kc, const double *vc, double *o);

#endif
