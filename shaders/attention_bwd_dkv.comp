#version 450
// Attention backward, part 2: dk and dv, after attention_bwd_dq has written D = rowsum(do * o).
//   P_ij = exp(scale q_i.k_j - lse_i),  dv_j = sum_i P_ij do_i,
//   dS_ij = P_ij (do_i . v_j - D_i),    dk_j = scale sum_i dS_ij q_i
// where i runs over the query rows that see key j (i >= j under the causal mask) of every query head
// that shares kv head j's head (grouped-query attention: heads kvh*G .. kvh*G + G-1, G = NH / KVH).
// One invocation owns one key row: k, v and both accumulators stay in registers and the sums run in a
// fixed order (heads, then rows ascending), so results are deterministic without atomics.
// Variants as in attention_fwd.comp: `row` reads q/do rows from the buffers, `tiled` stages BC of them
// (with their lse and D) in shared memory. dk and dv are overwritten.
//! variant attention_bwd_dkv_row
//! variant attention_bwd_dkv_tiled -DTILED=1
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
layout(binding = 3) readonly buffer DO { VKT_T dout[]; };
layout(binding = 4) readonly buffer Lse { float lse[]; };
layout(binding = 5) readonly buffer Dd { float delta[]; };
layout(binding = 6) writeonly buffer DK { VKT_T dk[]; };
layout(binding = 7) writeonly buffer DV { VKT_T dv[]; };

#ifdef TILED
shared float qs[BC * HS];
shared float dos[BC * HS];
shared float ls[BC];
shared float dls[BC];
#define QRY(ii, d) qs[(ii) * HS + (d)]
#define DOUT(ii, d) dos[(ii) * HS + (d)]
#define LSE2(ii) ls[ii]
#define DELTA(ii) dls[ii]
#else
#define QRY(ii, d) VKT_LOAD(q[qbase + (ii) * pc.q_stride + (d)])
#define DOUT(ii, d) VKT_LOAD(dout[dobase + (ii) * (pc.NH * HS) + (d)])
#define LSE2(ii) (lse[lbase + (ii)] * VKT_LOG2E)
#define DELTA(ii) delta[dbase + (ii)]
#endif

float kr[HS];   // k * scale * log2(e)
float vr[HS];
float dka[HS];  // dk / scale
float dva[HS];

// Folds query rows [i0 + first, i0 + n) (indices relative to i0) into the accumulators.
#ifdef TILED
void fold(uint first, uint n) {
#else
void fold(uint first, uint n, uint qbase, uint dobase, uint lbase, uint dbase) {
#endif
    for (uint ii = first; ii < n; ii++) {
        float x = 0.0, dp = 0.0;
        for (uint d = 0; d < HS; d++) {
            x += QRY(ii, d) * kr[d];
            dp += DOUT(ii, d) * vr[d];
        }
        float p = att_exp2(x - LSE2(ii));
        float ds = p * (dp - DELTA(ii));
        for (uint d = 0; d < HS; d++) {
            dva[d] += p * DOUT(ii, d);
            dka[d] += ds * QRY(ii, d);
        }
    }
}

void main() {
    uint n_tiles = (pc.T + WG - 1) / WG;
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    uint tile = g - bh * n_tiles;  // lowest key tiles first: under a causal mask they see the most rows
    uint kvh = bh % pc.KVH, b = bh / pc.KVH, group = pc.NH / pc.KVH;
    if (b >= pc.n_batch) return;  // grid padding (whole workgroup: no barrier is skipped)
    uint j = tile * WG + gl_LocalInvocationID.x;
    bool live = j < pc.T;
    uint istart = pc.causal != 0 ? j : 0;  // this key is seen by query rows [istart, T)

    uint jr = live ? j : 0;
    uint kbase = att_row(pc.k_off, pc.k_stride, b, jr, kvh, HS);
    uint vbase = att_row(pc.v_off, pc.v_stride, b, jr, kvh, HS);
    for (uint d = 0; d < HS; d++) {
        kr[d] = live ? VKT_LOAD(k[kbase + d]) * pc.scale_log2 : 0.0;
        vr[d] = live ? VKT_LOAD(v[vbase + d]) : 0.0;
        dka[d] = 0.0;
        dva[d] = 0.0;
    }

    for (uint hg = 0; hg < group; hg++) {
        uint h = kvh * group + hg;
        uint rows = (b * pc.NH + h) * pc.T;
#ifdef TILED
        uint wg_istart = pc.causal != 0 ? tile * WG : 0;
        for (uint i0 = wg_istart; i0 < pc.T; i0 += BC) {
            uint nt = min(BC, pc.T - i0);
            barrier();
            for (uint e = gl_LocalInvocationID.x; e < nt * HS; e += WG) {
                uint ii = e / HS, d = e - ii * HS;
                qs[e] = VKT_LOAD(q[att_row(pc.q_off, pc.q_stride, b, i0 + ii, h, HS) + d]);
                dos[e] = VKT_LOAD(dout[att_row(pc.do_off, pc.NH * HS, b, i0 + ii, h, HS) + d]);
            }
            for (uint ii = gl_LocalInvocationID.x; ii < nt; ii += WG) {
                ls[ii] = lse[pc.lse_off + rows + i0 + ii] * VKT_LOG2E;
                dls[ii] = delta[pc.d_off + rows + i0 + ii];
            }
            barrier();
            if (live) fold(istart > i0 ? min(istart - i0, nt) : 0, nt);
        }
#else
        if (!live) break;
        fold(0, pc.T - istart, att_row(pc.q_off, pc.q_stride, b, istart, h, HS),
             att_row(pc.do_off, pc.NH * HS, b, istart, h, HS), pc.lse_off + rows + istart,
             pc.d_off + rows + istart);
#endif
    }
    if (!live) return;
    uint dkbase = att_row(pc.dk_off, pc.dk_stride, b, j, kvh, HS);
    uint dvbase = att_row(pc.dv_off, pc.dv_stride, b, j, kvh, HS);
    for (uint d = 0; d < HS; d++) {
        dk[dkbase + d] = VKT_STORE(dka[d] * pc.scale);
        dv[dvbase + d] = VKT_STORE(dva[d]);
    }
}
