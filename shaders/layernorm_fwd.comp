#version 450
// LayerNorm forward over rows of C (Ba et al. 2016): y = (x - mean) * rstd * w + b,
// rstd = 1 / sqrt(var + eps), var the biased (1/C) variance. Saves mean and rstd (f32) for the backward.
//
// One subgroup per row (common/rows.glsl), three passes over the row (the later ones hit cache):
//   1. S = sum (x - K) with K = the row's first element; mean = K + S / C.
//   2. var = sum ((x - K) - S / C)^2 / C: a true two-pass variance, so a large common offset
//      (x = 1000 + noise) does not cancel catastrophically as E[x^2] - E[x]^2 would.
//   3. y = ((x - K) - S / C) * rstd * w + b.
// Shifting by K keeps x - K exact when the row sits near a large offset (Sterbenz), so the centred value is
// not limited by the f32 rounding of the mean itself.
// Bindings: x, w, b (inputs); y, mean, rstd (outputs). Storage of x, w, b, y: VKT_T (dtype.glsl).
// _vec8 (CPU drivers; C % 8 == 0 and rows on 8-element boundaries, see layernorm.c): the lanes take the
// row in words of 8 elements (common/eltwise.glsl) instead of one element each. Same per-element
// arithmetic; the sums of passes 1 and 2 add the same terms in another order (each lane sums a word's 8
// adjacent elements, then adds that to its running sum, before the subgroupAdd), so mean and rstd may
// differ from the scalar kernel's by a few f32 roundings of the sums.
//! variant layernorm_fwd
//! variant layernorm_fwd_f16 -DVKT_F16=1
//! variant layernorm_fwd_bf16 -DVKT_BF16=1
//! variant layernorm_fwd_vec8 -DVKT_VEC8=1
//! variant layernorm_fwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant layernorm_fwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, X, x)
VKT_EW_IN(1, W, w)
VKT_EW_IN(2, Bias, b)
VKT_EW_OUT(3, Y, y)
layout(binding = 4) writeonly buffer Mean { float mean[]; };
layout(binding = 5) writeonly buffer Rstd { float rstd[]; };

// *_off: element offset of the first row inside each binding (bindings start at aligned offsets).
layout(push_constant) uniform Pc {
    uint n_rows; uint C; float eps; uint rows_per_group;
    uint x_off; uint y_off; uint m_off; uint r_off;
} pc;

void main() {
    vkt_rows_init();
    uint end = vkt_row_end(pc.rows_per_group, pc.n_rows);
    float inv_c = 1.0 / float(pc.C);
    // Lane loops run over words of VKT_EW elements: word c holds elements c * VKT_EW + e, e < VKT_EW.
    uint n_words = pc.C / VKT_EW;
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, yb = pc.y_off + row * pc.C;
        float k = VKT_LOAD(x[xb]);
        float s = 0.0, f[VKT_EW];
        for (uint c = vkt_lane; c < n_words; c += vkt_lanes) {
            x_ld(xb + c * VKT_EW, VKT_EW, f);
            float sw = 0.0; // the word's sum first: fewer roundings at the lane sum's magnitude
            [[unroll]] for (uint e = 0; e < VKT_EW; e++) sw += f[e] - k;
            s += sw;
        }
        float d = subgroupAdd(s) * inv_c;
        float v = 0.0;
        for (uint c = vkt_lane; c < n_words; c += vkt_lanes) {
            x_ld(xb + c * VKT_EW, VKT_EW, f);
            float vw = 0.0;
            [[unroll]] for (uint e = 0; e < VKT_EW; e++) {
                float t = (f[e] - k) - d;
                vw += t * t;
            }
            v += vw;
        }
        float rs = inversesqrt(subgroupAdd(v) * inv_c + pc.eps);
        for (uint c = vkt_lane; c < n_words; c += vkt_lanes) {
            float fw[VKT_EW], fb[VKT_EW];
            x_ld(xb + c * VKT_EW, VKT_EW, f);
            w_ld(c * VKT_EW, VKT_EW, fw);
            b_ld(c * VKT_EW, VKT_EW, fb);
            [[unroll]] for (uint e = 0; e < VKT_EW; e++) f[e] = (((f[e] - k) - d) * rs) * fw[e] + fb[e];
            y_st(yb + c * VKT_EW, VKT_EW, f);
        }
        if (subgroupElect()) {
            mean[pc.m_off + row] = k + d;
            rstd[pc.r_off + row] = rs;
        }
    }
}
