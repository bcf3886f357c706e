#version 450
// RMSNorm backward, fused: dx (overwritten) and per-chunk partial sums of dw, for one chunk of R rows per
// workgroup:
//   g = dy * w,  dx = rstd * g - x * k,  k = rstd^3 * mean_c(g * x);  partial[chunk][c] = sum_rows dy x rstd.
// Phase 1, one subgroup per row (common/rows.glsl): k for each row of the chunk, into shared memory.
// One barrier. Phase 2, one invocation per column: walk the chunk's rows (re-read from cache), write dx and
// sum the column's dw contribution in registers. So x and dy are read twice (the second time from
// cache), there is one barrier per chunk, and the dw sums need neither atomics nor a shared-memory tree:
// norm_bwd_sum.comp adds the chunk partials in a fixed order afterwards (deterministic).
// Bindings: x, dy, w, rstd (inputs); dx, partial (outputs). x, dy, w, dx: f32, or f16 / bf16 in the
// _f16 / _bf16 variants (scalar; f32 math, dx rounded once); rstd, partial: always f32.
// Variant _vec4: x, dy, w, dx and partial viewed as vec4 (the host picks it when C and every element
// offset are multiples of 4): on lavapipe each buffer access is a loop over the subgroup's lanes whatever
// its width, so 16-byte accesses move 4x the data per access. _f16_vec4 / _bf16_vec4: the same with x, dy,
// w, dx 4 halves (8 bytes) per access (common/dtype.glsl's VKT_T4), partial still vec4 f32. Sums then run
// per vector lane and the lanes are added at the end: a different (still fixed) order than the scalar variant.
//! variant rmsnorm_bwd
//! variant rmsnorm_bwd_vec4 -DVKT_VEC4=1
//! variant rmsnorm_bwd_f16 -DVKT_F16=1
//! variant rmsnorm_bwd_bf16 -DVKT_BF16=1
//! variant rmsnorm_bwd_f16_vec4 -DVKT_F16=1 -DVKT_VEC4=1
//! variant rmsnorm_bwd_bf16_vec4 -DVKT_BF16=1 -DVKT_VEC4=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "rows.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint R = 32;  // rows per chunk (= pc.rows_per_chunk)
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
layout(binding = 3) readonly buffer Rstd { float rstd[]; };
layout(binding = 4) buffer DX { ST dx[]; };
layout(binding = 5) writeonly buffer Partial { VT partial[]; };

layout(push_constant) uniform Pc {
    uint n_rows; uint C; uint x_off; uint dy_off; uint dx_off; uint r_off; uint p_off; uint accumulate;
} pc;

shared float sk[R], srs[R];  // per row of the chunk: k and rstd

void main() {
    vkt_rows_init();
    uint chunk = vkt_group_index();
    uint r0 = chunk * R, r1 = min(r0 + R, pc.n_rows);
    if (r0 >= pc.n_rows) return;  // whole workgroup: uniform, before the barrier
    float inv_c = 1.0 / float(pc.C);
    uint cw = pc.C / VW;  // row length in VT units
    for (uint row = r0 + gl_SubgroupID; row < r1; row += gl_NumSubgroups) {
        uint xb = (pc.x_off + row * pc.C) / VW, gb = (pc.dy_off + row * pc.C) / VW;
        VT s = VT(0.0);
        for (uint c = vkt_lane; c < cw; c += vkt_lanes) s += LD(dy[gb + c]) * LD(w[c]) * LD(x[xb + c]);
        float rs = rstd[pc.r_off + row];
        float k = subgroupAdd(HSUM(s)) * inv_c * rs * rs * rs;
        if (subgroupElect()) sk[row - r0] = k, srs[row - r0] = rs;
    }
    barrier();
    for (uint c = gl_LocalInvocationID.x; c < cw; c += WG) {
        VT wc = LD(w[c]), acc = VT(0.0);
        for (uint row = r0; row < r1; row++) {
            VT xv = LD(x[(pc.x_off + row * pc.C) / VW + c]), g = LD(dy[(pc.dy_off + row * pc.C) / VW + c]);
            float rs = srs[row - r0];
            uint o = (pc.dx_off + row * pc.C) / VW + c;
            VT v = rs * (g * wc) - xv * sk[row - r0];
            dx[o] = SV(pc.accumulate != 0u ? LD(dx[o]) + v : v);
            acc += g * xv * rs;
        }
        partial[(pc.p_off + chunk * pc.C) / VW + c] = acc;
    }
}
