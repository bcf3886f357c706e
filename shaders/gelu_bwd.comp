#version 450
// dx = dy * gelu'(x) elementwise (f32 math), overwriting dx, or dx += dy * gelu'(x) when flags bit 0 is set.
// Storage f32, f16 or bf16 (x, dy and dx alike: activations and their gradients share the run's dtype).
// _vec8: 8 elements per invocation in one word per access (CPU drivers; common/eltwise.glsl).
//! variant gelu_bwd
//! variant gelu_bwd_f16 -DVKT_F16=1
//! variant gelu_bwd_bf16 -DVKT_BF16=1
//! variant gelu_bwd_vec8 -DVKT_VEC8=1
//! variant gelu_bwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant gelu_bwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, X, x)
VKT_EW_IN(1, DY, dy)
VKT_EW_RW(2, DX, dx)

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint e = vkt_ew_first(WG);
    if (e >= pc.n) return;
    uint m = pc.n - e;
    float xv[VKT_EW], d[VKT_EW], acc[VKT_EW];
    x_ld(e, m, xv);
    dy_ld(e, m, d);
    bool accumulate = (pc.flags & 1u) != 0u;
    if (accumulate) dx_ld(e, m, acc);
    // fma: one rounding where the driver fuses it (Vulkan allows mul + add instead).
    [[unroll]] for (uint t = 0; t < VKT_EW; t++) {
        float g = vkt_gelu_grad(xv[t]);
        xv[t] = accumulate ? fma(d[t], g, acc[t]) : d[t] * g;
    }
    dx_st(e, m, xv);
}
