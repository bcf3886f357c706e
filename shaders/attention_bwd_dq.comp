#version 450
// Attention backward, part 1: dq, and the row term D = rowsum(do * o) that part 2 (attention_bwd_dkv)
// needs. With P recomputed from the saved log-sum-exp (P_ij = exp(scale q_i.k_j - lse_i)):
//   dP_ij = do_i . v_j,   dS_ij = P_ij (dP_ij - D_i),   dq_i = scale sum_j dS_ij k_j
// One invocation owns one query row (q, do and the dq accumulator in registers), so D_i is computed
// here, before the key loop, instead of in a separate pre-pass. Variants as in attention_fwd.comp:
// `row` reads keys and values from the buffers, `tiled` stages BC of them in shared memory.
// dq is overwritten. Reference: Dao 2023 (FlashAttention-2), algorithm 2.
//! variant attention_bwd_dq_row
//! variant attention_bwd_dq_tiled -DTILED=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "attention.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(constant_id = 1) const uint HS = 64;
layout(constant_id = 2) const uint BC = 16;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Q { VKT_T q[]; };
layout(binding = 1) readonly buffer K { VKT_T k[]; };
layout(binding = 2) readonly buffer V { VKT_T v[]; };
layout(binding = 3) readonly buffer O { VKT_T o[]; };
layout(binding = 4) readonly buffer DO { VKT_T dout[]; };
layout(binding = 5) readonly buffer Lse { float lse[]; };
layout(binding = 6) writeonly buffer DQ { VKT_T dq[]; };
layout(binding = 7) writeonly buffer Dd { float delta[]; };

#ifdef TILED
shared float ks[BC * HS];
shared float vs[BC * HS];
#define KEY(jj, d) ks[(jj) * HS + (d)]
#define VAL(jj, d) vs[(jj) * HS + (d)]
#else
#define KEY(jj, d) VKT_LOAD(k[kbase + (jj) * pc.k_stride + (d)])
#define VAL(jj, d) VKT_LOAD(v[vbase + (jj) * pc.v_stride + (d)])
#endif

float qr[HS];   // q * scale * log2(e)
float dor[HS];  // do
float acc[HS];  // dq / scale
float lse2, di;

#ifdef TILED
void fold(uint n) {
#else
void fold(uint n, uint kbase, uint vbase) {
#endif
    for (uint jj = 0; jj < n; jj++) {
        float x = 0.0, dp = 0.0;
        for (uint d = 0; d < HS; d++) {
            x += qr[d] * KEY(jj, d);
            dp += dor[d] * VAL(jj, d);
        }
        float ds = att_exp2(x - lse2) * (dp - di);
        for (uint d = 0; d < HS; d++) acc[d] += ds * KEY(jj, d);
    }
}

void main() {
    uint n_tiles = (pc.T + WG - 1) / WG;
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    uint tile = n_tiles - 1 - (g - bh * n_tiles);
    uint h = bh % pc.NH, b = bh / pc.NH, kvh = h / (pc.NH / pc.KVH);
    if (b >= pc.n_batch) return;  // grid padding (whole workgroup: no barrier is skipped)
    uint i = tile * WG + gl_LocalInvocationID.x;
    bool live = i < pc.T;
    uint kend = pc.causal != 0 ? i + 1 : pc.T;

    uint ir = live ? i : 0;
    uint qbase = att_row(pc.q_off, pc.q_stride, b, ir, h, HS);
    uint obase = att_row(pc.o_off, pc.NH * HS, b, ir, h, HS);
    uint dobase = att_row(pc.do_off, pc.NH * HS, b, ir, h, HS);
    di = 0.0;
    for (uint d = 0; d < HS; d++) {
        qr[d] = live ? VKT_LOAD(q[qbase + d]) * pc.scale_log2 : 0.0;
        dor[d] = live ? VKT_LOAD(dout[dobase + d]) : 0.0;
        di += live ? dor[d] * VKT_LOAD(o[obase + d]) : 0.0;
        acc[d] = 0.0;
    }
    uint row = (b * pc.NH + h) * pc.T + ir;
    lse2 = live ? lse[pc.lse_off + row] * VKT_LOG2E : 0.0;
    if (live) delta[pc.d_off + row] = di;

#ifdef TILED
    uint wg_kend = pc.causal != 0 ? min(pc.T, tile * WG + WG) : pc.T;
    for (uint j0 = 0; j0 < wg_kend; j0 += BC) {
        uint nt = min(BC, wg_kend - j0);
        barrier();
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
    uint dqbase = att_row(pc.dq_off, pc.dq_stride, b, i, h, HS);
    for (uint d = 0; d < HS; d++) dq[dqbase + d] = VKT_STORE(acc[d] * pc.scale);
}
