/* GRPO on the device: group-normalised advantages (group, batch and no scaling; groups of 1 to 16; binary
 * and continuous rewards), and the whole loss pipeline -- per-token surrogate and k3 KL, per-completion
 * sums, aggregation (dapo with and without the accumulated-batch token count, grpo, bnpo, dr_grpo),
 * per-position weights -- against the double reference on packed completions, with and without old and
 * reference log-probs; the composite gradient dL/dloss_i of the reference against central differences;
 * hand cases: a group of equal rewards has advantages of exactly 0 and, without KL, every weight exactly 0
 * (with KL, the KL gradient alone); ratio clipping on four hand-made tokens (values, clip flags, TRL's
 * clip_ratio metrics and loss).
 *
 * Bounds (fp32 on the device; measured on lavapipe):
 *   advantages 1e-4 with atol 1e-2 rms: r - mean cancels where a reward sits near its group's mean, an
 *     absolute error of an ulp of r over the std (~2e-7 of rms 1)
 *   per-token values, gradients, weights, per-completion sums 1e-5 with atol 1e-2 rms: one exp, one clamp,
 *     a Taylor series for e^d - d - 1; the surrogate's and the KL's parts have both signs and may cancel
 *     (measured ~1e-7 elsewhere)
 *   metrics 1e-5 with atol 1e-2: means of O(1) terms of both signs, fp32 tree sums
 *   reference vs finite differences 1e-4: an O(1) loss moved by 1e-8 to 1e-3 per token, central differences
 *     carry ~2e-11 of rounding noise; a wrong constant or sign is O(1)
 *   hand clipping case 1e-6 absolute (exp(log 1.5) in fp32); zero advantages and weights, clip flags and
 *     counts exact. */
#include "harness.h"
#include "ops/grpo.h"
#include "ops/seq_scatter.h"
#include "ops/seq_sum.h"
#include "pref_testutil.h"
#include "ref/ref_grpo.h"
#include "ref/ref_seq.h"

static vkt_ref_grpo_params params(const vkt_grpo_opts *o) {
    return (vkt_ref_grpo_params){o->group_size, (int)o->scale, o->epsilon_low,           o->epsilon_high,
                                 o->beta,       (int)o->agg,   o->max_completion_length, o->dloss};
}

/* ---- advantages ---- */

typedef struct {
    vkt_tensor rewards, adv, stats;
    vkt_grpo_opts o;
} adv_ctx;

static vkt_status run_adv(vkt_rec *r, void *v) {
    adv_ctx *x = v;
    return vkt_op_grpo_advantages(r, &x->rewards, &x->adv, &x->stats, &x->o);
}

/* Group 0 gets equal rewards (0.1: not exact in binary, so a plain mean would leave a residue). */
static void check_adv(vkt_test *t, int64_t S, int64_t G, vkt_grpo_scale scale, bool binary) {
    float *rw = binary ? malloc((size_t)S * sizeof *rw) : vkt_test_randn(t, (size_t)S, 1.5f);
    for (int64_t s = 0; s < S && binary; s++) rw[s] = (float)vkt_rng_below(&t->rng, 2);
    for (int64_t k = 0; k < G && !binary; k++) rw[k] = 0.1f;
    adv_ctx x = {.o = vkt_grpo_opts_default((int32_t)G)};
    x.o.scale = scale;
    x.rewards = vkt_test_upload(t, rw, S, 1, 1, 1);
    vkt_test_out a = vkt_test_output(t, S, 1, 1, 1), st = vkt_test_output(t, 4, 1, 1, 1);
    x.adv = a.view, x.stats = st.view;
    vkt_test_run(t, run_adv, &x);
    float *ga = vkt_test_read_output(t, &a, "advantages"), *gs = vkt_test_read_output(t, &st, "adv stats");
    double *rd = vkt_test_to_double(rw, (size_t)S), *ra = malloc((size_t)S * sizeof *ra), rs[3];
    vkt_ref_grpo_params p = params(&x.o);
    vkt_ref_grpo_advantages(&p, rd, S, ra, rs);
    char what[160];
    snprintf(what, sizeof what, "advantages S=%lld G=%lld scale=%d%s", (long long)S, (long long)G, (int)scale,
             binary ? " binary" : "");
    vkt_check_atol(t, what, ga, ra, (size_t)S, 1e-2 * vkt_rms(ra, (size_t)S), 1e-4);
    static const char *names[] = {"reward", "reward_std", "frac_reward_zero_std"};
    for (int k = 0; k < 3; k++) {
        char w2[192];
        snprintf(w2, sizeof w2, "%s %s", what, names[k]);
        pt_check_scalar(t, w2, gs[k], rs[k], 1e-2, 1e-5); /* the mean of N(0, 1.5) may be ~0 */
    }
    for (int64_t k = 0; k < G && !binary; k++)
        if (ga[k] != 0 || ra[k] != 0)
            vkt_test_fail(t, "%s: equal rewards give advantage %g (ref %g)", what, ga[k], ra[k]);
    free(rw), free(ga), free(gs), free(rd), free(ra);
    vkt_arena_reset(t->arena);
}

/* ---- the loss pipeline ---- */

typedef struct {
    int64_t B, T, S;
    int32_t *ids;
    float *losses, *old, *ref, *adv, norm; /* old, ref: per-position losses, may be NULL; norm <= 0: none */
    vkt_grpo_opts o;
} lcase;

typedef struct {
    vkt_tensor losses, ids, old, ref, adv, norm, tokvals, tokgrad, seqvals, coef, stats, weights;
    const lcase *c;
} loss_ctx;

static vkt_status run_loss(vkt_rec *r, void *v) {
    loss_ctx *x = v;
    const lcase *c = x->c;
    VKT_TRY(vkt_op_grpo_token(r, &x->losses, &x->ids, c->old ? &x->old : NULL, c->ref ? &x->ref : NULL, &x->adv,
                              &x->tokvals, &x->tokgrad, &c->o));
    VKT_TRY(vkt_op_seq_sum(r, &x->tokvals, &x->ids, 1.0f, &x->seqvals));
    VKT_TRY(vkt_op_grpo_reduce(r, &x->seqvals, c->norm > 0 ? &x->norm : NULL, &x->coef, &x->stats, &c->o));
    return vkt_op_seq_scatter(r, &x->coef, &x->ids, &x->tokgrad, &x->weights);
}

typedef struct {
    double *tokvals, *tokgrad, *seqvals, *coef, *weights, stats[7];
} lref;

static lref ref_loss(const lcase *c, const double *losses) {
    int64_t N = c->B * c->T, S = c->S;
    lref r = {malloc((size_t)(4 * N) * sizeof(double)), malloc((size_t)N * sizeof(double)),
              malloc((size_t)(5 * S) * sizeof(double)), malloc((size_t)S * sizeof(double)),
              malloc((size_t)N * sizeof(double)),       {0}};
    double *old = c->old ? vkt_test_to_double(c->old, (size_t)N) : NULL;
    double *ref = c->ref ? vkt_test_to_double(c->ref, (size_t)N) : NULL;
    double *adv = vkt_test_to_double(c->adv, (size_t)S), norm = c->norm;
    vkt_ref_grpo_params p = params(&c->o);
    vkt_ref_grpo_token(&p, losses, c->ids, old, ref, adv, N, S, r.tokvals, r.tokgrad);
    vkt_ref_seq_sum(r.tokvals, 4, c->ids, N, 1.0, r.seqvals, S);
    vkt_ref_grpo_reduce(&p, r.seqvals, S, c->norm > 0 ? &norm : NULL, r.coef, r.stats);
    vkt_ref_seq_scatter(r.coef, S, c->ids, r.tokgrad, N, r.weights);
    free(old), free(ref), free(adv);
    return r;
}

static void free_lref(lref *r) {
    free(r->tokvals), free(r->tokgrad), free(r->seqvals), free(r->coef), free(r->weights);
}

/* Without old log-probs the old policy is the current one, detached (TRL: old = new.detach()): finite
 * differences hold it at the unperturbed values, so they measure the gradient the op implements. */
static double fd_loss(const double *x, void *v) {
    const lcase *c = v;
    lcase c1 = *c;
    c1.o.dloss = 1;
    int64_t N = c->B * c->T;
    if (!c->old) {
        c1.old = malloc((size_t)N * sizeof *c1.old);
        for (int64_t i = 0; i < N; i++) c1.old[i] = c->losses[i];
    }
    lref r = ref_loss(&c1, x);
    double l = r.stats[0];
    free_lref(&r);
    if (!c->old) free(c1.old);
    return l;
}

typedef struct {
    float *tokvals, *tokgrad, *seqvals, *coef, *weights;
    vkt_grpo_stats st;
} lres;

static lres run_device(vkt_test *t, const lcase *c) {
    int64_t N = c->B * c->T, S = c->S;
    loss_ctx x = {.c = c};
    x.losses = vkt_test_upload(t, c->losses, N, 1, 1, 1), x.ids = vkt_test_upload_i32(t, c->ids, N);
    if (c->old) x.old = vkt_test_upload(t, c->old, N, 1, 1, 1);
    if (c->ref) x.ref = vkt_test_upload(t, c->ref, N, 1, 1, 1);
    x.adv = vkt_test_upload(t, c->adv, S, 1, 1, 1);
    if (c->norm > 0) x.norm = vkt_test_upload(t, &c->norm, 1, 1, 1, 1);
    vkt_test_out tv = vkt_test_output(t, N, 4, 1, 1), tg = vkt_test_output(t, N, 1, 1, 1);
    vkt_test_out sv = vkt_test_output(t, S, 5, 1, 1), cf = vkt_test_output(t, S, 1, 1, 1);
    vkt_test_out st = vkt_test_output(t, 8, 1, 1, 1), w = vkt_test_output(t, N, 1, 1, 1);
    x.tokvals = tv.view, x.tokgrad = tg.view, x.seqvals = sv.view, x.coef = cf.view, x.stats = st.view;
    x.weights = w.view;
    vkt_test_run(t, run_loss, &x);
    lres g = {.tokvals = vkt_test_read_output(t, &tv, "tokvals"),
              .tokgrad = vkt_test_read_output(t, &tg, "tokgrad"),
              .seqvals = vkt_test_read_output(t, &sv, "seqvals"),
              .coef = vkt_test_read_output(t, &cf, "coef"),
              .weights = vkt_test_read_output(t, &w, "weights")};
    float *s = vkt_test_read_output(t, &st, "grpo stats");
    memcpy(&g.st, s, sizeof g.st);
    free(s);
    return g;
}

static void free_lres(lres *g) {
    free(g->tokvals), free(g->tokgrad), free(g->seqvals), free(g->coef), free(g->weights);
}

static void check_stats(vkt_test *t, const char *tag, const vkt_grpo_stats *g, const double *w) {
    const float gv[] = {g->loss, g->kl, g->clip_ratio_low_mean, g->clip_ratio_high_mean, g->clip_ratio_region_mean};
    static const char *names[] = {"loss", "kl", "clip_ratio/low_mean", "clip_ratio/high_mean",
                                  "clip_ratio/region_mean"};
    for (int k = 0; k < 5; k++) {
        char what[192];
        snprintf(what, sizeof what, "%s %s", tag, names[k]);
        pt_check_scalar(t, what, gv[k], w[k], 1e-2, 1e-5); /* means of O(1) terms of both signs */
    }
    char what[192];
    snprintf(what, sizeof what, "%s n_tokens", tag);
    pt_check_exact(t, what, g->n_tokens, w[5]);
    snprintf(what, sizeof what, "%s completions/mean_length", tag);
    pt_check_scalar(t, what, g->completion_mean_length, w[6], 0, 1e-6);
}

/* atol 1e-2 rms: per-token terms are sums of the surrogate's and the KL's parts of both signs. */
static void check_vec(vkt_test *t, const char *what, const float *y, const double *r, int64_t n) {
    vkt_check_atol(t, what, y, r, (size_t)n, 1e-2 * vkt_rms(r, (size_t)n), 1e-5);
}

static void compare(vkt_test *t, const char *tag, const lcase *c, const lres *g, const lref *r) {
    int64_t N = c->B * c->T, S = c->S;
    char what[192];
    snprintf(what, sizeof what, "tokvals %s", tag);
    check_vec(t, what, g->tokvals, r->tokvals, 4 * N);
    snprintf(what, sizeof what, "tokgrad %s", tag);
    check_vec(t, what, g->tokgrad, r->tokgrad, N);
    snprintf(what, sizeof what, "seqvals %s", tag);
    check_vec(t, what, g->seqvals, r->seqvals, 5 * S);
    snprintf(what, sizeof what, "coef %s", tag);
    check_vec(t, what, g->coef, r->coef, S);
    snprintf(what, sizeof what, "weights %s", tag);
    check_vec(t, what, g->weights, r->weights, N);
    check_stats(t, tag, &g->st, r->stats);
}

/* Old log-probs new + N(0, 0.3), nudged so no ratio lies within 1e-3 of a clip boundary (finite differences
 * must not straddle the kink); reference log-probs new + N(0, 0.5); advantages N(0, 1). */
static lcase random_case(vkt_test *t, int64_t B, int64_t T, int64_t S, bool old, bool ref, vkt_grpo_opts o) {
    int64_t N = B * T;
    lcase c = {.B = B, .T = T, .S = S, .o = o};
    c.ids = pt_seq_table(&t->rng, B, T, S, S > 2);
    c.losses = vkt_test_rand(t, (size_t)N, 0.01f, 6.0f);
    c.adv = vkt_test_randn(t, (size_t)S, 1.0f);
    if (old) {
        c.old = malloc((size_t)N * sizeof *c.old);
        for (int64_t i = 0; i < N; i++) {
            float d = (float)(0.3 * vkt_rng_normal(&t->rng));
            float ratio = expf(d);
            if (fabsf(ratio - (1 - o.epsilon_low)) < 1e-3f || fabsf(ratio - (1 + o.epsilon_high)) < 1e-3f) d += 0.01f;
            c.old[i] = c.losses[i] + d; /* old log-prob = new - d */
        }
    }
    if (ref) {
        c.ref = malloc((size_t)N * sizeof *c.ref);
        for (int64_t i = 0; i < N; i++) c.ref[i] = c.losses[i] + (float)(0.5 * vkt_rng_normal(&t->rng));
    }
    return c;
}

static void free_lcase(lcase *c) { free(c->ids), free(c->losses), free(c->old), free(c->ref), free(c->adv); }

static void check_loss(vkt_test *t, int64_t B, int64_t T, int64_t S, bool old, bool ref, vkt_grpo_agg agg, float norm) {
    vkt_grpo_opts o = vkt_grpo_opts_default(1);
    o.agg = agg, o.beta = ref ? 0.04f : 0, o.epsilon_high = 0.28f, o.max_completion_length = (int32_t)T;
    lcase c = random_case(t, B, T, S, old, ref, o);
    c.norm = norm;
    int64_t N = B * T;
    char tag[160];
    snprintf(tag, sizeof tag, "agg=%d B=%lld T=%lld S=%lld old=%d ref=%d norm=%g", (int)agg, (long long)B, (long long)T,
             (long long)S, old, ref, norm);
    double *ld = vkt_test_to_double(c.losses, (size_t)N);
    lref r1 = ref_loss(&c, ld); /* dloss 1: the gradient of the loss itself */
    char what[192];
    snprintf(what, sizeof what, "ref weights %s", tag);
    vkt_check_fd(t, what, fd_loss, ld, r1.weights, (size_t)N, &c, 1e-4);
    free_lref(&r1);
    c.o.dloss = 0.75f; /* not 1, so a dropped dloss fails */
    lref r = ref_loss(&c, ld);
    lres g = run_device(t, &c);
    compare(t, tag, &c, &g, &r);
    free_lres(&g), free_lref(&r), free(ld), free_lcase(&c);
    vkt_arena_reset(t->arena);
}

/* Equal rewards within every group: advantages exactly 0, so without KL every weight is exactly 0 -- no
 * policy-gradient step -- and with KL the weights are the KL term's alone. */
static void check_constant_rewards(vkt_test *t) {
    int64_t G = 4, S = 12, B = 3, T = 40, N = B * T;
    float rw[12];
    for (int64_t s = 0; s < S; s++) rw[s] = 0.3f * (float)(s / G) + 0.1f;
    adv_ctx x = {.o = vkt_grpo_opts_default((int32_t)G)};
    x.rewards = vkt_test_upload(t, rw, S, 1, 1, 1);
    vkt_test_out a = vkt_test_output(t, S, 1, 1, 1), st = vkt_test_output(t, 4, 1, 1, 1);
    x.adv = a.view, x.stats = st.view;
    vkt_test_run(t, run_adv, &x);
    float *ga = vkt_test_read_output(t, &a, "advantages"), *gs = vkt_test_read_output(t, &st, "adv stats");
    for (int64_t s = 0; s < S; s++)
        if (ga[s] != 0) vkt_test_fail(t, "constant rewards: advantage %lld is %g, want exactly 0", (long long)s, ga[s]);
    pt_check_exact(t, "constant rewards frac_reward_zero_std", gs[2], 1.0);
    vkt_arena_reset(t->arena);
    for (int kl = 0; kl < 2; kl++) {
        vkt_grpo_opts o = vkt_grpo_opts_default((int32_t)G);
        o.beta = kl ? 0.04f : 0;
        lcase c = random_case(t, B, T, S, true, kl, o);
        memcpy(c.adv, ga, (size_t)S * sizeof *ga);
        lres g = run_device(t, &c);
        if (!kl) {
            for (int64_t i = 0; i < N; i++)
                if (g.weights[i] != 0) {
                    vkt_test_fail(t, "constant rewards: weight %lld is %g, want exactly 0", (long long)i, g.weights[i]);
                    break;
                }
            pt_check_exact(t, "constant rewards loss", g.st.loss, 0);
            printf("   constant rewards, no KL: all %lld weights exactly 0, loss 0\n", (long long)N);
        } else {
            double *ld = vkt_test_to_double(c.losses, (size_t)N);
            lref r = ref_loss(&c, ld);
            compare(t, "constant rewards with KL", &c, &g, &r);
            free_lref(&r), free(ld);
        }
        free_lres(&g), free_lcase(&c);
        vkt_arena_reset(t->arena);
    }
    free(ga), free(gs);
}

/* Four one-token completions, eps 0.2, old log-prob 0 (old loss 0) and new log-prob log(ratio):
 *   A = +1, ratio 1.5: clipped above, l = -1.2, dl/dnew = 0, high
 *   A = -1, ratio 0.5: clipped below, l = 0.8, dl/dnew = 0, low
 *   A = -1, ratio 1.5: unclipped is the minimum, l = 1.5, dl/dnew = -A ratio = 1.5
 *   A = +1, ratio 0.5: unclipped, l = -0.5, dl/dnew = -0.5
 * dapo over 4 tokens: loss (-1.2 + 0.8 + 1.5 - 0.5) / 4 = 0.15, clip_ratio low 0.25, high 0.25, region 0.5;
 * weights dL/dloss_i = -(1/4) dl/dnew = (0, 0, -0.375, 0.125). */
static void check_clip_hand(vkt_test *t) {
    int32_t ids[4] = {0, 1, 2, 3};
    float adv[4] = {1, -1, -1, 1}, old[4] = {0, 0, 0, 0};
    float losses[4] = {-logf(1.5f), -logf(0.5f), -logf(1.5f), -logf(0.5f)};
    lcase c = {
        .B = 1, .T = 4, .S = 4, .ids = ids, .losses = losses, .old = old, .adv = adv, .o = vkt_grpo_opts_default(1)};
    lres g = run_device(t, &c);
    const double l[4] = {-1.2, 0.8, 1.5, -0.5}, dg[4] = {0, 0, 1.5, -0.5}, w[4] = {0, 0, -0.375, 0.125};
    const double low[4] = {0, 1, 0, 0}, high[4] = {1, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        char what[96];
        snprintf(what, sizeof what, "clip hand token %d l", i);
        pt_check_scalar(t, what, g.tokvals[4 * i], l[i], 1, 1e-6);
        snprintf(what, sizeof what, "clip hand token %d dl/dnew", i);
        pt_check_scalar(t, what, g.tokgrad[i], dg[i], 1, 1e-6);
        snprintf(what, sizeof what, "clip hand token %d weight", i);
        pt_check_scalar(t, what, g.weights[i], w[i], 1, 1e-6);
        snprintf(what, sizeof what, "clip hand token %d low", i);
        pt_check_exact(t, what, g.tokvals[4 * i + 2], low[i]);
        snprintf(what, sizeof what, "clip hand token %d high", i);
        pt_check_exact(t, what, g.tokvals[4 * i + 3], high[i]);
    }
    pt_check_scalar(t, "clip hand loss", g.st.loss, 0.15, 1, 1e-6);
    pt_check_exact(t, "clip hand clip_ratio/low_mean", g.st.clip_ratio_low_mean, 0.25);
    pt_check_exact(t, "clip hand clip_ratio/high_mean", g.st.clip_ratio_high_mean, 0.25);
    pt_check_exact(t, "clip hand clip_ratio/region_mean", g.st.clip_ratio_region_mean, 0.5);
    free_lres(&g);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "op_pref_grpo");
    check_clip_hand(&t);
    check_constant_rewards(&t);
    const int64_t adv_shapes[][2] = {{1, 1}, {3, 1}, {6, 2}, {12, 4}, {160, 16}, {1000, 8}};
    for (size_t k = 0; k < sizeof adv_shapes / sizeof adv_shapes[0]; k++)
        for (int sc = VKT_GRPO_SCALE_GROUP; sc <= VKT_GRPO_SCALE_NONE; sc++)
            check_adv(&t, adv_shapes[k][0], adv_shapes[k][1], (vkt_grpo_scale)sc, k == 4 && sc == 0);
    check_loss(&t, 1, 1, 1, false, false, VKT_GRPO_AGG_DAPO, 0);
    check_loss(&t, 2, 9, 3, true, false, VKT_GRPO_AGG_GRPO, 0);
    check_loss(&t, 3, 37, 7, true, true, VKT_GRPO_AGG_DAPO, 0);
    check_loss(&t, 3, 37, 7, true, true, VKT_GRPO_AGG_DAPO, 300);
    check_loss(&t, 4, 65, 8, false, true, VKT_GRPO_AGG_BNPO, 0);
    check_loss(&t, 5, 130, 16, true, true, VKT_GRPO_AGG_GRPO, 0);
    check_loss(&t, 8, 257, 16, true, false, VKT_GRPO_AGG_DR_GRPO, 0);
    return vkt_test_finish(&t);
}
