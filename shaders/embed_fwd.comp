#version 450
// Token + position embedding, forward: out[r, c] = wte[tok[r], c] + wpe[pos0 + t, c], t = r % T (less
// seg[r], the first position of the row's document, in a packed batch), for the rows r of
// one row chunk, restricted to tokens in one vocabulary chunk [v0, v0 + nv) (the host splits tables larger
// than one binding). An id outside [0, V) reads no table row: its embedding counts as zero, and the chunk
// with v0 == 0 writes those rows (out = wpe row, or 0). No element is written twice by one dispatch.
//! variant embed_fwd
//! variant embed_fwd_f16 -DVKT_F16=1
//! variant embed_fwd_bf16 -DVKT_BF16=1
//! variant embed_fwd_pos -DVKT_DYN_POS=1
//! variant embed_fwd_pos_f16 -DVKT_F16=1 -DVKT_DYN_POS=1
//! variant embed_fwd_pos_bf16 -DVKT_BF16=1 -DVKT_DYN_POS=1
// The _pos variants read pos0 from device memory (binding 4, pos[0]: KV-cache sampling replays one
// recording for every position); wpe is bound whole and positions >= n_pos add no position term.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tok { int tok[]; };     // (B*T) all rows
layout(binding = 1) readonly buffer Wte { VKT_T wte[]; };   // (nv, C) vocab rows [v0, v0 + nv)
layout(binding = 2) readonly buffer Wpe { VKT_T wpe[]; };   // (pos0 + T, C); unused without HAS_WPE
layout(binding = 3) writeonly buffer Out { VKT_T o[]; };    // (n_rows, C) rows [r0, r0 + n_rows)
#ifdef VKT_DYN_POS
layout(binding = 4) readonly buffer Pos { int posbuf[]; };  // posbuf[0] = pos0
#else
layout(binding = 4) readonly buffer Seg { int seg[]; };     // (B*T) all rows, read when flags bit 2 is set
#endif

layout(push_constant) uniform Pc {
    uint n_rows; // rows in this chunk
    uint C;
    uint T;
    uint r0;     // first row of the chunk (row = b * T + t)
    uint v0;     // first vocab row bound at binding 1
    uint nv;     // vocab rows bound at binding 1
    uint V;      // full vocabulary size (ids >= V are invalid)
    uint pos0;   // position of t = 0
    uint flags;  // bit 0: add wpe; bit 1: this dispatch writes the rows of invalid ids; bit 2: packed (seg)
    uint n_pos;  // wpe rows bound
} pc;

// One workgroup per row (the id is read once and a whole workgroup leaves when its id belongs to another
// vocabulary chunk); threads stride over C.
void main() {
    uint row = vkt_group_index();
    if (row >= pc.n_rows) return;
    uint id = uint(tok[pc.r0 + row]);   // negative ids wrap to >= V
    uint local = id - pc.v0;            // wraps for id < v0
    bool in_chunk = local < pc.nv;
    if (!in_chunk && ((pc.flags & 2u) == 0u || id < pc.V)) return;
    uint src = in_chunk ? local * pc.C : 0u;
#ifdef VKT_DYN_POS
    uint p = uint(max(posbuf[0], 0)) + (pc.r0 + row) % pc.T;
#else
    uint t = (pc.r0 + row) % pc.T;
    if ((pc.flags & 4u) != 0u) t -= min(uint(max(seg[pc.r0 + row], 0)), t);  // clamped: stays in [0, t]
    uint p = pc.pos0 + t;
#endif
    bool add_pos = (pc.flags & 1u) != 0u && p < pc.n_pos;
    uint pos = p * pc.C, dst = row * pc.C;
    for (uint c = gl_LocalInvocationID.x; c < pc.C; c += WG) {
        float v = in_chunk ? VKT_LOAD(wte[src + c]) : 0.0;
        if (add_pos) v += VKT_LOAD(wpe[pos + c]);
        o[dst + c] = VKT_STORE(v);
    }
}
