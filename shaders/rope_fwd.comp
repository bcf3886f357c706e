#version 450
// Rotary position embedding, in place, on n_heads heads of head_size values that start at column col0 of
// each row of a (rows, row_stride) buffer: q alone, k alone, or the q and k parts of a fused qkv buffer.
// Each invocation owns one rotated pair (a, b) of one head of one row and rotates it by the angle
// pos * inv_freq[i], pos = pos0 + t - seg[row] with t = row % T (seg: the first position of the row's
// document in a packed batch, else 0), reading (cos, sin) from a host-built f32 table:
//   forward  a' = a cos - b sin,  b' = b cos + a sin
//   inverse  a' = a cos + b sin,  b' = b cos - a sin     (the backward: R(-angle) = R(angle)^T)
// Pairs are (i, i + rot_dim/2) (Hugging Face rotate_half) or (2i, 2i + 1) (interleaved, Meta/llama2.c).
// Columns rot_dim..head_size-1 and everything outside the heads are not touched.
//! variant rope_fwd
//! variant rope_fwd_f16 -DVKT_F16=1
//! variant rope_fwd_bf16 -DVKT_BF16=1
//! variant rope_fwd_pos -DVKT_DYN_POS=1
//! variant rope_fwd_pos_f16 -DVKT_F16=1 -DVKT_DYN_POS=1
//! variant rope_fwd_pos_bf16 -DVKT_BF16=1 -DVKT_DYN_POS=1
// The _pos variants read pos0 from device memory (pos[0], KV-cache sampling replays one recording for
// every position) and bind the whole table; rows whose position is >= n_pos are left unrotated.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tab { float cs[]; }; // (T, rot_dim / 2, 2) cos, sin from position pos0
layout(binding = 1) buffer X { VKT_T x[]; };              // (n_rows, row_stride) rows [r0, r0 + n_rows)
#ifdef VKT_DYN_POS
layout(binding = 2) readonly buffer Pos { int pos[]; };   // pos[0] = pos0
#else
layout(binding = 2) readonly buffer Seg { int seg[]; };   // (B*T) all rows, read when flags bit 2 is set
#endif

layout(push_constant) uniform Pc {
    uint n_rows;     // rows in this chunk
    uint T;
    uint r0;         // first row of the chunk (row = b * T + t)
    uint row_stride; // elements between rows
    uint col0;       // first element of head 0 within a row
    uint n_heads;
    uint head_size;
    uint half_rot;   // rot_dim / 2
    uint cs_off;     // element offset of position pos0's table row inside binding 0
    uint flags;      // bit 0: interleaved pairs; bit 1: inverse rotation; bit 2: positions restart at seg
    uint n_pos;      // _pos variants: table rows bound (positions 0 .. n_pos - 1)
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    uint per_row = pc.n_heads * pc.half_rot;
    if (i >= pc.n_rows * per_row) return;
    uint row = i / per_row, rest = i - row * per_row;
    uint h = rest / pc.half_rot, k = rest - h * pc.half_rot;
    uint base = row * pc.row_stride + pc.col0 + h * pc.head_size;
    uint ia = (pc.flags & 1u) != 0u ? base + 2u * k : base + k;
    uint ib = (pc.flags & 1u) != 0u ? ia + 1u : ia + pc.half_rot;
    uint t = (pc.r0 + row) % pc.T;
#ifdef VKT_DYN_POS
    t += uint(max(pos[0], 0));  // the table is bound from position 0
    if (t >= pc.n_pos) return;
#else
    if ((pc.flags & 4u) != 0u) t -= min(uint(max(seg[pc.r0 + row], 0)), t);  // clamped: never out of the table
#endif
    uint ci = pc.cs_off + (t * pc.half_rot + k) * 2u;
    float c = cs[ci], s = cs[ci + 1u];
    if ((pc.flags & 2u) != 0u) s = -s;
    float a = VKT_LOAD(x[ia]), b = VKT_LOAD(x[ib]);
    x[ia] = VKT_STORE(a * c - b * s);
    x[ib] = VKT_STORE(b * c + a * s);
}
