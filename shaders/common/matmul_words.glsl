// Shared by the CPU matmul kernels that read 8 elements per load (matmul_wide.comp, matmul_narrow.comp): the
// operands seen as 8-element words, the K loop over a register tile, and the store of C 8 columns per access.
// Include after matmul_io.glsl, with the spec constants TM (rows) and TN (columns) of one invocation's tile,
// TRANS_A and TRANS_B declared, and a private `float acc[TM][TN]`.
//
// Each operand is read along its contiguous stored dimension: A along k (or m when TRANS_A, TM a multiple of
// 8), B along n (or k when TRANS_B). The host guarantees that those dimensions, the row strides, the batch
// strides and the window offsets are multiples of 8 elements. Rows and columns past the edge are clamped
// (loaded again, never stored), so the loop has no divergent branch.
#ifndef VKT_MATMUL_WORDS_GLSL
#define VKT_MATMUL_WORDS_GLSL
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

// 8 floats in a u64vec4 (f32 operands, and an f32 C under 16-bit inputs); overloaded for 8 halves below.
void unpack8(u64vec4 v, out float f[8]) {
    for (uint c = 0; c < 4; c++) {
        uvec2 u = unpackUint2x32(v[c]);
        f[2 * c] = uintBitsToFloat(u.x);
        f[2 * c + 1] = uintBitsToFloat(u.y);
    }
}

#if defined(VKT_F16) || defined(VKT_BF16)
// 8 halves per uvec4 (16-byte aligned by the host's checks).
layout(binding = 0) readonly buffer A8 { uvec4 a8[]; };
layout(binding = 1) readonly buffer B8 { uvec4 b8[]; };

void unpack8(uvec4 v, out float f[8]) {
    for (uint c = 0; c < 4; c++) {
#ifdef VKT_F16
        vec2 h = unpackHalf2x16(v[c]); // element 2c is the low half (little-endian)
        f[2 * c] = h.x;
        f[2 * c + 1] = h.y;
#else
        f[2 * c] = uintBitsToFloat(v[c] << 16);
        f[2 * c + 1] = uintBitsToFloat(v[c] & 0xffff0000u);
#endif
    }
}
#else
// 8 floats per u64vec4 (32-byte aligned by the host's checks).
layout(binding = 0) readonly buffer A8 { u64vec4 a8[]; };
#ifdef VKT_A_UBO
// A's rows also as uniform-buffer windows of pc.a_win_blocks row blocks (workgroup x) each, the first window
// starting at the dispatch's first row at k = 0 (src/ops/matmul.c: a_window_blocks). llvmpipe gathers a uniform-buffer load
// without the per-lane branches of a storage-buffer load; every lane reads the same A word, and these loads
// measured 14-20% faster products (shaders/LAVAPIPE.md). The storage binding 0 stays for the K tail.
#define MM_A_WINDOWS 6
layout(binding = 5, std140) uniform AWin { u64vec4 w[2048]; } a_win[MM_A_WINDOWS];
#endif
layout(binding = 1) readonly buffer B8 { u64vec4 b8[]; };
#endif

// C and bias as words too (the bindings of matmul_io.glsl): f32 in a u64vec4, a 16-bit C in a uvec4.
#ifdef VKT_C16
layout(binding = 2) readonly buffer Bias8 { uvec4 bias8[]; };
layout(binding = 3) buffer C8 { uvec4 c8[]; };
#ifdef MM_WORDS_ACT
layout(binding = 4) buffer Aux8 { uvec4 aux8[]; };
#endif
uint bits16(float f) { // rounded as VKT_STORE rounds
#ifdef VKT_F16
    return uint(float16BitsToUint16(float16_t(f)));
#else
    return uint(vkt_bf16_from_float(f));
#endif
}
// f as C stores it, read back (the value a later pass over C would see).
float c_rounded(float f) {
#ifdef VKT_F16
    return float(float16_t(f));
#else
    return uintBitsToFloat(bits16(f) << 16);
#endif
}
uvec4 pack8(float f[8]) {
    uvec4 v;
    for (uint c = 0; c < 4; c++) v[c] = bits16(f[2 * c]) | (bits16(f[2 * c + 1]) << 16);
    return v;
}
#else
layout(binding = 2) readonly buffer Bias8 { u64vec4 bias8[]; };
layout(binding = 3) buffer C8 { u64vec4 c8[]; };
#ifdef MM_WORDS_ACT
layout(binding = 4) buffer Aux8 { u64vec4 aux8[]; };
#endif
float c_rounded(float f) { return f; }
u64vec4 pack8(float f[8]) {
    u64vec4 v;
    for (uint c = 0; c < 4; c++) v[c] = packUint2x32(uvec2(floatBitsToUint(f[2 * c]), floatBitsToUint(f[2 * c + 1])));
    return v;
}
#endif

#ifdef MM_WORDS_ACT
// ACT 3: binding 4 is an f32 vector += the row sums of op(A) (a Linear layer's bias gradient beside dW = dy^T x).
layout(binding = 4) buffer AuxF { float auxf[]; };
float row_sum[TM];
#endif

// acc[i][j] = sum over k in order of op(A)(i0 + i, k) op(B)(k, j0 + j), fused multiply-adds from zero, K in
// blocks of 8 (plus a scalar tail of k % 8). Per block: TM + TN loads for 8 * TM * TN FMAs.
void mm_words_accumulate(uint z, uint i0, uint j0) {
    const uint NA = TRANS_A ? TM / 8 : TM; // A words per K block (per k when TRANS_A)
    const uint NB = TRANS_B ? TN : TN / 8; // B words per K block (per k when not TRANS_B)
    uint ia[NA], ib[NB];                   // word index of each load at k = 0
    for (uint g = 0; g < NA; g++)
        ia[g] = mm_ia(z, TRANS_A ? min(i0 + 8 * g, pc.m - 8u) : min(i0 + g, pc.m - 1u), 0u) / 8;
    for (uint g = 0; g < NB; g++)
        ib[g] = mm_ib(z, 0u, TRANS_B ? min(j0 + g, pc.n - 1u) : min(j0 + 8 * g, pc.n - 8u)) / 8;
    uint lda8 = pc.lda / 8, ldb8 = pc.ldb / 8;
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
#ifdef MM_WORDS_ACT
    // Row sums (ACT 3, A transposed): the workgroups of the first column block only, every lane alike (the
    // condition is uniform over the workgroup); each row summed in k order, as matmul_colsum sums a column.
    const bool sums = ACT == 3u && TRANS_A && (pc.flags & MM_ROW_SUMS) != 0u && j0 < WG * TN;
    for (uint i = 0; i < TM; i++) row_sum[i] = 0.0;
#endif
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
            // 8 words hold an 8 x 8 block of A (k by m): one row's 8 k-steps before the next row.
            for (uint g = 0; g < NA; g++) {
                float f[8][8];
                for (uint kk = 0; kk < 8; kk++) unpack8(a8[ia[g] + (k + kk) * lda8], f[kk]);
#ifdef MM_WORDS_ACT
                if (sums)
                    for (uint c = 0; c < 8; c++)
                        for (uint kk = 0; kk < 8; kk++) row_sum[8 * g + c] += f[kk][c];
#endif
                for (uint c = 0; c < 8; c++)
                    for (uint kk = 0; kk < 8; kk++)
                        for (uint j = 0; j < TN; j++) acc[8 * g + c][j] = fma(f[kk][c], bv[kk][j], acc[8 * g + c][j]);
            }
        } else {
            for (uint i = 0; i < TM; i++) {
                float f[8];
#ifdef VKT_A_UBO
                uint wg_m = gl_WorkGroupID.x, row = (wg_m % pc.a_win_blocks) * TM + min(i0 + i, pc.m - 1u) - i0;
                unpack8(a_win[wg_m / pc.a_win_blocks].w[row * lda8 + k / 8], f);
#else
                unpack8(a8[ia[i] + k / 8], f);
#endif
                for (uint kk = 0; kk < 8; kk++)
                    for (uint j = 0; j < TN; j++) acc[i][j] = fma(f[kk], bv[kk][j], acc[i][j]);
            }
        }
    }
    // The last k % 8 steps one element per load (a 16-bit C takes K whole; rows stay 8-aligned).
    for (uint k = K8; k < pc.k; k++) {
        float bv[TN];
        for (uint j = 0; j < TN; j++) bv[j] = VKT_LOAD(b[mm_ib(z, k, min(j0 + j, pc.n - 1u))]);
        for (uint i = 0; i < TM; i++) {
            float av = VKT_LOAD(a[mm_ia(z, min(i0 + i, pc.m - 1u), k)]);
#ifdef MM_WORDS_ACT
            if (sums) row_sum[i] += av;
#endif
            for (uint j = 0; j < TN; j++) acc[i][j] = fma(av, bv[j], acc[i][j]);
        }
    }
}

// C = alpha * acc (+ bias) (+ C) over the invocation's tile at (i0, j0): mm_store's arithmetic in its order,
// each 8 columns of C and of the bias moved in one access. The host guarantees that C's window start, row
// stride, batch stride and N, and the bias's start, are multiples of 8 (a word is wholly inside C or past it).
// With MM_WORDS_ACT (matmul_wide), the spec constant ACT adds an activation on the way out, over an aux tensor
// laid out as C (its start at pc.off_aux, also a multiple of 8); the value C holds is rounded as stored first,
// so the results equal those of the separate gelu_fwd / gelu_bwd pass over C bit for bit:
//   ACT 1  C = v, aux = gelu(C)                  (an MLP's up-projection: pre-activation and activation)
//   ACT 2  C = round(v) * gelu'(aux)             (its input gradient through GELU: aux is the pre-activation)
//   ACT 3  aux (f32, M) += row sums of op(A), A transposed (mm_words_accumulate; where pc.flags has MM_ROW_SUMS)
void mm_words_store(uint z, uint i0, uint j0) {
    const bool has_bias = (pc.flags & MM_BIAS) != 0u, has_acc = (pc.flags & MM_ACCUMULATE) != 0u;
#ifdef MM_WORDS_ACT
    if (ACT == 3u && TRANS_A && (pc.flags & MM_ROW_SUMS) != 0u && j0 == 0u) // one lane of the first column block
        for (uint i = 0; i < TM; i++)
            if (i0 + i < pc.m) auxf[pc.off_aux + i0 + i] += row_sum[i];
#endif
    float bw[TN];
    for (uint g = 0; g < TN / 8; g++) {
        float f[8];
        if (has_bias && j0 + 8 * g < pc.n) unpack8(bias8[(pc.off_bias + j0) / 8 + g], f);
        for (uint c = 0; c < 8; c++) bw[8 * g + c] = f[c];
    }
    for (uint i = 0; i < TM; i++) {
        uint e = z * pc.stride_c + (i0 + i) * pc.ldc + j0, w = (pc.off_c + e) / 8;
        for (uint g = 0; g < TN / 8; g++) {
            if (i0 + i >= pc.m || j0 + 8 * g >= pc.n) continue;
            float v[8], cw[8];
            if (has_acc) unpack8(c8[w + g], cw);
            for (uint c = 0; c < 8; c++) {
                v[c] = pc.alpha * acc[i][8 * g + c];
                if (has_bias) v[c] += bw[8 * g + c];
                if (has_acc) v[c] += cw[c];
            }
#ifdef MM_WORDS_ACT
            uint wx = (pc.off_aux + e) / 8 + g;
            if (ACT == 1u) {
                float y[8];
                for (uint c = 0; c < 8; c++) y[c] = vkt_gelu(c_rounded(v[c]));
                aux8[wx] = pack8(y);
            } else if (ACT == 2u) {
                float x[8];
                unpack8(aux8[wx], x);
                for (uint c = 0; c < 8; c++) v[c] = c_rounded(v[c]) * vkt_gelu_grad(x[c]);
            }
#endif
            c8[w + g] = pack8(v);
        }
    }
}

#endif
