/* Softmax cross-entropy: forward (per-row and mean loss, n_valid, n_bad), backward from saved row
 * statistics and fused, out of place and in place, both kernel layouts, rows split over bindings.
 *
 * Bounds: per-row losses 1e-5 (fp32 log-sum-exp with a compensated sum; measured ~1e-7), mean loss 1e-5,
 * dlogits 1e-4 (fp32 exp of a max-subtracted argument times 1/sum: a few ulp per element, plus the
 * cancellation in p - 1 at the target; the recipe's reduction bound), reference gradient vs finite
 * differences 1e-6. Integer counts are exact. Padded rows (vkt_xent_opts.vocab) must leave the padding of
 * logits and dlogits untouched, bit for bit.
 * 16-bit logits and dlogits: the logits are rounded to the storage type before the reference sees them,
 * so losses, the mean and the stats keep their f32 bounds (same f32 arithmetic on the same values), and
 * dlogits add one rounding on store: 1e-4 + unit roundoff (2^-11 f16, 2^-8 bf16). f16 cases run with a
 * device loss scale of 1024 (vkt_xent_opts.dloss_scale), as f16 training does: unscaled, gradients of
 * ~1e-6 fall into f16 subnormals, whose absolute spacing 2^-24 is not small against atol. The device
 * scale is also checked on f32 logits; a dropped or doubled scale fails every bound by ~1e3. Mode 4 runs
 * xent_bwd_weighted (per-row weights) after the forward. */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/xent.h"
#include "ref/ref_xent.h"

typedef struct {
    vkt_tensor logits, targets, losses, rowstats, stats, dlogits, weights, scale;
    vkt_xent_opts o;
    bool fused, weighted;
} ctx_t;

static vkt_status run(vkt_rec *r, void *c) {
    ctx_t *x = c;
    if (x->fused) return vkt_op_xent_fwd_bwd(r, &x->logits, &x->targets, &x->losses, &x->stats, &x->dlogits, &x->o);
    VKT_TRY(vkt_op_xent_fwd(r, &x->logits, &x->targets, &x->losses, &x->rowstats, &x->stats, &x->o));
    if (x->weighted)
        return vkt_op_xent_bwd_weighted(r, &x->logits, &x->targets, &x->rowstats, &x->weights, &x->dlogits, &x->o);
    return vkt_op_xent_bwd(r, &x->logits, &x->targets, &x->rowstats, &x->stats, &x->dlogits, &x->o);
}

typedef struct {
    int64_t N, V;
    const int32_t *targets;
} fd_ctx;

static double fd_loss(const double *x, void *c) {
    fd_ctx *f = c;
    double *l = malloc((size_t)f->N * sizeof *l);
    int64_t nv;
    double mean = vkt_ref_xent_fwd(x, f->targets, l, f->N, f->V, -100, &nv);
    free(l);
    return mean;
}

typedef struct {
    int64_t N, V;
    float scale, offset; /* logits = offset + scale * N(0, 1) */
    double ignore_frac;  /* share of targets set to the ignore index */
    bool bad;            /* one out-of-range target (must be counted in n_bad, treated as ignored) */
    int64_t pad;         /* > 0: rows of V + pad elements (vkt_xent_opts.vocab = V); the padding is
                          * poisoned in logits and dlogits and must come back bit for bit */
    vkt_dtype dt;        /* storage of logits and dlogits */
    float dev_scale;     /* > 0: a device-side dloss multiplier (vkt_xent_opts.dloss_scale) */
} case_t;

#define PAD_POISON 0x7fc0beefu /* a NaN no kernel writes */

static void check_case(vkt_test *t, const case_t *cs) {
    int64_t N = cs->N, V = cs->V, NV = N * V, ld = V + cs->pad;
    const vkt_dtype dt = cs->dt;
    float *logits = vkt_test_randn(t, (size_t)NV, cs->scale);
    for (int64_t i = 0; i < NV; i++) logits[i] += cs->offset;
    if (dt != VKT_DTYPE_F32) /* the reference sees the stored values */
        for (int64_t i = 0; i < NV; i++) logits[i] = vkt_half_to(dt, vkt_half_from(dt, logits[i]));
    float *weights = vkt_test_randn(t, (size_t)N, 1);
    int32_t *targets = malloc((size_t)N * sizeof *targets);
    for (int64_t r = 0; r < N; r++)
        targets[r] = vkt_rng_uniform(&t->rng) < cs->ignore_frac ? -100 : (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
    if (cs->bad) targets[N / 2] = (int32_t)V + 3;
    double *xd = vkt_test_to_double(logits, (size_t)NV);
    double *ref_l = malloc((size_t)N * sizeof *ref_l), *ref_d = malloc((size_t)NV * sizeof *ref_d);
    double *ref_w = malloc((size_t)NV * sizeof *ref_w), *wd = vkt_test_to_double(weights, (size_t)N);
    int64_t ref_nv;
    double ref_mean = vkt_ref_xent_fwd(xd, targets, ref_l, N, V, -100, &ref_nv);
    const double dloss = 0.75; /* not 1, so a dropped dloss factor fails */
    const double dscale = cs->dev_scale > 0 ? cs->dev_scale : 1.0;
    vkt_ref_xent_bwd(xd, targets, ref_d, N, V, -100, dloss * dscale);
    vkt_ref_xent_bwd_weighted(xd, targets, wd, ref_w, N, V, -100, dloss * dscale);
    /* The device scale sits at element 5 of a small f32 buffer, between other values. */
    float scale_buf[8] = {3, 3, 3, 3, 3, cs->dev_scale, 3, 3};
    uint32_t ref_bad = cs->bad ? 1 : 0;
    /* The stored rows: the logits, then the poisoned padding. */
    float *stored = malloc((size_t)(N * ld) * sizeof *stored), poison;
    uint32_t pw = PAD_POISON;
    memcpy(&poison, &pw, sizeof poison);
    for (int64_t r = 0; r < N; r++)
        for (int64_t j = 0; j < ld; j++) stored[r * ld + j] = j < V ? logits[r * V + j] : poison;
    if (N * V <= 4096 && !cs->pad) { /* the reference does not depend on the padding: checked once */
        fd_ctx f = {N, V, targets};
        double *g1 = malloc((size_t)NV * sizeof *g1);
        vkt_ref_xent_bwd(xd, targets, g1, N, V, -100, 1.0);
        char what[96];
        snprintf(what, sizeof what, "xent ref dlogits N=%lld V=%lld", (long long)N, (long long)V);
        vkt_check_fd(t, what, fd_loss, xd, g1, (size_t)NV, &f, 1e-6);
        free(g1);
    }

    const char *vname[] = {"", "group", "serial"};
    for (int variant = VKT_XENT_GROUP_PER_ROW; variant <= VKT_XENT_THREAD_PER_ROW; variant++) {
        for (int mode = 0; mode < 5; mode++) {
            bool fused = mode == 1 || mode == 3, inplace = mode == 2 || mode == 3, weighted = mode == 4;
            ctx_t c = {.targets = vkt_test_upload_i32(t, targets, N),
                       .o = vkt_xent_opts_default(),
                       .fused = fused,
                       .weighted = weighted,
                       .weights = vkt_test_upload(t, weights, N, 1, 1, 1),
                       .scale = vkt_test_upload(t, scale_buf, 8, 1, 1, 1)};
            c.o.dloss = (float)dloss, c.o.variant = (vkt_xent_variant)variant, c.o.vocab = cs->pad ? V : 0;
            if (cs->dev_scale > 0) c.o.dloss_scale = &c.scale, c.o.dloss_scale_index = 5;
            vkt_test_out lo = vkt_test_output(t, N, 1, 1, 1), rs = vkt_test_output(t, N, 2, 1, 1);
            vkt_test_out st = vkt_test_output(t, 4, 1, 1, 1);
            vkt_test_out dl = vkt_any_output(t, dt, inplace || cs->pad ? stored : NULL, N, inplace || cs->pad ? ld : V);
            c.logits = inplace ? dl.view : vkt_half_or_f32_upload(t, dt, stored, N, ld);
            c.losses = lo.view, c.rowstats = rs.view, c.stats = st.view, c.dlogits = dl.view;
            vkt_test_run(t, run, &c);

            char what[128];
            const char *tag = weighted ? "weighted"
                              : fused  ? (inplace ? "fused inplace" : "fused")
                                       : (inplace ? "inplace" : "split");
            float *gl = vkt_test_read_output(t, &lo, "losses");
            snprintf(what, sizeof what, "losses %s %s %s N=%lld V=%lld", vkt_dtype_name(dt), vname[variant], tag,
                     (long long)N, (long long)V);
            vkt_check(t, what, gl, ref_l, (size_t)N, 1e-5);
            float *gs = vkt_test_read_output(t, &st, "stats");
            vkt_xent_stats s;
            memcpy(&s, gs, sizeof s);
            double mean_err = fabs(s.loss - ref_mean) / (fabs(ref_mean) + 1e-30);
            if (ref_mean == 0 && s.loss == 0) mean_err = 0;
            if (mean_err > 1e-5 || s.n_valid != (uint32_t)ref_nv || s.n_bad != ref_bad)
                vkt_test_fail(t, "%s: stats loss %.9g (want %.9g, rel %.2e), n_valid %u (want %lld), n_bad %u (want %u)",
                              what, s.loss, ref_mean, mean_err, s.n_valid, (long long)ref_nv, s.n_bad, ref_bad);
            float *gd = vkt_any_read(t, &dl, "dlogits");
            snprintf(what, sizeof what, "dlogits %s %s %s N=%lld V=%lld ld=%lld%s", vkt_dtype_name(dt), vname[variant],
                     tag, (long long)N, (long long)V, (long long)ld, cs->dev_scale > 0 ? " dscale" : "");
            for (int64_t r = 0; r < N; r++) {
                if (memcmp(gd + r * ld + V, stored + r * ld + V, (size_t)cs->pad * sizeof *gd) != 0) {
                    vkt_test_fail(t, "%s: row %lld's padding was written", what, (long long)r);
                    break;
                }
                memmove(gd + r * V, gd + r * ld, (size_t)V * sizeof *gd); /* rows in place, ascending */
            }
            vkt_check(t, what, gd, weighted ? ref_w : ref_d, (size_t)NV,
                      1e-4 + (dt == VKT_DTYPE_F32 ? 0 : vkt_half_unit(dt)));
            if (variant == VKT_XENT_GROUP_PER_ROW && mode == 1) {
                /* Determinism: replaying the same recording must give bit-identical results. */
                VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
                float *gs2 = vkt_test_read_output(t, &st, "stats");
                if (memcmp(gs, gs2, 16) != 0) vkt_test_fail(t, "%s: replay changed the stats", what);
                free(gs2);
            }
            if (mode == 0 && variant == VKT_XENT_GROUP_PER_ROW)
                printf("   mean loss %.9g (ref %.9g, rel %.2e) n_valid %u n_bad %u\n", s.loss, ref_mean, mean_err,
                       s.n_valid, s.n_bad);
            free(gl), free(gs), free(gd);
        }
    }
    free(logits), free(stored), free(targets), free(xd), free(ref_l), free(ref_d), free(ref_w), free(wd), free(weights);
    vkt_arena_reset(t->arena);
}

int main(void) {
    /* 256 KiB bindings: 65 rows of V = 1000 per chunk, one row of V = 50257 per chunk. */
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test t;
    vkt_test_init(&t, "op_xent");
    const vkt_dtype F32 = VKT_DTYPE_F32;
    const case_t cases[] = {
        {1, 1, 1, 0, 0, false, 0, F32, 0},
        {1, 7, 1, 0, 0, false, 0, F32, 0},
        {3, 257, 2, 0, 0.34, false, 0, F32, 0},
        {37, 1000, 1, 0, 0.25, true, 0, F32, 0},
        {300, 1000, 1, 0, 0.1, false, 0, F32, 0},
        {5, 50257, 1, 0, 0, false, 0, F32, 0},
        {17, 4099, 50, 3e4f, 0.2, false, 0, F32, 0}, /* large magnitude: exp(x) would overflow without the max */
        {9, 513, 20, -2e4f, 0, false, 0, F32, 0},
        {4, 33, 1, 0, 1.0, false, 0, F32, 0}, /* every row ignored */
        /* Padded rows (the model's training logits: V rounded up to a multiple of 128) */
        {3, 257, 2, 0, 0.34, false, 7, F32, 0},
        {37, 1000, 1, 0, 0.25, true, 24, F32, 0},
        {5, 50257, 1, 0, 0, false, 47, F32, 0},
        /* A device-side dloss multiplier (f16 loss scaling) on f32 logits */
        {37, 1000, 1, 0, 0.25, true, 24, VKT_DTYPE_F32, 1024.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&t, &cases[i]);
    const case_t half_cases[] = {
        /* 16-bit logits and dlogits (mixed precision): f16 with a loss scale, bf16 without */
        {3, 257, 2, 0, 0.34, false, 7, VKT_DTYPE_F16, 1024.0f},
        {37, 1000, 1, 0, 0.25, true, 0, VKT_DTYPE_F16, 1024.0f},
        {17, 4099, 50, 3e4f, 0.2, false, 0, VKT_DTYPE_F16, 1024.0f},
        {5, 50257, 1, 0, 0, false, 47, VKT_DTYPE_BF16, 0},
        {37, 1000, 1, 0, 0.25, true, 24, VKT_DTYPE_BF16, 0},
        {9, 513, 20, -2e4f, 0, false, 0, VKT_DTYPE_BF16, 0},
    };
    if (vkt_half_supported(&t))
        for (size_t i = 0; i < sizeof half_cases / sizeof half_cases[0]; i++) check_case(&t, &half_cases[i]);
    else
        printf("   skipped 16-bit logits: device lacks storageBuffer16BitAccess\n");
    return vkt_test_finish(&t);
}
