#version 450
// AdamW, first dispatch of every optimizer step (one invocation): advances the step counter and writes
// the step's learning rate and bias corrections into the step scalars, so a recorded step replays with no
// host involvement. lr = lr_table[min(t - 1, n_lr - 1)] (the host fills the table once from any schedule;
// one entry is a constant rate). 1 - beta^t is computed as -expm1(t * ln(beta)) with ln(beta) from the host
// in double: 1 - pow(beta, t) in fp32 cancels to ~1e-4 relative error at t = 1 for beta = 0.999.
// A step the gradient norm flagged as non-finite still advances the lr position but is counted in
// n_skipped, and the bias corrections use the updates actually applied, t = step - n_skipped (as PyTorch's
// AdamW state step, which a skipped optimizer.step() never increments).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "step_scalars.glsl"

layout(local_size_x = 1) in;

layout(binding = 0) readonly buffer LrTable { float lr_table[]; };
layout(binding = 1) buffer Scalars { VKT_STEP_SCALARS_MEMBERS } st;

layout(push_constant) uniform Pc { uint n_lr; float ln_beta1; float ln_beta2; uint _pad; } pc;

// 1 - exp(x) for x <= 0 without cancellation near 0: Taylor series through x^10 for |x| < 0.5
// (truncation < 0.5^11 / 11! ~ 1e-11), plain exp elsewhere (the result is then >= 0.39).
float vkt_one_minus_exp(float x) {
    if (x < -0.5) return 1.0 - exp(x);
    float e = 1.0 + x / 10.0;
    e = 1.0 + x * e / 9.0;
    e = 1.0 + x * e / 8.0;
    e = 1.0 + x * e / 7.0;
    e = 1.0 + x * e / 6.0;
    e = 1.0 + x * e / 5.0;
    e = 1.0 + x * e / 4.0;
    e = 1.0 + x * e / 3.0;
    e = 1.0 + x * e / 2.0;
    return -x * e;
}

void main() {
    uint t = st.step + 1;
    st.step = t;
    st.lr = lr_table[min(t - 1, pc.n_lr - 1)];
    if (st.nonfinite != 0u) st.n_skipped += 1u;
    float tu = float(t - st.n_skipped);
    st.bc1 = vkt_one_minus_exp(tu * pc.ln_beta1);
    st.bc2 = vkt_one_minus_exp(tu * pc.ln_beta2);
}
