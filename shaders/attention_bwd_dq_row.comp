#version 450
// Attention backward part 1 (dq and D = rowsum(do * o)) for CPU drivers: the `row` variant of
// attention_bwd_dq.comp, which holds the math and the GPU `tiled` variant. Shaped like
// attention_fwd_row.comp: each invocation owns R query rows (q, do and the dq accumulator in private
// arrays), and per block of BC keys the kernel runs register-tile matmuls (scores and dP = do . v, then
// dq += dS k) in which every loaded 8-element word of a key or value row feeds R * 8 FMAs. All tile loops
// are unrolled (constant indices into private arrays); keys past the end are clamped and masked.
//! variant attention_bwd_dq_row
//! variant attention_bwd_dq_row_vec4 -DVKT_VEC4=1
//! variant attention_bwd_dq_row_vec8 -DVKT_VEC8=1
//! variant attention_bwd_dq_row_f16 -DVKT_F16=1
//! variant attention_bwd_dq_row_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention.glsl"
#include "attention_row.glsl"

ATT_IN8(0, Q, q)
ATT_IN8(1, K, k)
ATT_IN8(2, V, v)
ATT_IN8(3, O, o)
ATT_IN8(4, DO, dout)
layout(binding = 5) readonly buffer Lse { float lse[]; };
ATT_SEG(6)
ATT_OUT8(7, DQ, dq)
layout(binding = 8) writeonly buffer Dd { float delta[]; };

void main() {
    uint n_tiles = (pc.T + WG * R - 1) / (WG * R);
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    uint tile = n_tiles - 1 - (g - bh * n_tiles);
    uint h = bh % pc.NH, b = bh / pc.NH, kvh = h / (pc.NH / pc.KVH);
    if (b >= pc.n_batch) return;  // grid padding
    uint t_first = tile * WG * R, t_last = min(pc.T, t_first + WG * R) - 1;  // the tile's rows
    uint i0 = t_first + gl_LocalInvocationID.x;                              // rows i0 + r * WG
    bool causal = att_causal();
    const uint RW = HS8 * 8;  // floats per row in the private arrays
    float qr[R * RW];         // q * scale * log2(e), row r at [r * RW]
    float dor[R * RW];        // do
    float acc[R * RW];        // dq / scale
    uint kstart[R], kend[R];
    float lse2[R], di[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG, ir = min(i, pc.T - 1);
        kstart[r] = att_seg(b, ir);
        kend[r] = causal ? i + 1 : pc.T;
        uint qbase = att_row(pc.q_off, pc.q_stride, b, ir, h);
        uint obase = att_row(pc.o_off, pc.NH * HS, b, ir, h);
        uint dobase = att_row(pc.do_off, pc.NH * HS, b, ir, h);
        float dd = 0.0;
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float qf[8], of[8], df[8];
            q_ld8(qbase, w, qf);
            o_ld8(obase, w, of);
            dout_ld8(dobase, w, df);
            [[unroll]] for (uint t = 0; t < 8; t++) {
                qr[r * RW + 8 * w + t] = qf[t] * pc.scale_log2;
                dor[r * RW + 8 * w + t] = df[t];
                acc[r * RW + 8 * w + t] = 0.0;
                dd = fma(df[t], of[t], dd);
            }
        }
        di[r] = dd;
        uint row = (b * pc.NH + h) * pc.T + ir;
        lse2[r] = lse[pc.lse_off + row] * VKT_LOG2E;
        if (i < pc.T) delta[pc.d_off + row] = dd;
    }
    uint wg_kend = causal ? t_last + 1 : pc.T;

    for (uint j0 = att_seg(b, t_first); j0 < wg_kend; j0 += BC) {
        if (!causal && att_seg(b, j0) > t_last) break;  // keys of documents after all the tile's rows
        uint kb[BC], vb[BC];
        [[unroll]] for (uint jj = 0; jj < BC; jj++) {
            uint j = min(j0 + jj, pc.T - 1);
            kb[jj] = att_row(pc.k_off, pc.k_stride, b, j, kvh);
            vb[jj] = att_row(pc.v_off, pc.v_stride, b, j, kvh);
        }
        float s[R * BC], dp[R * BC];  // scores and do . v, then s becomes dS
        [[unroll]] for (uint e = 0; e < R * BC; e++) s[e] = dp[e] = 0.0;
        [[unroll]] for (uint w = 0; w < HS8; w++)
            [[unroll]] for (uint jj = 0; jj < BC; jj++) {
                float kf[8], vf[8];
                k_ld8(kb[jj], w, kf);
                v_ld8(vb[jj], w, vf);
                [[unroll]] for (uint r = 0; r < R; r++)
                    [[unroll]] for (uint t = 0; t < 8; t++) {
                        s[r * BC + jj] = fma(qr[r * RW + 8 * w + t], kf[t], s[r * BC + jj]);
                        dp[r * BC + jj] = fma(dor[r * RW + 8 * w + t], vf[t], dp[r * BC + jj]);
                    }
            }
        [[unroll]] for (uint jj = 0; jj < BC; jj++) {
            uint j = j0 + jj, jseg = causal ? 0u : att_seg(b, min(j, pc.T - 1));
            [[unroll]] for (uint r = 0; r < R; r++) {
                uint e = r * BC + jj;
                bool vis = j >= kstart[r] && j < kend[r] && jseg <= i0 + r * WG;
                s[e] = vis ? att_exp2(s[e] - lse2[r]) * (dp[e] - di[r]) : 0.0;
            }
        }
        [[unroll]] for (uint w = 0; w < HS8; w++)
            [[unroll]] for (uint jj = 0; jj < BC; jj++) {
                float kf[8];
                k_ld8(kb[jj], w, kf);
                [[unroll]] for (uint r = 0; r < R; r++)
                    [[unroll]] for (uint t = 0; t < 8; t++)
                        acc[r * RW + 8 * w + t] = fma(s[r * BC + jj], kf[t], acc[r * RW + 8 * w + t]);
            }
    }
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG;
        if (i >= pc.T) continue;
        uint dqbase = att_row(pc.dq_off, pc.dq_stride, b, i, h);
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float f[8];
            [[unroll]] for (uint t = 0; t < 8; t++) f[t] = acc[r * RW + 8 * w + t] * pc.scale;
            dq_st8(dqbase, w, f);
        }
    }
}
