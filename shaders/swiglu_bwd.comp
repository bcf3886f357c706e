#version 450
// SwiGLU backward: d_gate = dout * up * silu'(gate), d_up = dout * silu(gate) (both overwritten). Same
// row-strided layout as swiglu_fwd; for a fused (N, 2F) gradient, dgate and dup are the same range bound
// twice, written at disjoint elements.
// Bindings: gate, up, dout (inputs); dgate, dup (outputs). All f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer G { float g[]; };
layout(binding = 1) readonly buffer U { float u[]; };
layout(binding = 2) readonly buffer DO { float dout[]; };
layout(binding = 3) writeonly buffer DG { float dg[]; };
layout(binding = 4) writeonly buffer DU { float du[]; };

layout(push_constant) uniform Pc {
    uint n_rows; uint F; uint g_stride; uint u_stride; uint g_off; uint u_off; uint do_off; uint dg_off;
    uint du_off; uint _pad0; uint _pad1; uint _pad2;
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n_rows * pc.F) return;
    uint row = i / pc.F, col = i - row * pc.F;
    uint gi = row * pc.g_stride + col, ui = row * pc.u_stride + col;
    float gv = g[pc.g_off + gi], uv = u[pc.u_off + ui], d = dout[pc.do_off + i];
    dg[pc.dg_off + gi] = d * uv * vkt_silu_grad(gv);
    du[pc.du_off + ui] = d * vkt_silu(gv);
}
