#version 450
// Embedding backward, after the sort: dwte[id, :] += sum of dout[p, :] over the rows p holding id, summed in row
// order, so the result is bit-reproducible. One workgroup per entry i of the sorted row list; only the
// first entry of each run of equal ids (its "leader") does work: it walks the run and owns the dwte row,
// so no two invocations write one element and no atomics are needed. The host splits dwte into vocab
// chunks [v0, v0 + nv) and dout into row chunks [r0, r0 + n_rows) to fit bindings; a dispatch adds only
// the rows of its chunk. Invalid ids (key V) form the last run and are skipped.
//! variant embed_bwd_dw
//! variant embed_bwd_dw_f16 -DVKT_F16=1
//! variant embed_bwd_dw_bf16 -DVKT_BF16=1
// dout is f32, f16 or bf16 (VKT_T, an activation gradient); the table gradient and the sums are f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Tok { int tok[]; };        // (N)
layout(binding = 1) readonly buffer Sorted { uint sorted[]; }; // (N) rows sorted by (key, row)
layout(binding = 2) readonly buffer Dout { VKT_T dout[]; };    // (n_rows, C) rows [r0, r0 + n_rows)
layout(binding = 3) buffer Dwte { float dwte[]; };             // (nv, C) vocab rows [v0, v0 + nv)

layout(push_constant) uniform Pc { uint n; uint C; uint V; uint v0; uint nv; uint r0; uint n_rows; } pc;

uint key_at(uint i) { return min(uint(tok[sorted[i]]), pc.V); }

void main() {
    uint i = vkt_group_index();
    if (i >= pc.n) return;
    uint k = key_at(i);
    if (k - pc.v0 >= pc.nv) return;               // other chunk, or invalid ids (k == V)
    if (i > 0 && key_at(i - 1) == k) return;      // not the leader of its run
    uint end = i + 1;
    while (end < pc.n && key_at(end) == k) end++;
    uint dst = (k - pc.v0) * pc.C;
    for (uint c = gl_LocalInvocationID.x; c < pc.C; c += WG) {
        float acc = 0.0;
        bool any = false;
        for (uint j = i; j < end; j++) {
            uint row = sorted[j] - pc.r0;         // wraps for rows before the chunk
            if (row < pc.n_rows) {
                acc += VKT_LOAD(dout[row * pc.C + c]);
                any = true;
            }
        }
        if (any) dwte[dst + c] += acc;
    }
}
