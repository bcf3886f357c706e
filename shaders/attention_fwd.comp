#version 450
// Fused causal / bidirectional attention forward, flash-attention style: one pass over key blocks with an
// online softmax (running max m and running sum l, rescaling the output accumulator when m grows), so the
// T x T score matrix never exists. Saves the row log-sum-exp (natural log) for the backward.
//   o[b,i,h,:] = sum_j softmax_j(scale * q[b,i,h,:] . k[b,j,h/G,:]) v[b,j,h/G,:],  G = NH / KVH
// over the keys j that query i sees (causal or bidirectional, within i's document: attention.glsl).
// This file is the `tiled` variant, the GPU default: one query row per invocation (q, pre-scaled into
// base-2 units, and the accumulator in registers), and the workgroup stages BC keys and values in shared
// memory per block (two barriers per block), so every row of the workgroup reuses them, cutting global
// traffic WG-fold. CPU drivers (lavapipe), where barriers and shared memory cost far more than cached
// loads, run the `row` variant instead: attention_fwd_row.comp (attention.h says which runs where).
// References: Milakov & Gimelshein 2018 (online softmax); Dao et al. 2022 (FlashAttention).
//! variant attention_fwd_tiled
//! variant attention_fwd_tiled_vec4 -DVKT_VEC4=1
//! variant attention_fwd_tiled_f16 -DVKT_F16=1
//! variant attention_fwd_tiled_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention.glsl"

ATT_IN(0, Q, q)
ATT_IN(1, K, k)
ATT_IN(2, V, v)
ATT_SEG(3)
ATT_OUT(4, O, o)
layout(binding = 5) writeonly buffer Lse { float lse[]; };

shared vec4 ks[BC * HS4];
shared vec4 vs[BC * HS4];
#define KEY(jj, c) ks[(jj) * HS4 + (c)]
#define VAL(jj, c) vs[(jj) * HS4 + (c)]

vec4 qr[R * HS4];   // q * scale * log2(e), row r at [r * HS4]
vec4 acc[R * HS4];  // sum_j 2^(s_j - m) v_j
float s[R * BC];
float m[R], l[R];

// Whether query i (its document starting at kstart, seeing keys below kend) sees key j, whose document
// starts at jseg (read only for bidirectional masks).
bool visible(uint j, uint kstart, uint kend, uint jseg, uint i) { return j >= kstart && j < kend && jseg <= i; }

void main() {
    uint n_tiles = (pc.T + WG * R - 1) / (WG * R);
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    // Highest tiles first: under a causal mask they carry the most keys, so they should start early.
    uint tile = n_tiles - 1 - (g - bh * n_tiles);
    uint h = bh % pc.NH, b = bh / pc.NH, kvh = h / (pc.NH / pc.KVH);
    if (b >= pc.n_batch) return;  // grid padding (whole workgroup: no barrier is skipped)
    uint t_first = tile * WG * R, t_last = min(pc.T, t_first + WG * R) - 1;  // the tile's rows
    uint i0 = t_first + gl_LocalInvocationID.x;  // rows i0 + r * WG
    bool causal = att_causal();
    uint kstart[R], kend[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG, ir = min(i, pc.T - 1);
        kstart[r] = att_seg(b, ir);          // row i sees keys [kstart, kend) of its document
        kend[r] = causal ? i + 1 : pc.T;
        uint qbase = att_row(pc.q_off, pc.q_stride, b, ir, h);
        [[unroll]] for (uint c = 0; c < HS4; c++) {
            qr[r * HS4 + c] = q_ld(qbase, c) * pc.scale_log2;
            acc[r * HS4 + c] = vec4(0.0);
        }
        m[r] = VKT_NEG_BIG;
        l[r] = 0.0;
    }
    uint wg_kend = causal ? t_last + 1 : pc.T;  // the workgroup's keys: [seg of its first row, wg_kend)

    for (uint j0 = att_seg(b, t_first); j0 < wg_kend; j0 += BC) {
        if (!causal && att_seg(b, j0) > t_last) break;  // keys of documents after all the tile's rows
        uint nt = min(BC, wg_kend - j0);
        barrier();  // every row is done with the previous tile
        for (uint e = gl_LocalInvocationID.x; e < nt * HS4; e += WG) {
            uint jj = e / HS4, c = e - jj * HS4;
            ks[e] = k_ld(att_row(pc.k_off, pc.k_stride, b, j0 + jj, kvh), c);
            vs[e] = v_ld(att_row(pc.v_off, pc.v_stride, b, j0 + jj, kvh), c);
        }
        barrier();
        float mb[R];
        [[unroll]] for (uint r = 0; r < R; r++) mb[r] = m[r];
        for (uint jj = 0; jj < BC; jj++) {
            if (jj >= nt) break;
            vec4 a[R];
            [[unroll]] for (uint r = 0; r < R; r++) a[r] = vec4(0.0);
            [[unroll]] for (uint c = 0; c < HS4; c++) {
                vec4 kv = KEY(jj, c);
                [[unroll]] for (uint r = 0; r < R; r++) a[r] += qr[r * HS4 + c] * kv;
            }
            uint jseg = causal ? 0u : att_seg(b, j0 + jj);
            [[unroll]] for (uint r = 0; r < R; r++) {
                float x = visible(j0 + jj, kstart[r], kend[r], jseg, i0 + r * WG) ? att_sum(a[r]) : VKT_NEG_BIG;
                s[r * BC + jj] = x;
                mb[r] = max(mb[r], x);
            }
        }
        [[unroll]] for (uint r = 0; r < R; r++) {
            float corr = att_exp2(m[r] - mb[r]);
            l[r] *= corr;
            [[unroll]] for (uint c = 0; c < HS4; c++) acc[r * HS4 + c] *= corr;
        }
        for (uint jj = 0; jj < BC; jj++) {
            if (jj >= nt) break;
            float p[R];
            uint jseg = causal ? 0u : att_seg(b, j0 + jj);
            [[unroll]] for (uint r = 0; r < R; r++) {
                bool vis = visible(j0 + jj, kstart[r], kend[r], jseg, i0 + r * WG);
                p[r] = vis ? att_exp2(s[r * BC + jj] - mb[r]) : 0.0;
                l[r] += p[r];
            }
            [[unroll]] for (uint c = 0; c < HS4; c++) {
                vec4 vv = VAL(jj, c);
                [[unroll]] for (uint r = 0; r < R; r++) acc[r * HS4 + c] += p[r] * vv;
            }
        }
        [[unroll]] for (uint r = 0; r < R; r++) m[r] = mb[r];
    }
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG;
        if (i >= pc.T) continue;
        float inv = 1.0 / l[r];
        uint obase = att_row(pc.o_off, pc.NH * HS, b, i, h);
        [[unroll]] for (uint c = 0; c < HS4; c++) o_st(obase, c, acc[r * HS4 + c] * inv);
        lse[pc.lse_off + (b * pc.NH + h) * pc.T + i] = (m[r] + log2(l[r])) * VKT_LN2;
    }
}
