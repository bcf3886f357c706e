#version 450
// SwiGLU forward (Shazeer 2020, as in the LLaMA MLP): out = silu(gate) * up over (N, F), one element per
// invocation. gate and up are row-strided: separate (N, F) tensors (stride F), or the two halves of one
// fused (N, 2F) tensor bound twice (stride 2F, up starting F elements later).
// Bindings: gate, up (inputs); out (output). Storage: VKT_T (dtype.glsl); math in f32.
//! variant swiglu_fwd
//! variant swiglu_fwd_f16 -DVKT_F16=1
//! variant swiglu_fwd_bf16 -DVKT_BF16=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer G { VKT_T g[]; };
layout(binding = 1) readonly buffer U { VKT_T u[]; };
layout(binding = 2) writeonly buffer O { VKT_T o[]; };

// *_off: element index of row 0, column 0 inside each binding; *_stride: elements between rows.
layout(push_constant) uniform Pc {
    uint n_rows; uint F; uint g_stride; uint u_stride; uint g_off; uint u_off; uint o_off; uint _pad;
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n_rows * pc.F) return;
    uint row = i / pc.F, col = i - row * pc.F;
    float gv = VKT_LOAD(g[pc.g_off + row * pc.g_stride + col]);
    float uv = VKT_LOAD(u[pc.u_off + row * pc.u_stride + col]);
    o[pc.o_off + i] = VKT_STORE(vkt_silu(gv) * uv);
}
