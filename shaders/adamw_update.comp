#version 450
// AdamW update with decoupled weight decay (Loshchilov & Hutter 2019, as torch.optim.AdamW):
//   g = grad * clip_scale;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * ( (m / bc1) / (sqrt(v / bc2) + eps) + wd * p )
// lr, bc1, bc2 and clip_scale come from the step scalars (device memory), wd is 0 for segments without
// decay. One element per invocation; params, m and v are updated in place. When the gradient norm flagged
// the step as non-finite (st.nonfinite) nothing is written: params, m and v keep their bits.
// Mixed precision (_f16, _bf16): the updated f32 parameter is also stored, rounded, into the model's half
// copy (binding 5, its own binding base), so the next forward reads the new weights with no extra pass.
//! variant adamw_update
//! variant adamw_update_f16 -DVKT_F16=1 -DVKT_HALF_COPY=1
//! variant adamw_update_bf16 -DVKT_BF16=1 -DVKT_HALF_COPY=1
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#include "step_scalars.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Grads { float g[]; };
layout(binding = 1) readonly buffer Scalars { VKT_STEP_SCALARS_MEMBERS } st;
layout(binding = 2) buffer Params { float p[]; };
layout(binding = 3) buffer M { float m[]; };
layout(binding = 4) buffer V { float v[]; };
#ifdef VKT_HALF_COPY
layout(binding = 5) writeonly buffer Half { VKT_T h[]; };
#endif

layout(push_constant) uniform Pc {
    uint n;    // elements in this chunk
    uint base; // element offset of the chunk inside each (alignment-padded) binding
    float beta1;
    float beta2;
    float eps;
    float wd;
    uint base_h; // element offset of the chunk inside the half copy's binding
    uint _pad;
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n || st.nonfinite != 0u) return;
    i += pc.base;
    float gi = g[i] * st.clip_scale;
    float mi = pc.beta1 * m[i] + (1.0 - pc.beta1) * gi;
    float vi = pc.beta2 * v[i] + (1.0 - pc.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float pi = p[i];
    float pn = pi - st.lr * ((mi / st.bc1) / (sqrt(vi / st.bc2) + pc.eps) + pc.wd * pi);
    p[i] = pn;
#ifdef VKT_HALF_COPY
    h[i - pc.base + pc.base_h] = VKT_STORE(pn);
#endif
}
