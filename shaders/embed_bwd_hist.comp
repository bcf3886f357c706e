#version 450
// Embedding backward, sort pass 1 of 3 (per 8-bit digit of the key, least significant first): per-block
// digit histograms. Block k holds entries [k*WG, (k+1)*WG) of the current order; hist[d * n_blocks + k]
// counts its entries whose digit is d. Counting from shared memory, no atomics: every count is exact
// and the whole sort is deterministic. key(row) = min(uint(tok[row]), V): invalid ids share key V.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tok { int tok[]; };     // (N)
layout(binding = 1) readonly buffer Src { uint src[]; };    // (N) current order; unused when first
layout(binding = 2) writeonly buffer Hist { uint hist[]; }; // (256, n_blocks)

layout(push_constant) uniform Pc { uint n; uint V; uint shift; uint n_blocks; uint first; } pc;

shared uint digit[WG];

void main() {
    uint block = vkt_group_index(), lid = gl_LocalInvocationID.x, i = block * WG + lid;
    uint row = i < pc.n ? (pc.first != 0u ? i : src[i]) : 0u;
    digit[lid] = i < pc.n ? (min(uint(tok[row]), pc.V) >> pc.shift) & 255u : 256u;
    barrier();
    for (uint d = lid; d < 256u; d += WG) {
        uint count = 0;
        for (uint j = 0; j < WG; j++) count += digit[j] == d ? 1u : 0u;
        hist[d * pc.n_blocks + block] = count;
    }
}
