#version 450
// out = a + b, elementwise. Also used by the backward to accumulate: da += dout (b = da, out = da).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Pc { uint n; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i < pc.n) o[i] = a[i] + b[i];
}
