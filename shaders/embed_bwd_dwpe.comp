#version 450
// Position embedding backward: dwpe[pos0 + p, c] += sum of dout[r, c] over the rows r = b * T + t of one
// row chunk [r0, r0 + n_rows) whose position is p, in increasing r. One invocation per (p, c), no
// atomics: deterministic. A row's position is t, or t - seg[r] in a packed batch (seg: the first position
// of t's document, flags bit 0), where position p occurs once in every document longer than p.
// Packed rows are walked over candidates only: at t (document start s = seg, position q = t - s), q < p
// jumps to s + p, this document's position p; q >= p means the next candidate is in a later document,
// which starts after t, so at t + p + 1 or later. Each step moves forward, by p + 1 outside the jumps:
// about 2 steps per document plus T / (p + 1). A row whose last position has seg 0 holds one document
// and costs one load, as does every row of an unpacked batch (no table read at all).
//! variant embed_bwd_dwpe
//! variant embed_bwd_dwpe_f16 -DVKT_F16=1
//! variant embed_bwd_dwpe_bf16 -DVKT_BF16=1
// dout is f32, f16 or bf16 (VKT_T, an activation gradient); the table gradient and the sums are f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Dout { VKT_T dout[]; }; // (n_rows, C) rows [r0, r0 + n_rows)
layout(binding = 1) readonly buffer Seg { int seg[]; };     // (B*T) all rows, read when flags bit 0 is set
layout(binding = 2) buffer Dwpe { float dwpe[]; };          // (pos0 + T, C)

layout(push_constant) uniform Pc { uint T; uint C; uint r0; uint n_rows; uint pos0; uint flags; } pc;

// Document start of position t of row b, clamped into [0, t] (a bad table cannot stall the walk).
uint seg_at(uint b, uint t) { return min(uint(max(seg[b * pc.T + t], 0)), t); }

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.T * pc.C) return;
    uint p = i / pc.C, c = i - p * pc.C;
    bool packed = (pc.flags & 1u) != 0u;
    uint b_end = (pc.r0 + pc.n_rows + pc.T - 1) / pc.T;
    float acc = 0.0;
    for (uint b = pc.r0 / pc.T; b < b_end; b++) {
        bool walk = packed && seg_at(b, pc.T - 1) != 0u;
        for (uint t = p; t < pc.T;) {
            uint s = walk ? seg_at(b, t) : 0u, q = t - s;
            uint r = b * pc.T + t;
            if (q == p && r >= pc.r0 && r - pc.r0 < pc.n_rows) acc += VKT_LOAD(dout[(r - pc.r0) * pc.C + c]);
            if (!walk) break;
            t = q < p ? s + p : t + p + 1;
        }
    }
    dwpe[(pc.pos0 + p) * pc.C + c] += acc;
}
