#version 450
// Token + position embedding, forward: out[r, c] = wte[tok[r], c] + wpe[pos0 + r % T, c] for the rows r of
// one row chunk, restricted to tokens in one vocabulary chunk [v0, v0 + nv) (the host splits tables larger
// than one binding). An id outside [0, V) reads no table row: its embedding counts as zero, and the chunk
// with v0 == 0 writes those rows (out = wpe row, or 0). No element is written twice by one dispatch.
//! variant embed_fwd
//! variant embed_fwd_f16 -DVKT_F16=1
//! variant embed_fwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tok { int tok[]; };     // (B*T) all rows
layout(binding = 1) readonly buffer Wte { VKT_T wte[]; };   // (nv, C) vocab rows [v0, v0 + nv)
layout(binding = 2) readonly buffer Wpe { VKT_T wpe[]; };   // (pos0 + T, C); unused without HAS_WPE
layout(binding = 3) writeonly buffer Out { VKT_T o[]; };    // (n_rows, C) rows [r0, r0 + n_rows)

layout(push_constant) uniform Pc {
    uint n_rows; // rows in this chunk
    uint C;
    uint T;
    uint r0;     // first row of the chunk (row = b * T + t)
    uint v0;     // first vocab row bound at binding 1
    uint nv;     // vocab rows bound at binding 1
    uint V;      // full vocabulary size (ids >= V are invalid)
    uint pos0;   // position of t = 0
    uint flags;  // bit 0: add wpe; bit 1: this dispatch writes the rows of invalid ids
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n_rows * pc.C) return;
    uint row = i / pc.C, c = i - row * pc.C;
    uint id = uint(tok[pc.r0 + row]);   // negative ids wrap to >= V
    uint local = id - pc.v0;            // wraps for id < v0
    float v;
    if (local < pc.nv) v = VKT_LOAD(wte[local * pc.C + c]);
    else if ((pc.flags & 2u) != 0u && id >= pc.V) v = 0.0;
    else return;
    if ((pc.flags & 1u) != 0u) v += VKT_LOAD(wpe[(pc.pos0 + (pc.r0 + row) % pc.T) * pc.C + c]);
    o[i] = VKT_STORE(v);
}
