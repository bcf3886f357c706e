/* AdamW over several replays of one recording, against the double reference: decay on some segments
 * only, weight decay off, gradient clipping active and inactive, an lr table shorter than the run,
 * segments that merge or split into binding chunks, and elements outside every segment left untouched.
 *
 * Bounds (max of |y - r| / (|r| + 1e-3 rms(r)), the recipe's metric): params, m and parameter deltas
 * p_K - p_0 1e-3. These are fp32 states updated by sums that cancel (m of gradients of either sign, p
 * crossing zero), so one rounding of the operands, ~6e-8 * max|x|, is already ~1e-4 of the metric's
 * atol, and K steps accumulate it (measured <= 2.5e-4). v (no cancellation) 1e-5. Because the per-element
 * bound is loose, the deltas' NMSE must also stay below 1e-10 (measured ~2e-14): a dropped weight decay
 * (wd = 0.5: lr * wd * |p| ~ 1e-2 of an update) or bias correction would give 1e-4 or more. Step scalars
 * 1e-6 (one fp32 table read; expm1 series for the bias corrections). */
#include <string.h>

#include "harness.h"
#include "optim/adamw.h"
#include "optim/gradnorm.h"
#include "ref/ref_adamw.h"
#include "ref/ref_gradnorm.h"

#define STEPS 5
#define N_LR  5

static const vkt_optim_segment mixed[] = {
    {0, 1, false},        {5, 7, true},         {12, 257, true}, /* adjacent, same decay: merged */
    {269, 100, false},                                           /* adjacent, other decay: separate dispatch */
    {400, 20011, true},                                          /* several 64 KiB chunks */
    {20500, 4099, false}, {24600, 15000, true},
};

static const vkt_optim_segment aligned[] = {
    {0, 3, false}, {8, 4101, true}, {4112, 16, false}, {4128, 19000, true}, /* 19000: two chunks */
};
static const vkt_optim_segment misaligned[] = {{4, 5000, true}, {5004, 13, false}, {5020, 18001, true}};

/* The segments a scenario runs over. */
static const vkt_optim_segment *segs;
static int n_segs;
static int64_t total;

typedef struct {
    vkt_adamw_cfg cfg;
    vkt_gradnorm_opts gn;
    bool clip;
    vkt_tensor p, g, m, v, lr, sc, partials, decay;
} ctx_t;

static vkt_status record(vkt_rec *r, void *c) {
    ctx_t *x = c;
    if (x->clip) VKT_TRY(vkt_gradnorm_record(r, &x->g, segs, n_segs, &x->gn, &x->partials, &x->sc));
    return vkt_adamw_update(r, &x->cfg, &x->p, &x->g, &x->m, &x->v, &x->lr, &x->sc, segs, n_segs, &x->decay);
}

static bool in_segment(int64_t i, bool *decay) {
    for (int k = 0; k < n_segs; k++)
        if (i >= segs[k].offset && i < segs[k].offset + segs[k].n) return *decay = segs[k].decay, true;
    return false;
}

/* want: the kernel variant every adamw_update dispatch must run (profile detail), NULL for no check. */
static void scenario(vkt_test *t, const char *label, float wd, bool clip, double max_norm_factor, const char *want) {
    ctx_t c = {.cfg = vkt_adamw_cfg_default(), .clip = clip};
    c.cfg.weight_decay = wd, c.cfg.beta2 = 0.99f;
    float *p0 = vkt_test_randn(t, total, 0.02f), *m0 = vkt_test_randn(t, total, 1e-3f);
    float *v0 = vkt_test_rand(t, total, 0, 1e-5f);
    vkt_lr_schedule sched = {.lr_max = 1e-2, .lr_min = 1e-3, .warmup = 2, .total = 5};
    float lr_table[N_LR];
    vkt_adamw_lr_table(&sched, lr_table, N_LR);
    vkt_step_scalars s0 = vkt_step_scalars_init();
    s0.step = 1; /* resumed after one step: moments are non-zero */
    c.p = vkt_test_upload(t, p0, total, 1, 1, 1), c.m = vkt_test_upload(t, m0, total, 1, 1, 1);
    c.v = vkt_test_upload(t, v0, total, 1, 1, 1), c.lr = vkt_test_upload(t, lr_table, N_LR, 1, 1, 1);
    c.sc = vkt_test_upload(t, (const float *)&s0, VKT_STEP_SCALARS_ELEMS, 1, 1, 1);
    float *g = vkt_test_randn(t, total, 1e-2f);
    c.g = vkt_test_upload(t, g, total, 1, 1, 1);
    int64_t n_words = vkt_adamw_decay_words(total);
    uint32_t *bits = malloc((size_t)n_words * sizeof *bits);
    vkt_adamw_decay_bits(segs, n_segs, bits, n_words);
    c.decay = vkt_test_upload_i32(t, (const int32_t *)bits, n_words);
    free(bits);
    double *rp = vkt_test_to_double(p0, total), *rm = vkt_test_to_double(m0, total);
    double *rv = vkt_test_to_double(v0, total), *gd = malloc(total * sizeof *gd);
    int64_t *off = malloc((size_t)n_segs * sizeof *off), *n = malloc((size_t)n_segs * sizeof *n);
    for (int k = 0; k < n_segs; k++) off[k] = segs[k].offset, n[k] = segs[k].n;
    /* max_norm relative to the first step's norm (all steps draw gradients of the same scale). */
    double norm0 = 0;
    for (int k = 0; k < n_segs; k++)
        for (int64_t i = off[k]; i < off[k] + n[k]; i++) norm0 += (double)g[i] * g[i];
    c.gn = (vkt_gradnorm_opts){.max_norm = (float)(max_norm_factor * sqrt(norm0))};
    if (clip) {
        vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, vkt_gradnorm_partials(t->rec, segs, n_segs, &c.gn), 1, 1, 1,
                         &c.partials);
    }
    if (want)
        vkt_test_run_expect_variant(t, record, &c, "adamw_update", want, label); /* recorded once: step 1 */
    else
        vkt_test_run(t, record, &c);
    for (int step = 0; step < STEPS; step++) {
        if (step > 0) {
            free(g);
            g = vkt_test_randn(t, total, 1e-2f);
            VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &c.g, g, total * sizeof *g));
            VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec)); /* replay */
        }
        int64_t tt = (int64_t)s0.step + step + 1;
        for (int64_t i = 0; i < total; i++) gd[i] = g[i];
        double norm = vkt_ref_gradnorm(gd, off, n, n_segs);
        double clip_scale = clip ? vkt_ref_clip_scale(norm, c.gn.max_norm) : 1.0;
        double lr = lr_table[tt - 1 < N_LR ? tt - 1 : N_LR - 1];
        for (int k = 0; k < n_segs; k++)
            vkt_ref_adamw_step(rp + off[k], gd + off[k], rm + off[k], rv + off[k], n[k], tt, lr, c.cfg.beta1,
                               c.cfg.beta2, c.cfg.eps, segs[k].decay ? c.cfg.weight_decay : 0, clip_scale);

        float *gp = vkt_test_download(t, &c.p), *gm = vkt_test_download(t, &c.m), *gv = vkt_test_download(t, &c.v);
        float *raw = vkt_test_download(t, &c.sc);
        vkt_step_scalars s;
        memcpy(&s, raw, sizeof s);
        char what[128];
        snprintf(what, sizeof what, "%s step %lld params", label, (long long)tt);
        vkt_check(t, what, gp, rp, total, 1e-3);
        snprintf(what, sizeof what, "%s step %lld m", label, (long long)tt);
        vkt_check(t, what, gm, rm, total, 1e-3);
        snprintf(what, sizeof what, "%s step %lld v", label, (long long)tt);
        vkt_check(t, what, gv, rv, total, 1e-5);
        float *dp = malloc(total * sizeof *dp);
        double *rdp = malloc(total * sizeof *rdp);
        for (int64_t i = 0; i < total; i++) dp[i] = gp[i] - p0[i], rdp[i] = rp[i] - p0[i];
        snprintf(what, sizeof what, "%s step %lld param deltas", label, (long long)tt);
        vkt_check(t, what, dp, rdp, total, 1e-3);
        if (!(vkt_nmse(dp, rdp, total) <= 1e-10))
            vkt_test_fail(t, "%s: NMSE %.3e > 1e-10", what, vkt_nmse(dp, rdp, total));
        for (int64_t i = 0; i < total; i++) {
            bool decay;
            if (!in_segment(i, &decay) && (gp[i] != p0[i] || gm[i] != m0[i] || gv[i] != v0[i])) {
                vkt_test_fail(t, "%s: element %lld outside every segment was changed", label, (long long)i);
                break;
            }
        }
        double bc1 = 1 - pow(c.cfg.beta1, (double)tt), bc2 = 1 - pow(c.cfg.beta2, (double)tt);
        double e_lr = fabs(s.lr - lr) / lr, e1 = fabs(s.bc1 - bc1) / bc1, e2 = fabs(s.bc2 - bc2) / bc2;
        double e_clip = fabs(s.clip_scale - clip_scale) / clip_scale;
        bool ok = s.step == (uint32_t)tt && e_lr <= 1e-6 && e1 <= 1e-6 && e2 <= 1e-6 && e_clip <= 1e-6;
        printf("   %s step %u lr %.7g (rel %.1e) bc1 rel %.1e bc2 rel %.1e norm %.6g clip %.6f (rel %.1e) %s\n", label,
               s.step, s.lr, e_lr, e1, e2, s.grad_norm, s.clip_scale, e_clip, ok ? "ok" : "FAIL");
        if (!ok)
            vkt_test_fail(t,
                          "%s: step scalars step %u (want %lld) lr %.9g (want %.9g) bc1 %.9g (%.9g) bc2 %.9g "
                          "(%.9g) clip %.9g (%.9g)",
                          label, s.step, (long long)tt, s.lr, lr, s.bc1, bc1, s.bc2, bc2, s.clip_scale, clip_scale);
        free(gp), free(gm), free(gv), free(raw), free(dp), free(rdp);
    }
    free(p0), free(m0), free(v0), free(g), free(rp), free(rm), free(rv), free(gd), free(off), free(n);
    vkt_arena_reset(t->arena);
}

int main(void) {
    /* 64 KiB bindings (16384 floats): the 20011-element segment splits into two chunks. */
    setenv("VKT_MAX_BINDING_BYTES", "65536", 1);
    vkt_test t;
    vkt_test_init(&t, "adamw");
    segs = mixed, n_segs = (int)(sizeof mixed / sizeof mixed[0]), total = 40000;
    /* Ranges starting on and off 8-element words: both kernel variants in one recording. */
    scenario(&t, "decay, no clip", 0.5f, false, 0, NULL);
    scenario(&t, "decay, clip active", 0.5f, true, 0.3, NULL);
    scenario(&t, "no decay, clip inactive", 0.0f, true, 3.0, NULL);
    /* On CPU drivers, ranges that start on 8-element words run 8 elements per invocation (any length: a
     * partial last word goes element by element), the others one element each. */
    bool cpu = vkt_device_get_info(t.dev)->type == VKT_DEVICE_CPU;
    segs = aligned, n_segs = (int)(sizeof aligned / sizeof aligned[0]), total = 24000;
    scenario(&t, "8-aligned ranges", 0.5f, true, 0.3, cpu ? "adamw_update_vec8" : "adamw_update");
    segs = misaligned, n_segs = (int)(sizeof misaligned / sizeof misaligned[0]), total = 24000;
    scenario(&t, "misaligned ranges", 0.5f, true, 0.3, "adamw_update");
    /* A tiny GPT-2's parameter table: norms and biases undecayed, padding between tensors untouched. */
    vkt_model_config c = *vkt_model_preset("gpt2");
    c.vocab_size = 97, c.max_seq_len = 16, c.n_embd = 24, c.n_layer = 2, c.n_head = 2, c.head_dim = 12;
    c.n_inner = 96;
    vkt_param_table table;
    VKT_TEST_TRY(&t, vkt_params_build(&c, 64, &table));
    vkt_optim_segment *tsegs = malloc((size_t)table.n * sizeof *tsegs);
    n_segs = vkt_optim_segments_from_params(&table, tsegs);
    segs = tsegs, total = table.total;
    scenario(&t, "gpt2-tiny table, clip active", 0.5f, true, 0.3, NULL);
    free(tsegs);
    vkt_params_free(&table);
    return vkt_test_finish(&t);
}
