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
//! variant layernorm_fwd
//! variant layernorm_fwd_f16 -DVKT_F16=1
//! variant layernorm_fwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { VKT_T x[]; };
layout(binding = 1) readonly buffer W { VKT_T w[]; };
layout(binding = 2) readonly buffer Bias { VKT_T b[]; };
layout(binding = 3) writeonly buffer Y { VKT_T y[]; };
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
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, yb = pc.y_off + row * pc.C;
        float k = VKT_LOAD(x[xb]);
        float s = 0.0;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) s += VKT_LOAD(x[xb + c]) - k;
        float d = subgroupAdd(s) * inv_c;
        float v = 0.0;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) {
            float t = (VKT_LOAD(x[xb + c]) - k) - d;
            v += t * t;
        }
        float rs = inversesqrt(subgroupAdd(v) * inv_c + pc.eps);
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) {
            float t = ((VKT_LOAD(x[xb + c]) - k) - d) * rs;
            y[yb + c] = VKT_STORE(t * VKT_LOAD(w[c]) + VKT_LOAD(b[c]));
        }
        if (subgroupElect()) {
            mean[pc.m_off + row] = k + d;
            rstd[pc.r_off + row] = rs;
        }
    }
}
