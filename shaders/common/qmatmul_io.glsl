// Shared by the qmatmul kernels: bindings other than the weight's, push constants, the output store.
// The kernel computes C (m, n) (+)= op(A) op(W) over k, A (m, k) row-major with row stride lda. A, C and
// the bias are f32, or all in 16-bit storage with -DVKT_F16 / -DVKT_BF16 (VKT_T; f32 arithmetic, C rounded
// once per store):
//   TRANS_B (forward y = x W^T):  op(W)(kk, j) = W(w_row0 + j, w_col0 + kk)
//   !TRANS_B (input grad dx = dy W): op(W)(kk, j) = W(w_row0 + kk, w_col0 + j)
#ifndef VKT_QMATMUL_IO_GLSL
#define VKT_QMATMUL_IO_GLSL

#include "dtype.glsl"

layout(push_constant) uniform Pc {
    uint m, n, k;                        // this dispatch's sub-problem
    uint lda, ldc;                       // row strides of A and C
    uint off_a, off_c, off_bias;         // element of (0, 0) in the A, C and bias windows
    uint w_in;                           // W's row length (in)
    uint w_row0, w_col0;                 // W's element at this dispatch's origin (see above)
    uint base_data, base_scale, base_abs2; // global indices at element 0 of the weight windows (qweight.glsl)
    uint flags;                          // QM_ACCUMULATE | QM_BIAS
} pc;

#define QM_ACCUMULATE 1u
#define QM_BIAS 2u

layout(binding = 0) readonly buffer A { VKT_T a[]; };
layout(binding = 5) readonly buffer Bias { VKT_T bias[]; };
layout(binding = 6) buffer C { VKT_T c[]; };

// Flat W element of op(W)(kk, j).
uint qm_we(uint kk, uint j) {
    return TRANS_B ? (pc.w_row0 + j) * pc.w_in + pc.w_col0 + kk : (pc.w_row0 + kk) * pc.w_in + pc.w_col0 + j;
}

void qm_store(uint i, uint j, float acc) {
    uint ic = pc.off_c + i * pc.ldc + j;
    float v = acc;
    if ((pc.flags & QM_BIAS) != 0u) v += VKT_LOAD(bias[pc.off_bias + j]);
    if ((pc.flags & QM_ACCUMULATE) != 0u) v += VKT_LOAD(c[ic]);
    c[ic] = VKT_STORE(v);
}

#endif
