#version 450
// Per-sequence sums of per-position values: for every sequence s of a batch whose positions carry a
// sequence id (seq_ids[i] = s, or -1 for a position no sequence counts),
//   out[s, k] = scale * sum_{i: seq_ids[i] = s} values[i, k]   (k < K <= 4),   out[s, K] = that count.
// With the cross-entropy losses as values and scale -1 this is log p(sequence) and its token count.
// One workgroup per sequence scans every position: a strided partial sum per invocation, then a
// shared-memory tree, so the order of additions is fixed and the result is bit-identical run to run (no
// float atomics). The scan costs S * N reads of a 4-byte id, which the L2 absorbs at preference batch
// sizes (128 sequences x 128K positions is 64 MiB of cached reads, tens of microseconds on a GPU); packed
// rows put several sequences in one row and their positions need not be contiguous.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Values { float values[]; };
layout(binding = 1) readonly buffer SeqIds { int seq_ids[]; };
layout(binding = 2) writeonly buffer Out { float outv[]; };

layout(push_constant) uniform Pc { uint n; uint S; uint K; float scale; } pc;

shared float sh[4][WG];
shared uint sh_n[WG];

void main() {
    uint s = vkt_group_index();
    if (s >= pc.S) return; // uniform over the workgroup
    uint tid = gl_LocalInvocationID.x;
    float acc[4] = float[4](0.0, 0.0, 0.0, 0.0);
    uint cnt = 0;
    for (uint i = tid; i < pc.n; i += WG) {
        if (seq_ids[i] != int(s)) continue;
        cnt++;
        for (uint k = 0; k < pc.K; k++) acc[k] += values[i * pc.K + k];
    }
    for (uint k = 0; k < 4; k++) sh[k][tid] = acc[k];
    sh_n[tid] = cnt;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) {
            for (uint k = 0; k < 4; k++) sh[k][tid] += sh[k][tid + h];
            sh_n[tid] += sh_n[tid + h];
        }
        barrier();
    }
    if (tid == 0) {
        uint o = s * (pc.K + 1);
        for (uint k = 0; k < pc.K; k++) outv[o + k] = pc.scale * sh[k][0];
        outv[o + pc.K] = float(sh_n[0]);
    }
}
