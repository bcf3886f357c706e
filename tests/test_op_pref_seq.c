/* The sequence-level plumbing of the preference objectives: per-sequence sums (sequence log-probs and
 * token counts) over packed rows, per-sequence gradients to per-position weights, and the weighted
 * cross-entropy backward (both kernel layouts, out of place and in place, rows split over bindings),
 * against the double references, with NaN-poisoned and guarded outputs; the weighted backward's reference
 * against central differences of sum_r w_r loss_r; replay determinism; the host id-table check.
 *
 * Bounds: sums 1e-5 (fp32 tree sums of at most a few thousand positive terms; measured ~1e-7), counts
 * exact; weights exact (one fp32 product of the same fp32 inputs as the reference: bit-equal after
 * rounding the double product); dlogits 1e-4 as the uniform backward (test_op_xent.c), reference vs finite
 * differences 1e-4 (a weighted sum of O(1) losses, not their mean: central differences carry ~1e-11 of
 * rounding noise, up to ~1e-5 relative on the smallest sampled elements; a wrong constant is O(1)). */
#include "harness.h"
#include "ops/seq_scatter.h"
#include "ops/seq_sum.h"
#include "ops/xent.h"
#include "pref_testutil.h"
#include "ref/ref_seq.h"
#include "ref/ref_xent.h"

typedef struct {
    vkt_tensor values, ids, out, coef, tok, weights;
    float scale;
    bool with_tok;
} seq_ctx;

static vkt_status run_seq(vkt_rec *r, void *v) {
    seq_ctx *x = v;
    VKT_TRY(vkt_op_seq_sum(r, &x->values, &x->ids, x->scale, &x->out));
    return vkt_op_seq_scatter(r, &x->coef, &x->ids, x->with_tok ? &x->tok : NULL, &x->weights);
}

/* B rows of T positions holding S packed sequences; K values per position. Bad ids (S + 2 and -7) must
 * count for no sequence. */
static void check_seq(vkt_test *t, int64_t B, int64_t T, int64_t S, int64_t K, bool bad_ids) {
    int64_t N = B * T;
    int32_t *ids = pt_seq_table(&t->rng, B, T, S, S > 2);
    if (bad_ids) ids[N - 1] = (int32_t)S + 2, ids[0] = -7;
    float *vals = vkt_test_rand(t, (size_t)(N * K), 0.0f, 12.0f); /* cross-entropy losses are >= 0 */
    float *coef = vkt_test_randn(t, (size_t)S, 1.0f), *tok = vkt_test_randn(t, (size_t)N, 1.0f);
    double *vd = vkt_test_to_double(vals, (size_t)(N * K)), *cd = vkt_test_to_double(coef, (size_t)S);
    double *td = vkt_test_to_double(tok, (size_t)N);
    double *ref_out = malloc((size_t)(S * (K + 1)) * sizeof *ref_out), *ref_w = malloc((size_t)N * sizeof *ref_w);
    vkt_ref_seq_sum(vd, K, ids, N, -1.0, ref_out, S);
    for (int with_tok = 0; with_tok < 2; with_tok++) {
        vkt_ref_seq_scatter(cd, S, ids, with_tok ? td : NULL, N, ref_w);
        seq_ctx x = {.scale = -1.0f, .with_tok = with_tok};
        x.values = vkt_test_upload(t, vals, N, K, 1, 1), x.ids = vkt_test_upload_i32(t, ids, N);
        x.coef = vkt_test_upload(t, coef, S, 1, 1, 1), x.tok = vkt_test_upload(t, tok, N, 1, 1, 1);
        vkt_test_out o = vkt_test_output(t, S, K + 1, 1, 1), w = vkt_test_output(t, N, 1, 1, 1);
        x.out = o.view, x.weights = w.view;
        vkt_test_run(t, run_seq, &x);
        float *go = vkt_test_read_output(t, &o, "seq sums"), *gw = vkt_test_read_output(t, &w, "weights");
        char what[160];
        snprintf(what, sizeof what, "seq_sum B=%lld T=%lld S=%lld K=%lld", (long long)B, (long long)T, (long long)S,
                 (long long)K);
        if (!with_tok) vkt_check(t, what, go, ref_out, (size_t)(S * (K + 1)), 1e-5);
        for (int64_t s = 0; s < S; s++)
            if (go[s * (K + 1) + K] != (float)ref_out[s * (K + 1) + K])
                vkt_test_fail(t, "%s: sequence %lld counts %g tokens, want %g", what, (long long)s, go[s * (K + 1) + K],
                              ref_out[s * (K + 1) + K]);
        for (int64_t i = 0; i < N; i++)
            if (gw[i] != (float)ref_w[i]) {
                vkt_test_fail(t, "seq_scatter N=%lld S=%lld tok=%d: weight %lld is %.9g, want %.9g", (long long)N,
                              (long long)S, with_tok, (long long)i, gw[i], ref_w[i]);
                break;
            }
        if (S > 2 && ref_out[1 * (K + 1) + K] != 0) vkt_test_fail(t, "%s: the empty sequence counts tokens", what);
        if (with_tok && S > 1) { /* determinism: a replay gives the same bits */
            VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
            float *go2 = vkt_test_read_output(t, &o, "seq sums");
            if (memcmp(go, go2, (size_t)(S * (K + 1)) * sizeof *go) != 0) vkt_test_fail(t, "%s: replay differs", what);
            free(go2);
        }
        free(go), free(gw);
        vkt_arena_reset(t->arena);
    }
    free(ids), free(vals), free(coef), free(tok), free(vd), free(cd), free(td), free(ref_out), free(ref_w);
}

typedef struct {
    vkt_tensor logits, targets, losses, rowstats, stats, weights, dlogits;
    vkt_xent_opts o;
} xent_ctx;

static vkt_status run_xent(vkt_rec *r, void *v) {
    xent_ctx *x = v;
    VKT_TRY(vkt_op_xent_fwd(r, &x->logits, &x->targets, &x->losses, &x->rowstats, &x->stats, &x->o));
    return vkt_op_xent_bwd_weighted(r, &x->logits, &x->targets, &x->rowstats, &x->weights, &x->dlogits, &x->o);
}

typedef struct {
    int64_t N, V;
    const int32_t *targets;
    const double *weights;
} fd_ctx;

/* sum_r w_r loss_r: the weighted backward is its gradient with the weights held fixed. */
static double fd_weighted(const double *x, void *v) {
    fd_ctx *f = v;
    double *l = malloc((size_t)f->N * sizeof *l), sum = 0;
    int64_t nv;
    vkt_ref_xent_fwd(x, f->targets, l, f->N, f->V, -100, &nv);
    for (int64_t r = 0; r < f->N; r++) sum += f->weights[r] * l[r];
    free(l);
    return sum;
}

static void check_xent_weighted(vkt_test *t, int64_t N, int64_t V) {
    int64_t NV = N * V;
    float *logits = vkt_test_randn(t, (size_t)NV, 2.0f), *w = vkt_test_randn(t, (size_t)N, 0.5f);
    int32_t *targets = malloc((size_t)N * sizeof *targets);
    for (int64_t r = 0; r < N; r++)
        targets[r] = vkt_rng_below(&t->rng, 5) == 0 ? -100 : (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
    if (N > 2) w[1] = 0; /* a counted row outside every sequence: zero gradient row */
    double *xd = vkt_test_to_double(logits, (size_t)NV), *wd = vkt_test_to_double(w, (size_t)N);
    double *ref_d = malloc((size_t)NV * sizeof *ref_d);
    const double dloss = 0.75;
    vkt_ref_xent_bwd_weighted(xd, targets, wd, ref_d, N, V, -100, dloss);
    if (NV <= 4096) {
        double *g1 = malloc((size_t)NV * sizeof *g1);
        vkt_ref_xent_bwd_weighted(xd, targets, wd, g1, N, V, -100, 1.0);
        fd_ctx f = {N, V, targets, wd};
        char what[96];
        snprintf(what, sizeof what, "xent weighted ref N=%lld V=%lld", (long long)N, (long long)V);
        vkt_check_fd(t, what, fd_weighted, xd, g1, (size_t)NV, &f, 1e-4);
        free(g1);
    }
    static const char *vname[] = {"", "group", "serial"};
    for (int variant = VKT_XENT_GROUP_PER_ROW; variant <= VKT_XENT_THREAD_PER_ROW; variant++)
        for (int inplace = 0; inplace < 2; inplace++) {
            xent_ctx c = {.o = vkt_xent_opts_default()};
            c.o.dloss = (float)dloss, c.o.variant = (vkt_xent_variant)variant;
            c.targets = vkt_test_upload_i32(t, targets, N);
            c.weights = vkt_test_upload(t, w, N, 1, 1, 1);
            vkt_test_out lo = vkt_test_output(t, N, 1, 1, 1), rs = vkt_test_output(t, N, 2, 1, 1);
            vkt_test_out st = vkt_test_output(t, 4, 1, 1, 1);
            vkt_test_out dl = inplace ? vkt_test_output_init(t, logits, N, V, 1, 1) : vkt_test_output(t, N, V, 1, 1);
            c.logits = inplace ? dl.view : vkt_test_upload(t, logits, N, V, 1, 1);
            c.losses = lo.view, c.rowstats = rs.view, c.stats = st.view, c.dlogits = dl.view;
            vkt_test_run(t, run_xent, &c);
            float *gd = vkt_test_read_output(t, &dl, "dlogits");
            char what[128];
            snprintf(what, sizeof what, "dlogits weighted %s%s N=%lld V=%lld", vname[variant],
                     inplace ? " inplace" : "", (long long)N, (long long)V);
            vkt_check(t, what, gd, ref_d, (size_t)NV, 1e-4);
            free(gd);
            free(vkt_test_read_output(t, &lo, "losses")), free(vkt_test_read_output(t, &rs, "rowstats"));
            free(vkt_test_read_output(t, &st, "stats"));
            vkt_arena_reset(t->arena);
        }
    free(logits), free(w), free(targets), free(xd), free(wd), free(ref_d);
}

static void check_ids_check(vkt_test *t) {
    int32_t ok[6] = {-1, 0, 1, 2, -1, 2}, bad[6] = {-1, 0, 3, 2, -1, 2}, neg[6] = {-2, 0, 1, 2, -1, 2};
    if (vkt_seq_ids_check(ok, 6, 3, 3, "test table") != VKT_OK) vkt_test_fail(t, "a valid id table was refused");
    printf("   (the next two errors are expected)\n");
    fflush(stdout);
    if (vkt_seq_ids_check(bad, 6, 3, 3, "test table") != VKT_ERR_FORMAT) vkt_test_fail(t, "id 3 of S = 3 passed");
    if (vkt_seq_ids_check(neg, 6, 3, 3, "test table") != VKT_ERR_FORMAT) vkt_test_fail(t, "id -2 passed");
}

int main(void) {
    /* 256 KiB bindings: the weighted backward splits 50257-wide rows one per dispatch, as in test_op_xent. */
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test t;
    vkt_test_init(&t, "op_pref_seq");
    check_ids_check(&t);
    const int64_t shapes[][4] = {{1, 1, 1, 1},   {1, 7, 1, 1},    {2, 9, 3, 2},    {3, 37, 5, 4},
                                 {4, 129, 8, 1}, {5, 300, 23, 3}, {8, 1000, 64, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        check_seq(&t, shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3], k >= 3);
    const int64_t xs[][2] = {{1, 1}, {3, 257}, {37, 1000}, {5, 50257}};
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) check_xent_weighted(&t, xs[k][0], xs[k][1]);
    return vkt_test_finish(&t);
}
