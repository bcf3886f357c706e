/* Pairwise preference losses, reference: each pair's loss and its two derivatives in closed form, in
 * double, with the C library's log1p/expm1 (see ref_pref.h and ops/pref_loss.h for the formulas). */
#include "ref/ref_pref.h"

#include <math.h>
#include <stddef.h>

static double logsig(double z) { return fmin(z, 0.0) - log1p(exp(-fabs(z))); }
static double sig(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }
static double log1mexp(double x) { return x < -M_LN2 ? log1p(-exp(x)) : log(-expm1(x)); }

typedef struct {
    double loss, gc, gr, rew_c, rew_r, lp_c, lp_r, aux0, aux1;
} pair_eval;

typedef struct {
    const double *policy, *ref;
    int64_t ps, rs;
} values;

static double ntok(const values *v, int64_t s) { return v->ps == 2 ? fmax(v->policy[2 * s + 1], 1.0) : 1.0; }

static pair_eval eval(const vkt_ref_pref_params *o, const values *v, int64_t c, int64_t r, double margin) {
    pair_eval e = {0};
    double vc = v->policy[c * v->ps], vr = v->policy[r * v->ps];
    if (o->type == VKT_REF_PREF_BT) {
        double d = vc - vr - margin, sum = vc + vr;
        e.loss = -logsig(d) + o->center_rewards_coef * sum * sum;
        e.gc = -sig(-d) + 2 * o->center_rewards_coef * sum;
        e.gr = sig(-d) + 2 * o->center_rewards_coef * sum;
        e.rew_c = vc, e.rew_r = vr;
    } else if (o->type == VKT_REF_PREF_ORPO) {
        double nc = ntok(v, c), nr = ntok(v, r), cap = VKT_REF_ORPO_MAX_AVG_LOGP;
        double ac = fmin(vc / nc, cap), ar = fmin(vr / nr, cap);
        double lo = (ac - ar) - (log1mexp(ac) - log1mexp(ar));
        double dl = -o->orpo_lambda * sig(-lo);
        e.loss = -o->orpo_lambda * logsig(lo);
        /* d lo / d ac = 1 / (1 - e^ac), d lo / d ar = -1 / (1 - e^ar); zero where the clamp holds. */
        e.gc = ac < cap ? dl * (-1.0 / expm1(ac)) / nc : 0;
        e.gr = ar < cap ? -dl * (-1.0 / expm1(ar)) / nr : 0;
        e.rew_c = o->orpo_lambda * ac, e.rew_r = o->orpo_lambda * ar, e.lp_c = ac, e.lp_r = ar;
        e.aux0 = logsig(lo), e.aux1 = lo;
    } else {
        double lc = vc - v->ref[c * v->rs], lr = vr - v->ref[r * v->rs];
        e.rew_c = o->beta * lc, e.rew_r = o->beta * lr, e.lp_c = vc, e.lp_r = vr;
        if (o->type == VKT_REF_PREF_IPO) {
            double nc = ntok(v, c), nr = ntok(v, r), u = (lc / nc - lr / nr) - 1.0 / (2.0 * o->beta);
            e.loss = u * u;
            e.gc = 2 * u / nc;
            e.gr = -2 * u / nr;
        } else {
            double z = o->beta * (lc - lr), ls = o->label_smoothing, dz;
            if (o->type == VKT_REF_PREF_ROBUST) {
                e.loss = (-(1 - ls) * logsig(z) + ls * logsig(-z)) / (1 - 2 * ls);
                dz = (-(1 - ls) * sig(-z) - ls * sig(z)) / (1 - 2 * ls);
            } else {
                e.loss = -(1 - ls) * logsig(z) - ls * logsig(-z);
                dz = -(1 - ls) * sig(-z) + ls * sig(z);
            }
            e.gc = o->beta * dz;
            e.gr = -o->beta * dz;
        }
    }
    return e;
}

double vkt_ref_pref_loss(const vkt_ref_pref_params *o, const double *policy, int64_t ps, const double *ref, int64_t rs,
                         const int32_t *pairs, const double *margins, int64_t P, int64_t S, double *pair_losses,
                         double *dseq, vkt_ref_pref_stats *st) {
    values v = {policy, ref, ps, rs};
    vkt_ref_pref_stats t = {.reward_min = INFINITY, .reward_max = -INFINITY};
    double sum_l = 0, nll_logp = 0, nll_n = 0;
    if (dseq)
        for (int64_t s = 0; s < S; s++) dseq[s] = 0;
    /* First pass: totals (the mean's divisor and ORPO's pooled token count). */
    for (int64_t p = 0; p < P; p++) {
        int32_t c = pairs[2 * p], r = pairs[2 * p + 1];
        if (pair_losses) pair_losses[p] = 0;
        if (c < 0 || c >= S || r < 0 || r >= S) {
            t.n_bad_pairs += !(c == -1 && r == -1);
            continue;
        }
        pair_eval e = eval(o, &v, c, r, margins ? margins[p] : 0);
        if (pair_losses) pair_losses[p] = e.loss;
        t.n_pairs++;
        sum_l += e.loss;
        t.rewards_chosen += e.rew_c, t.rewards_rejected += e.rew_r;
        t.rewards_accuracies += e.rew_c > e.rew_r;
        t.logps_chosen += e.lp_c, t.logps_rejected += e.lp_r;
        t.log_odds_ratio += e.aux0, t.log_odds_chosen += e.aux1;
        nll_logp += policy[c * ps], nll_n += ntok(&v, c);
        t.reward_min = fmin(t.reward_min, fmin(e.rew_c, e.rew_r));
        t.reward_max = fmax(t.reward_max, fmax(e.rew_c, e.rew_r));
    }
    double inv = t.n_pairs ? 1.0 / (double)t.n_pairs : 0;
    int orpo = o->type == VKT_REF_PREF_ORPO;
    t.nll_loss = orpo && nll_n > 0 ? -nll_logp / nll_n : 0;
    double dnll = orpo && nll_n > 0 ? -1.0 / nll_n : 0;
    /* Second pass: every pair's derivatives into its two sequences. */
    for (int64_t p = 0; p < P && dseq; p++) {
        int32_t c = pairs[2 * p], r = pairs[2 * p + 1];
        if (c < 0 || c >= S || r < 0 || r >= S) continue;
        pair_eval e = eval(o, &v, c, r, margins ? margins[p] : 0);
        dseq[c] += o->dloss * (e.gc * inv + dnll);
        dseq[r] += o->dloss * e.gr * inv;
    }
    t.loss = sum_l * inv + t.nll_loss;
    t.rewards_chosen *= inv, t.rewards_rejected *= inv, t.rewards_accuracies *= inv;
    t.rewards_margins = t.rewards_chosen - t.rewards_rejected;
    t.logps_chosen *= inv, t.logps_rejected *= inv, t.log_odds_ratio *= inv, t.log_odds_chosen *= inv;
    t.reward_mean = 0.5 * (t.rewards_chosen + t.rewards_rejected);
    if (!t.n_pairs) t.reward_min = t.reward_max = 0;
    if (st) *st = t;
    return t.loss;
}
