#version 450
// Global gradient norm, stage 2: one workgroup sums every partial in a fixed order, then writes
// grad_norm = sqrt(sum) and clip_scale = min(1, max_norm / (grad_norm + 1e-6)) (1 when max_norm <= 0)
// into the step scalars, where AdamW reads it: no host round trip per step. A NaN or inf anywhere in the
// gradients makes the norm non-finite: nonfinite = 1 then tells AdamW to skip this step's update.
// Dynamic loss scaling (f16; torch.cuda.amp.GradScaler's rule): the gradients carry the loss scale S, so
// the norm is divided by it and clip_scale includes 1 / S (AdamW then sees the true gradients); after the
// step S shrinks by the growth factor when it overflowed (the step is skipped), or grows by it after
// growth_interval finite steps in a row. The next step's loss gradient reads the new S.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "step_scalars.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Partials { float partials[]; };
layout(binding = 1) buffer Scalars { VKT_STEP_SCALARS_MEMBERS } st;

layout(push_constant) uniform Pc {
    uint n;
    float max_norm;
    uint loss_scaling;
    uint growth_interval;
    float growth_factor;
} pc;

shared float sh[WG];

void main() {
    uint tid = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = tid; i < pc.n; i += WG) s += partials[i];
    sh[tid] = s;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) sh[tid] += sh[tid + h];
        barrier();
    }
    if (tid == 0) {
        float scale = pc.loss_scaling != 0u ? st.loss_scale : 1.0;
        float norm = sqrt(sh[0]);
        bool bad = VKT_NONFINITE(norm);
        norm /= scale;
        st.grad_norm = norm;
        st.nonfinite = bad ? 1u : 0u;
        st.clip_scale = (pc.max_norm > 0.0 ? min(1.0, pc.max_norm / (norm + 1e-6)) : 1.0) / scale;
        if (pc.loss_scaling != 0u) {
            uint good = bad ? 0u : st.good_steps + 1u;
            if (bad) st.loss_scale = scale / pc.growth_factor;
            if (good >= pc.growth_interval) {
                st.loss_scale = scale * pc.growth_factor;
                good = 0u;
            }
            st.good_steps = good;
        }
    }
}
