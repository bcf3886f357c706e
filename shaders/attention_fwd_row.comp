#version 450
// Attention forward for CPU drivers (the `row` variant; attention_fwd.comp holds the math and the GPU
// `tiled` variant). Same algorithm: online softmax over key blocks, lse saved for the backward.
// Shape (lavapipe: see attention.glsl): each invocation owns R query rows, and a key block is BC keys
// that every row of the workgroup shares: each key or value load has one address across the subgroup,
// though Mesa 22.3 still loads it lane by lane (the address depends on the workgroup id and the block;
// see shaders/LAVAPIPE.md), so what counts is the work per load. Per block the kernel is two small
// register-tile matmuls: scores s[R][BC] = q . k, then acc[R][HS] += p[R][BC] v, with every loaded
// key / value word feeding R * 8 FMAs and every q / acc element (registers or stack, never a buffer)
// feeding BC. All loops over the tile are unrolled, so every private array has constant indices (a
// dynamic index makes LLVM address the array per lane). Blocks are whole: keys past the workgroup's end
// are clamped for loading and masked.
//! variant attention_fwd_row
//! variant attention_fwd_row_vec4 -DVKT_VEC4=1
//! variant attention_fwd_row_vec8 -DVKT_VEC8=1
//! variant attention_fwd_row_f16 -DVKT_F16=1
//! variant attention_fwd_row_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "attention.glsl"
#include "attention_row.glsl"

ATT_IN8(0, Q, q)
ATT_IN8(1, K, k)
ATT_IN8(2, V, v)
ATT_SEG(3)
ATT_OUT8(4, O, o)
layout(binding = 5) writeonly buffer Lse { float lse[]; };

void main() {
    uint n_tiles = (pc.T + WG * R - 1) / (WG * R);
    uint g = vkt_group_index();
    uint bh = g / n_tiles;
    // Highest tiles first: under a causal mask they carry the most keys, so they should start early.
    uint tile = n_tiles - 1 - (g - bh * n_tiles);
    uint h = bh % pc.NH, b = bh / pc.NH, kvh = h / (pc.NH / pc.KVH);
    if (b >= pc.n_batch) return;  // grid padding
    uint t_first = tile * WG * R, t_last = min(pc.T, t_first + WG * R) - 1;  // the tile's rows
    uint i0 = t_first + gl_LocalInvocationID.x;                              // rows i0 + r * WG
    bool causal = att_causal();
    const uint RW = HS8 * 8;  // floats per row in qr and acc
    float qr[R * RW];         // q * scale * log2(e), row r at [r * RW]
    float acc[R * RW];        // sum_j 2^(s_j - m) v_j
    float m[R], l[R];
    uint kstart[R], kend[R];
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG, ir = min(i, pc.T - 1);
        kstart[r] = att_seg(b, ir);  // row i sees keys [kstart, kend) of its document
        kend[r] = causal ? i + 1 : pc.T;
        uint qbase = att_row(pc.q_off, pc.q_stride, b, ir, h);
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float f[8];
            q_ld8(qbase, w, f);
            [[unroll]] for (uint t = 0; t < 8; t++) {
                qr[r * RW + 8 * w + t] = f[t] * pc.scale_log2;
                acc[r * RW + 8 * w + t] = 0.0;
            }
        }
        m[r] = VKT_NEG_BIG;
        l[r] = 0.0;
    }
    uint wg_kend = causal ? t_last + 1 : pc.T;  // the workgroup's keys: [seg of its first row, wg_kend)

    for (uint j0 = att_seg(b, t_first); j0 < wg_kend; j0 += BC) {
        if (!causal && att_seg(b, j0) > t_last) break;  // keys of documents after all the tile's rows
        uint kb[BC], vb[BC];
        [[unroll]] for (uint jj = 0; jj < BC; jj++) {
            uint j = min(j0 + jj, pc.T - 1);
            kb[jj] = att_row(pc.k_off, pc.k_stride, b, j, kvh);
            vb[jj] = att_row(pc.v_off, pc.v_stride, b, j, kvh);
        }
        float s[R * BC];  // scores, then weights 2^(s - m)
        [[unroll]] for (uint e = 0; e < R * BC; e++) s[e] = 0.0;
        [[unroll]] for (uint w = 0; w < HS8; w++)
            [[unroll]] for (uint jj = 0; jj < BC; jj++) {
                float kf[8];
                k_ld8(kb[jj], w, kf);
                [[unroll]] for (uint r = 0; r < R; r++)
                    [[unroll]] for (uint t = 0; t < 8; t++)
                        s[r * BC + jj] = fma(qr[r * RW + 8 * w + t], kf[t], s[r * BC + jj]);
            }
        bool vis[R * BC];
        [[unroll]] for (uint jj = 0; jj < BC; jj++) {
            uint j = j0 + jj, jseg = causal ? 0u : att_seg(b, min(j, pc.T - 1));
            [[unroll]] for (uint r = 0; r < R; r++)
                vis[r * BC + jj] = j >= kstart[r] && j < kend[r] && jseg <= i0 + r * WG;
        }
        float corr[R];
        [[unroll]] for (uint r = 0; r < R; r++) {
            float mb = m[r];
            [[unroll]] for (uint jj = 0; jj < BC; jj++)
                if (vis[r * BC + jj]) mb = max(mb, s[r * BC + jj]);
            corr[r] = att_exp2(m[r] - mb);
            float lb = 0.0;
            [[unroll]] for (uint jj = 0; jj < BC; jj++) {
                float p = vis[r * BC + jj] ? att_exp2(s[r * BC + jj] - mb) : 0.0;
                s[r * BC + jj] = p;
                lb += p;
            }
            l[r] = l[r] * corr[r] + lb;
            m[r] = mb;
        }
        // One word of every value row of the block, then each accumulator element once: rescaled, BC
        // FMAs in a register, stored (rather than a load and a store of the spilled array per FMA).
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float vf[BC * 8];
            [[unroll]] for (uint jj = 0; jj < BC; jj++) {
                float f[8];
                v_ld8(vb[jj], w, f);
                [[unroll]] for (uint t = 0; t < 8; t++) vf[jj * 8 + t] = f[t];
            }
            [[unroll]] for (uint r = 0; r < R; r++)
                [[unroll]] for (uint t = 0; t < 8; t++) {
                    float a = acc[r * RW + 8 * w + t] * corr[r];
                    [[unroll]] for (uint jj = 0; jj < BC; jj++) a = fma(s[r * BC + jj], vf[jj * 8 + t], a);
                    acc[r * RW + 8 * w + t] = a;
                }
        }
    }
    [[unroll]] for (uint r = 0; r < R; r++) {
        uint i = i0 + r * WG;
        if (i >= pc.T) continue;
        float inv = 1.0 / l[r];
        uint obase = att_row(pc.o_off, pc.NH * HS, b, i, h);
        [[unroll]] for (uint w = 0; w < HS8; w++) {
            float f[8];
            [[unroll]] for (uint t = 0; t < 8; t++) f[t] = acc[r * RW + 8 * w + t] * inv;
            o_st8(obase, w, f);
        }
        lse[pc.lse_off + (b * pc.NH + h) * pc.T + i] = (m[r] + log2(l[r])) * VKT_LN2;
    }
}
