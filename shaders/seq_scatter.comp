#version 450
// Per-sequence gradients to per-position weights for the weighted cross-entropy backward:
//   weights[i] = -coef[s] * (has_tok ? tok[i] : 1)   where s = seq_ids[i] in [0, S); 0 elsewhere.
// coef[s] is dL/dlogp(s) for a loss of sequence log-probs (logp(s) = -sum of its positions' losses, hence
// the minus: the weight is dL/dloss_i), or GRPO's per-sequence normaliser with tok the per-token
// dl_i/dlogp_i. One invocation per position; reads only, no reduction.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Coef { float coef[]; };
layout(binding = 1) readonly buffer SeqIds { int seq_ids[]; };
layout(binding = 2) readonly buffer Tok { float tok[]; }; // bound to coef when has_tok == 0
layout(binding = 3) writeonly buffer Weights { float weights[]; };

layout(push_constant) uniform Pc { uint n; uint S; uint has_tok; uint _pad; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    int s = seq_ids[i];
    float w = 0.0;
    if (s >= 0 && uint(s) < pc.S) w = -coef[s] * (pc.has_tok != 0u ? tok[i] : 1.0);
    weights[i] = w;
}
