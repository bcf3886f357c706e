#version 450
// Attention of Tq new query rows against a key/value cache (sampling with a KV cache), forward only:
//   o[b,t,h,:] = sum_{j < kend} softmax_j(scale q[b,t,h,:] . kc[b,j,h/G,:]) vc[b,j,h/G,:],
//   kend = min(pos0 + t + 1, Tmax),  pos0 = pos[pos_off] read from device memory (not a push constant, so
//   one recording serves every position).
// One workgroup per (b, t, h). Lane i takes keys i, i + WG, ... and keeps its own online softmax state
// (running max m, sum l, output accumulator, all in base-2 units; Milakov & Gimelshein 2018). After one
// barrier every lane reads all WG states from shared memory and merges them in lane order: the result
// does not depend on the subgroup size or on scheduling.
//! variant attention_decode_fwd
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(constant_id = 1) const uint HS = 64;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Q { float q[]; };     // rows (b * Tq + t) * q_stride + q_off
layout(binding = 1) readonly buffer K { float kc[]; };    // (n_batch, Tmax, KVH, HS) from k_off
layout(binding = 2) readonly buffer V { float vc[]; };    // (n_batch, Tmax, KVH, HS) from v_off
layout(binding = 3) readonly buffer Pos { int pos[]; };   // pos[pos_off] = pos0
layout(binding = 4) writeonly buffer O { float o[]; };    // (n_batch, Tq, NH, HS) from o_off

layout(push_constant) uniform Pc {
    uint Tq, Tmax, NH, KVH;
    uint n_batch, q_stride, q_off, k_off;
    uint v_off, o_off, pos_off;
    float scale_log2;  // score scale * log2(e)
} pc;

const float NEG_BIG = -1.0e30;  // finite running-max start: exp2(NEG_BIG - m) underflows to 0 cleanly

// 2^x for x <= 0 to about 1 ulp: built-in exp2 may be as loose as 3 + 2|x| ulp under Vulkan's rules.
// Split x = n + f, f in [-1/2, 1/2]; e^(f ln 2) by its Taylor series to degree 7 (error < 3e-9).
float exp2_acc(float x) {
    x = max(x, -127.0);
    float n = floor(x + 0.5), f = x - n;
    float p = 1.5252733804e-5;
    p = p * f + 1.5403530393e-4;
    p = p * f + 1.3333558146e-3;
    p = p * f + 9.6181291076e-3;
    p = p * f + 5.5504108665e-2;
    p = p * f + 2.4022650696e-1;
    p = p * f + 6.9314718056e-1;
    p = p * f + 1.0;
    return ldexp(p, int(n));
}

shared float sm[WG];
shared float sl[WG];
shared float sacc[WG * HS];

void main() {
    uint g = vkt_group_index();
    uint h = g % pc.NH, bt = g / pc.NH;
    uint b = bt / pc.Tq, t = bt - b * pc.Tq;
    if (b >= pc.n_batch) return;  // grid padding: the whole workgroup leaves, no barrier is skipped
    uint lane = gl_LocalInvocationID.x;
    uint kvh = h / (pc.NH / pc.KVH), kv_stride = pc.KVH * HS;
    uint kend = min(uint(max(pos[pc.pos_off], 0)) + t + 1u, pc.Tmax);

    float qv[HS], acc[HS];
    uint qb = pc.q_off + (b * pc.Tq + t) * pc.q_stride + h * HS;
    [[unroll]] for (uint d = 0; d < HS; d++) {
        qv[d] = q[qb + d] * pc.scale_log2;
        acc[d] = 0.0;
    }
    float m = NEG_BIG, l = 0.0;
    for (uint j = lane; j < kend; j += WG) {
        uint kb = pc.k_off + (b * pc.Tmax + j) * kv_stride + kvh * HS;
        uint vb = pc.v_off + (b * pc.Tmax + j) * kv_stride + kvh * HS;
        float s = 0.0;
        [[unroll]] for (uint d = 0; d < HS; d++) s += qv[d] * kc[kb + d];
        float mn = max(m, s), corr = exp2_acc(m - mn), p = exp2_acc(s - mn);
        l = l * corr + p;
        [[unroll]] for (uint d = 0; d < HS; d++) acc[d] = acc[d] * corr + p * vc[vb + d];
        m = mn;
    }
    sm[lane] = m;
    sl[lane] = l;
    [[unroll]] for (uint d = 0; d < HS; d++) sacc[lane * HS + d] = acc[d];
    barrier();

    float mx = NEG_BIG;
    for (uint w = 0; w < WG; w++) mx = max(mx, sm[w]);
    float wt[WG];
    float sum = 0.0;
    for (uint w = 0; w < WG; w++) {
        wt[w] = exp2_acc(sm[w] - mx);  // lanes without keys: l = 0 and acc = 0, whatever the weight
        sum += sl[w] * wt[w];
    }
    float inv = 1.0 / sum;
    uint ob = pc.o_off + (b * pc.Tq + t) * pc.NH * HS + h * HS;
    for (uint d = lane; d < HS; d += WG) {
        float a = 0.0;
        for (uint w = 0; w < WG; w++) a += sacc[w * HS + d] * wt[w];
        o[ob + d] = a * inv;
    }
}
