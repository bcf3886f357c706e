#version 450
// db[j] += sum over rows i of dy[i, j]: the bias gradient of a Linear layer. One invocation per column sums
// its rows in order, so the result is identical run to run (no atomics, no order-dependent reduction).
// Adjacent invocations read adjacent columns, so each row is read contiguously across a subgroup.
// dy is f32, f16 or bf16 (VKT_T); db and the sum are always f32.
// _vec8 variants (CPU drivers; the host checks n and the window offset are multiples of 8): one invocation
// per 8 adjacent columns, reading a row's 8 values in one access (common/wide8.glsl); each column is still
// summed in row order, so the sums equal the one-column kernel's bit for bit.
//! variant matmul_colsum
//! variant matmul_colsum_f16 -DVKT_F16=1
//! variant matmul_colsum_bf16 -DVKT_BF16=1
//! variant matmul_colsum_vec8 -DVKT_VEC8=1
//! variant matmul_colsum_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant matmul_colsum_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Dy { VKT_T dy[]; };
layout(binding = 1) buffer Db { float db[]; };

layout(push_constant) uniform Pc {
    uint rows, n;    // dy window is (rows, n) starting at off_dy
    uint off_dy;     // element offset of dy[0, 0] in the window
    uint _pad;
} pc;

#ifdef VKT_VEC8
#include "wide8.glsl"
layout(binding = 0) readonly buffer Dy8 { VKT_W8 dy8[]; };

void main() {
    uint w = vkt_group_index() * WG + gl_LocalInvocationID.x, j = 8 * w;
    if (j >= pc.n) return;
    float s[8] = float[8](0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (uint i = 0; i < pc.rows; i++) {
        float f[8];
        vkt_unpack8(dy8[(pc.off_dy + i * pc.n) / 8 + w], f);
        for (uint c = 0; c < 8; c++) s[c] += f[c];
    }
    for (uint c = 0; c < 8; c++) db[j + c] += s[c];
}
#else
void main() {
    uint j = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (j >= pc.n) return;
    float s = 0.0;
    for (uint i = 0; i < pc.rows; i++) s += VKT_LOAD(dy[pc.off_dy + i * pc.n + j]);
    db[j] += s;
}
#endif
