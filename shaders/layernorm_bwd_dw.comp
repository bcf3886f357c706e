#version 450
// LayerNorm backward, first stage of the parameter gradients: for each column c and each chunk p of
// rows_per_chunk rows, partial[p][c] = sum dy * xhat (for dw) and partial[p][C + c] = sum dy (for db),
// xhat = ((x - mean) - lo) * rstd with lo from layernorm_bwd_dx. One invocation per (column, chunk):
// adjacent invocations read adjacent columns, and there is no shared memory and no barrier. The second
// stage (norm_bwd_sum.comp) adds the partials in a fixed order: deterministic, no atomics.
// Bindings: x, dy, mean, rstd, lo (inputs); partial (output). All f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer DY { float dy[]; };
layout(binding = 2) readonly buffer Mean { float mean[]; };
layout(binding = 3) readonly buffer Rstd { float rstd[]; };
layout(binding = 4) readonly buffer Lo { float lo[]; };
layout(binding = 5) writeonly buffer Partial { float partial[]; };

// Grid: x = column blocks of WG, y = chunks. p_off: element offset of this dispatch's first partial row.
layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint rows_per_chunk; uint x_off;
    uint dy_off; uint m_off; uint r_off; uint lo_off; uint p_off;
} pc;

void main() {
    uint c = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    if (c >= pc.C) return;
    uint p = gl_WorkGroupID.y;
    uint r0 = p * pc.rows_per_chunk, r1 = min(r0 + pc.rows_per_chunk, pc.n_rows);
    float sw = 0.0, sb = 0.0;
    for (uint r = r0; r < r1; r++) {
        float g = dy[pc.dy_off + r * pc.C + c];
        float xh = ((x[pc.x_off + r * pc.C + c] - mean[pc.m_off + r]) - lo[pc.lo_off + r]) * rstd[pc.r_off + r];
        sw += g * xh;
        sb += g;
    }
    uint o = pc.p_off + p * 2u * pc.C + c;
    partial[o] = sw;
    partial[o + pc.C] = sb;
}
