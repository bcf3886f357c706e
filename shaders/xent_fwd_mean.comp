#version 450
// Second stage of the loss reduction: loss = sum of the per-row losses / n_valid (0 when no row counts).
// One workgroup, so the order of additions is fixed (strided partial sums, then a tree): the result is
// bit-identical run to run, with no float atomics.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Losses { float losses[]; };
layout(binding = 1) buffer Stats { float loss; uint n_valid; uint n_bad; float loss_sum; } st;

layout(push_constant) uniform Pc { uint n; uint base_losses; } pc;

shared float sh[WG];

void main() {
    uint tid = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = tid; i < pc.n; i += WG) s += losses[pc.base_losses + i];
    sh[tid] = s;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) sh[tid] += sh[tid + h];
        barrier();
    }
    if (tid == 0) {
        st.loss_sum = sh[0];
        st.loss = st.n_valid > 0 ? sh[0] / float(st.n_valid) : 0.0;
    }
}
