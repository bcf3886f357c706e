/* GRPO reference (see ref_grpo.h): the same shifted means as grpo_adv.comp (so equal rewards give exact
 * zeros here too), the clipped surrogate's derivative by cases, and the k3 KL with expm1. */
#include "ref/ref_grpo.h"

#include <math.h>
#include <stddef.h>

enum { SCALE_GROUP = 0, SCALE_BATCH = 1, SCALE_NONE = 2 };
enum { AGG_DAPO = 0, AGG_GRPO = 1, AGG_BNPO = 2, AGG_DR_GRPO = 3 };

/* Mean as x0 + mean(x - x0) and the Bessel standard deviation of n values. */
static void mean_std(const double *x, int64_t n, double *mean, double *std) {
    double d = 0, v = 0;
    for (int64_t i = 0; i < n; i++) d += x[i] - x[0];
    *mean = x[0] + d / (double)n;
    for (int64_t i = 0; i < n; i++) v += (x[i] - *mean) * (x[i] - *mean);
    *std = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
}

void vkt_ref_grpo_advantages(const vkt_ref_grpo_params *o, const double *rewards, int64_t S, double *advantages,
                             double stats[3]) {
    double mean_b, std_b, n_zero = 0;
    mean_std(rewards, S, &mean_b, &std_b);
    int64_t G = o->group_size;
    for (int64_t g = 0; g < S / G; g++) {
        const double *r = rewards + g * G;
        double m, std_g;
        mean_std(r, G, &m, &std_g);
        double std = o->scale == SCALE_BATCH ? std_b : std_g;
        double inv = o->scale == SCALE_NONE ? 1.0 : 1.0 / (std + 1e-4);
        for (int64_t k = 0; k < G; k++) advantages[g * G + k] = (r[k] - m) * inv;
        if (std <= 1e-8) n_zero += (double)G;
    }
    stats[0] = mean_b, stats[1] = std_b, stats[2] = n_zero / (double)S;
}

void vkt_ref_grpo_token(const vkt_ref_grpo_params *o, const double *losses, const int32_t *seq_ids,
                        const double *old_losses, const double *ref_losses, const double *advantages, int64_t N,
                        int64_t S, double *tokvals, double *tokgrad) {
    for (int64_t i = 0; i < N; i++) {
        double *tv = tokvals + 4 * i;
        tv[0] = tv[1] = tv[2] = tv[3] = tokgrad[i] = 0;
        int32_t s = seq_ids[i];
        if (s < 0 || s >= S) continue;
        double lp = -losses[i], a = advantages[s];
        double ratio = exp(old_losses ? lp + old_losses[i] : 0.0);
        double lo = 1 - o->epsilon_low, hi = 1 + o->epsilon_high;
        double u1 = ratio * a, u2 = fmin(fmax(ratio, lo), hi) * a;
        tv[0] = -fmin(u1, u2);
        tokgrad[i] = u1 <= u2 ? -a * ratio : 0; /* d(-ratio a)/dlp where the unclipped term is the minimum */
        tv[2] = ratio < lo && a < 0;
        tv[3] = ratio > hi && a > 0;
        if (ref_losses) {
            double d = losses[i] - ref_losses[i]; /* logp_ref - logp_new */
            tv[1] = expm1(d) - d;
            tv[0] += o->beta * tv[1];
            tokgrad[i] -= o->beta * expm1(d); /* d(e^d - d - 1)/dlp = -(e^d - 1) */
        }
    }
}

void vkt_ref_grpo_reduce(const vkt_ref_grpo_params *o, const double *seqvals, int64_t S, const double *norm,
                         double *coef, double stats[7]) {
    double seq_mean = 0, sum[4] = {0}, n_tok = 0;
    for (int64_t s = 0; s < S; s++) {
        const double *v = seqvals + 5 * s;
        seq_mean += v[0] / fmax(v[4], 1.0);
        for (int k = 0; k < 4; k++) sum[k] += v[k];
        n_tok += v[4];
    }
    double denom = 1;
    if (o->agg == AGG_DAPO) denom = fmax(norm ? *norm : n_tok, 1.0);
    if (o->agg == AGG_BNPO) denom = fmax(n_tok, 1.0);
    if (o->agg == AGG_DR_GRPO) denom = (double)S * (double)o->max_completion_length;
    for (int64_t s = 0; s < S; s++)
        coef[s] = o->agg == AGG_GRPO ? o->dloss / ((double)S * fmax(seqvals[5 * s + 4], 1.0)) : o->dloss / denom;
    double inv_tok = 1.0 / fmax(n_tok, 1.0);
    stats[0] = o->agg == AGG_GRPO ? seq_mean / (double)S : sum[0] / denom;
    stats[1] = sum[1] * inv_tok, stats[2] = sum[2] * inv_tok, stats[3] = sum[3] * inv_tok;
    stats[4] = (sum[2] + sum[3]) * inv_tok, stats[5] = n_tok, stats[6] = n_tok / (double)S;
}
