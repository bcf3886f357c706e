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
// and nothing is shared between invocations (a subgroup broadcast costs more there than the reload it
// would replace: shaders/LAVAPIPE.md).
//
// Each operand is read along its contiguous stored dimension: A along k (or m when TRANS_A), B along n (or
// k when TRANS_B). The host uses this kernel only when those dimensions, the row strides, the batch strides
// and every window offset are multiples of 8 elements (see matmul.c); other shapes use matmul_reg.comp.
// Rows and columns past the edge are clamped for loads and skipped at the store.
// 16-bit inputs: a load costs the same at 16 bytes as at 32, so 8 halves per uvec4 keep the f32 kernel's
// load count. The loads, the K loop and the word store are common/matmul_words.glsl (shared with
// matmul_narrow.comp, which runs its lanes along M for narrow N). With C_WORDS the store can apply GELU
// (ACT, see mm_words_store), saving the separate activation pass and its reads and writes.
// _ua (f32, A not transposed): A's rows read through uniform-buffer windows, one per row block (workgroup x)
// of the dispatch, which llvmpipe loads without per-lane branches (see matmul_words.glsl).
//! variant matmul_wide
//! variant matmul_wide_ua -DVKT_A_UBO=1
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
layout(constant_id = 7) const uint ACT = 0;          // activation epilogue, with C_WORDS (common/matmul_words.glsl)
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"
#include "act.glsl"
#define MM_WORDS_ACT

float acc[TM][TN];

#include "matmul_words.glsl"

void main() {
    uint z = gl_WorkGroupID.z;
    uint i0 = (M_FAST ? gl_WorkGroupID.x : gl_WorkGroupID.y) * TM;
    uint j0 = ((M_FAST ? gl_WorkGroupID.y : gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x) * TN;
    mm_words_accumulate(z, i0, j0);
    // C_WORDS: the host's promise that C's layout suits mm_words_store, whose 8-column accesses matter at short
    // K (Shakespeare's k128: scalar stores cost as much as the K loop). A specialization constant rather than
    // a runtime test: both epilogues in one pipeline compiled several times slower.
    if (C_WORDS) {
        mm_words_store(z, i0, j0);
        return;
    }
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            if (i0 + i < pc.m && j0 + j < pc.n) mm_store(z, i0 + i, j0 + j, acc[i][j]);
}
