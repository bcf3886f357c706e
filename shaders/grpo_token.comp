#version 450
// GRPO's per-token objective (TRL, loss types grpo / bnpo / dr_grpo / dapo) and its derivative with respect
// to the token's log-prob under the current policy, new = -loss_i (the cross-entropy forward's loss):
//   ratio = e^(new - old),  l = -min(ratio A, clip(ratio, 1 - eps_low, 1 + eps_high) A) + beta k3(ref - new)
//   k3(d) = e^d - d - 1 (TRL's KL estimator),  A the advantage of the token's completion.
//   dl/dnew = -A ratio where the unclipped term is the minimum (ties included: inside the clip range both
//   terms have that derivative; PyTorch's min splits a tie evenly between them), else 0; plus -beta expm1(d).
// old and ref come as per-position cross-entropy losses too (what vkt_op_xent_fwd wrote for the sampling
// policy and for the reference), log-prob = -loss. Without old losses (one optimisation step per generation
// batch, TRL's num_iterations = 1) old = new, detached: ratio is exactly 1 and dratio/dnew = 1. Writes per position (l, k3, low-clipped, high-clipped) for vkt_op_seq_sum and dl/dnew;
// positions of no completion (seq id -1) get zeros. One invocation per position.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "pref.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Losses { float losses[]; };
layout(binding = 1) readonly buffer SeqIds { int seq_ids[]; };
layout(binding = 2) readonly buffer Old { float old_losses[]; }; // losses when has_old == 0 (not read)
layout(binding = 3) readonly buffer Ref { float ref_losses[]; }; // losses when has_ref == 0 (not read)
layout(binding = 4) readonly buffer Adv { float adv[]; };
layout(binding = 5) writeonly buffer TokVals { float tokvals[]; }; // (N, 4)
layout(binding = 6) writeonly buffer TokGrad { float tokgrad[]; }; // (N)

layout(push_constant) uniform Pc {
    uint n;
    uint S;
    uint has_old;
    uint has_ref;
    float eps_low;
    float eps_high;
    float beta;
    float _pad;
} pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    int s = seq_ids[i];
    float l = 0.0, kl = 0.0, low = 0.0, high = 0.0, g = 0.0;
    if (s >= 0 && uint(s) < pc.S) {
        float lp = -losses[i];
        float ratio = exp(pc.has_old != 0u ? lp + old_losses[i] : 0.0);
        float a = adv[s];
        float u1 = ratio * a, u2 = clamp(ratio, 1.0 - pc.eps_low, 1.0 + pc.eps_high) * a;
        l = -min(u1, u2);
        g = u1 <= u2 ? -a * ratio : 0.0;
        low = ratio < 1.0 - pc.eps_low && a < 0.0 ? 1.0 : 0.0;
        high = ratio > 1.0 + pc.eps_high && a > 0.0 ? 1.0 : 0.0;
        if (pc.has_ref != 0u) {
            float d = losses[i] - ref_losses[i]; // logp_ref - logp_new
            kl = vkt_kl_k3(d);
            l += pc.beta * kl;
            g -= pc.beta * vkt_expm1(d);
        }
    }
    tokvals[4 * i] = l;
    tokvals[4 * i + 1] = kl;
    tokvals[4 * i + 2] = low;
    tokvals[4 * i + 3] = high;
    tokgrad[i] = g;
}
