#version 450
// out = a + b, elementwise. Also used by the backward to accumulate: da += dout (b = da, out = da).
// Storage f32, f16 or bf16 (all three tensors alike); the sum is f32, rounded once when stored.
// _vec8: 8 elements per invocation in one word per access (CPU drivers; common/eltwise.glsl).
//! variant residual_fwd
//! variant residual_fwd_f16 -DVKT_F16=1
//! variant residual_fwd_bf16 -DVKT_BF16=1
//! variant residual_fwd_vec8 -DVKT_VEC8=1
//! variant residual_fwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant residual_fwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, A, a)
VKT_EW_IN(1, B, b)
VKT_EW_OUT(2, Out, o)

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint e = vkt_ew_first(WG);
    if (e >= pc.n) return;
    float va[VKT_EW], vb[VKT_EW];
    a_ld(e, pc.n - e, va);
    b_ld(e, pc.n - e, vb);
    [[unroll]] for (uint t = 0; t < VKT_EW; t++) va[t] += vb[t];
    o_st(e, pc.n - e, va);
}
