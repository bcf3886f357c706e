#version 450
// Appends Tq new key and value rows to a KV cache at the position held in device memory:
//   kc[b, pos0 + t, :] = k[b, t, :],  vc[b, pos0 + t, :] = v[b, t, :]   (t < Tq; rows at or past Tmax dropped)
// One invocation per element of the new (n_batch * Tq, KVH * HS) rows.
//! variant attention_decode_append
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer K { float k[]; };      // row r at k_off + r * k_stride
layout(binding = 1) readonly buffer V { float v[]; };      // row r at v_off + r * v_stride
layout(binding = 2) readonly buffer Pos { int pos[]; };    // pos[pos_off] = pos0
layout(binding = 3) writeonly buffer KC { float kc[]; };   // (n_batch, Tmax, KVH * HS) from kc_off
layout(binding = 4) writeonly buffer VC { float vc[]; };   // (n_batch, Tmax, KVH * HS) from vc_off

layout(push_constant) uniform Pc {
    uint n, Tq, Tmax, row;  // n = n_batch * Tq * row; row = KVH * HS
    uint k_stride, k_off, v_stride, v_off;
    uint kc_off, vc_off, pos_off, _pad;
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    uint r = i / pc.row, e = i - r * pc.row;
    uint b = r / pc.Tq, t = r - b * pc.Tq;
    uint p = uint(max(pos[pc.pos_off], 0)) + t;
    if (p >= pc.Tmax) return;
    uint dst = (b * pc.Tmax + p) * pc.row + e;
    kc[pc.kc_off + dst] = k[pc.k_off + r * pc.k_stride + e];
    vc[pc.vc_off + dst] = v[pc.v_off + r * pc.v_stride + e];
}
