#version 450
// Embedding backward, sort pass 3 of 3: stable scatter by digit. An entry goes to its block's start for
// its digit (from embed_bwd_scan) plus the number of earlier entries of the same block with that digit,
// so equal digits keep their order and, digit after digit, rows end up sorted by key and then by row.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tok { int tok[]; };     // (N)
layout(binding = 1) readonly buffer Src { uint src[]; };    // (N) current order; unused when first
layout(binding = 2) readonly buffer Hist { uint hist[]; };  // (256, n_blocks) scanned
layout(binding = 3) writeonly buffer Dst { uint dst[]; };   // (N) next order

layout(push_constant) uniform Pc { uint n; uint V; uint shift; uint n_blocks; uint first; } pc;

shared uint digit[WG];

void main() {
    uint block = vkt_group_index(), lid = gl_LocalInvocationID.x, i = block * WG + lid;
    uint row = i < pc.n ? (pc.first != 0u ? i : src[i]) : 0u;
    uint d = i < pc.n ? (min(uint(tok[row]), pc.V) >> pc.shift) & 255u : 256u;
    digit[lid] = d;
    barrier();
    if (i >= pc.n) return;
    uint rank = 0;
    for (uint j = 0; j < lid; j++) rank += digit[j] == d ? 1u : 0u;
    dst[hist[d * pc.n_blocks + block] + rank] = row;
}
