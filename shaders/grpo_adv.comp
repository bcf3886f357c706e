#version 450
// GRPO advantages from per-completion rewards, groups of G consecutive completions of one prompt (TRL's
// layout): A = (r - mean_group) / (std + 1e-4), std the group's (scale_rewards "group"), the batch's
// ("batch"), or no division ("none"); std with Bessel's correction (0 for a group of one), as TRL's
// nanstd. Means are taken as r0 + mean(r - r0) over the group's first reward r0, so a group of equal
// rewards has a mean equal to them bit for bit: zero advantages, exactly (no rounding residue that the
// 1e-4 would blow up into a policy gradient). Also writes TRL's metrics: reward (batch mean), reward_std
// (batch std) and frac_reward_zero_std. One workgroup: fixed-order sums, deterministic.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Rewards { float rewards[]; };
layout(binding = 1) writeonly buffer Adv { float adv[]; };
layout(binding = 2) writeonly buffer Stats { float stats[4]; }; // vkt_grpo_adv_stats

layout(push_constant) uniform Pc { uint S; uint G; uint scale_mode; uint _pad; } pc;

#define SCALE_GROUP 0u
#define SCALE_BATCH 1u
#define SCALE_NONE 2u

shared float sh[WG];

// Fixed-order sum over the workgroup of one value per invocation; every invocation gets the total.
float wg_sum(float v) {
    uint tid = gl_LocalInvocationID.x;
    barrier(); // earlier readers of sh are done
    sh[tid] = v;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) sh[tid] += sh[tid + h];
        barrier();
    }
    return sh[0];
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    float r0 = rewards[0], part = 0.0;
    for (uint i = tid; i < pc.S; i += WG) part += rewards[i] - r0;
    float mean_b = r0 + wg_sum(part) / float(pc.S);
    part = 0.0;
    for (uint i = tid; i < pc.S; i += WG) part += (rewards[i] - mean_b) * (rewards[i] - mean_b);
    float ss = wg_sum(part);
    float std_b = pc.S > 1u ? sqrt(ss / float(pc.S - 1u)) : 0.0;

    float zero_std = 0.0;
    for (uint g = tid; g < pc.S / pc.G; g += WG) {
        uint base = g * pc.G;
        float g0 = rewards[base], d = 0.0, v = 0.0;
        for (uint k = 0; k < pc.G; k++) d += rewards[base + k] - g0;
        float m = g0 + d / float(pc.G);
        for (uint k = 0; k < pc.G; k++) v += (rewards[base + k] - m) * (rewards[base + k] - m);
        float std_g = pc.G > 1u ? sqrt(v / float(pc.G - 1u)) : 0.0;
        float std = pc.scale_mode == SCALE_BATCH ? std_b : std_g;
        float inv = pc.scale_mode == SCALE_NONE ? 1.0 : 1.0 / (std + 1e-4);
        for (uint k = 0; k < pc.G; k++) adv[base + k] = (rewards[base + k] - m) * inv;
        if (std <= 1e-8) zero_std += float(pc.G); // torch.isclose(std, 0): atol 1e-8
    }
    float n_zero = wg_sum(zero_std);
    if (tid == 0) {
        stats[0] = mean_b;
        stats[1] = std_b;
        stats[2] = n_zero / float(pc.S);
        stats[3] = 0.0;
    }
}
