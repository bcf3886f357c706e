#version 450
// RMSNorm forward over rows of C (Zhang & Sennrich 2019, as in LLaMA): y = x * rstd * w,
// rstd = 1 / sqrt(sum x^2 / C + eps). Saves rstd (f32) for the backward. One subgroup per row
// (common/rows.glsl): one pass for the sum of squares (no cancellation: every term is positive), one
// pass (from cache) for y.
// Bindings: x, w (inputs); y, rstd (outputs). Storage of x, w, y: VKT_T (dtype.glsl).
// _vec8 (CPU drivers; C % 8 == 0 and rows on 8-element boundaries, see rmsnorm.c): the lanes take the row
// in words of 8 elements (common/eltwise.glsl). Same per-element arithmetic; each lane adds a word's 8
// squares before its running sum, so rstd may differ from the scalar kernel's by a few f32 roundings.
//! variant rmsnorm_fwd
//! variant rmsnorm_fwd_f16 -DVKT_F16=1
//! variant rmsnorm_fwd_bf16 -DVKT_BF16=1
//! variant rmsnorm_fwd_vec8 -DVKT_VEC8=1
//! variant rmsnorm_fwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant rmsnorm_fwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, X, x)
VKT_EW_IN(1, W, w)
VKT_EW_OUT(2, Y, y)
layout(binding = 3) writeonly buffer Rstd { float rstd[]; };

// *_off: element offset of the first row inside each binding (bindings start at aligned offsets).
layout(push_constant) uniform Pc {
    uint n_rows; uint C; float eps; uint rows_per_group; uint x_off; uint y_off; uint r_off; uint _pad;
} pc;

void main() {
    vkt_rows_init();
    uint end = vkt_row_end(pc.rows_per_group, pc.n_rows);
    // Lane loops run over words of VKT_EW elements: word c holds elements c * VKT_EW + e, e < VKT_EW.
    uint n_words = pc.C / VKT_EW;
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, yb = pc.y_off + row * pc.C;
        float s = 0.0, f[VKT_EW];
        for (uint c = vkt_lane; c < n_words; c += vkt_lanes) {
            x_ld(xb + c * VKT_EW, VKT_EW, f);
            float sw = 0.0;
            [[unroll]] for (uint e = 0; e < VKT_EW; e++) sw += f[e] * f[e];
            s += sw;
        }
        float rs = inversesqrt(subgroupAdd(s) / float(pc.C) + pc.eps);
        for (uint c = vkt_lane; c < n_words; c += vkt_lanes) {
            float fw[VKT_EW];
            x_ld(xb + c * VKT_EW, VKT_EW, f);
            w_ld(c * VKT_EW, VKT_EW, fw);
            [[unroll]] for (uint e = 0; e < VKT_EW; e++) f[e] = f[e] * rs * fw[e];
            y_st(yb + c * VKT_EW, VKT_EW, f);
        }
        if (subgroupElect()) rstd[pc.r_off + row] = rs;
    }
}
