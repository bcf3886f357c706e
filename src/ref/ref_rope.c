/* RoPE reference: one loop over rows, heads and pairs; the backward is the same loop with sin negated. */
#include "ref/ref_rope.h"

static void rotate(double *x, const vkt_ref_rope_shape *s, const double *cs, double sign) {
    const int64_t half = s->rot_dim / 2;
    for (int64_t row = 0; row < s->B * s->T; row++) {
        const int64_t t = row % s->T, pos = s->pos0 + t - (s->seg_start ? s->seg_start[row] : 0);
        const double *cs_row = cs + pos * half * 2;
        for (int64_t h = 0; h < s->n_heads; h++) {
            double *head = x + row * s->row_stride + s->col0 + h * s->head_size;
            for (int64_t i = 0; i < half; i++) {
                double *a = s->interleaved ? head + 2 * i : head + i;
                double *b = s->interleaved ? a + 1 : a + half;
                const double c = cs_row[2 * i], sn = sign * cs_row[2 * i + 1], a0 = *a, b0 = *b;
                *a = a0 * c - b0 * sn;
                *b = b0 * c + a0 * sn;
            }
        }
    }
}

void vkt_ref_rope_fwd(double *x, const vkt_ref_rope_shape *s, const double *cs) { rotate(x, s, cs, 1.0); }

void vkt_ref_rope_bwd(double *dx, const vkt_ref_rope_shape *s, const double *cs) { rotate(dx, s, cs, -1.0); }
