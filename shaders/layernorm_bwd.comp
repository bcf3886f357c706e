#version 450
// LayerNorm backward, fused: dx (overwritten, or added to: the residual stream's gradient) and per-chunk partial sums of dw and db, for one chunk of R
// rows per workgroup. With g = dy * w and xhat = (x - mean) * rstd:
//   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)),
//   partial[chunk][c] = sum_rows dy * xhat,  partial[chunk][C + c] = sum_rows dy.
// Phase 1, one subgroup per row (common/rows.glsl), centred on K = the saved f32 mean:
//   d = sum (x - K) / C (the part of the mean that f32 rounded away: ~0, or a few ulps of a large
//   offset), mean_c(g), and mean_c(g xhat) = rstd (mean_c(g (x - K)) - d mean_c(g)), where d is tiny so
//   nothing cancels. x - K is exact for rows near a large offset (Sterbenz), so xhat = ((x - K) - d) rstd
//   keeps full accuracy there even though the saved mean is rounded. The row values go to shared memory.
// One barrier. Phase 2, one invocation per column: walk the chunk's rows (re-read from cache), write dx
// and sum the column's dw, db contributions in registers. norm_bwd_sum.comp adds the chunk partials in a
// fixed order afterwards: deterministic, no atomics, one barrier per chunk.
// Bindings: x, dy, w, mean, rstd (inputs); dx, partial (outputs). x, dy, w, dx: f32, or f16 / bf16 in the
// _f16 / _bf16 variants (scalar; f32 math, dx rounded once); mean, rstd, partial: always f32.
// Variant _vec4: x, dy, w, dx and partial viewed as vec4 (the host picks it when C and every element
// offset are multiples of 4): on lavapipe each buffer access is a loop over the subgroup's lanes whatever
// its width, so 16-byte accesses move 4x the data per access. _f16_vec4 / _bf16_vec4: the same with x, dy,
// w, dx 4 halves (8 bytes) per access (common/dtype.glsl's VKT_T4), partial still vec4 f32. Sums then run
// per vector lane and the lanes are added at the end: a different (still fixed) order than the scalar variant.
//! variant layernorm_bwd
//! variant layernorm_bwd_vec4 -DVKT_VEC4=1
//! variant layernorm_bwd_f16 -DVKT_F16=1
//! variant layernorm_bwd_bf16 -DVKT_BF16=1
//! variant layernorm_bwd_f16_vec4 -DVKT_F16=1 -DVKT_VEC4=1
//! variant layernorm_bwd_bf16_vec4 -DVKT_BF16=1 -DVKT_VEC4=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "rows.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint R = 16;  // rows per chunk
layout(local_size_x_id = 0) in;

#if VKT_VEC4
#define VT vec4
#define VW 4u
#define HSUM(v) (((v).x + (v).y) + ((v).z + (v).w))
#define ST VKT_T4          // stored 4 elements of x, dy, w, dx (vec4, f16vec4 or uvec2 of bf16 pairs)
#define LD(e) VKT_LOAD4(e) // ST -> VT
#define SV(f) VKT_STORE4(f) // VT -> ST
#else
#define VT float
#define VW 1u
#define HSUM(v) (v)
#define ST VKT_T
#define LD(e) VKT_LOAD(e)
#define SV(f) VKT_STORE(f)
#endif

layout(binding = 0) readonly buffer X { ST x[]; };
layout(binding = 1) readonly buffer DY { ST dy[]; };
layout(binding = 2) readonly buffer W { ST w[]; };
layout(binding = 3) readonly buffer Mean { float mean[]; };
layout(binding = 4) readonly buffer Rstd { float rstd[]; };
layout(binding = 5) buffer DX { ST dx[]; };
layout(binding = 6) writeonly buffer Partial { VT partial[]; };

layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint x_off; uint dy_off; uint dx_off; uint m_off; uint r_off; uint p_off; uint accumulate;
} pc;

// Per row of the chunk: K (saved mean), d, rstd, mean_c(g), mean_c(g xhat).
shared float sk[R], sd[R], srs[R], smg[R], smgx[R];

void main() {
    vkt_rows_init();
    uint chunk = vkt_group_index();
    uint r0 = chunk * R, r1 = min(r0 + R, pc.n_rows);
    if (r0 >= pc.n_rows) return;  // whole workgroup: uniform, before the barrier
    float inv_c = 1.0 / float(pc.C);
    uint cw = pc.C / VW;  // row length in VT units
    for (uint row = r0 + gl_SubgroupID; row < r1; row += gl_NumSubgroups) {
        uint xb = (pc.x_off + row * pc.C) / VW, gb = (pc.dy_off + row * pc.C) / VW;
        float k = mean[pc.m_off + row], rs = rstd[pc.r_off + row];
        VT s = VT(0.0), sg = VT(0.0), sgx = VT(0.0);
        for (uint c = vkt_lane; c < cw; c += vkt_lanes) {
            VT xc = LD(x[xb + c]) - k, g = LD(dy[gb + c]) * LD(w[c]);
            s += xc;
            sg += g;
            sgx += g * xc;
        }
        float d = subgroupAdd(HSUM(s)) * inv_c, mg = subgroupAdd(HSUM(sg)) * inv_c;
        float mgx = rs * (subgroupAdd(HSUM(sgx)) * inv_c - d * mg);
        if (subgroupElect()) {
            uint i = row - r0;
            sk[i] = k, sd[i] = d, srs[i] = rs, smg[i] = mg, smgx[i] = mgx;
        }
    }
    barrier();
    for (uint c = gl_LocalInvocationID.x; c < cw; c += WG) {
        VT wc = LD(w[c]), accw = VT(0.0), accb = VT(0.0);
        for (uint row = r0; row < r1; row++) {
            uint i = row - r0;
            VT g = LD(dy[(pc.dy_off + row * pc.C) / VW + c]);
            VT xh = ((LD(x[(pc.x_off + row * pc.C) / VW + c]) - sk[i]) - sd[i]) * srs[i];
            uint o = (pc.dx_off + row * pc.C) / VW + c;
            VT v = srs[i] * ((g * wc - smg[i]) - xh * smgx[i]);
            dx[o] = SV(pc.accumulate != 0u ? LD(dx[o]) + v : v);
            accw += g * xh;
            accb += g;
        }
        uint o = (pc.p_off + chunk * 2u * pc.C) / VW + c;
        partial[o] = accw;
        partial[o + cw] = accb;
    }
}
