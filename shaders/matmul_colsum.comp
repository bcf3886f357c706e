#version 450
// db[j] += sum over rows i of dy[i, j]: the bias gradient of a Linear layer. One invocation per column sums
// its rows in order, so the result is identical run to run (no atomics, no order-dependent reduction).
// Adjacent invocations read adjacent columns, so each row is read contiguously across a subgroup.
// dy is f32, f16 or bf16 (VKT_T); db and the sum are always f32.
//! variant matmul_colsum
//! variant matmul_colsum_f16 -DVKT_F16=1
//! variant matmul_colsum_bf16 -DVKT_BF16=1
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

void main() {
    uint j = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (j >= pc.n) return;
    float s = 0.0;
    for (uint i = 0; i < pc.rows; i++) s += VKT_LOAD(dy[pc.off_dy + i * pc.n + j]);
    db[j] += s;
}
