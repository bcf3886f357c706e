#version 450
// Position embedding backward: dwpe[pos0 + t, c] += sum over b of dout[b * T + t, c], for the rows of one
// row chunk [r0, r0 + n_rows), summed in increasing b. One invocation per (t, c): deterministic.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Dout { float dout[]; }; // (n_rows, C) rows [r0, r0 + n_rows)
layout(binding = 1) buffer Dwpe { float dwpe[]; };          // (pos0 + T, C)

layout(push_constant) uniform Pc { uint T; uint C; uint r0; uint n_rows; uint pos0; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.T * pc.C) return;
    uint t = i / pc.C, c = i - t * pc.C;
    uint row = (t + pc.T - pc.r0 % pc.T) % pc.T;  // first chunk row with (r0 + row) % T == t
    if (row >= pc.n_rows) return;
    float acc = 0.0;
    for (; row < pc.n_rows; row += pc.T) acc += dout[row * pc.C + c];
    dwpe[(pc.pos0 + t) * pc.C + c] += acc;
}
