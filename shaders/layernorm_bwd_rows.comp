#version 450
// LayerNorm backward for CPU drivers in two barrier-free passes (layernorm_bwd.comp holds the math and the
// fused GPU kernel; ops/layernorm.c picks this pair when C % 8 == 0 and every row starts on an 8-element
// word). With g = dy * w, xhat = ((x - K) - d) * rstd, K the saved mean:
//   _stats: one subgroup per row (common/rows.glsl), its lanes taking the row in words of 8 elements, writes
//     the row's K, d, rstd, mean_c(g), mean_c(g xhat) into one 8-float word of `stats` (the fused kernel's
//     phase 1, kept in memory instead of shared memory).
//   _dx: one invocation per 8-column word of a chunk of R rows: walks the chunk's rows, writes dx
//     (overwritten, or added to) and sums the word's dw, db contributions, then writes the chunk's partials
//     [chunk][c] = sum dy * xhat, [chunk][C + c] = sum dy, which norm_bwd_sum.comp adds in a fixed order.
// Why (lavapipe): a barrier() costs far more than the whole row pass, and every buffer access is a loop over
// the 8 lanes whatever its width, so moving 8 elements per access and reading each row's statistics as one
// word cuts the accesses about 3x against the fused 4-wide kernel. Sums run per word and then per lane, in
// a fixed order (deterministic; not the fused kernel's order, so the last bits may differ from it).
// Storage of x, dy, w, dx: VKT_T (f32, or f16 / bf16 in the _f16 / _bf16 variants); stats, partial: f32.
//! variant layernorm_bwd_stats_vec8 -DVKT_VEC8=1 -DVKT_LN_STATS=1
//! variant layernorm_bwd_stats_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1 -DVKT_LN_STATS=1
//! variant layernorm_bwd_stats_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1 -DVKT_LN_STATS=1
//! variant layernorm_bwd_dx_vec8 -DVKT_VEC8=1
//! variant layernorm_bwd_dx_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant layernorm_bwd_dx_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint R = 16; // rows per chunk (_dx)
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, X, x)
VKT_EW_IN(1, DY, dy)
VKT_EW_IN(2, W, w)
layout(binding = 3) readonly buffer Mean { float mean[]; };
layout(binding = 4) readonly buffer Rstd { float rstd[]; };
VKT_EW_RW(5, DX, dx)
layout(binding = 6) writeonly buffer Partial { u64vec4 partial8[]; }; // f32 words
layout(binding = 7) buffer Stats { u64vec4 stats8[]; };               // f32 words, one per row

layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint x_off; uint dy_off; uint dx_off; uint m_off; uint r_off; uint p_off;
    uint accumulate; uint s_off; uint rows_per_group;
} pc;

u64vec4 f32_pack8(float f[8]) {
    u64vec4 v;
    for (uint c = 0; c < 4; c++) v[c] = packUint2x32(uvec2(floatBitsToUint(f[2 * c]), floatBitsToUint(f[2 * c + 1])));
    return v;
}

void f32_unpack8(u64vec4 v, out float f[8]) {
    for (uint c = 0; c < 4; c++) {
        uvec2 u = unpackUint2x32(v[c]);
        f[2 * c] = uintBitsToFloat(u.x);
        f[2 * c + 1] = uintBitsToFloat(u.y);
    }
}

#ifdef VKT_LN_STATS
void main() {
    vkt_rows_init();
    uint end = vkt_row_end(pc.rows_per_group, pc.n_rows);
    float inv_c = 1.0 / float(pc.C);
    uint n_words = pc.C / 8;
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, gb = pc.dy_off + row * pc.C;
        float k = mean[pc.m_off + row], rs = rstd[pc.r_off + row];
        float s = 0.0, sg = 0.0, sgx = 0.0;
        for (uint c = vkt_lane; c < n_words; c += vkt_lanes) {
            float fx[8], fg[8], fw[8];
            x_ld(xb + 8 * c, 8, fx);
            dy_ld(gb + 8 * c, 8, fg);
            w_ld(8 * c, 8, fw);
            float ws = 0.0, wg = 0.0, wgx = 0.0; // the word's sums first
            [[unroll]] for (uint e = 0; e < 8; e++) {
                float xc = fx[e] - k, g = fg[e] * fw[e];
                ws += xc;
                wg += g;
                wgx += g * xc;
            }
            s += ws, sg += wg, sgx += wgx;
        }
        float d = subgroupAdd(s) * inv_c, mg = subgroupAdd(sg) * inv_c;
        float mgx = rs * (subgroupAdd(sgx) * inv_c - d * mg);
        if (subgroupElect()) {
            float f[8] = float[8](k, d, rs, mg, mgx, 0.0, 0.0, 0.0);
            stats8[pc.s_off / 8 + row] = f32_pack8(f);
        }
    }
}
#else
void main() {
    uint n_words = pc.C / 8;
    uint id = vkt_group_index() * WG + gl_LocalInvocationID.x;
    uint chunk = id / n_words, c = id - chunk * n_words; // this invocation's chunk and column word
    uint r0 = chunk * R, r1 = min(r0 + R, pc.n_rows);
    if (r0 >= pc.n_rows) return;
    float fw[8], accw[8], accb[8];
    w_ld(8 * c, 8, fw);
    for (uint e = 0; e < 8; e++) accw[e] = accb[e] = 0.0;
    for (uint row = r0; row < r1; row++) {
        float st[8], fx[8], fg[8], v[8] = float[8](0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        f32_unpack8(stats8[pc.s_off / 8 + row], st); // K, d, rstd, mean_c(g), mean_c(g xhat)
        x_ld(pc.x_off + row * pc.C + 8 * c, 8, fx);
        dy_ld(pc.dy_off + row * pc.C + 8 * c, 8, fg);
        uint o = pc.dx_off + row * pc.C + 8 * c;
        if (pc.accumulate != 0u) dx_ld(o, 8, v);
        [[unroll]] for (uint e = 0; e < 8; e++) {
            float xh = ((fx[e] - st[0]) - st[1]) * st[2];
            float t = st[2] * ((fg[e] * fw[e] - st[3]) - xh * st[4]);
            v[e] = pc.accumulate != 0u ? v[e] + t : t;
            accw[e] += fg[e] * xh;
            accb[e] += fg[e];
        }
        dx_st(o, 8, v);
    }
    uint p = (pc.p_off + chunk * 2u * pc.C) / 8 + c;
    partial8[p] = f32_pack8(accw);
    partial8[p + n_words] = f32_pack8(accb);
}
#endif
