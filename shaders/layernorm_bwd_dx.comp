#version 450
// LayerNorm backward, input gradient (overwrites dx), one subgroup per row (common/rows.glsl):
//   g = dy * w,  xhat = (x - mean) * rstd,
//   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)).
// Passes over the row (later ones hit cache):
//   1. S = sum (x - K), K = the row's first element: recomputes the forward's centring exactly, so xhat
//      here is the forward's xhat even for rows with a large common offset.
//   2. sum g and sum g * xhat.  3. dx.
// It also writes lo = (K + S / C) - mean (the part of the mean that the saved f32 mean rounded away) for
// layernorm_bwd_dw, which then centres with (x - mean) - lo at the same accuracy.
// Bindings: x, dy, w, mean, rstd (inputs); dx, lo (outputs). All f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "rows.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer DY { float dy[]; };
layout(binding = 2) readonly buffer W { float w[]; };
layout(binding = 3) readonly buffer Mean { float mean[]; };
layout(binding = 4) readonly buffer Rstd { float rstd[]; };
layout(binding = 5) writeonly buffer DX { float dx[]; };
layout(binding = 6) writeonly buffer Lo { float lo[]; };

layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint rows_per_group; uint x_off;
    uint dy_off; uint dx_off; uint m_off; uint r_off; uint lo_off;
} pc;

void main() {
    vkt_rows_init();
    uint end = vkt_row_end(pc.rows_per_group, pc.n_rows);
    float inv_c = 1.0 / float(pc.C);
    for (uint row = vkt_row_first(pc.rows_per_group); row < end; row += gl_NumSubgroups) {
        uint xb = pc.x_off + row * pc.C, gb = pc.dy_off + row * pc.C, ob = pc.dx_off + row * pc.C;
        float k = x[xb];
        float s = 0.0;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) s += x[xb + c] - k;
        float d = subgroupAdd(s) * inv_c;
        float rs = rstd[pc.r_off + row];
        float sg = 0.0, sgx = 0.0;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) {
            float g = dy[gb + c] * w[c];
            sg += g;
            sgx += g * (((x[xb + c] - k) - d) * rs);
        }
        float mg = subgroupAdd(sg) * inv_c, mgx = subgroupAdd(sgx) * inv_c;
        for (uint c = vkt_lane; c < pc.C; c += vkt_lanes) {
            float xh = ((x[xb + c] - k) - d) * rs;
            dx[ob + c] = rs * ((dy[gb + c] * w[c] - mg) - xh * mgx);
        }
        if (subgroupElect()) lo[pc.lo_off + row] = (k - mean[pc.m_off + row]) + d;
    }
}
