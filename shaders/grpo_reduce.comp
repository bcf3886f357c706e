#version 450
// GRPO's aggregation over tokens (TRL's loss types) from per-completion sums (vkt_op_seq_sum of
// grpo_token's values: l, k3, low, high, n tokens per completion), giving the loss, the metrics and the
// coefficient c_s with L = sum_s c_s sum_{i in s} l_i:
//   dapo     c = 1 / D, D = the active tokens of the whole accumulated batch (a device scalar), or of
//            this micro-batch without one (TRL's default loss_type)
//   grpo     c_s = 1 / (S max(n_s, 1))   (mean over each completion, then over the S completions)
//   bnpo     c = 1 / max(N_tokens, 1)     (tokens of this micro-batch)
//   dr_grpo  c = 1 / (S max_completion_length)
// times dloss. KL and clip ratios are token means. One workgroup, fixed-order sums.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer SeqVals { float seqvals[]; }; // (S, 5)
layout(binding = 1) readonly buffer Norm { float norm[]; };       // (1); seqvals when has_norm == 0
layout(binding = 2) writeonly buffer Coef { float coef[]; };      // (S)
layout(binding = 3) writeonly buffer Stats { float stats[8]; };   // vkt_grpo_stats

layout(push_constant) uniform Pc {
    uint S;
    uint agg; // vkt_grpo_agg
    uint has_norm;
    uint max_completion_length;
    float dloss;
    float _pad0, _pad1, _pad2;
} pc;

#define AGG_DAPO 0u
#define AGG_GRPO 1u
#define AGG_BNPO 2u
#define AGG_DR_GRPO 3u

shared float sh[6][WG];

void main() {
    uint tid = gl_LocalInvocationID.x;
    float acc[6] = float[6](0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (uint s = tid; s < pc.S; s += WG) {
        float n = seqvals[5 * s + 4];
        acc[0] += seqvals[5 * s] / max(n, 1.0);
        for (uint k = 0; k < 4; k++) acc[k + 1] += seqvals[5 * s + k];
        acc[5] += n;
    }
    for (uint k = 0; k < 6; k++) sh[k][tid] = acc[k];
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h)
            for (uint k = 0; k < 6; k++) sh[k][tid] += sh[k][tid + h];
        barrier();
    }
    float n_tok = sh[5][0], inv_tok = 1.0 / max(n_tok, 1.0), S = float(pc.S);
    float denom = 1.0; // of the token-sum losses
    if (pc.agg == AGG_DAPO) denom = max(pc.has_norm != 0u ? norm[0] : n_tok, 1.0);
    else if (pc.agg == AGG_BNPO) denom = max(n_tok, 1.0);
    else if (pc.agg == AGG_DR_GRPO) denom = S * float(pc.max_completion_length);
    for (uint s = tid; s < pc.S; s += WG)
        coef[s] = pc.agg == AGG_GRPO ? pc.dloss / (S * max(seqvals[5 * s + 4], 1.0)) : pc.dloss / denom;
    if (tid == 0) {
        stats[0] = pc.agg == AGG_GRPO ? sh[0][0] / S : sh[1][0] / denom;
        stats[1] = sh[2][0] * inv_tok;
        stats[2] = sh[3][0] * inv_tok;
        stats[3] = sh[4][0] * inv_tok;
        stats[4] = (sh[3][0] + sh[4][0]) * inv_tok;
        stats[5] = uintBitsToFloat(uint(n_tok));
        stats[6] = n_tok / S;
        stats[7] = 0.0;
    }
}
