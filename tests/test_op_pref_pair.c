/* Pairwise preference losses (DPO sigmoid and robust, IPO, ORPO, Bradley-Terry): per-pair losses, the
 * gradient per sequence (dseq) and the metrics against the double reference on random inputs with padding
 * pairs, malformed pairs and sequences shared by several pairs; the reference gradient against central
 * differences; hand-computed cases that catch a wrong constant (DPO at policy == reference is exactly ln 2
 * with zero margins, with and without label smoothing; ORPO, IPO and BT values worked out by hand).
 *
 * Bounds (fp32 on the device; measured on lavapipe):
 *   pair losses 1e-5 with atol max(1e-2 rms, 1e-3): a few fp32 transcendentals per pair (measured ~1e-7);
 *     robust DPO's two terms cancel to near 0 for some pairs, IPO's u^2 is ~0 where u cancels: an error of
 *     1e-7 of the terms
 *   dseq 1e-4 with atol max(1e-2 rms, 1e-3 dloss / P): a sequence in several pairs sums derivatives of both
 *     signs, ORPO adds the NLL's, IPO's 2u/n cancels with u (measured up to ~1e-4 relative, 4e-7 of the
 *     terms, on the smallest of 301)
 *   metrics 1e-5 with atol 1e-2 of the largest (means of terms of both signs, rewards/margins a difference
 *     of two means, ORPO's lo cancels; fp32 sums over hundreds of pairs)
 *   reference vs finite differences 1e-4: an O(1) mean over up to 257 pairs moves by 1e-8 to 1e-3 per
 *     sequence, and central differences carry ~1e-11 of rounding noise; a wrong constant or sign is O(1)
 *   hand cases 5e-6 with atol 1e-6 on the device (Vulkan lets log() err by 2^-21 absolute near 1, 2.4e-6 of
 *     0.2; measured <= 7e-7), 1e-12 for the reference; ln 2 to one ulp; counts exact. */
#include "harness.h"
#include "ops/pref_loss.h"
#include "pref_testutil.h"
#include "ref/ref_pref.h"

typedef struct {
    vkt_pref_opts o;
    int64_t S, P, ps, rs; /* rs = 0: no reference */
    float *policy, *ref, *margins;
    int32_t *pairs;
} pcase;

typedef struct {
    float *pair_losses, *dseq;
    vkt_pref_stats st;
} presult;

typedef struct {
    vkt_tensor policy, ref, pairs, margins, pl, dseq, stats;
    const pcase *c;
} ctx_t;

static vkt_status run(vkt_rec *r, void *v) {
    ctx_t *x = v;
    return vkt_op_pref_loss(r, &x->policy, x->c->rs ? &x->ref : NULL, &x->pairs, x->c->margins ? &x->margins : NULL,
                            &x->pl, &x->dseq, &x->stats, &x->c->o);
}

static presult run_device(vkt_test *t, const pcase *c) {
    ctx_t x = {.c = c};
    x.policy = vkt_test_upload(t, c->policy, c->S, c->ps, 1, 1);
    if (c->rs) x.ref = vkt_test_upload(t, c->ref, c->S, c->rs, 1, 1);
    if (c->margins) x.margins = vkt_test_upload(t, c->margins, c->P, 1, 1, 1);
    x.pairs = vkt_test_upload_i32(t, c->pairs, 2 * c->P);
    vkt_test_out pl = vkt_test_output(t, c->P, 1, 1, 1), ds = vkt_test_output(t, c->S, 1, 1, 1);
    vkt_test_out st = vkt_test_output(t, 16, 1, 1, 1);
    x.pl = pl.view, x.dseq = ds.view, x.stats = st.view;
    vkt_test_run(t, run, &x);
    presult res = {.pair_losses = vkt_test_read_output(t, &pl, "pair_losses"),
                   .dseq = vkt_test_read_output(t, &ds, "dseq")};
    float *s = vkt_test_read_output(t, &st, "stats");
    memcpy(&res.st, s, sizeof res.st);
    free(s);
    return res;
}

static vkt_ref_pref_params params(const vkt_pref_opts *o) {
    return (vkt_ref_pref_params){(int)o->type,           o->beta, o->label_smoothing, o->orpo_lambda,
                                 o->center_rewards_coef, o->dloss};
}

/* The reference on the case's fp32 inputs, in double. */
static double ref_run(const pcase *c, double dloss, double *pl, double *dseq, vkt_ref_pref_stats *st) {
    vkt_pref_opts o = c->o;
    o.dloss = (float)dloss;
    vkt_ref_pref_params p = params(&o);
    p.dloss = dloss;
    double *pol = vkt_test_to_double(c->policy, (size_t)(c->S * c->ps));
    double *ref = c->rs ? vkt_test_to_double(c->ref, (size_t)(c->S * c->rs)) : NULL;
    double *mg = c->margins ? vkt_test_to_double(c->margins, (size_t)c->P) : NULL;
    double l = vkt_ref_pref_loss(&p, pol, c->ps, ref, c->rs, c->pairs, mg, c->P, c->S, pl, dseq, st);
    free(pol), free(ref), free(mg);
    return l;
}

/* Finite differences of the reference loss over the policy values (column 0; counts held fixed). */
typedef struct {
    const pcase *c;
} fd_ctx;

static double fd_loss(const double *x, void *v) {
    const pcase *c = ((fd_ctx *)v)->c;
    vkt_ref_pref_params p = params(&c->o);
    p.dloss = 1;
    double *pol = vkt_test_to_double(c->policy, (size_t)(c->S * c->ps));
    for (int64_t s = 0; s < c->S; s++) pol[s * c->ps] = x[s];
    double *ref = c->rs ? vkt_test_to_double(c->ref, (size_t)(c->S * c->rs)) : NULL;
    double *mg = c->margins ? vkt_test_to_double(c->margins, (size_t)c->P) : NULL;
    double l = vkt_ref_pref_loss(&p, pol, c->ps, ref, c->rs, c->pairs, mg, c->P, c->S, NULL, NULL, NULL);
    free(pol), free(ref), free(mg);
    return l;
}

static void check_stats(vkt_test *t, const char *tag, const vkt_pref_stats *g, const vkt_ref_pref_stats *w,
                        double bound) {
    const float gv[] = {
        g->loss,         g->rewards_chosen, g->rewards_rejected, g->rewards_margins, g->rewards_accuracies,
        g->logps_chosen, g->logps_rejected, g->nll_loss,         g->log_odds_ratio,  g->log_odds_chosen,
        g->reward_min,   g->reward_max,     g->reward_mean};
    const double wv[] = {
        w->loss,         w->rewards_chosen, w->rewards_rejected, w->rewards_margins, w->rewards_accuracies,
        w->logps_chosen, w->logps_rejected, w->nll_loss,         w->log_odds_ratio,  w->log_odds_chosen,
        w->reward_min,   w->reward_max,     w->reward_mean};
    static const char *names[] = {
        "loss",         "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
        "logps/chosen", "logps/rejected", "nll_loss",         "log_odds_ratio",  "log_odds_chosen",
        "min_reward",   "max_reward",     "mean_reward"};
    double scale = 0;
    for (int i = 0; i < 13; i++) scale = fmax(scale, fabs(wv[i]));
    for (int i = 0; i < 13; i++) {
        char what[192];
        snprintf(what, sizeof what, "%s %s", tag, names[i]);
        /* Metrics may be ~0 (means of terms of both signs, rewards/margins a difference of two means, ORPO's
         * lo cancels): atol 1e-2 of the largest metric, which is at least a typical reward or log-prob. */
        pt_check_scalar(t, what, gv[i], wv[i], 1e-2 * fmax(scale, 1e-3), bound);
    }
    char what[192];
    snprintf(what, sizeof what, "%s n_pairs", tag);
    pt_check_exact(t, what, g->n_pairs, (double)w->n_pairs);
    snprintf(what, sizeof what, "%s n_bad_pairs", tag);
    pt_check_exact(t, what, g->n_bad_pairs, (double)w->n_bad_pairs);
}

static const char *type_name(vkt_pref_loss_type ty) {
    static const char *n[] = {"dpo", "robust", "ipo", "orpo", "bt"};
    return n[ty];
}

/* Random case: S sequences, P pairs (about 1 in 8 padding, optionally one malformed), sequences reused
 * across pairs (chosen and rejected drawn independently), logps -(n * U(0.2, 3)), reference = policy + N(0, 2). */
static pcase random_case(vkt_test *t, vkt_pref_opts o, int64_t S, int64_t P, bool bad, bool margins) {
    pcase c = {.o = o, .S = S, .P = P};
    bool bt = o.type == VKT_PREF_BT;
    c.ps = bt ? 1 : 2;
    c.rs = o.type <= VKT_PREF_IPO ? 1 + (int64_t)vkt_rng_below(&t->rng, 2) : 0;
    c.policy = malloc((size_t)(S * c.ps) * sizeof(float));
    c.ref = c.rs ? malloc((size_t)(S * c.rs) * sizeof(float)) : NULL;
    for (int64_t s = 0; s < S; s++) {
        float n = (float)(1 + vkt_rng_below(&t->rng, 40));
        if (bt) {
            c.policy[s] = (float)(2 * vkt_rng_normal(&t->rng));
            continue;
        }
        c.policy[2 * s] = -n * vkt_rng_range(&t->rng, 0.2f, 3.0f);
        c.policy[2 * s + 1] = n;
        if (c.rs) {
            c.ref[s * c.rs] = c.policy[2 * s] + (float)(2 * vkt_rng_normal(&t->rng));
            if (c.rs == 2) c.ref[2 * s + 1] = n;
        }
    }
    c.pairs = malloc((size_t)(2 * P) * sizeof(int32_t));
    for (int64_t p = 0; p < P; p++) {
        bool pad = P > 1 && vkt_rng_below(&t->rng, 8) == 0;
        int32_t a = (int32_t)vkt_rng_below(&t->rng, (uint32_t)S), b = (int32_t)vkt_rng_below(&t->rng, (uint32_t)S);
        if (S > 1 && a == b) b = (a + 1) % (int32_t)S;
        c.pairs[2 * p] = pad ? -1 : a;
        c.pairs[2 * p + 1] = pad ? -1 : b;
    }
    if (bad && P > 2) c.pairs[2 * (P / 2)] = (int32_t)S + 3;
    c.margins = margins ? vkt_test_rand(t, (size_t)P, -0.5f, 1.0f) : NULL;
    return c;
}

static void free_case(pcase *c) { free(c->policy), free(c->ref), free(c->margins), free(c->pairs); }
static void free_result(presult *r) { free(r->pair_losses), free(r->dseq); }

static void check_random(vkt_test *t, vkt_pref_opts o, int64_t S, int64_t P, bool bad, bool margins) {
    pcase c = random_case(t, o, S, P, bad, margins);
    c.o.dloss = 0.75f; /* not 1, so a dropped dloss fails */
    char tag[96];
    snprintf(tag, sizeof tag, "%s S=%lld P=%lld rs=%lld%s", type_name(o.type), (long long)S, (long long)P,
             (long long)c.rs, margins ? " margins" : "");
    double *rpl = malloc((size_t)P * sizeof *rpl), *rds = malloc((size_t)S * sizeof *rds);
    vkt_ref_pref_stats rst;
    ref_run(&c, 1.0, rpl, rds, &rst);
    double *x = malloc((size_t)S * sizeof *x);
    for (int64_t s = 0; s < S; s++) x[s] = c.policy[s * c.ps];
    fd_ctx f = {&c};
    char what[192];
    snprintf(what, sizeof what, "ref dseq %s", tag);
    vkt_check_fd(t, what, fd_loss, x, rds, (size_t)S, &f, 1e-4);

    ref_run(&c, 0.75, rpl, rds, &rst);
    presult g = run_device(t, &c);
    snprintf(what, sizeof what, "pair_losses %s", tag);
    vkt_check_atol(t, what, g.pair_losses, rpl, (size_t)P, fmax(1e-2 * vkt_rms(rpl, (size_t)P), 1e-3), 1e-5);
    snprintf(what, sizeof what, "dseq %s", tag);
    vkt_check_atol(t, what, g.dseq, rds, (size_t)S, fmax(1e-2 * vkt_rms(rds, (size_t)S), 1e-3 * 0.75 / (double)P),
                   1e-4);
    check_stats(t, tag, &g.st, &rst, 1e-5);
    free_result(&g), free(rpl), free(rds), free(x), free_case(&c);
    vkt_arena_reset(t->arena);
}

/* DPO/robust/IPO with the reference equal to the policy bit for bit: the log-ratios are exactly 0, so DPO's
 * loss is ln 2 (any label smoothing: (1-e) ln 2 + e ln 2), IPO's (1/(2 beta))^2, rewards and margins 0 and
 * the accuracy 0 (chosen > rejected is strict). */
static void check_policy_is_ref(vkt_test *t, vkt_pref_loss_type ty, float ls) {
    vkt_pref_opts o = vkt_pref_opts_default(ty);
    o.beta = 0.25f, o.label_smoothing = ls;
    pcase c = random_case(t, o, 13, 9, false, false);
    for (int64_t p = 0; p < c.P; p++) /* no padding: every pair counts */
        if (c.pairs[2 * p] < 0) c.pairs[2 * p] = 0, c.pairs[2 * p + 1] = 1;
    for (int64_t s = 0; s < c.S; s++) c.ref[s * c.rs] = c.policy[2 * s] * 1.0f;
    vkt_ref_pref_stats rst;
    double *rpl = malloc((size_t)c.P * sizeof *rpl), *rds = malloc((size_t)c.S * sizeof *rds);
    double want = ty == VKT_PREF_IPO ? 4.0 : M_LN2; /* IPO: (1 / (2 * 0.25))^2 */
    ref_run(&c, 1.0, rpl, rds, &rst);
    char tag[96];
    snprintf(tag, sizeof tag, "%s policy==ref ls=%g", type_name(ty), ls);
    presult g = run_device(t, &c);
    char what[192];
    snprintf(what, sizeof what, "%s ref loss", tag);
    pt_check_scalar(t, what, rst.loss, want, 0, 1e-15);
    for (int64_t p = 0; p < c.P; p++) {
        snprintf(what, sizeof what, "%s pair %lld loss", tag, (long long)p);
        if (fabs(g.pair_losses[p] - want) > 1.2e-7 * want) /* one ulp of ln 2 */
            vkt_test_fail(t, "%s: %.9g, want %.9g within one ulp", what, g.pair_losses[p], want);
    }
    snprintf(what, sizeof what, "%s loss", tag);
    pt_check_scalar(t, what, g.st.loss, want, 0, 2.4e-7);
    snprintf(what, sizeof what, "%s rewards/margins", tag);
    pt_check_exact(t, what, g.st.rewards_margins, 0);
    snprintf(what, sizeof what, "%s rewards/chosen", tag);
    pt_check_exact(t, what, g.st.rewards_chosen, 0);
    snprintf(what, sizeof what, "%s rewards/accuracies", tag);
    pt_check_exact(t, what, g.st.rewards_accuracies, 0);
    free_result(&g), free(rpl), free(rds), free_case(&c);
    vkt_arena_reset(t->arena);
}

/* One pair worked out by hand (values from Python's math module, in the comments). */
static void check_hand(vkt_test *t, const char *tag, pcase *c, double want_loss, double want_pair, double want_nll) {
    vkt_ref_pref_stats rst;
    double rpl[4], rds[8];
    ref_run(c, 1.0, rpl, rds, &rst);
    char what[192];
    snprintf(what, sizeof what, "%s ref loss", tag);
    pt_check_scalar(t, what, rst.loss, want_loss, 0, 1e-12);
    snprintf(what, sizeof what, "%s ref pair loss", tag);
    pt_check_scalar(t, what, rpl[0], want_pair, 0, 1e-12);
    presult g = run_device(t, c);
    snprintf(what, sizeof what, "%s loss", tag);
    pt_check_scalar(t, what, g.st.loss, want_loss, 1e-6, 5e-6);
    snprintf(what, sizeof what, "%s pair loss", tag);
    pt_check_scalar(t, what, g.pair_losses[0], want_pair, 1e-6, 5e-6);
    snprintf(what, sizeof what, "%s nll", tag);
    pt_check_scalar(t, what, g.st.nll_loss, want_nll, 1e-12, 5e-6);
    free_result(&g);
    vkt_arena_reset(t->arena);
}

static void hand_cases(vkt_test *t) {
    int32_t pairs[2] = {0, 1};
    /* Hyperparameters are binary fractions, exact in fp32, so the double reference sees the same values.
     * DPO, beta 0.5: z = 0.5 ((-10 + 12) - (-15 + 14)) = 1.5; -log sig(1.5) = 0.2014132779827524; label
     * smoothing 0.125: 0.875 * 0.20141... + 0.125 * 1.70141... = 0.38891327798275244; robust 0.125:
     * (0.875 * 0.20141... - 0.125 * 1.70141...) / 0.75 = -0.0485867220172476 (may be negative). */
    float pol[4] = {-10, 5, -15, 7}, ref[2] = {-12, -14};
    pcase c = {.o = vkt_pref_opts_default(VKT_PREF_DPO_SIGMOID),
               .S = 2,
               .P = 1,
               .ps = 2,
               .rs = 1,
               .policy = pol,
               .ref = ref,
               .pairs = pairs};
    c.o.beta = 0.5f;
    check_hand(t, "hand dpo", &c, 0.2014132779827524, 0.2014132779827524, 0);
    c.o.label_smoothing = 0.125f;
    check_hand(t, "hand cdpo ls=0.125", &c, 0.38891327798275244, 0.38891327798275244, 0);
    c.o.type = VKT_PREF_DPO_ROBUST;
    check_hand(t, "hand robust ls=0.125", &c, -0.0485867220172476, -0.0485867220172476, 0);
    /* IPO, beta 0.25, counts 4 and 2: ((-10 + 12)/4 - (-15 + 14)/2 - 1/(2 * 0.25))^2 = (1 - 2)^2 = 1. */
    float pol_ipo[4] = {-10, 4, -15, 2};
    c.o = vkt_pref_opts_default(VKT_PREF_IPO), c.o.beta = 0.25f, c.policy = pol_ipo;
    check_hand(t, "hand ipo", &c, 1.0, 1.0, 0);
    /* ORPO, lambda 0.125: averages ac = -2/4 = -0.5, ar = -6/3 = -2; lo = 1.5 - (log(1 - e^-0.5) -
     * log(1 - e^-2)) = 2.2873386716983295, log sig(lo) = -0.09670586364939958; pair loss -0.125 log sig(lo) =
     * 0.012088232956174947; NLL = 2/4 = 0.5; loss = 0.5120882329561749. */
    float pol_orpo[4] = {-2, 4, -6, 3};
    c.o = vkt_pref_opts_default(VKT_PREF_ORPO), c.o.orpo_lambda = 0.125f, c.policy = pol_orpo, c.rs = 0;
    c.ref = NULL;
    check_hand(t, "hand orpo", &c, 0.5120882329561749, 0.012088232956174947, 0.5);
    /* BT: rc 1.5, rr 0.25, margin 0.5: -log sig(0.75) = 0.38687100611489994, + (1/64) (1.75)^2 =
     * 0.43472256861489994; without the margin and centring -log sig(1.25) = 0.2519290813453729. */
    float rw[2] = {1.5f, 0.25f}, mg[1] = {0.5f};
    c.o = vkt_pref_opts_default(VKT_PREF_BT), c.policy = rw, c.ps = 1, c.margins = mg;
    c.o.center_rewards_coef = 1.0f / 64;
    check_hand(t, "hand bt margin center", &c, 0.43472256861489994, 0.43472256861489994, 0);
    c.o.center_rewards_coef = 0, c.margins = NULL;
    check_hand(t, "hand bt", &c, 0.2519290813453729, 0.2519290813453729, 0);
}

/* CPU drivers' loop limit: a batch too large for it is refused with a message, not cut short. */
static void check_cpu_limit(vkt_test *t) {
    if (vkt_device_get_info(t->dev)->type != VKT_DEVICE_CPU) return;
    vkt_pref_opts o = vkt_pref_opts_default(VKT_PREF_ORPO);
    pcase c = random_case(t, o, 3000, 1500, false, false);
    vkt_tensor pol = vkt_test_upload(t, c.policy, c.S, 2, 1, 1), pairs = vkt_test_upload_i32(t, c.pairs, 2 * c.P);
    vkt_tensor pl = vkt_test_output(t, c.P, 1, 1, 1).view, ds = vkt_test_output(t, c.S, 1, 1, 1).view;
    vkt_tensor st = vkt_test_output(t, 16, 1, 1, 1).view;
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    printf("   (the next error is expected)\n");
    fflush(stdout);
    vkt_status s = vkt_op_pref_loss(t->rec, &pol, NULL, &pairs, NULL, &pl, &ds, &st, &o);
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    if (s != VKT_ERR_UNSUPPORTED)
        vkt_test_fail(t, "1500 pairs on a CPU driver: status %d, want VKT_ERR_UNSUPPORTED", s);
    free_case(&c);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "op_pref_pair");
    hand_cases(&t);
    check_cpu_limit(&t);
    check_policy_is_ref(&t, VKT_PREF_DPO_SIGMOID, 0);
    check_policy_is_ref(&t, VKT_PREF_DPO_SIGMOID, 0.2f);
    check_policy_is_ref(&t, VKT_PREF_DPO_ROBUST, 0.2f);
    check_policy_is_ref(&t, VKT_PREF_IPO, 0);
    const int64_t shapes[][2] = {{2, 1}, {7, 3}, {64, 32}, {301, 257}};
    for (int ty = VKT_PREF_DPO_SIGMOID; ty <= VKT_PREF_BT; ty++) {
        vkt_pref_opts o = vkt_pref_opts_default((vkt_pref_loss_type)ty);
        o.label_smoothing = ty <= VKT_PREF_DPO_ROBUST ? 0.15f : 0;
        o.beta = ty == VKT_PREF_IPO ? 0.5f : 0.1f;
        o.orpo_lambda = 0.3f;
        o.center_rewards_coef = ty == VKT_PREF_BT ? 0.05f : 0;
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
            check_random(&t, o, shapes[k][0], shapes[k][1], k == 2, ty == VKT_PREF_BT && k >= 2);
    }
    return vkt_test_finish(&t);
}
