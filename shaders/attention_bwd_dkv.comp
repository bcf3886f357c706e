#version 450
// Attention backward, part 2: dk and dv, after attention_bwd_dq has written D = rowsum(do * o).
//   P_ij = exp(scale q_i.k_j - lse_i),  dv_j = sum_i P_ij do_i,
//   dS_ij = P_ij (do_i . v_j - D_i),    dk_j = scale sum_i dS_ij q_i
// where i runs over the query rows that see key j (attention.glsl's masks: i >= j under the causal
// mask, and i in j's document when packed) of every query head
// that shares kv head j's head (grouped-query attention: heads kvh*G .. kvh*G + G-1, G = NH / KVH).
// One invocation owns R key rows: k, v and both accumulators stay in registers and the sums run in a
// fixed order (heads, then rows ascending), so results are deterministic without atomics.
// This file is the GPU `tiled` variant (BC q / do rows with their lse and D staged in shared memory); CPU
// drivers run attention_bwd_dkv_row.comp. dk and dv are overwritten.
//! variant attention_bwd_dkv_tiled
//! variant attention_bwd_dkv_tiled_vec4 -DVKT_VEC4=1
//! variant attention_bwd_dkv_tiled_f16 -DVKT_F16=1
//! variant attention_bwd_dkv_tiled_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention.glsl"

ATT_IN(0, Q, q)
ATT_IN(1, K, k)
ATT_IN(2, V, v)
ATT_IN(3, DO, dout)
layout(binding = 4) readonly buffer Lse { float lse[]; };
layout(binding = 5) readonly buffer Dd { float delta[]; };
ATT_SEG(6)
ATT_OUT(7, DK, dk)
ATT_OUT(8, DV, dv)

shared vec4 qs[BC * HS4];
shared vec4 dos[BC * HS4];
shared float ls[BC];
shared float dls[BC];
shared uint qsegs[BC];
#define QRY(ii, c) qs[(ii) * HS4 + (c)]
#define DOUT(ii, c) dos[(ii) * HS4 + (c)]
#define LSE2(ii) ls[ii]
#define DELTA(ii) dls[ii]
#define QSEG(ii) qsegs[ii]

vec4 kr[R * HS4];   // k * scale * log2(e), key r at [r * HS4]
vec4 vr[R * HS4];
vec4 dka[R * HS4];  // dk / scale
vec4 dva[R * HS4];

void main() {
    uint n_tiles = (pc.T + WG * R - 1) / (WG * R);
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    uint tile = g - bh * n_tiles;  // lowest key tiles first: under a causal mask they see the most rows
    uint kvh = bh % pc.KVH, b = bh / pc.KVH, group = pc.NH / pc.KVH;
    if (b >= pc.n_batch) return;  // grid padding (whole workgroup: no barrier is skipped)
    uint t_first = tile * WG * R, t_last = min(pc.T, t_first + WG * R) - 1;  // the tile's keys
    uint j0 = t_first + gl_LocalInvocationID.x;  // keys j0 + r * WG
    bool causal = att_causal();
    // Key j is seen by the query rows i >= istart whose document starts at or before j: rows from j
    // (causal) or from j's document start (bidirectional), up to the end of j's document.
    uint istart[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint j = j0 + r * WG, jr = min(j, pc.T - 1);
        istart[r] = causal ? j : att_seg(b, jr);
        uint kbase = att_row(pc.k_off, pc.k_stride, b, jr, kvh);
        uint vbase = att_row(pc.v_off, pc.v_stride, b, jr, kvh);
        [[unroll]] for (uint c = 0; c < HS4; c++) {
            kr[r * HS4 + c] = k_ld(kbase, c) * pc.scale_log2;
            vr[r * HS4 + c] = v_ld(vbase, c);
            dka[r * HS4 + c] = vec4(0.0);
            dva[r * HS4 + c] = vec4(0.0);
        }
    }
    uint wg_istart = causal ? t_first : att_seg(b, t_first);  // the workgroup's keys: rows from wg_istart

    for (uint hg = 0; hg < group; hg++) {
        uint h = kvh * group + hg;
        uint rows = (b * pc.NH + h) * pc.T;
        for (uint i0 = wg_istart; i0 < pc.T; i0 += BC) {
            if (att_seg(b, i0) > t_last) break;  // rows of documents after all the tile's keys
            uint nt = min(BC, pc.T - i0);
            barrier();
            for (uint e = gl_LocalInvocationID.x; e < nt * HS4; e += WG) {
                uint ii = e / HS4, c = e - ii * HS4;
                qs[e] = q_ld(att_row(pc.q_off, pc.q_stride, b, i0 + ii, h), c);
                dos[e] = dout_ld(att_row(pc.do_off, pc.NH * HS, b, i0 + ii, h), c);
            }
            for (uint ii = gl_LocalInvocationID.x; ii < nt; ii += WG) {
                ls[ii] = lse[pc.lse_off + rows + i0 + ii] * VKT_LOG2E;
                dls[ii] = delta[pc.d_off + rows + i0 + ii];
                qsegs[ii] = att_seg(b, i0 + ii);
            }
            barrier();
            for (uint ii = 0; ii < BC; ii++) {
                if (ii >= nt) break;
                // Rereads shared memory for the second use instead of holding 2 HS more registers.
                vec4 x[R], dp[R];
                [[unroll]] for (uint r = 0; r < R; r++) x[r] = dp[r] = vec4(0.0);
                [[unroll]] for (uint c = 0; c < HS4; c++) {
                    vec4 qv = QRY(ii, c), dov = DOUT(ii, c);
                    [[unroll]] for (uint r = 0; r < R; r++) {
                        x[r] += qv * kr[r * HS4 + c];
                        dp[r] += dov * vr[r * HS4 + c];
                    }
                }
                float l2 = LSE2(ii), dl = DELTA(ii), p[R], ds[R];
                uint qseg = QSEG(ii);
                [[unroll]] for (uint r = 0; r < R; r++) {
                    bool vis = i0 + ii >= istart[r] && qseg <= j0 + r * WG;
                    p[r] = vis ? att_exp2(att_sum(x[r]) - l2) : 0.0;
                    ds[r] = p[r] * (att_sum(dp[r]) - dl);
                }
                [[unroll]] for (uint c = 0; c < HS4; c++) {
                    vec4 qv = QRY(ii, c), dov = DOUT(ii, c);
                    [[unroll]] for (uint r = 0; r < R; r++) {
                        dva[r * HS4 + c] += p[r] * dov;
                        dka[r * HS4 + c] += ds[r] * qv;
                    }
                }
            }
        }
    }
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint j = j0 + r * WG;
        if (j >= pc.T) continue;
        uint dkbase = att_row(pc.dk_off, pc.dk_stride, b, j, kvh);
        uint dvbase = att_row(pc.dv_off, pc.dv_stride, b, j, kvh);
        [[unroll]] for (uint c = 0; c < HS4; c++) {
            dk_st(dkbase, c, dka[r * HS4 + c] * pc.scale);
            dv_st(dvbase, c, dva[r * HS4 + c]);
        }
    }
}
