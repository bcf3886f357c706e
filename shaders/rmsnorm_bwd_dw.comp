#version 450
// RMSNorm backward, first stage of dw: for each column c and chunk p of rows_per_chunk rows,
// partial[p][c] = sum dy * x * rstd. One invocation per (column, chunk), no shared memory, no barrier;
// norm_bwd_sum.comp adds the partials in a fixed order (deterministic, no atomics).
// Bindings: x, dy, rstd (inputs); partial (output). All f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer DY { float dy[]; };
layout(binding = 2) readonly buffer Rstd { float rstd[]; };
layout(binding = 3) writeonly buffer Partial { float partial[]; };

// Grid: x = column blocks of WG, y = chunks. p_off: element offset of this dispatch's first partial row.
layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint rows_per_chunk; uint x_off; uint dy_off; uint r_off; uint p_off; uint _pad;
} pc;

void main() {
    uint c = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    if (c >= pc.C) return;
    uint p = gl_WorkGroupID.y;
    uint r0 = p * pc.rows_per_chunk, r1 = min(r0 + pc.rows_per_chunk, pc.n_rows);
    float s = 0.0;
    for (uint r = r0; r < r1; r++) s += dy[pc.dy_off + r * pc.C + c] * x[pc.x_off + r * pc.C + c] * rstd[pc.r_off + r];
    partial[pc.p_off + p * pc.C + c] = s;
}
