#version 450
// out = a + b, elementwise. Also used by the backward to accumulate: da += dout (b = da, out = da).
// Storage f32, f16 or bf16 (all three tensors alike); the sum is f32, rounded once when stored.
//! variant residual_fwd
//! variant residual_fwd_f16 -DVKT_F16=1
//! variant residual_fwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer A { VKT_T a[]; };
layout(binding = 1) readonly buffer B { VKT_T b[]; };
layout(binding = 2) writeonly buffer Out { VKT_T o[]; };

layout(push_constant) uniform Pc { uint n; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i < pc.n) o[i] = VKT_STORE(VKT_LOAD(a[i]) + VKT_LOAD(b[i]));
}
