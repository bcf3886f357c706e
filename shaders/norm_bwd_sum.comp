#version 450
// Second stage of the deterministic column reductions used by the norms' parameter gradients:
// out[c] += sum_p partial[p * stride + col0 + c], always summed in the order p = 0, 1, ... (no atomics,
// bit-identical run to run). One invocation per column; adjacent invocations read adjacent words.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Partial { float partial[]; };
layout(binding = 1) buffer Out { float o[]; };

layout(push_constant) uniform Pc { uint n_partials; uint n_cols; uint stride; uint col0; } pc;

void main() {
    uint c = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (c >= pc.n_cols) return;
    float s = 0.0;
    for (uint p = 0; p < pc.n_partials; p++) s += partial[p * pc.stride + pc.col0 + c];
    o[c] += s;
}
