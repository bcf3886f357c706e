#version 450
// Embedding backward, pass 1: a stable sort of the rows by token id, done by counting. Row p goes to
//   rank(p) = #{q : key(q) < key(p)} + #{q < p : key(q) == key(p)},   key = min(uint(id), V),
// so rows with equal ids end up adjacent and in increasing row order, and invalid ids (key V) last.
// O(N^2) integer compares over N = B*T rows, no atomics, no shared memory: every invocation scans the
// token array, which the whole device reads at the same addresses (a broadcast on GPUs, cache-resident
// on CPUs). Cheap up to N ~ 16k; a radix sort would replace it for much larger batches.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tok { int tok[]; };        // (N)
layout(binding = 1) writeonly buffer Sorted { uint sorted[]; }; // (N) rows in (id, row) order

layout(push_constant) uniform Pc { uint n; uint V; } pc;

void main() {
    uint p = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (p >= pc.n) return;
    uint kp = min(uint(tok[p]), pc.V);
    uint rank = 0;
    for (uint q = 0; q < p; q++) rank += min(uint(tok[q]), pc.V) <= kp ? 1u : 0u;
    for (uint q = p + 1; q < pc.n; q++) rank += min(uint(tok[q]), pc.V) < kp ? 1u : 0u;
    sorted[rank] = p;
}
