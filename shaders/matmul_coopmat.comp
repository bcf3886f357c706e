#version 450
// C = alpha * op(A) op(B) (+ bias) (+ C) on tensor cores through GL_NV_cooperative_matrix: f16 inputs, f32
// accumulation. Built only when glslang knows the extension; chosen only when the device reports a
// 16x16x16 f16 x f16 -> f32 shape (NVIDIA Turing and later with the NV extension).
//
// One workgroup is one subgroup (the host sets WG to the device's subgroup size and requires it) and owns a
// 32 x 32 tile of C as 2 x 2 accumulator matrices. Each 32-deep slice of K is staged in shared memory,
// zero-padded, so any M, N, K and every layout and window offset work (cooperative loads straight from the
// buffers would need 16-aligned shapes and strides). The result goes through shared memory once so the
// usual epilogue (alpha, bias, accumulate, edge checks) applies per element.
//! variant matmul_coopmat_nv_f16 -DVKT_F16=1 requires=coopmat_nv
//! variant matmul_coopmat_nv_f16_c16 -DVKT_F16=1 -DVKT_C16=1 requires=coopmat_nv
#extension GL_GOOGLE_include_directive : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 32;
layout(constant_id = 1) const bool TRANS_A = false;
layout(constant_id = 2) const bool TRANS_B = false;
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"

const uint T = 32;  // tile edge (M, N and K slice)
shared float16_t sa[T * T];  // op(A) slice, row-major (m, k)
shared float16_t sb[T * T];  // op(B) slice, row-major (k, n)
shared float sc[T * T];      // result tile, row-major (m, n)

void main() {
    uint z = gl_WorkGroupID.z, t = gl_LocalInvocationID.x;
    uint i0 = gl_WorkGroupID.y * T, j0 = gl_WorkGroupID.x * T;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][2];
    for (uint r = 0; r < 2; r++)
        for (uint q = 0; q < 2; q++) acc[r][q] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    for (uint k0 = 0; k0 < pc.k; k0 += T) {
        for (uint e = t; e < T * T; e += WG) {
            // Walk the stored matrix's contiguous dimension across invocations.
            uint i = TRANS_A ? e % T : e / T, kk = TRANS_A ? e / T : e % T;
            float16_t v = float16_t(0.0);
            if (i0 + i < pc.m && k0 + kk < pc.k) v = a[mm_ia(z, i0 + i, k0 + kk)];
            sa[i * T + kk] = v;
            uint j = TRANS_B ? e / T : e % T, kb = TRANS_B ? e % T : e / T;
            float16_t w = float16_t(0.0);
            if (j0 + j < pc.n && k0 + kb < pc.k) w = b[mm_ib(z, k0 + kb, j0 + j)];
            sb[kb * T + j] = w;
        }
        barrier();
        for (uint kk = 0; kk < T; kk += 16) {
            fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> ma[2], mb[2];
            for (uint r = 0; r < 2; r++) coopMatLoadNV(ma[r], sa, r * 16 * T + kk, T, false);
            for (uint q = 0; q < 2; q++) coopMatLoadNV(mb[q], sb, kk * T + q * 16, T, false);
            for (uint r = 0; r < 2; r++)
                for (uint q = 0; q < 2; q++) acc[r][q] = coopMatMulAddNV(ma[r], mb[q], acc[r][q]);
        }
        barrier();
    }
    for (uint r = 0; r < 2; r++)
        for (uint q = 0; q < 2; q++) coopMatStoreNV(acc[r][q], sc, r * 16 * T + q * 16, T, false);
    barrier();
    for (uint e = t; e < T * T; e += WG) {
        uint i = e / T, j = e % T;
        if (i0 + i < pc.m && j0 + j < pc.n) mm_store(z, i0 + i, j0 + j, sc[e]);
    }
}
