#version 450
// RMSNorm backward, input gradient (overwrites dx), one subgroup per row (common/rows.glsl):
//   g = dy * w,  dx = rstd * g - x * rstd^3 * mean_c(g * x).
// Two passes over the row: the sum of g x, then dx (from cache).
// Bindings: x, dy, w, rstd (inputs); dx (output). All f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer DY { float dy[]; };
layout(binding = 2) readonly buffer W { float w[]; };
layout(binding = 3) readonly buffer Rstd { float rstd[]; };
layout(binding = 4) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint rows_per_group; uint x_off; uint dy_off; uint dx_off; uint r_off; uint _pad;
} pc;

void main() {
    vkt_rows_init();
    uint end = vkt_row_end(pc.rows_per_group, pc.n_rows);
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, gb = pc.dy_off + row * pc.C, ob = pc.dx_off + row * pc.C;
        float rs = rstd[pc.r_off + row];
        float s = 0.0;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) s += dy[gb + c] * w[c] * x[xb + c];
        float k = subgroupAdd(s) / float(pc.C) * rs * rs * rs;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) dx[ob + c] = rs * (dy[gb + c] * w[c]) - x[xb + c] * k;
    }
}
