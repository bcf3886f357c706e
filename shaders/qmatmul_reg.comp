#version 450
// Linear layers on a frozen, stored weight for CPU drivers: y (+)= x W^T (+ bias) (TRANS_B) and
// dx (+)= dy W (!TRANS_B), W in f32 / f16 / bf16 / int8 / NF4 (common/qweight.glsl), dequantized in
// registers as it is loaded; f32 arithmetic. No barriers, nothing shared between invocations.
//
// Why this shape (lavapipe, Mesa 22.3): a subgroup of 8 invocations is one SIMD vector, every buffer load
// is a per-lane loop with bounds checks, so loads cost far more than arithmetic and their width is nearly
// free. The weight is therefore read in groups of 8 consecutive elements of a W row, one load each (two
// for f32): 32 bits hold 8 NF4 codes, 64 bits 8 int8 values. Dequantizing (shift, mask, table, one
// scale multiply) happens once per weight per workgroup tile and feeds TM FMAs. As in matmul_wide.comp, A
// is read 8 floats per load when its rows and window are 8-aligned (A_VEC), and a workgroup owns TM rows
// and WG * TN columns, TN contiguous per invocation; consecutive workgroups walk M (M_FAST) so they reuse
// the same weight slab from cache.
//   forward  (TRANS_B):  each invocation's TN columns are TN rows of W; per 8-deep k block it loads TN
//                        weight groups and TM A words for 8 * TM * TN FMAs.
//   input grad (!TRANS_B): its TN columns are TN / 8 weight groups of one W row per k. The host runs it
//                        with TN 16: the groups of a row share one scale (an NF4 block maximum costs 3
//                        dependent loads, as much as the data of 3 groups) and each A word feeds 16 columns.
// W_GROUP holds when in, the dispatch's first W column and its k (forward) or n (input grad) extent are
// multiples of 8; otherwise every weight is loaded on its own (qw_elem), correct for any shape (NF4
// blocks straddling rows included) but slower. Rows and columns past the edge are clamped for loads and
// skipped at the store.
//! variant qmatmul_reg_f32 -DQW_F32=1
//! variant qmatmul_reg_f16 -DQW_F16=1
//! variant qmatmul_reg_bf16 -DQW_BF16=1
//! variant qmatmul_reg_int8 -DQW_INT8=1
//! variant qmatmul_reg_nf4 -DQW_NF4=1
//! variant qmatmul_reg_f32_act_f16 -DQW_F32=1 -DVKT_F16=1
//! variant qmatmul_reg_f16_act_f16 -DQW_F16=1 -DVKT_F16=1
//! variant qmatmul_reg_bf16_act_f16 -DQW_BF16=1 -DVKT_F16=1
//! variant qmatmul_reg_int8_act_f16 -DQW_INT8=1 -DVKT_F16=1
//! variant qmatmul_reg_nf4_act_f16 -DQW_NF4=1 -DVKT_F16=1
//! variant qmatmul_reg_f32_act_bf16 -DQW_F32=1 -DVKT_BF16=1
//! variant qmatmul_reg_f16_act_bf16 -DQW_F16=1 -DVKT_BF16=1
//! variant qmatmul_reg_bf16_act_bf16 -DQW_BF16=1 -DVKT_BF16=1
//! variant qmatmul_reg_int8_act_bf16 -DQW_INT8=1 -DVKT_BF16=1
//! variant qmatmul_reg_nf4_act_bf16 -DQW_NF4=1 -DVKT_BF16=1
// _act_f16 / _act_bf16: x (dy), y (dx) and bias in 16-bit storage (mixed precision activations; see
// qmatmul_io.glsl); the weight formats are unchanged.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

layout(constant_id = 0) const uint WG = 8;        // invocations per workgroup, all along N
layout(constant_id = 1) const uint TM = 16;       // rows per workgroup
layout(constant_id = 2) const uint TN = 8;        // contiguous columns per invocation (multiple of 8)
layout(constant_id = 3) const bool TRANS_B = true;
layout(constant_id = 4) const bool A_VEC = false;
layout(constant_id = 5) const bool W_GROUP = false;
layout(constant_id = 6) const bool M_FAST = true;
layout(local_size_x_id = 0) in;

#include "qmatmul_io.glsl"
#include "qweight.glsl"

#if defined(VKT_F16) || defined(VKT_BF16)
layout(binding = 0) readonly buffer A8 { uvec4 a8[]; };  // 8 halves per 16-byte word
#else
layout(binding = 0) readonly buffer A8 { u64vec4 a8[]; };
#endif

// A(i, k .. k + 7); k % 8 == 0.
void load_a8(uint i, uint k, out float f[8]) {
    uint ia = pc.off_a + i * pc.lda + k;
    if (A_VEC) {
#if defined(VKT_F16)
        uvec4 v = a8[ia / 8];
        for (uint c = 0; c < 4; c++) {
            vec2 h = unpackHalf2x16(v[c]);
            f[2 * c] = h.x, f[2 * c + 1] = h.y;
        }
#elif defined(VKT_BF16)
        uvec4 v = a8[ia / 8];
        for (uint c = 0; c < 4; c++)
            f[2 * c] = uintBitsToFloat(v[c] << 16), f[2 * c + 1] = uintBitsToFloat(v[c] & 0xffff0000u);
#else
        u64vec4 v = a8[ia / 8];
        for (uint c = 0; c < 4; c++) {
            uvec2 u = unpackUint2x32(v[c]);
            f[2 * c] = uintBitsToFloat(u.x), f[2 * c + 1] = uintBitsToFloat(u.y);
        }
#endif
    } else {
        for (uint c = 0; c < 8; c++) f[c] = VKT_LOAD(a[ia + c]);
    }
}

// Input gradient: op(W)(kr, j0 .. j0 + TN - 1), i.e. TN columns of W row w_row0 + kr, dequantized. Group g
// covers columns g0 .. g0 + 7 (clamped to the last whole group: n % 8 == 0 under W_GROUP); groups after the
// first continue the same W row (e = previous + 8, or the same group when clamped), so the scale is
// reloaded only where a new NF4 block (int8 row) starts.
void dx_w_row(uint kr, uint j0, out float bv[TN]) {
    float sc = 1.0;
    for (uint g = 0; g < TN / 8; g++) {
        uint g0 = W_GROUP ? min(j0 + 8 * g, pc.n - 8u) : j0 + 8 * g;
        float f[8];
        uint e = qm_we(kr, g0);
        if (W_GROUP && (g == 0u || qw_scale_changes(e))) sc = qw_scale(e);
        if (W_GROUP) qw_group8_scaled(e, sc, f);
        else
            for (uint c = 0; c < 8; c++) f[c] = qw_elem(qm_we(kr, min(g0 + c, pc.n - 1u)));
        for (uint c = 0; c < 8; c++) bv[8 * g + c] = f[c];
    }
}

void main() {
    uint i0 = (M_FAST ? gl_WorkGroupID.x : gl_WorkGroupID.y) * TM;
    uint j0 = ((M_FAST ? gl_WorkGroupID.y : gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x) * TN;
    uint ii[TM];
    for (uint i = 0; i < TM; i++) ii[i] = min(i0 + i, pc.m - 1u);
    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    const uint K8 = pc.k & ~7u;

    if (TRANS_B) {
        uint jj[TN];
        for (uint j = 0; j < TN; j++) jj[j] = min(j0 + j, pc.n - 1u);
        // Each column walks one W row: its scale changes only at NF4 block starts (uniform across the
        // workgroup when in % 64 == 0), so the 3 loads of a block maximum are paid once per 64 weights.
        float sc[TN];
        for (uint j = 0; j < TN; j++) sc[j] = 1.0;
        for (uint k = 0; k < K8; k += 8) {
            float bv[TN][8];
            for (uint j = 0; j < TN; j++) {
                uint e = qm_we(k, jj[j]);
                if (W_GROUP && (k == 0u || qw_scale_changes(e))) sc[j] = qw_scale(e);
                if (W_GROUP) qw_group8_scaled(e, sc[j], bv[j]);
                else
                    for (uint kk = 0; kk < 8; kk++) bv[j][kk] = qw_elem(qm_we(k + kk, jj[j]));
            }
            for (uint i = 0; i < TM; i++) {
                float av[8];
                load_a8(ii[i], k, av);
                for (uint kk = 0; kk < 8; kk++)
                    for (uint j = 0; j < TN; j++) acc[i][j] = fma(av[kk], bv[j][kk], acc[i][j]);
            }
        }
        for (uint k = K8; k < pc.k; k++) {
            float bv[TN];
            for (uint j = 0; j < TN; j++) bv[j] = qw_elem(qm_we(k, jj[j]));
            for (uint i = 0; i < TM; i++) {
                float av = VKT_LOAD(a[pc.off_a + ii[i] * pc.lda + k]);
                for (uint j = 0; j < TN; j++) acc[i][j] = fma(av, bv[j], acc[i][j]);
            }
        }
    } else {
        // Whole 8-deep blocks with constant trip counts (a loop to a variable kn would index av at run
        // time, which lavapipe spills to per-lane scratch memory), then the k % 8 tail one row at a time.
        for (uint k = 0; k < K8; k += 8) {
            float av[TM][8];
            for (uint i = 0; i < TM; i++) load_a8(ii[i], k, av[i]);
            for (uint kk = 0; kk < 8; kk++) {
                float bv[TN];
                dx_w_row(k + kk, j0, bv);
                for (uint i = 0; i < TM; i++)
                    for (uint j = 0; j < TN; j++) acc[i][j] = fma(av[i][kk], bv[j], acc[i][j]);
            }
        }
        for (uint k = K8; k < pc.k; k++) {
            float bv[TN];
            dx_w_row(k, j0, bv);
            for (uint i = 0; i < TM; i++) {
                float av = VKT_LOAD(a[pc.off_a + ii[i] * pc.lda + k]);
                for (uint j = 0; j < TN; j++) acc[i][j] = fma(av, bv[j], acc[i][j]);
            }
        }
    }
    // A clamped group (input grad) only ever covers columns >= n here, which are not stored.
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            if (i0 + i < pc.m && j0 + j < pc.n) qm_store(i0 + i, j0 + j, acc[i][j]);
}
