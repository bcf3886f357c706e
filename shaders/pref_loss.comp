#version 450
// Pairwise preference losses over per-sequence values, with TRL's metrics and the gradient with respect to
// every sequence's value (dseq), in one workgroup:
//   DPO sigmoid  l = -(1-e) log sig(z) - e log sig(-z),  z = beta ((pc - rc) - (pr - rr))  (cDPO smoothing e)
//   DPO robust   l = (-(1-e) log sig(z) + e log sig(-z)) / (1 - 2e)
//   IPO          l = ((pc - rc)/nc - (pr - rr)/nr - 1/(2 beta))^2    (TRL: length-averaged log-ratios)
//   ORPO         l = -lambda log sig(lo),  lo = (ac - ar) - (log(1 - e^ac) - log(1 - e^ar)),  a = logp / n;
//                the loss adds the chosen completions' NLL, -sum pc / sum nc over the pairs (pooled tokens)
//   BT (reward)  l = -log sig(rc - rr - m) + center (rc + rr)^2    (values are rewards; m per pair or 0)
// where p/r are policy/reference values and c/r the chosen/rejected sequence of a pair. loss = mean over
// the valid pairs (+ ORPO's NLL). Pairs whose indices are -1 are padding and skipped.
// Phase 1: one invocation per pair (strided) evaluates its loss and metric terms; a shared-memory tree
// sums them in a fixed order. Phase 2: one invocation per sequence walks the pair list in order and adds
// the derivative of every pair the sequence is in (recomputed: a pair is a few transcendentals, and the
// walk reads two ints per pair), so a sequence in several pairs is summed without atomics.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "pref.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Policy { float policy[]; };  // (S, policy_stride): value[, n_tokens]
layout(binding = 1) readonly buffer Ref { float ref[]; };        // (S, ref_stride); policy when has_ref == 0
layout(binding = 2) readonly buffer Pairs { int pairs[]; };      // (P, 2): chosen, rejected
layout(binding = 3) readonly buffer Margins { float margins[]; }; // (P); policy when has_margin == 0
layout(binding = 4) writeonly buffer PairLosses { float pair_losses[]; };
layout(binding = 5) writeonly buffer DSeq { float dseq[]; };
layout(binding = 6) writeonly buffer Stats { float stats[16]; };  // vkt_pref_stats

layout(push_constant) uniform Pc {
    uint type; // vkt_pref_loss_type
    uint n_pairs;
    uint S;
    uint policy_stride;
    uint ref_stride;
    uint has_ref;
    uint has_margin;
    uint _pad0;
    float beta;            // DPO, IPO
    float label_smoothing; // DPO sigmoid and robust
    float orpo_lambda;
    float center_coef;     // BT
    float dloss;           // scales dseq (1/accum steps when accumulating)
    float _pad1, _pad2, _pad3;
} pc;

#define T_SIGMOID 0u
#define T_ROBUST 1u
#define T_IPO 2u
#define T_ORPO 3u
#define T_BT 4u
#define ORPO_MAX_AVG_LOGP (-1e-6) // keeps log(1 - e^a) finite when a completion has probability ~1

struct PairEval {
    float loss;
    float gc, gr;       // d loss / d value of the chosen / rejected sequence
    float rew_c, rew_r; // rewards/chosen, rewards/rejected terms
    float lp_c, lp_r;   // logps/chosen, logps/rejected terms
    float aux0, aux1;   // ORPO: log sig(lo), lo
};

float value(uint s) { return policy[s * pc.policy_stride]; }
float n_tokens(uint s) { return pc.policy_stride == 2u ? max(policy[s * 2u + 1u], 1.0) : 1.0; }
float ref_value(uint s) { return ref[s * pc.ref_stride]; }

// d/da of log(1 - e^a) subtracted from lo for a chosen completion: 1 / (1 - e^a) = -1 / expm1(a).
float orpo_dlo(float a) { return a < ORPO_MAX_AVG_LOGP ? -1.0 / vkt_expm1(a) : 0.0; }

PairEval pair_eval(uint p, uint c, uint r) {
    PairEval e;
    e.aux0 = 0.0, e.aux1 = 0.0;
    float vc = value(c), vr = value(r);
    if (pc.type == T_BT) {
        float d = vc - vr - (pc.has_margin != 0u ? margins[p] : 0.0), sum = vc + vr;
        e.loss = -vkt_logsig(d) + pc.center_coef * sum * sum;
        float sn = vkt_sig(-d);
        e.gc = -sn + 2.0 * pc.center_coef * sum;
        e.gr = sn + 2.0 * pc.center_coef * sum;
        e.rew_c = vc, e.rew_r = vr, e.lp_c = 0.0, e.lp_r = 0.0;
    } else if (pc.type == T_ORPO) {
        float nc = n_tokens(c), nr = n_tokens(r);
        float ac = min(vc / nc, ORPO_MAX_AVG_LOGP), ar = min(vr / nr, ORPO_MAX_AVG_LOGP);
        float lo = (ac - ar) - (vkt_log1mexp(ac) - vkt_log1mexp(ar));
        float dl = -pc.orpo_lambda * vkt_sig(-lo); // d loss / d lo
        e.loss = -pc.orpo_lambda * vkt_logsig(lo);
        e.gc = dl * orpo_dlo(ac) / nc;
        e.gr = -dl * orpo_dlo(ar) / nr;
        e.rew_c = pc.orpo_lambda * ac, e.rew_r = pc.orpo_lambda * ar, e.lp_c = ac, e.lp_r = ar;
        e.aux0 = vkt_logsig(lo), e.aux1 = lo;
    } else {
        float lc = vc - ref_value(c), lr = vr - ref_value(r); // log-ratios: exactly 0 when policy == ref
        e.rew_c = pc.beta * lc, e.rew_r = pc.beta * lr, e.lp_c = vc, e.lp_r = vr;
        if (pc.type == T_IPO) {
            float nc = n_tokens(c), nr = n_tokens(r);
            float u = (lc / nc - lr / nr) - 1.0 / (2.0 * pc.beta);
            e.loss = u * u;
            e.gc = 2.0 * u / nc;
            e.gr = -2.0 * u / nr;
        } else {
            float z = pc.beta * (lc - lr), ls = pc.label_smoothing, dz;
            if (pc.type == T_ROBUST) {
                float k = 1.0 / (1.0 - 2.0 * ls);
                e.loss = (-(1.0 - ls) * vkt_logsig(z) + ls * vkt_logsig(-z)) * k;
                dz = (-(1.0 - ls) * vkt_sig(-z) - ls * vkt_sig(z)) * k;
            } else {
                e.loss = -(1.0 - ls) * vkt_logsig(z) - ls * vkt_logsig(-z);
                dz = -(1.0 - ls) * vkt_sig(-z) + ls * vkt_sig(z);
            }
            e.gc = pc.beta * dz;
            e.gr = -pc.beta * dz;
        }
    }
    return e;
}

bool in_range(int s) { return s >= 0 && uint(s) < pc.S; }

#define N_SUMS 14
#define I_MIN 11
#define I_MAX 12
shared float sh[N_SUMS][WG];

void main() {
    uint tid = gl_LocalInvocationID.x;
    float acc[N_SUMS];
    for (uint k = 0; k < N_SUMS; k++) acc[k] = 0.0;
    acc[I_MIN] = 3.402823466e38, acc[I_MAX] = -3.402823466e38;
    for (uint p = tid; p < pc.n_pairs; p += WG) {
        int c = pairs[2 * p], r = pairs[2 * p + 1];
        if (!in_range(c) || !in_range(r)) {
            pair_losses[p] = 0.0;
            if (c != -1 || r != -1) acc[13] += 1.0; // malformed (not padding)
            continue;
        }
        PairEval e = pair_eval(p, uint(c), uint(r));
        pair_losses[p] = e.loss;
        acc[0] += 1.0;
        acc[1] += e.loss;
        acc[2] += e.rew_c;
        acc[3] += e.rew_r;
        acc[4] += e.rew_c > e.rew_r ? 1.0 : 0.0;
        acc[5] += e.lp_c;
        acc[6] += e.lp_r;
        acc[7] += value(uint(c)); // ORPO's NLL: chosen log-prob sums and token counts, pooled
        acc[8] += n_tokens(uint(c));
        acc[9] += e.aux0;
        acc[10] += e.aux1;
        acc[I_MIN] = min(acc[I_MIN], min(e.rew_c, e.rew_r));
        acc[I_MAX] = max(acc[I_MAX], max(e.rew_c, e.rew_r));
    }
    for (uint k = 0; k < N_SUMS; k++) sh[k][tid] = acc[k];
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) {
            for (uint k = 0; k < N_SUMS; k++) {
                float a = sh[k][tid], b = sh[k][tid + h];
                sh[k][tid] = k == I_MIN ? min(a, b) : k == I_MAX ? max(a, b) : a + b;
            }
        }
        barrier();
    }
    float n = sh[0][0], inv_n = n > 0.0 ? 1.0 / n : 0.0;
    bool orpo = pc.type == T_ORPO;
    float nll_n = sh[8][0];
    float nll = orpo && nll_n > 0.0 ? -sh[7][0] / nll_n : 0.0;
    float dnll = orpo && nll_n > 0.0 ? -1.0 / nll_n : 0.0; // d nll / d pc, per chosen occurrence

    for (uint s = tid; s < pc.S; s += WG) {
        float g = 0.0;
        for (uint p = 0; p < pc.n_pairs; p++) {
            int c = pairs[2 * p], r = pairs[2 * p + 1];
            if (!in_range(c) || !in_range(r) || (uint(c) != s && uint(r) != s)) continue;
            PairEval e = pair_eval(p, uint(c), uint(r));
            if (uint(c) == s) g += e.gc * inv_n + dnll;
            if (uint(r) == s) g += e.gr * inv_n;
        }
        dseq[s] = pc.dloss * g;
    }

    if (tid == 0) {
        float rc = sh[2][0] * inv_n, rr = sh[3][0] * inv_n;
        stats[0] = sh[1][0] * inv_n + nll;
        stats[1] = rc;
        stats[2] = rr;
        stats[3] = rc - rr;
        stats[4] = sh[4][0] * inv_n;
        stats[5] = sh[5][0] * inv_n;
        stats[6] = sh[6][0] * inv_n;
        stats[7] = nll;
        stats[8] = sh[9][0] * inv_n;
        stats[9] = sh[10][0] * inv_n;
        stats[10] = n > 0.0 ? sh[I_MIN][0] : 0.0;
        stats[11] = n > 0.0 ? sh[I_MAX][0] : 0.0;
        stats[12] = 0.5 * (rc + rr);
        stats[13] = uintBitsToFloat(uint(n));
        stats[14] = uintBitsToFloat(uint(sh[13][0]));
        stats[15] = 0.0;
    }
}
