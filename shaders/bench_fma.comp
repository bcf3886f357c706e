#version 450
// Arithmetic ceiling: each invocation runs CHAINS independent vec4 recurrences x = x * m + a for
// pc.iters steps (one FMA per component and step where the compiler contracts the expression; written
// as mul+add rather than fma() because exact fma() can be a slow library call on CPU drivers. Mesa
// 22.3's llvmpipe emits a multiply and an add for both forms, as it does in the kernels measured
// against this ceiling: shaders/LAVAPIPE.md). The
// chains are independent so the loop is limited by FMA throughput, not latency. Counted work:
// n * iters * CHAINS * 4 * 2 FLOPs. The sum of the chains is written so nothing is optimised away;
// bench_peak.c checks it against the same recurrence in double.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Pc { uint n; uint iters; float m; float a; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    float s = float(i % 64u) * 0.125;
    vec4 x0 = vec4(s, s + 0.5, s + 1.0, s + 1.5);
    vec4 x1 = x0 + 2.0, x2 = x0 + 4.0, x3 = x0 + 6.0, x4 = x0 + 8.0, x5 = x0 + 10.0, x6 = x0 + 12.0,
         x7 = x0 + 14.0;
    vec4 m = vec4(pc.m), a = vec4(pc.a);
    for (uint k = 0; k < pc.iters; k++) {
        x0 = x0 * m + a; x1 = x1 * m + a; x2 = x2 * m + a; x3 = x3 * m + a;
        x4 = x4 * m + a; x5 = x5 * m + a; x6 = x6 * m + a; x7 = x7 * m + a;
    }
    vec4 t = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
    if (i < pc.n) o[i] = (t.x + t.y) + (t.z + t.w);
}
