#version 450
// Attention backward, part 1: dq, and the row term D = rowsum(do * o) that part 2 (attention_bwd_dkv)
// needs. With P recomputed from the saved log-sum-exp (P_ij = exp(scale q_i.k_j - lse_i)):
//   dP_ij = do_i . v_j,   dS_ij = P_ij (dP_ij - D_i),   dq_i = scale sum_j dS_ij k_j
// over the keys j that query i sees (attention.glsl's masks). One invocation owns R query rows (q, do and the dq accumulator in registers), so D_i is computed
// here, before the key loop, instead of in a separate pre-pass. This file is the GPU
// `tiled` variant (BC keys and values staged in shared memory); CPU drivers run attention_bwd_dq_row.comp.
// dq is overwritten. Reference: Dao 2023 (FlashAttention-2), algorithm 2.
//! variant attention_bwd_dq_tiled
//! variant attention_bwd_dq_tiled_vec4 -DVKT_VEC4=1
//! variant attention_bwd_dq_tiled_f16 -DVKT_F16=1
//! variant attention_bwd_dq_tiled_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention.glsl"

ATT_IN(0, Q, q)
ATT_IN(1, K, k)
ATT_IN(2, V, v)
ATT_IN(3, O, o)
ATT_IN(4, DO, dout)
layout(binding = 5) readonly buffer Lse { float lse[]; };
ATT_SEG(6)
ATT_OUT(7, DQ, dq)
layout(binding = 8) writeonly buffer Dd { float delta[]; };

shared vec4 ks[BC * HS4];
shared vec4 vs[BC * HS4];
#define KEY(jj, c) ks[(jj) * HS4 + (c)]
#define VAL(jj, c) vs[(jj) * HS4 + (c)]

vec4 qr[R * HS4];   // q * scale * log2(e), row r at [r * HS4]
vec4 dor[R * HS4];  // do
vec4 acc[R * HS4];  // dq / scale

// As in attention_fwd.comp: query i (document from kstart, keys below kend) sees key j (document from jseg).
bool visible(uint j, uint kstart, uint kend, uint jseg, uint i) { return j >= kstart && j < kend && jseg <= i; }

void main() {
    uint n_tiles = (pc.T + WG * R - 1) / (WG * R);
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    uint tile = n_tiles - 1 - (g - bh * n_tiles);
    uint h = bh % pc.NH, b = bh / pc.NH, kvh = h / (pc.NH / pc.KVH);
    if (b >= pc.n_batch) return;  // grid padding (whole workgroup: no barrier is skipped)
    uint t_first = tile * WG * R, t_last = min(pc.T, t_first + WG * R) - 1;  // the tile's rows
    uint i0 = t_first + gl_LocalInvocationID.x;  // rows i0 + r * WG
    bool causal = att_causal();
    uint kstart[R], kend[R];
    float lse2[R], di[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG, ir = min(i, pc.T - 1);
        kstart[r] = att_seg(b, ir);
        kend[r] = causal ? i + 1 : pc.T;
        uint qbase = att_row(pc.q_off, pc.q_stride, b, ir, h);
        uint obase = att_row(pc.o_off, pc.NH * HS, b, ir, h);
        uint dobase = att_row(pc.do_off, pc.NH * HS, b, ir, h);
        vec4 dd = vec4(0.0);
        [[unroll]] for (uint c = 0; c < HS4; c++) {
            qr[r * HS4 + c] = q_ld(qbase, c) * pc.scale_log2;
            dor[r * HS4 + c] = dout_ld(dobase, c);
            dd += dor[r * HS4 + c] * o_ld(obase, c);
            acc[r * HS4 + c] = vec4(0.0);
        }
        di[r] = att_sum(dd);
        uint row = (b * pc.NH + h) * pc.T + ir;
        lse2[r] = lse[pc.lse_off + row] * VKT_LOG2E;
        if (i < pc.T) delta[pc.d_off + row] = di[r];
    }
    uint wg_kend = causal ? t_last + 1 : pc.T;

    for (uint j0 = att_seg(b, t_first); j0 < wg_kend; j0 += BC) {
        if (!causal && att_seg(b, j0) > t_last) break;  // keys of documents after all the tile's rows
        uint nt = min(BC, wg_kend - j0);
        barrier();
        for (uint e = gl_LocalInvocationID.x; e < nt * HS4; e += WG) {
            uint jj = e / HS4, c = e - jj * HS4;
            ks[e] = k_ld(att_row(pc.k_off, pc.k_stride, b, j0 + jj, kvh), c);
            vs[e] = v_ld(att_row(pc.v_off, pc.v_stride, b, j0 + jj, kvh), c);
        }
        barrier();
        for (uint jj = 0; jj < BC; jj++) {
            if (jj >= nt) break;
            vec4 x[R], dp[R];
            [[unroll]] for (uint r = 0; r < R; r++) x[r] = dp[r] = vec4(0.0);
            [[unroll]] for (uint c = 0; c < HS4; c++) {
                vec4 kv = KEY(jj, c), vv = VAL(jj, c);
                [[unroll]] for (uint r = 0; r < R; r++) {
                    x[r] += qr[r * HS4 + c] * kv;
                    dp[r] += dor[r * HS4 + c] * vv;
                }
            }
            float ds[R];
            uint jseg = causal ? 0u : att_seg(b, j0 + jj);
            [[unroll]] for (uint r = 0; r < R; r++) {
                bool vis = visible(j0 + jj, kstart[r], kend[r], jseg, i0 + r * WG);
                ds[r] = vis ? att_exp2(att_sum(x[r]) - lse2[r]) * (att_sum(dp[r]) - di[r]) : 0.0;
            }
            [[unroll]] for (uint c = 0; c < HS4; c++) {
                vec4 kv = KEY(jj, c);
                [[unroll]] for (uint r = 0; r < R; r++) acc[r * HS4 + c] += ds[r] * kv;
            }
        }
    }
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG;
        if (i >= pc.T) continue;
        uint dqbase = att_row(pc.dq_off, pc.dq_stride, b, i, h);
        [[unroll]] for (uint c = 0; c < HS4; c++) dq_st(dqbase, c, acc[r * HS4 + c] * pc.scale);
    }
}
