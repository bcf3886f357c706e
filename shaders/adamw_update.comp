#version 450
// AdamW update with decoupled weight decay (Loshchilov & Hutter 2019, as torch.optim.AdamW):
//   g = grad * clip_scale;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * ( (m / bc1) / (sqrt(v / bc2) + eps) + wd * p )
// lr, bc1, bc2 and clip_scale come from the step scalars (device memory); wd applies where the element's
// bit in the decay bits is set (weight matrices and embeddings, not norms and biases), so one dispatch
// covers parameters of both kinds. One element per invocation; params, m and v are updated in place. When the gradient norm flagged
// the step as non-finite (st.nonfinite) nothing is written: params, m and v keep their bits.
// Mixed precision (_f16, _bf16): the updated f32 parameter is also stored, rounded, into the model's half
// copy (binding 5, its own binding base), so the next forward reads the new weights with no extra pass.
// _vec8 (f32 only, CPU drivers; base and bindings on 8-element boundaries, see adamw.c): 8 elements per
// invocation, one word per access (common/eltwise.glsl); the same arithmetic per element.
//! variant adamw_update
//! variant adamw_update_f16 -DVKT_F16=1 -DVKT_HALF_COPY=1
//! variant adamw_update_bf16 -DVKT_BF16=1 -DVKT_HALF_COPY=1
//! variant adamw_update_vec8 -DVKT_VEC8=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "step_scalars.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 1) readonly buffer Scalars { VKT_STEP_SCALARS_MEMBERS } st;
#ifdef VKT_VEC8
#include "eltwise.glsl" // VKT_T is float here: g, p, m, v as words of 8
VKT_EW_IN(0, Grads, g)
VKT_EW_RW(2, Params, p)
VKT_EW_RW(3, M, m)
VKT_EW_RW(4, V, v)
#else
layout(binding = 0) readonly buffer Grads { float g[]; };
layout(binding = 2) buffer Params { float p[]; };
layout(binding = 3) buffer M { float m[]; };
layout(binding = 4) buffer V { float v[]; };
#endif
#ifdef VKT_HALF_COPY
layout(binding = 5) writeonly buffer Half { VKT_T h[]; };
layout(binding = 6) readonly buffer Decay { uint decay_bits[]; };
#else
layout(binding = 5) readonly buffer Decay { uint decay_bits[]; };
#endif

layout(push_constant) uniform Pc {
    uint n;    // elements in this chunk
    uint base; // element offset of the chunk inside each (alignment-padded) binding
    float beta1;
    float beta2;
    float eps;
    float wd;
    uint base_h;    // element offset of the chunk inside the half copy's binding
    uint first_bit; // bit of the chunk's first element in the decay bits' binding
} pc;

// One element: updates mi, vi from the gradient and returns the new parameter (wd: pc.wd or 0).
float adamw(float gr, inout float mi, inout float vi, float pi, float wd) {
    float gi = gr * st.clip_scale;
    mi = pc.beta1 * mi + (1.0 - pc.beta1) * gi;
    vi = pc.beta2 * vi + (1.0 - pc.beta2) * gi * gi;
    return pi - st.lr * ((mi / st.bc1) / (sqrt(vi / st.bc2) + pc.eps) + wd * pi);
}

float wd_of(uint word, uint bit) { return ((word >> bit) & 1u) != 0u ? pc.wd : 0.0; }

#ifdef VKT_VEC8
void main() {
    uint e = vkt_ew_first(WG);
    if (e >= pc.n || st.nonfinite != 0u) return;
    uint a = pc.base + e, left = pc.n - e;
    float gv[8], mv[8], vv[8], pv[8];
    g_ld(a, left, gv);
    m_ld(a, left, mv);
    v_ld(a, left, vv);
    p_ld(a, left, pv);
    // The 8 elements' decay bits: one word, or two when they straddle a word boundary (the host pads the
    // bits by a word).
    uint b0 = pc.first_bit + e, w0 = decay_bits[b0 >> 5], lo = b0 & 31u;
    uint w1 = lo > 24u ? decay_bits[(b0 >> 5) + 1u] : 0u;
    [[unroll]] for (uint t = 0; t < 8; t++) {
        float wd = lo + t < 32u ? wd_of(w0, lo + t) : wd_of(w1, lo + t - 32u);
        pv[t] = adamw(gv[t], mv[t], vv[t], pv[t], wd);
    }
    m_st(a, left, mv);
    v_st(a, left, vv);
    p_st(a, left, pv);
}
#else
void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n || st.nonfinite != 0u) return;
    uint bit = pc.first_bit + i;
    float wd = wd_of(decay_bits[bit >> 5], bit & 31u);
    i += pc.base;
    float mi = m[i], vi = v[i];
    float pn = adamw(g[i], mi, vi, p[i], wd);
    m[i] = mi;
    v[i] = vi;
    p[i] = pn;
#ifdef VKT_HALF_COPY
    h[i - pc.base + pc.base_h] = VKT_STORE(pn);
#endif
}
#endif
