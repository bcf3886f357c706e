#version 450
// SwiGLU backward: d_gate = dout * up * silu'(gate), d_up = dout * silu(gate) (both overwritten). Same
// row-strided layout as swiglu_fwd; for a fused (N, 2F) gradient, dgate and dup are the same range bound
// twice, written at disjoint elements.
// Bindings: gate, up, dout (inputs); dgate, dup (outputs). All f32, f16 or bf16 alike (f32 math).
// _vec8: 8 elements of a row per invocation, one word per access, as in swiglu_fwd.comp.
//! variant swiglu_bwd
//! variant swiglu_bwd_f16 -DVKT_F16=1
//! variant swiglu_bwd_bf16 -DVKT_BF16=1
//! variant swiglu_bwd_vec8 -DVKT_VEC8=1
//! variant swiglu_bwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant swiglu_bwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, G, g)
VKT_EW_IN(1, U, u)
VKT_EW_IN(2, DO, dout)
VKT_EW_OUT(3, DG, dg)
VKT_EW_OUT(4, DU, du)

layout(push_constant) uniform Pc {
    uint n_rows; uint F; uint g_stride; uint u_stride; uint g_off; uint u_off; uint do_off; uint dg_off;
    uint du_off; uint _pad0; uint _pad1; uint _pad2;
} pc;

void main() {
    uint i = vkt_ew_first(WG);
    if (i >= pc.n_rows * pc.F) return;
    uint row = i / pc.F, col = i - row * pc.F;
    uint gi = row * pc.g_stride + col, ui = row * pc.u_stride + col;
    float gv[VKT_EW], uv[VKT_EW], d[VKT_EW];
    g_ld(pc.g_off + gi, VKT_EW, gv);
    u_ld(pc.u_off + ui, VKT_EW, uv);
    dout_ld(pc.do_off + i, VKT_EW, d);
    [[unroll]] for (uint e = 0; e < VKT_EW; e++) {
        float sg = vkt_silu(gv[e]);
        gv[e] = d[e] * uv[e] * vkt_silu_grad(gv[e]);
        uv[e] = d[e] * sg;
    }
    dg_st(pc.dg_off + gi, VKT_EW, gv);
    du_st(pc.du_off + ui, VKT_EW, uv);
}
