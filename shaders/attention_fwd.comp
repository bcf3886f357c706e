#version 450
// Fused causal / bidirectional attention forward, flash-attention style: one pass over key blocks with an
// online softmax (running max m and running sum l, rescaling the output accumulator when m grows), so the
// T x T score matrix never exists. Saves the row log-sum-exp (natural log) for the backward.
//   o[b,i,h,:] = sum_j softmax_j(scale * q[b,i,h,:] . k[b,j,h/G,:]) v[b,j,h/G,:],  G = NH / KVH
// Each invocation owns one query row: q (pre-scaled into base-2 units) and the accumulator live in
// registers. Variants:
//   row    no shared memory and no barriers: keys are read straight from the buffers. Best on CPU
//          drivers (lavapipe), where a barrier costs far more than the repeated, cache-resident loads.
//   tiled  the workgroup stages BC keys and values in shared memory per step (two barriers per block);
//          every row of the workgroup reuses them, cutting global traffic WG-fold. The GPU default.
// References: Milakov & Gimelshein 2018 (online softmax); Dao et al. 2022 (FlashAttention).
//! variant attention_fwd_row
//! variant attention_fwd_tiled -DTILED=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "attention.glsl"

layout(constant_id = 0) const uint WG = 32;  // query rows per workgroup
layout(constant_id = 1) const uint HS = 64;  // head size (<= 128: registers per invocation ~ 2 HS)
layout(constant_id = 2) const uint BC = 16;  // keys per online-softmax block (tiled: per shared tile)
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Q { VKT_T q[]; };
layout(binding = 1) readonly buffer K { VKT_T k[]; };
layout(binding = 2) readonly buffer V { VKT_T v[]; };
layout(binding = 3) writeonly buffer O { VKT_T o[]; };
layout(binding = 4) writeonly buffer Lse { float lse[]; };

#ifdef TILED
shared float ks[BC * HS];
shared float vs[BC * HS];
#define KEY(jj, d) ks[(jj) * HS + (d)]
#define VAL(jj, d) vs[(jj) * HS + (d)]
#else
#define KEY(jj, d) VKT_LOAD(k[kbase + (jj) * pc.k_stride + (d)])
#define VAL(jj, d) VKT_LOAD(v[vbase + (jj) * pc.v_stride + (d)])
#endif

float qr[HS];
float acc[HS];
float s[BC];
float m, l;

// Folds keys [j0, j0 + n) into (m, l, acc). KEY/VAL index them from 0.
#ifdef TILED
void fold(uint n) {
#else
void fold(uint n, uint kbase, uint vbase) {
#endif
    float mb = m;
    for (uint jj = 0; jj < n; jj++) {
        float x = 0.0;
        for (uint d = 0; d < HS; d++) x += qr[d] * KEY(jj, d);
        s[jj] = x;
        mb = max(mb, x);
    }
    float corr = att_exp2(m - mb);
    l *= corr;
    for (uint d = 0; d < HS; d++) acc[d] *= corr;
    for (uint jj = 0; jj < n; jj++) {
        float p = att_exp2(s[jj] - mb);
        l += p;
        for (uint d = 0; d < HS; d++) acc[d] += p * VAL(jj, d);
    }
    m = mb;
}

void main() {
    uint n_tiles = (pc.T + WG - 1) / WG;
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    // Highest tiles first: under a causal mask they carry the most keys, so they should start early.
    uint tile = n_tiles - 1 - (g - bh * n_tiles);
    uint h = bh % pc.NH, b = bh / pc.NH, kvh = h / (pc.NH / pc.KVH);
    if (b >= pc.n_batch) return;  // grid padding (whole workgroup: no barrier is skipped)
    uint i = tile * WG + gl_LocalInvocationID.x;
    bool live = i < pc.T;
    uint kend = pc.causal != 0 ? i + 1 : pc.T;  // this row sees keys [0, kend)

    uint qbase = att_row(pc.q_off, pc.q_stride, b, live ? i : 0, h, HS);
    for (uint d = 0; d < HS; d++) {
        qr[d] = live ? VKT_LOAD(q[qbase + d]) * pc.scale_log2 : 0.0;
        acc[d] = 0.0;
    }
    m = VKT_NEG_BIG;
    l = 0.0;

#ifdef TILED
    uint wg_kend = pc.causal != 0 ? min(pc.T, tile * WG + WG) : pc.T;
    for (uint j0 = 0; j0 < wg_kend; j0 += BC) {
        uint nt = min(BC, wg_kend - j0);
        barrier();  // every row is done with the previous tile
        for (uint e = gl_LocalInvocationID.x; e < nt * HS; e += WG) {
            uint jj = e / HS, d = e - jj * HS;
            ks[e] = VKT_LOAD(k[att_row(pc.k_off, pc.k_stride, b, j0 + jj, kvh, HS) + d]);
            vs[e] = VKT_LOAD(v[att_row(pc.v_off, pc.v_stride, b, j0 + jj, kvh, HS) + d]);
        }
        barrier();
        if (live && kend > j0) fold(min(nt, kend - j0));
    }
#else
    if (!live) return;
    for (uint j0 = 0; j0 < kend; j0 += BC)
        fold(min(BC, kend - j0), att_row(pc.k_off, pc.k_stride, b, j0, kvh, HS),
             att_row(pc.v_off, pc.v_stride, b, j0, kvh, HS));
#endif
    if (!live) return;
    float inv = 1.0 / l;
    uint obase = att_row(pc.o_off, pc.NH * HS, b, i, h, HS);
    for (uint d = 0; d < HS; d++) o[obase + d] = VKT_STORE(acc[d] * inv);
    lse[pc.lse_off + (b * pc.NH + h) * pc.T + i] = (m + log2(l)) * VKT_LN2;
}
