#version 450
// SwiGLU backward: d_gate = dout * up * silu'(gate), d_up = dout * silu(gate) (both overwritten). Same
// row-strided layout as swiglu_fwd; for a fused (N, 2F) gradient, dgate and dup are the same range bound
// twice, written at disjoint elements.
// Bindings: gate, up, dout (inputs); dgate, dup (outputs). All f32, f16 or bf16 alike (f32 math).
//! variant swiglu_bwd
//! variant swiglu_bwd_f16 -DVKT_F16=1
//! variant swiglu_bwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer G { VKT_T g[]; };
layout(binding = 1) readonly buffer U { VKT_T u[]; };
layout(binding = 2) readonly buffer DO { VKT_T dout[]; };
layout(binding = 3) writeonly buffer DG { VKT_T dg[]; };
layout(binding = 4) writeonly buffer DU { VKT_T du[]; };

layout(push_constant) uniform Pc {
    uint n_rows; uint F; uint g_stride; uint u_stride; uint g_off; uint u_off; uint do_off; uint dg_off;
    uint du_off; uint _pad0; uint _pad1; uint _pad2;
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n_rows * pc.F) return;
    uint row = i / pc.F, col = i - row * pc.F;
    uint gi = row * pc.g_stride + col, ui = row * pc.u_stride + col;
    float gv = VKT_LOAD(g[pc.g_off + gi]), uv = VKT_LOAD(u[pc.u_off + ui]), d = VKT_LOAD(dout[pc.do_off + i]);
    dg[pc.dg_off + gi] = VKT_STORE(d * uv * vkt_silu_grad(gv));
    du[pc.du_off + ui] = VKT_STORE(d * vkt_silu(gv));
}
