/* CPU reference for rotary position embedding (double precision), in place. */
#ifndef VKT_REF_ROPE_H
#define VKT_REF_ROPE_H

#include <stdbool.h>
#include <stdint.h>

/* Layout as in ops/rope.h: x is (B*T, row_stride); head h < n_heads starts at column col0 + h*head_size;
 * its first rot_dim columns rotate in pairs (i, i + rot_dim/2), or (2i, 2i+1) when interleaved. */
typedef struct {
    int64_t B, T, n_heads, head_size, rot_dim, row_stride, col0, pos0;
    bool interleaved;
    const int32_t *seg_start; /* borrowed, NULL: none; else (B*T) document starts (ops/seg_start.h) */
} vkt_ref_rope_shape;

/* x <- R x: pair (a, b) of row b*T + t becomes (a cos - b sin, b cos + a sin) with cos, sin read from
 * cs[(p * rot_dim/2 + i) * 2 + 0 / 1], p = pos0 + t - seg_start[b*T + t] (or pos0 + t). */
void vkt_ref_rope_fwd(double *x, const vkt_ref_rope_shape *s, const double *cs);
/* dx <- R^T dx (rotation by the negative angle). */
void vkt_ref_rope_bwd(double *dx, const vkt_ref_rope_shape *s, const double *cs);

#endif
