#version 450
// RMSNorm forward over rows of C (Zhang & Sennrich 2019, as in LLaMA): y = x * rstd * w,
// rstd = 1 / sqrt(sum x^2 / C + eps). Saves rstd (f32) for the backward. One subgroup per row
// (common/rows.glsl): one pass for the sum of squares (no cancellation: every term is positive), one
// pass (from cache) for y.
// Bindings: x, w (inputs); y, rstd (outputs). Storage of x, w, y: VKT_T (dtype.glsl).
//! variant rmsnorm_fwd
//! variant rmsnorm_fwd_f16 -DVKT_F16=1
//! variant rmsnorm_fwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { VKT_T x[]; };
layout(binding = 1) readonly buffer W { VKT_T w[]; };
layout(binding = 2) writeonly buffer Y { VKT_T y[]; };
layout(binding = 3) writeonly buffer Rstd { float rstd[]; };

// *_off: element offset of the first row inside each binding (bindings start at aligned offsets).
layout(push_constant) uniform Pc {
    uint n_rows; uint C; float eps; uint rows_per_group; uint x_off; uint y_off; uint r_off; uint _pad;
} pc;

void main() {
    vkt_rows_init();
    uint end = vkt_row_end(pc.rows_per_group, pc.n_rows);
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, yb = pc.y_off + row * pc.C;
        float s = 0.0;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) {
            float v = VKT_LOAD(x[xb + c]);
            s += v * v;
        }
        float rs = inversesqrt(subgroupAdd(s) / float(pc.C) + pc.eps);
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes)
            y[yb + c] = VKT_STORE(VKT_LOAD(x[xb + c]) * rs * VKT_LOAD(w[c]));
        if (subgroupElect()) rstd[pc.r_off + row] = rs;
    }
}
