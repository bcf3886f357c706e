#version 450
// Attention backward part 2 (dk, dv) for CPU drivers: the `row` variant of attention_bwd_dkv.comp, which
// holds the math and the GPU `tiled` variant. Each invocation owns R key rows (k, v and both accumulators
// in private arrays); per block of BC query rows (of every query head of the kv head's group, heads then
// rows ascending: a fixed order, deterministic) the kernel runs register-tile matmuls (scores and
// dP = v . do, then dv += P do and dk += dS q) in which every loaded 8-element word of a q or do row
// feeds R * 8 FMAs. All tile loops are unrolled (constant indices into private arrays); query rows past
// the end are clamped and masked. See attention_fwd_row.comp for why.
//! variant attention_bwd_dkv_row
//! variant attention_bwd_dkv_row_vec4 -DVKT_VEC4=1
//! variant attention_bwd_dkv_row_vec8 -DVKT_VEC8=1
//! variant attention_bwd_dkv_row_f16 -DVKT_F16=1
//! variant attention_bwd_dkv_row_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention.glsl"
#include "attention_row.glsl"

ATT_IN8(0, Q, q)
ATT_IN8(1, K, k)
ATT_IN8(2, V, v)
ATT_IN8(3, DO, dout)
layout(binding = 4) readonly buffer Lse { float lse[]; };
layout(binding = 5) readonly buffer Dd { float delta[]; };
ATT_SEG(6)
ATT_OUT8(7, DK, dk)
ATT_OUT8(8, DV, dv)

void main() {
    uint n_tiles = (pc.T + WG * R - 1) / (WG * R);
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    uint tile = g - bh * n_tiles;  // lowest key tiles first: under a causal mask they see the most rows
    uint kvh = bh % pc.KVH, b = bh / pc.KVH, group = pc.NH / pc.KVH;
    if (b >= pc.n_batch) return;  // grid padding
    uint t_first = tile * WG * R, t_last = min(pc.T, t_first + WG * R) - 1;  // the tile's keys
    uint j0 = t_first + gl_LocalInvocationID.x;                              // keys j0 + r * WG
    bool causal = att_causal();
    const uint RW = HS8 * 8;  // floats per row in the private arrays
    float kr[R * RW];         // k * scale * log2(e), key r at [r * RW]
    float vr[R * RW];
    float dka[R * RW];        // dk / scale
    float dva[R * RW];
    // Key j is seen by the query rows i >= istart whose document starts at or before j.
    uint istart[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint j = j0 + r * WG, jr = min(j, pc.T - 1);
        istart[r] = causal ? j : att_seg(b, jr);
        uint kbase = att_row(pc.k_off, pc.k_stride, b, jr, kvh);
        uint vbase = att_row(pc.v_off, pc.v_stride, b, jr, kvh);
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float kf[8], vf[8];
            k_ld8(kbase, w, kf);
            v_ld8(vbase, w, vf);
            [[unroll]] for (uint t = 0; t < 8; t++) {
                kr[r * RW + 8 * w + t] = kf[t] * pc.scale_log2;
                vr[r * RW + 8 * w + t] = vf[t];
                dka[r * RW + 8 * w + t] = 0.0;
                dva[r * RW + 8 * w + t] = 0.0;
            }
        }
    }
    uint wg_istart = causal ? t_first : att_seg(b, t_first);  // the workgroup's keys: rows from wg_istart

    for (uint hg = 0; hg < group; hg++) {
        uint h = kvh * group + hg;
        uint rows = (b * pc.NH + h) * pc.T;
        for (uint i0 = wg_istart; i0 < pc.T; i0 += BC) {
            if (att_seg(b, i0) > t_last) break;  // rows of documents after all the tile's keys
            uint qb[BC], db[BC], qseg[BC];
            float l2[BC], dl[BC];
            [[unroll]] for (uint ii = 0; ii < BC; ii++) {
                uint i = min(i0 + ii, pc.T - 1);
                qb[ii] = att_row(pc.q_off, pc.q_stride, b, i, h);
                db[ii] = att_row(pc.do_off, pc.NH * HS, b, i, h);
                l2[ii] = lse[pc.lse_off + rows + i] * VKT_LOG2E;
                dl[ii] = delta[pc.d_off + rows + i];
                qseg[ii] = att_seg(b, i);
            }
            float s[R * BC], dp[R * BC];  // scores and v . do, then P and dS
            [[unroll]] for (uint e = 0; e < R * BC; e++) s[e] = dp[e] = 0.0;
            [[unroll]] for (uint w = 0; w < HS8; w++)
                [[unroll]] for (uint ii = 0; ii < BC; ii++) {
                    float qf[8], df[8];
                    q_ld8(qb[ii], w, qf);
                    dout_ld8(db[ii], w, df);
                    [[unroll]] for (uint r = 0; r < R; r++)
                        [[unroll]] for (uint t = 0; t < 8; t++) {
                            s[r * BC + ii] = fma(kr[r * RW + 8 * w + t], qf[t], s[r * BC + ii]);
                            dp[r * BC + ii] = fma(vr[r * RW + 8 * w + t], df[t], dp[r * BC + ii]);
                        }
                }
            [[unroll]] for (uint ii = 0; ii < BC; ii++) {
                uint i = i0 + ii;
                [[unroll]] for (uint r = 0; r < R; r++) {
                    uint e = r * BC + ii;
                    bool vis = i < pc.T && i >= istart[r] && qseg[ii] <= j0 + r * WG;
                    s[e] = vis ? att_exp2(s[e] - l2[ii]) : 0.0;
                    dp[e] = s[e] * (dp[e] - dl[ii]);
                }
            }
            [[unroll]] for (uint w = 0; w < HS8; w++)
                [[unroll]] for (uint ii = 0; ii < BC; ii++) {
                    float qf[8], df[8];
                    q_ld8(qb[ii], w, qf);
                    dout_ld8(db[ii], w, df);
                    [[unroll]] for (uint r = 0; r < R; r++)
                        [[unroll]] for (uint t = 0; t < 8; t++) {
                            uint e = r * RW + 8 * w + t;
                            dva[e] = fma(s[r * BC + ii], df[t], dva[e]);
                            dka[e] = fma(dp[r * BC + ii], qf[t], dka[e]);
                        }
                }
        }
    }
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint j = j0 + r * WG;
        if (j >= pc.T) continue;
        uint dkbase = att_row(pc.dk_off, pc.dk_stride, b, j, kvh);
        uint dvbase = att_row(pc.dv_off, pc.dv_stride, b, j, kvh);
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float fk[8], fv[8];
            [[unroll]] for (uint t = 0; t < 8; t++) {
                fk[t] = dka[r * RW + 8 * w + t] * pc.scale;
                fv[t] = dva[r * RW + 8 * w + t];
            }
            dk_st8(dkbase, w, fk);
            dv_st8(dvbase, w, fv);
        }
    }
}
