#version 450
// Linear layers on a frozen, stored weight for GPUs: y (+)= x W^T (+ bias) (TRANS_B) and dx (+)= dy W
// (!TRANS_B), W in f32 / f16 / bf16 / int8 / NF4 (common/qweight.glsl), with shared-memory tiles.
//
// A workgroup computes a BM x BN tile of C. For each BK-deep slice it stages A (f32) and op(W) in shared
// memory, the weight dequantized once on the way in (each staged weight then feeds BM FMAs across the
// workgroup), zero-padded past the edges; every invocation accumulates a TM x TN register tile from it,
// its rows and columns strided by BM/TM and BN/TN so neighbouring invocations read neighbouring shared
// words. Global loads walk each stored matrix's contiguous dimension across invocations: k for A and for
// W in the forward, W's columns (n) in the input gradient. Two barriers per slice. On lavapipe barriers
// are very slow; this variant runs there only when forced (tests).
//! variant qmatmul_smem_f32 -DQW_F32=1
//! variant qmatmul_smem_f16 -DQW_F16=1
//! variant qmatmul_smem_bf16 -DQW_BF16=1
//! variant qmatmul_smem_int8 -DQW_INT8=1
//! variant qmatmul_smem_nf4 -DQW_NF4=1
//! variant qmatmul_smem_f32_act_f16 -DQW_F32=1 -DVKT_F16=1
//! variant qmatmul_smem_f16_act_f16 -DQW_F16=1 -DVKT_F16=1
//! variant qmatmul_smem_bf16_act_f16 -DQW_BF16=1 -DVKT_F16=1
//! variant qmatmul_smem_int8_act_f16 -DQW_INT8=1 -DVKT_F16=1
//! variant qmatmul_smem_nf4_act_f16 -DQW_NF4=1 -DVKT_F16=1
//! variant qmatmul_smem_f32_act_bf16 -DQW_F32=1 -DVKT_BF16=1
//! variant qmatmul_smem_f16_act_bf16 -DQW_F16=1 -DVKT_BF16=1
//! variant qmatmul_smem_bf16_act_bf16 -DQW_BF16=1 -DVKT_BF16=1
//! variant qmatmul_smem_int8_act_bf16 -DQW_INT8=1 -DVKT_BF16=1
//! variant qmatmul_smem_nf4_act_bf16 -DQW_NF4=1 -DVKT_BF16=1
// _act_f16 / _act_bf16: x (dy), y (dx) and bias in 16-bit storage (mixed precision activations; see
// qmatmul_io.glsl); the weight formats are unchanged.
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 0) const uint WG = 256;      // must equal (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const bool TRANS_B = true;
layout(constant_id = 5) const uint TM = 4;
layout(constant_id = 6) const uint TN = 4;
layout(local_size_x_id = 0) in;

#include "qmatmul_io.glsl"
#include "qweight.glsl"

shared float sa[BK * BM];
shared float sb[BK * BN];

void main() {
    const uint NX = BN / TN, NY = BM / TM;
    uint t = gl_LocalInvocationID.x;
    uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
    uint tx = t % NX, ty = t / NX;
    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    for (uint k0 = 0; k0 < pc.k; k0 += BK) {
        for (uint e = t; e < BK * BM; e += WG) {
            uint i = e / BK, kk = e % BK;
            float v = 0.0;
            if (i0 + i < pc.m && k0 + kk < pc.k) v = VKT_LOAD(a[pc.off_a + (i0 + i) * pc.lda + k0 + kk]);
            sa[kk * BM + i] = v;
        }
        for (uint e = t; e < BK * BN; e += WG) {
            uint j = TRANS_B ? e / BK : e % BN, kk = TRANS_B ? e % BK : e / BN;
            float v = 0.0;
            if (j0 + j < pc.n && k0 + kk < pc.k) v = qw_elem(qm_we(k0 + kk, j0 + j));
            sb[kk * BN + j] = v;
        }
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            float bv[TN];
            for (uint j = 0; j < TN; j++) bv[j] = sb[kk * BN + tx + j * NX];
            for (uint i = 0; i < TM; i++) {
                float av = sa[kk * BM + ty + i * NY];
                for (uint j = 0; j < TN; j++) acc[i][j] = fma(av, bv[j], acc[i][j]);
            }
        }
        barrier();
    }
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) {
            uint ii = i0 + ty + i * NY, jj = j0 + tx + j * NX;
            if (ii < pc.m && jj < pc.n) qm_store(ii, jj, acc[i][j]);
        }
}
