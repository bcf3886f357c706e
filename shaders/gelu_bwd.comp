#version 450
// dx = dy * gelu'(x) elementwise (f32), overwriting dx, or dx += dy * gelu'(x) when flags bit 0 is set.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer DY { float dy[]; };
layout(binding = 2) buffer DX { float dx[]; };

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    float g = vkt_gelu_grad(x[i]);
    // fma: one rounding where the driver fuses it (Vulkan allows mul + add instead).
    dx[i] = (pc.flags & 1u) != 0u ? fma(dy[i], g, dx[i]) : dy[i] * g;
}
