#version 450
// C = alpha * op(A) op(B) (+ bias) (+ C) on CPU drivers: register tiles fed by wide loads (8 elements each:
// 32 bytes of f32, or 16 bytes of f16 / bf16 in the _f16 / _bf16 variants, widened in registers; _c16: C and
// bias in the inputs' 16-bit type, see matmul_io.glsl).
//
// Why this shape (lavapipe, Mesa 22.3): a subgroup of 8 invocations is one 256-bit SIMD vector, but every
// buffer load is a loop over the 8 lanes with a bounds check per component, so a load costs about the same
// whether it fetches 4 or 32 bytes, and costs far more than an FMA. This kernel therefore loads u64vec4
// (8 floats) per instruction and reuses every loaded value across a large register tile: a workgroup owns
// TM rows (from the workgroup id) and WG * TN columns, TN contiguous per invocation, and walks K in
// blocks of 8. Per block an invocation issues TM + TN loads for 8 * TM * TN FMAs. There are no barriers
// and nothing is shared between invocations (subgroup broadcasts are slower there than a reload).
//
// Each operand is read along its contiguous stored dimension: A along k (or m when TRANS_A), B along n (or
// k when TRANS_B). The host uses this kernel only when those dimensions, the row strides, the batch strides
// and every window offset are multiples of 8 elements (see matmul.c); other shapes use matmul_reg.comp.
// Rows and columns past the edge are clamped for loads and skipped at the store.
// 16-bit inputs: a load costs the same at 16 bytes as at 32, so 8 halves per uvec4 keep the f32 kernel's
// load count.
//! variant matmul_wide
//! variant matmul_wide_f16 -DVKT_F16=1
//! variant matmul_wide_bf16 -DVKT_BF16=1
//! variant matmul_wide_f16_c16 -DVKT_F16=1 -DVKT_C16=1
//! variant matmul_wide_bf16_c16 -DVKT_BF16=1 -DVKT_C16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 8;        // invocations per workgroup, all along N
layout(constant_id = 1) const uint TM = 16;       // rows per workgroup (multiple of 8)
layout(constant_id = 2) const uint TN = 8;        // contiguous columns per invocation (multiple of 8)
layout(constant_id = 3) const bool TRANS_A = false;
layout(constant_id = 4) const bool TRANS_B = false;
layout(constant_id = 5) const bool M_FAST = false;
layout(constant_id = 6) const bool C_WORDS = false;  // see the epilogue
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"

// 8 elements per word: 8 floats in a u64vec4 (32 bytes), or 8 halves in a uvec4 (16 bytes) for 16-bit types,
// widened in registers (f16 with unpackHalf2x16, bf16 with a shift: its bits are the f32's high half).
void unpack8(u64vec4 v, out float f[8]) {
    for (uint c = 0; c < 4; c++) {
        uvec2 u = unpackUint2x32(v[c]);
        f[2 * c] = uintBitsToFloat(u.x);
        f[2 * c + 1] = uintBitsToFloat(u.y);
    }
}
u64vec4 pack8(float f[8]) {
    u64vec4 v;
    for (uint c = 0; c < 4; c++) v[c] = packUint2x32(uvec2(floatBitsToUint(f[2 * c]), floatBitsToUint(f[2 * c + 1])));
    return v;
}
#if defined(VKT_F16) || defined(VKT_BF16)
void unpack8(uvec4 v, out float f[8]) {
    for (uint c = 0; c < 4; c++) {
#ifdef VKT_F16
        vec2 h = unpackHalf2x16(v[c]);  // element 2c is the low half (little-endian)
        f[2 * c] = h.x;
        f[2 * c + 1] = h.y;
#else
        f[2 * c] = uintBitsToFloat(v[c] << 16);
        f[2 * c + 1] = uintBitsToFloat(v[c] & 0xffff0000u);
#endif
    }
}
// Rounds each element as VKT_STORE does.
uvec4 pack8_half(float f[8]) {
    uvec4 v;
    for (uint c = 0; c < 4; c++) {
#ifdef VKT_F16
        v[c] = packFloat2x16(f16vec2(float16_t(f[2 * c]), float16_t(f[2 * c + 1])));
#else
        v[c] = uint(vkt_bf16_from_float(f[2 * c])) | (uint(vkt_bf16_from_float(f[2 * c + 1])) << 16);
#endif
    }
    return v;
}
// A and B as words (16-byte aligned by the host's checks).
layout(binding = 0) readonly buffer A8 { uvec4 a8[]; };
layout(binding = 1) readonly buffer B8 { uvec4 b8[]; };
#else
// A and B as words (32-byte aligned by the host's checks).
layout(binding = 0) readonly buffer A8 { u64vec4 a8[]; };
layout(binding = 1) readonly buffer B8 { u64vec4 b8[]; };
#endif

// C and bias as words, for the epilogue's whole-word accesses (the bindings of matmul_io.glsl).
#ifdef VKT_C16
layout(binding = 2) readonly buffer Bias8 { uvec4 bias8[]; };
layout(binding = 3) buffer C8 { uvec4 c8[]; };
#define pack_c8 pack8_half
#else
layout(binding = 2) readonly buffer Bias8 { u64vec4 bias8[]; };
layout(binding = 3) buffer C8 { u64vec4 c8[]; };
#define pack_c8 pack8
#endif

void main() {
    const uint NA = TRANS_A ? TM / 8 : TM;   // A words per K block (per k when TRANS_A)
    const uint NB = TRANS_B ? TN : TN / 8;   // B words per K block (per k when not TRANS_B)
    uint z = gl_WorkGroupID.z;
    uint i0 = (M_FAST ? gl_WorkGroupID.x : gl_WorkGroupID.y) * TM;
    uint j0 = ((M_FAST ? gl_WorkGroupID.y : gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x) * TN;
    // Word index of each load at k = 0, and the word step per k (TRANS_A / !TRANS_B) or per block.
    uint ia[NA], ib[NB];
    for (uint g = 0; g < NA; g++)
        ia[g] = mm_ia(z, TRANS_A ? min(i0 + 8 * g, pc.m - 8u) : min(i0 + g, pc.m - 1u), 0u) / 8;
    for (uint g = 0; g < NB; g++)
        ib[g] = mm_ib(z, 0u, TRANS_B ? min(j0 + g, pc.n - 1u) : min(j0 + 8 * g, pc.n - 8u)) / 8;
    uint lda8 = pc.lda / 8, ldb8 = pc.ldb / 8;

    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    const uint K8 = pc.k & ~7u;
    for (uint k = 0; k < K8; k += 8) {
        float bv[8][TN];
        if (TRANS_B) {
            for (uint j = 0; j < TN; j++) {
                float f[8];
                unpack8(b8[ib[j] + k / 8], f);
                for (uint kk = 0; kk < 8; kk++) bv[kk][j] = f[kk];
            }
        } else {
            for (uint kk = 0; kk < 8; kk++)
                for (uint g = 0; g < NB; g++) {
                    float f[8];
                    unpack8(b8[ib[g] + (k + kk) * ldb8], f);
                    for (uint c = 0; c < 8; c++) bv[kk][8 * g + c] = f[c];
                }
        }
        if (TRANS_A) {
            // 8 words hold an 8 x 8 block of A (k by m); finish one row's 8 k-steps before the next row so
            // that only one row of accumulators is live at a time (as in the untransposed loop below).
            for (uint g = 0; g < NA; g++) {
                float f[8][8];
                for (uint kk = 0; kk < 8; kk++) unpack8(a8[ia[g] + (k + kk) * lda8], f[kk]);
                for (uint c = 0; c < 8; c++)
                    for (uint kk = 0; kk < 8; kk++)
                        for (uint j = 0; j < TN; j++) acc[8 * g + c][j] = fma(f[kk][c], bv[kk][j], acc[8 * g + c][j]);
            }
        } else {
            for (uint i = 0; i < TM; i++) {
                float f[8];
                unpack8(a8[ia[i] + k / 8], f);
                for (uint kk = 0; kk < 8; kk++)
                    for (uint j = 0; j < TN; j++) acc[i][j] = fma(f[kk], bv[kk][j], acc[i][j]);
            }
        }
    }
    // The last k % 8 steps, one element per load (the host sends K tails here only for a 16-bit C, which a
    // split into a second dispatch would round twice; rows stay 8-aligned, so the words above are too).
    for (uint k = K8; k < pc.k; k++) {
        float bv[TN];
        for (uint j = 0; j < TN; j++) bv[j] = VKT_LOAD(b[mm_ib(z, k, min(j0 + j, pc.n - 1u))]);
        for (uint i = 0; i < TM; i++) {
            float av = VKT_LOAD(a[mm_ia(z, min(i0 + i, pc.m - 1u), k)]);
            for (uint j = 0; j < TN; j++) acc[i][j] = fma(av, bv[j], acc[i][j]);
        }
    }
    // Epilogue, mm_store's arithmetic in its order. C_WORDS (the host's promise that C's window start, row
    // stride, batch stride and N, and the bias's start, are multiples of 8 elements): each 8 columns of C and
    // of the bias move as one word. At short K (Shakespeare's k128) scalar stores cost as much as the K loop.
    // A specialization constant rather than a runtime test: both paths in one pipeline compile 5x slower.
    if (!C_WORDS) {
        for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN; j++)
                if (i0 + i < pc.m && j0 + j < pc.n) mm_store(z, i0 + i, j0 + j, acc[i][j]);
        return;
    }
    const bool has_bias = (pc.flags & MM_BIAS) != 0u, has_acc = (pc.flags & MM_ACCUMULATE) != 0u;
    float bw[TN];
    for (uint g = 0; g < TN / 8; g++) {
        float f[8];
        if (has_bias && j0 + 8 * g < pc.n) unpack8(bias8[(pc.off_bias + j0) / 8 + g], f);
        for (uint c = 0; c < 8; c++) bw[8 * g + c] = f[c];
    }
    for (uint i = 0; i < TM; i++) {
        uint w = (pc.off_c + z * pc.stride_c + (i0 + i) * pc.ldc + j0) / 8;
        for (uint g = 0; g < TN / 8; g++) {
            if (i0 + i >= pc.m || j0 + 8 * g >= pc.n) continue;
            float v[8], cw[8];
            if (has_acc) unpack8(c8[w + g], cw);
            for (uint c = 0; c < 8; c++) {
                v[c] = pc.alpha * acc[i][8 * g + c];
                if (has_bias) v[c] += bw[8 * g + c];
                if (has_acc) v[c] += cw[c];
            }
            c8[w + g] = pack_c8(v);
        }
    }
}
