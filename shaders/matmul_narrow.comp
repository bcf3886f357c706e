#version 450
// C = alpha * op(A) op(B) (+ bias) (+ C) on CPU drivers for the narrow products of a LoRA branch, N = r small
// (u = x A^T, du = dy B, dB += dy^T u).
//
// Why not matmul_wide (lavapipe, Mesa 22.3; see that kernel for the cost model): it runs its 8 lanes along
// N, so with N = r = 16 one lane of a 128-column workgroup has work and the other seven repeat it. Here the
// lanes run along M: an invocation owns TM rows and the workgroup's TN columns, so every lane has rows to do
// whatever N is, B's words are the same for all lanes of a workgroup, and C is read and written 8 elements
// per access (the host requires N, ldc, C's window offset and the bias's to be multiples of 8). The K loop is
// matmul_wide's (common/matmul_words.glsl): the same sums in the same k order, so results match it bit for
// bit for the same K chunks. (Products with K = r and N large measured the same here as on matmul_wide.)
//! variant matmul_narrow
//! variant matmul_narrow_f16 -DVKT_F16=1
//! variant matmul_narrow_bf16 -DVKT_BF16=1
//! variant matmul_narrow_f16_c16 -DVKT_F16=1 -DVKT_C16=1
//! variant matmul_narrow_bf16_c16 -DVKT_BF16=1 -DVKT_C16=1
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 8;  // invocations per workgroup, all along M
layout(constant_id = 1) const uint TM = 8;  // rows per invocation (multiple of 8 when TRANS_A)
layout(constant_id = 2) const uint TN = 16; // columns per invocation and workgroup (multiple of 8)
layout(constant_id = 3) const bool TRANS_A = false;
layout(constant_id = 4) const bool TRANS_B = false;
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"

float acc[TM][TN];

#include "matmul_words.glsl"

void main() {
    uint z = gl_WorkGroupID.z;
    uint i0 = (gl_WorkGroupID.x * WG + gl_LocalInvocationID.x) * TM;
    uint j0 = gl_WorkGroupID.y * TN;
    mm_words_accumulate(z, i0, j0);
    mm_words_store(z, i0, j0);
}
