#version 450
// Counts the targets that carry a loss (n_valid) and those out of [0, V) that are not the ignore index
// (n_bad; treated as ignored, reported so the host can catch a tokenizer/vocabulary mismatch).
// One workgroup: a strided count per invocation, then a shared-memory tree (integers: exact in any order).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Targets { int targets[]; };
layout(binding = 1) writeonly buffer Stats { float loss; uint n_valid; uint n_bad; float loss_sum; } st;

layout(push_constant) uniform Pc { uint n; uint V; int ignore_index; uint base_targets; } pc;

shared uint sh_valid[WG];
shared uint sh_bad[WG];

void main() {
    uint tid = gl_LocalInvocationID.x, nv = 0, nb = 0;
    for (uint i = tid; i < pc.n; i += WG) {
        int t = targets[pc.base_targets + i];
        if (t == pc.ignore_index) continue;
        if (t >= 0 && uint(t) < pc.V) nv++;
        else nb++;
    }
    sh_valid[tid] = nv;
    sh_bad[tid] = nb;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) {
            sh_valid[tid] += sh_valid[tid + h];
            sh_bad[tid] += sh_bad[tid + h];
        }
        barrier();
    }
    if (tid == 0) {
        st.n_valid = sh_valid[0];
        st.n_bad = sh_bad[0];
    }
}
