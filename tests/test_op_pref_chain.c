/* The whole device path of a preference / RL step from logits to dlogits, as the trainer records it (see
 * ops/pref_loss.h and ops/grpo.h), against central differences of the same objective computed in double
 * from the logits:
 *   DPO / IPO / ORPO: xent_fwd (policy logits; and reference logits, for DPO/IPO) -> seq_sum -> pref_loss ->
 *                     seq_scatter -> xent_bwd_weighted
 *   GRPO:             xent_fwd -> grpo_token -> seq_sum -> grpo_reduce -> seq_scatter -> xent_bwd_weighted
 * on packed rows (several sequences per row, prompt positions with -100 targets, counted positions outside
 * every sequence). One recording per objective, so the recorder's barriers between the ops are exercised.
 *
 * Bounds (fp32 on the device; measured on lavapipe):
 *   double chain vs finite differences 1e-4: the objective is O(1) and summed over every sequence while
 *     single logits move it by ~1e-7 to 1e-3, so central differences carry ~2e-11 of rounding noise, up to
 *     ~1e-5 relative on the smallest sampled elements; a wrong constant or sign is O(1)
 *   device dlogits vs the double chain 1e-4 with atol 1e-2 rms (the weighted backward's bound; GRPO's
 *     per-token weights sum surrogate and KL parts of both signs; measured ~1e-6 to 1e-4 at the floor)
 *   device loss 1e-5 with atol 1e-2 (GRPO's mean of terms of both signs may cancel). */
#include "harness.h"
#include "ops/grpo.h"
#include "ops/pref_loss.h"
#include "ops/seq_scatter.h"
#include "ops/seq_sum.h"
#include "ops/xent.h"
#include "pref_testutil.h"
#include "ref/ref_grpo.h"
#include "ref/ref_pref.h"
#include "ref/ref_seq.h"
#include "ref/ref_xent.h"

typedef enum { OBJ_DPO, OBJ_IPO, OBJ_ORPO, OBJ_GRPO } objective;

typedef struct {
    objective obj;
    int64_t B, T, V, S, P, N;
    int32_t *targets, *ids, *pairs;
    double *ref_logits;          /* DPO/IPO reference model's logits (fixed) */
    double *old, *ref_tok, *adv; /* GRPO: per-position old and reference losses, per-sequence advantages */
    vkt_pref_opts po;
    vkt_grpo_opts go;
} chain;

static int pref_type(objective o) {
    return o == OBJ_DPO ? VKT_REF_PREF_SIGMOID : o == OBJ_IPO ? VKT_REF_PREF_IPO : VKT_REF_PREF_ORPO;
}

/* Per-sequence (logp, count) of logits. */
static void seq_logps(const chain *c, const double *logits, double *out) {
    double *l = malloc((size_t)c->N * sizeof *l);
    int64_t nv;
    vkt_ref_xent_fwd(logits, c->targets, l, c->N, c->V, -100, &nv);
    vkt_ref_seq_sum(l, 1, c->ids, c->N, -1.0, out, c->S);
    free(l);
}

/* The objective from the logits in double; with dlogits, also its gradient through the same chain of
 * references the device runs (weights, then the weighted backward). */
static double objective_value(const chain *c, const double *logits, double *dlogits) {
    double loss, *w = malloc((size_t)c->N * sizeof *w), *coef = malloc((size_t)c->S * sizeof *coef);
    if (c->obj == OBJ_GRPO) {
        double *l = malloc((size_t)c->N * sizeof *l), *tv = malloc((size_t)(4 * c->N) * sizeof *tv);
        double *tg = malloc((size_t)c->N * sizeof *tg), *sv = malloc((size_t)(5 * c->S) * sizeof *sv), st[7];
        int64_t nv;
        vkt_ref_xent_fwd(logits, c->targets, l, c->N, c->V, -100, &nv);
        vkt_ref_grpo_params p = {c->go.group_size, (int)c->go.scale, c->go.epsilon_low,           c->go.epsilon_high,
                                 c->go.beta,       (int)c->go.agg,   c->go.max_completion_length, 1.0};
        vkt_ref_grpo_token(&p, l, c->ids, c->old, c->ref_tok, c->adv, c->N, c->S, tv, tg);
        vkt_ref_seq_sum(tv, 4, c->ids, c->N, 1.0, sv, c->S);
        vkt_ref_grpo_reduce(&p, sv, c->S, NULL, coef, st);
        vkt_ref_seq_scatter(coef, c->S, c->ids, tg, c->N, w);
        loss = st[0];
        free(l), free(tv), free(tg), free(sv);
    } else {
        double *pol = malloc((size_t)(2 * c->S) * sizeof *pol), *ref = NULL;
        seq_logps(c, logits, pol);
        if (c->ref_logits) {
            ref = malloc((size_t)(2 * c->S) * sizeof *ref);
            seq_logps(c, c->ref_logits, ref);
        }
        vkt_ref_pref_params p = {pref_type(c->obj), c->po.beta, c->po.label_smoothing, c->po.orpo_lambda, 0, 1.0};
        loss = vkt_ref_pref_loss(&p, pol, 2, ref, 2, c->pairs, NULL, c->P, c->S, NULL, coef, NULL);
        vkt_ref_seq_scatter(coef, c->S, c->ids, NULL, c->N, w);
        free(pol), free(ref);
    }
    if (dlogits) vkt_ref_xent_bwd_weighted(logits, c->targets, w, dlogits, c->N, c->V, -100, 1.0);
    free(w), free(coef);
    return loss;
}

static double fd_objective(const double *x, void *v) { return objective_value(v, x, NULL); }

typedef struct {
    const chain *c;
    vkt_tensor logits, ref_logits, targets, ids, pairs, old, ref_tok, adv;
    /* scratch */
    vkt_tensor losses, rowstats, xstats, ref_losses, ref_rowstats, ref_xstats, pol, ref, pl, dseq, pstats;
    vkt_tensor tokvals, tokgrad, seqvals, coef, gstats;
    vkt_tensor weights, dlogits;
} dev;

static vkt_status record_chain(vkt_rec *r, void *v) {
    dev *d = v;
    const chain *c = d->c;
    vkt_xent_opts xo = vkt_xent_opts_default();
    VKT_TRY(vkt_op_xent_fwd(r, &d->logits, &d->targets, &d->losses, &d->rowstats, &d->xstats, &xo));
    if (c->obj == OBJ_GRPO) {
        VKT_TRY(
            vkt_op_grpo_token(r, &d->losses, &d->ids, &d->old, &d->ref_tok, &d->adv, &d->tokvals, &d->tokgrad, &c->go));
        VKT_TRY(vkt_op_seq_sum(r, &d->tokvals, &d->ids, 1.0f, &d->seqvals));
        VKT_TRY(vkt_op_grpo_reduce(r, &d->seqvals, NULL, &d->coef, &d->gstats, &c->go));
        VKT_TRY(vkt_op_seq_scatter(r, &d->coef, &d->ids, &d->tokgrad, &d->weights));
    } else {
        if (c->ref_logits) {
            VKT_TRY(
                vkt_op_xent_fwd(r, &d->ref_logits, &d->targets, &d->ref_losses, &d->ref_rowstats, &d->ref_xstats, &xo));
            VKT_TRY(vkt_op_seq_sum(r, &d->ref_losses, &d->ids, -1.0f, &d->ref));
        }
        VKT_TRY(vkt_op_seq_sum(r, &d->losses, &d->ids, -1.0f, &d->pol));
        VKT_TRY(vkt_op_pref_loss(r, &d->pol, c->ref_logits ? &d->ref : NULL, &d->pairs, NULL, &d->pl, &d->dseq,
                                 &d->pstats, &c->po));
        VKT_TRY(vkt_op_seq_scatter(r, &d->dseq, &d->ids, NULL, &d->weights));
    }
    return vkt_op_xent_bwd_weighted(r, &d->logits, &d->targets, &d->rowstats, &d->weights, &d->dlogits, &xo);
}

static vkt_tensor out(vkt_test *t, int64_t n) { return vkt_test_output(t, n, 1, 1, 1).view; }

static void check_chain(vkt_test *t, objective obj, int64_t B, int64_t T, int64_t V, int64_t S) {
    static const char *names[] = {"dpo", "ipo", "orpo", "grpo"};
    chain c = {.obj = obj, .B = B, .T = T, .V = V, .S = S, .N = B * T};
    int64_t N = c.N;
    c.ids = pt_seq_table(&t->rng, B, T, S, false);
    c.targets = malloc((size_t)N * sizeof *c.targets);
    for (int64_t i = 0; i < N; i++) /* prompts mostly -100; a few counted positions outside every sequence */
        c.targets[i] = c.ids[i] < 0 && vkt_rng_below(&t->rng, 4) ? -100 : (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
    float *logits = vkt_test_randn(t, (size_t)(N * V), 1.5f), *ref_logits = NULL;
    float *old = NULL, *ref_tok = NULL, *adv = NULL;
    if (obj == OBJ_GRPO) {
        c.go = vkt_grpo_opts_default(1);
        c.go.beta = 0.05f, c.go.agg = VKT_GRPO_AGG_GRPO;
        double *xd = vkt_test_to_double(logits, (size_t)(N * V)), *l = malloc((size_t)N * sizeof *l);
        int64_t nv;
        vkt_ref_xent_fwd(xd, c.targets, l, N, V, -100, &nv);
        old = malloc((size_t)N * sizeof *old), ref_tok = malloc((size_t)N * sizeof *ref_tok);
        for (int64_t i = 0; i < N; i++) {
            float d = (float)(0.15 * vkt_rng_normal(&t->rng)); /* ratios near 1: few clipped, none at a kink */
            old[i] = (float)l[i] + d; /* old log-prob = new - d */
            ref_tok[i] = (float)l[i] + (float)(0.3 * vkt_rng_normal(&t->rng));
        }
        adv = vkt_test_randn(t, (size_t)S, 1.0f);
        c.old = vkt_test_to_double(old, (size_t)N), c.ref_tok = vkt_test_to_double(ref_tok, (size_t)N);
        c.adv = vkt_test_to_double(adv, (size_t)S);
        free(xd), free(l);
    } else {
        c.po = vkt_pref_opts_default(obj == OBJ_DPO   ? VKT_PREF_DPO_SIGMOID
                                     : obj == OBJ_IPO ? VKT_PREF_IPO
                                                      : VKT_PREF_ORPO);
        c.po.beta = obj == OBJ_IPO ? 0.5f : 0.2f, c.po.label_smoothing = obj == OBJ_DPO ? 0.1f : 0;
        c.po.orpo_lambda = 0.3f;
        c.P = S / 2;
        c.pairs = malloc((size_t)(2 * c.P) * sizeof *c.pairs);
        for (int64_t p = 0; p < c.P; p++) c.pairs[2 * p] = (int32_t)(2 * p), c.pairs[2 * p + 1] = (int32_t)(2 * p + 1);
        if (obj != OBJ_ORPO) {
            ref_logits = malloc((size_t)(N * V) * sizeof *ref_logits);
            for (int64_t i = 0; i < N * V; i++) ref_logits[i] = logits[i] + (float)(0.5 * vkt_rng_normal(&t->rng));
            c.ref_logits = vkt_test_to_double(ref_logits, (size_t)(N * V));
        }
    }
    double *xd = vkt_test_to_double(logits, (size_t)(N * V)), *ref_d = malloc((size_t)(N * V) * sizeof *ref_d);
    double loss = objective_value(&c, xd, ref_d);
    char what[128];
    snprintf(what, sizeof what, "%s chain ref dlogits B=%lld T=%lld V=%lld S=%lld", names[obj], (long long)B,
             (long long)T, (long long)V, (long long)S);
    vkt_check_fd(t, what, fd_objective, xd, ref_d, (size_t)(N * V), &c, 1e-4);

    dev d = {.c = &c};
    d.logits = vkt_test_upload(t, logits, N, V, 1, 1), d.targets = vkt_test_upload_i32(t, c.targets, N);
    d.ids = vkt_test_upload_i32(t, c.ids, N);
    d.losses = out(t, N), d.rowstats = out(t, 2 * N), d.xstats = out(t, 4), d.weights = out(t, N);
    vkt_test_out dl = vkt_test_output(t, N, V, 1, 1), gs = vkt_test_output(t, obj == OBJ_GRPO ? 8 : 16, 1, 1, 1);
    d.dlogits = dl.view;
    if (obj == OBJ_GRPO) {
        d.old = vkt_test_upload(t, old, N, 1, 1, 1), d.ref_tok = vkt_test_upload(t, ref_tok, N, 1, 1, 1);
        d.adv = vkt_test_upload(t, adv, S, 1, 1, 1);
        d.tokvals = out(t, 4 * N), d.tokgrad = out(t, N), d.seqvals = out(t, 5 * S), d.coef = out(t, S);
        d.gstats = gs.view;
    } else {
        d.pairs = vkt_test_upload_i32(t, c.pairs, 2 * c.P);
        if (ref_logits) {
            d.ref_logits = vkt_test_upload(t, ref_logits, N, V, 1, 1);
            d.ref_losses = out(t, N), d.ref_rowstats = out(t, 2 * N), d.ref_xstats = out(t, 4), d.ref = out(t, 2 * S);
        }
        d.pol = out(t, 2 * S), d.pl = out(t, c.P), d.dseq = out(t, S), d.pstats = gs.view;
    }
    vkt_test_run(t, record_chain, &d);
    float *g = vkt_test_read_output(t, &dl, "dlogits"), *st = vkt_test_read_output(t, &gs, "stats");
    snprintf(what, sizeof what, "%s chain dlogits B=%lld T=%lld V=%lld S=%lld", names[obj], (long long)B, (long long)T,
             (long long)V, (long long)S);
    vkt_check_atol(t, what, g, ref_d, (size_t)(N * V), 1e-2 * vkt_rms(ref_d, (size_t)(N * V)), 1e-4);
    snprintf(what, sizeof what, "%s chain loss", names[obj]);
    pt_check_scalar(t, what, st[0], loss, 1e-2, 1e-5); /* GRPO's mean of terms of both signs may cancel */
    printf("   %s: %u dispatches, %u barriers in one recording\n", names[obj], vkt_rec_dispatch_count(t->rec),
           vkt_rec_barrier_count(t->rec));
    free(g), free(st), free(logits), free(ref_logits), free(old), free(ref_tok), free(adv), free(xd), free(ref_d);
    free(c.targets), free(c.ids), free(c.pairs), free(c.ref_logits), free(c.old), free(c.ref_tok), free(c.adv);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "op_pref_chain");
    for (int obj = OBJ_DPO; obj <= OBJ_GRPO; obj++) {
        check_chain(&t, (objective)obj, 2, 11, 7, 4);
        check_chain(&t, (objective)obj, 3, 23, 37, 6);
    }
    return vkt_test_finish(&t);
}
