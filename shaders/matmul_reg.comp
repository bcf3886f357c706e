#version 450
// C = alpha * op(A) op(B) (+ bias) (+ C) with register tiles and no barriers: the general kernel for CPU
// drivers (any shape, layout, window offset and storage type; f32 operands aligned to 8 elements use
// matmul_wide.comp instead, which is several times faster on lavapipe).
//
// lavapipe runs a subgroup as one SIMD vector, and barriers there cost a coroutine switch per subgroup, so
// this kernel shares nothing between invocations. A workgroup owns TM rows (from the workgroup id: every
// invocation reads the same A values, which stay in L1) and WG * TN columns, TN contiguous ones per
// invocation. Each invocation keeps a TM x TN accumulator tile in registers, so every loaded B value feeds
// TM FMAs and every A value TN. Rows and columns past the edge are clamped for loads (no divergent branches
// inside the K loop) and skipped at the store.
//! variant matmul_reg_f32
//! variant matmul_reg_f16 -DVKT_F16=1
//! variant matmul_reg_bf16 -DVKT_BF16=1
//! variant matmul_reg_f16_c16 -DVKT_F16=1 -DVKT_C16=1
//! variant matmul_reg_bf16_c16 -DVKT_BF16=1 -DVKT_C16=1
#extension GL_GOOGLE_include_directive : require
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 8;        // invocations per workgroup, all along N
layout(constant_id = 1) const uint TM = 8;        // rows per workgroup (and per invocation)
layout(constant_id = 2) const uint TN = 4;        // contiguous columns per invocation
layout(constant_id = 3) const bool TRANS_A = false;
layout(constant_id = 4) const bool TRANS_B = false;
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"

void main() {
    uint z = gl_WorkGroupID.z;
    uint i0 = gl_WorkGroupID.y * TM;
    uint j0 = (gl_WorkGroupID.x * WG + gl_LocalInvocationID.x) * TN;
    uint ia[TM], ib[TN];
    for (uint i = 0; i < TM; i++) ia[i] = mm_ia(z, min(i0 + i, pc.m - 1u), 0u);
    for (uint j = 0; j < TN; j++) ib[j] = mm_ib(z, 0u, min(j0 + j, pc.n - 1u));
    uint step_a = TRANS_A ? pc.lda : 1u, step_b = TRANS_B ? 1u : pc.ldb;
    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    for (uint kk = 0; kk < pc.k; kk++) {
        float bv[TN];
        for (uint j = 0; j < TN; j++) bv[j] = VKT_LOAD(b[ib[j] + kk * step_b]);
        for (uint i = 0; i < TM; i++) {
            float av = VKT_LOAD(a[ia[i] + kk * step_a]);
            for (uint j = 0; j < TN; j++) acc[i][j] = fma(av, bv[j], acc[i][j]);
        }
    }
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            if (i0 + i < pc.m && j0 + j < pc.n) mm_store(z, i0 + i, j0 + j, acc[i][j]);
}
