#version 450
// y = gelu(x) elementwise (GELU, tanh approximation; formulas in common/act.glsl). Storage f32, f16 or bf16; math in f32.
//! variant gelu_fwd
//! variant gelu_fwd_f16 -DVKT_F16=1
//! variant gelu_fwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { VKT_T x[]; };
layout(binding = 1) writeonly buffer Y { VKT_T y[]; };

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i < pc.n) y[i] = VKT_STORE(vkt_gelu(VKT_LOAD(x[i])));
}
