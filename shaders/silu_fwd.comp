#version 450
// y = silu(x) elementwise (SiLU; formulas in common/act.glsl). Storage f32, f16 or bf16; math in f32.
// _vec8: 8 elements per invocation in one word per access (CPU drivers; common/eltwise.glsl).
//! variant silu_fwd
//! variant silu_fwd_f16 -DVKT_F16=1
//! variant silu_fwd_bf16 -DVKT_BF16=1
//! variant silu_fwd_vec8 -DVKT_VEC8=1
//! variant silu_fwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant silu_fwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, X, x)
VKT_EW_OUT(1, Y, y)

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint e = vkt_ew_first(WG);
    if (e >= pc.n) return;
    float v[VKT_EW];
    x_ld(e, pc.n - e, v);
    [[unroll]] for (uint t = 0; t < VKT_EW; t++) v[t] = vkt_silu(v[t]);
    y_st(e, pc.n - e, v);
}
