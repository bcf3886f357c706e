#version 450
// Memory ceiling: dst = src, one vec4 (16 bytes) per invocation, over a buffer much larger than any
// cache. Counted bytes: read + write = 2 * 16 * n4.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Src { vec4 src[]; };
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Pc { uint n4; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i < pc.n4) dst[i] = src[i];
}
