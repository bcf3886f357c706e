#version 450
// C = alpha * op(A) op(B) (+ bias) (+ C) with shared-memory tiles: the kernel for GPUs.
//
// A workgroup computes a BM x BN tile of C. For each BK-deep slice of K it stages op(A) and op(B) in shared
// memory (k-major, zero-padded past the edges, converted to f32), then every invocation accumulates a TM x TN
// register tile from it. Each invocation's rows and columns are strided by BM/TM and BN/TN so that
// neighbouring invocations read neighbouring shared words (no bank conflicts) and write neighbouring
// columns of C. Global loads walk the stored matrix's contiguous dimension across invocations (coalesced
// for every layout). Two barriers per slice: loads complete before use, use completes before overwrite.
// On lavapipe barriers are very slow; this variant runs there only when forced (tests).
//! variant matmul_smem_f32
//! variant matmul_smem_f16 -DVKT_F16=1
//! variant matmul_smem_bf16 -DVKT_BF16=1
//! variant matmul_smem_f16_c16 -DVKT_F16=1 -DVKT_C16=1
//! variant matmul_smem_bf16_c16 -DVKT_BF16=1 -DVKT_C16=1
#extension GL_GOOGLE_include_directive : require
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;      // must equal (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const bool TRANS_A = false;
layout(constant_id = 5) const bool TRANS_B = false;
layout(constant_id = 6) const uint TM = 4;
layout(constant_id = 7) const uint TN = 4;
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"

shared float sa[BK * BM];
shared float sb[BK * BN];

void main() {
    const uint NX = BN / TN, NY = BM / TM;
    uint z = gl_WorkGroupID.z, t = gl_LocalInvocationID.x;
    uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
    uint tx = t % NX, ty = t / NX;
    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    for (uint k0 = 0; k0 < pc.k; k0 += BK) {
        for (uint e = t; e < BK * BM; e += WG) {
            uint i = TRANS_A ? e % BM : e / BK, kk = TRANS_A ? e / BM : e % BK;
            float v = 0.0;
            if (i0 + i < pc.m && k0 + kk < pc.k) v = VKT_LOAD(a[mm_ia(z, i0 + i, k0 + kk)]);
            sa[kk * BM + i] = v;
        }
        for (uint e = t; e < BK * BN; e += WG) {
            uint j = TRANS_B ? e / BK : e % BN, kk = TRANS_B ? e % BK : e / BN;
            float v = 0.0;
            if (j0 + j < pc.n && k0 + kk < pc.k) v = VKT_LOAD(b[mm_ib(z, k0 + kk, j0 + j)]);
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
            if (ii < pc.m && jj < pc.n) mm_store(z, ii, jj, acc[i][j]);
        }
}
