#version 450
// dx = dy * silu'(x) elementwise (f32 math), overwriting dx, or dx += dy * silu'(x) when flags bit 0 is set.
// Storage f32, f16 or bf16 (x, dy and dx alike: activations and their gradients share the run's dtype).
//! variant silu_bwd
//! variant silu_bwd_f16 -DVKT_F16=1
//! variant silu_bwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { VKT_T x[]; };
layout(binding = 1) readonly buffer DY { VKT_T dy[]; };
layout(binding = 2) buffer DX { VKT_T dx[]; };

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    float g = vkt_silu_grad(VKT_LOAD(x[i])), d = VKT_LOAD(dy[i]);
    // fma: one rounding where the driver fuses it (Vulkan allows mul + add instead).
    dx[i] = VKT_STORE((pc.flags & 1u) != 0u ? fma(d, g, VKT_LOAD(dx[i])) : d * g);
}
