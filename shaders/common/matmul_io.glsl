// Shared by the matmul kernels: bindings, push constants and operand addressing. Include after dtype.glsl.
// Operands are row-major; op(A) is (M, K) and op(B) is (K, N). TRANS_A: A stored (K, M); TRANS_B: B stored
// (N, K). Every offset is in elements of the bound window (the host aligns windows down and passes the rest).
// C and bias are f32, or with -DVKT_C16 in the inputs' 16-bit storage type (VKT_T: a half activation output;
// the sum is still f32 and rounds once per element and dispatch).
#ifndef VKT_MATMUL_IO_GLSL
#define VKT_MATMUL_IO_GLSL

layout(binding = 0) readonly buffer A { VKT_T a[]; };
layout(binding = 1) readonly buffer B { VKT_T b[]; };
#ifdef VKT_C16
layout(binding = 2) readonly buffer Bias { VKT_T bias[]; };
layout(binding = 3) buffer C { VKT_T c[]; };
#define MM_C_LOAD(e) VKT_LOAD(e)
#define MM_C_STORE(f) VKT_STORE(f)
#else
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) buffer C { float c[]; };
#define MM_C_LOAD(e) (e)
#define MM_C_STORE(f) (f)
#endif

layout(push_constant) uniform Pc {
    uint m, n, k;                         // this dispatch's sub-problem
    uint lda, ldb, ldc;                   // row strides of the stored matrices
    uint off_a, off_b, off_c, off_bias;   // element of (row 0, col 0) of batch 0 in each window
    uint stride_a, stride_b, stride_c;    // elements between batches
    float alpha;
    uint flags;                           // MM_ACCUMULATE | MM_BIAS | MM_ROW_SUMS
    uint off_aux;                         // matmul_wide's activation epilogue: the aux tensor's element (0, 0)
    uint a_win_blocks;                    // matmul_wide_ua: row blocks per uniform-buffer window of A
} pc;

#define MM_ACCUMULATE 1u
#define MM_BIAS 2u
#define MM_ROW_SUMS 4u  // matmul_wide ACT 3: this dispatch adds op(A)'s row sums into binding 4

// Element index of op(A)(i, kk) and op(B)(kk, j) in batch z.
uint mm_ia(uint z, uint i, uint kk) {
    return pc.off_a + z * pc.stride_a + (TRANS_A ? kk * pc.lda + i : i * pc.lda + kk);
}
uint mm_ib(uint z, uint kk, uint j) {
    return pc.off_b + z * pc.stride_b + (TRANS_B ? j * pc.ldb + kk : kk * pc.ldb + j);
}

// C(i, j) of batch z = alpha * acc (+ bias[j]) (+ C(i, j)). The caller checks i < m and j < n.
void mm_store(uint z, uint i, uint j, float acc) {
    uint ic = pc.off_c + z * pc.stride_c + i * pc.ldc + j;
    float v = pc.alpha * acc;
    if ((pc.flags & MM_BIAS) != 0u) v += MM_C_LOAD(bias[pc.off_bias + j]);
    if ((pc.flags & MM_ACCUMULATE) != 0u) v += MM_C_LOAD(c[ic]);
    c[ic] = MM_C_STORE(v);
}

#endif
