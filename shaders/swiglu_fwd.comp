#version 450
// SwiGLU forward (Shazeer 2020, as in the LLaMA MLP): out = silu(gate) * up over (N, F), one element per
// invocation. gate and up are row-strided: separate (N, F) tensors (stride F), or the two halves of one
// fused (N, 2F) tensor bound twice (stride 2F, up starting F elements later).
// Bindings: gate, up (inputs); out (output). Storage: VKT_T (dtype.glsl); math in f32.
// _vec8 (CPU drivers; F, strides and offsets multiples of 8, see swiglu.c): 8 elements of a row per
// invocation, one word per access (common/eltwise.glsl); same arithmetic per element.
//! variant swiglu_fwd
//! variant swiglu_fwd_f16 -DVKT_F16=1
//! variant swiglu_fwd_bf16 -DVKT_BF16=1
//! variant swiglu_fwd_vec8 -DVKT_VEC8=1
//! variant swiglu_fwd_f16_vec8 -DVKT_F16=1 -DVKT_VEC8=1
//! variant swiglu_fwd_bf16_vec8 -DVKT_BF16=1 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "eltwise.glsl"
#include "act.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

VKT_EW_IN(0, G, g)
VKT_EW_IN(1, U, u)
VKT_EW_OUT(2, O, o)

// *_off: element index of row 0, column 0 inside each binding; *_stride: elements between rows.
layout(push_constant) uniform Pc {
    uint n_rows; uint F; uint g_stride; uint u_stride; uint g_off; uint u_off; uint o_off; uint _pad;
} pc;

void main() {
    uint i = vkt_ew_first(WG);
    if (i >= pc.n_rows * pc.F) return;
    uint row = i / pc.F, col = i - row * pc.F;
    float gv[VKT_EW], uv[VKT_EW];
    g_ld(pc.g_off + row * pc.g_stride + col, VKT_EW, gv);
    u_ld(pc.u_off + row * pc.u_stride + col, VKT_EW, uv);
    [[unroll]] for (uint e = 0; e < VKT_EW; e++) gv[e] = vkt_silu(gv[e]) * uv[e];
    o_st(pc.o_off + i, VKT_EW, gv);
}
