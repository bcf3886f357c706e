/* Bench cases for the optimizer: the global gradient norm (each kernel layout) and the AdamW update.
 * Both are memory-bound: the norm reads every gradient once (4 bytes per element); AdamW reads grads,
 * params, m, v and writes params, m, v (28 bytes per element). Replays are not idempotent for AdamW (the
 * state advances), which is fine for timing: the check runs after the first replay, from known state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "optim/adamw.h"
#include "optim/gradnorm.h"
#include "ref/ref_adamw.h"
#include "ref/ref_gradnorm.h"

typedef struct {
    int64_t n;
    bool adamw;
    vkt_gradnorm_opts gn;
    vkt_adamw_cfg cfg;
    vkt_optim_segment segs[2]; /* first half decayed, second half not */
    vkt_tensor g, p, m, v, lr, sc, partials, decay;
    float *hg, *hp; /* owned: host grads and params */
} optim_ctx;

static vkt_status setup(vkt_bench *b, void *c) {
    optim_ctx *x = c;
    x->segs[0] = (vkt_optim_segment){0, x->n / 2, true};
    x->segs[1] = (vkt_optim_segment){x->n / 2, x->n - x->n / 2, false};
    x->hg = vkt_bench_rand(b, (size_t)x->n, -1e-2f, 1e-2f);
    if (!x->hg) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload(b, x->hg, x->n, 1, 1, 1, &x->g));
    vkt_step_scalars s0 = vkt_step_scalars_init();
    VKT_TRY(vkt_bench_upload(b, (const float *)&s0, VKT_STEP_SCALARS_ELEMS, 1, 1, 1, &x->sc));
    if (!x->adamw) {
        return vkt_bench_upload(b, NULL, vkt_gradnorm_partials(b->rec, x->segs, 2, &x->gn), 1, 1, 1, &x->partials);
    }
    x->hp = vkt_bench_rand(b, (size_t)x->n, -0.05f, 0.05f);
    if (!x->hp) return VKT_ERR_OOM;
    const float lr = 1e-3f;
    VKT_TRY(vkt_bench_upload(b, x->hp, x->n, 1, 1, 1, &x->p));
    VKT_TRY(vkt_bench_upload(b, &lr, 1, 1, 1, 1, &x->lr));
    int64_t n_words = vkt_adamw_decay_words(x->n);
    uint32_t *bits = malloc((size_t)n_words * sizeof *bits);
    if (!bits) return VKT_ERR_OOM;
    vkt_adamw_decay_bits(x->segs, 2, bits, n_words);
    vkt_status st = vkt_bench_upload(b, NULL, n_words, 1, 1, 1, &x->decay); /* 4-byte words, bits as they are */
    x->decay.dtype = VKT_DTYPE_I32;
    if (st == VKT_OK) st = vkt_tensor_upload(b->dev, &x->decay, bits, (size_t)n_words * sizeof *bits);
    free(bits);
    VKT_TRY(st);
    VKT_TRY(vkt_bench_upload(b, NULL, x->n, 1, 1, 1, &x->m));
    VKT_TRY(vkt_bench_upload(b, NULL, x->n, 1, 1, 1, &x->v));
    float *zeros = calloc((size_t)x->n, sizeof *zeros);
    if (!zeros) return VKT_ERR_OOM;
    vkt_status s = vkt_tensor_upload(b->dev, &x->m, zeros, (size_t)x->n * sizeof *zeros);
    if (s == VKT_OK) s = vkt_tensor_upload(b->dev, &x->v, zeros, (size_t)x->n * sizeof *zeros);
    free(zeros);
    return s;
}

static vkt_status record(vkt_rec *r, void *c) {
    optim_ctx *x = c;
    if (!x->adamw) return vkt_gradnorm_record(r, &x->g, x->segs, 2, &x->gn, &x->partials, &x->sc);
    return vkt_adamw_update(r, &x->cfg, &x->p, &x->g, &x->m, &x->v, &x->lr, &x->sc, x->segs, 2, &x->decay);
}

static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    optim_ctx *x = c;
    size_t n = (size_t)x->n;
    bool ok = true;
    if (!x->adamw) {
        float *s = vkt_bench_download(b, &x->sc);
        double *gd = malloc(n * sizeof *gd);
        ok = s && gd;
        if (ok) {
            for (size_t i = 0; i < n; i++) gd[i] = x->hg[i];
            int64_t off = 0, cnt = x->n;
            double ref = vkt_ref_gradnorm(gd, &off, &cnt, 1), got = s[4]; /* vkt_step_scalars.grad_norm */
            ok = fabs(got - ref) <= 1e-6 * ref;                           /* as tests/test_gradnorm.c */
            if (!ok) snprintf(why, why_size, "norm %.9g, reference %.9g", got, ref);
        }
        free(s), free(gd);
        return ok;
    }
    float *p = vkt_bench_download(b, &x->p);
    double *pd = malloc(n * sizeof *pd), *gd = malloc(n * sizeof *gd);
    double *md = calloc(n, sizeof *md), *vd = calloc(n, sizeof *vd);
    ok = p && pd && gd && md && vd;
    if (ok) {
        for (size_t i = 0; i < n; i++) pd[i] = x->hp[i], gd[i] = x->hg[i];
        for (int k = 0; k < 2; k++) {
            int64_t o = x->segs[k].offset;
            vkt_ref_adamw_step(pd + o, gd + o, md + o, vd + o, x->segs[k].n, 1, 1e-3f, x->cfg.beta1, x->cfg.beta2,
                               x->cfg.eps, x->segs[k].decay ? x->cfg.weight_decay : 0, 1.0);
        }
        ok = vkt_bench_compare(p, pd, n, 1e-3, why, why_size); /* as tests/test_adamw.c */
    }
    free(p), free(pd), free(gd), free(md), free(vd);
    return ok;
}

static void teardown(void *c) {
    optim_ctx *x = c;
    free(x->hg), free(x->hp);
    x->hg = x->hp = NULL;
}

vkt_status vkt_bench_group_optim(vkt_bench *b) {
    /* Full: 64 M gradients (GPT-2 small has 124 M parameters; half keeps the 1 GiB case arena) and a 32 M
     * parameter AdamW slice (four 128 MiB arenas); quick: 100003 elements. */
    int64_t n_norm = b->quick ? 100003 : 64 << 20, n_adamw = b->quick ? 100003 : 32 << 20;
    static const char *const variants[] = {"", "group", "serial"};
    for (int v = VKT_GRADNORM_GROUP; v <= VKT_GRADNORM_SERIAL; v++) {
        optim_ctx x = {.n = n_norm, .gn = {.max_norm = 1.0f, .variant = (vkt_gradnorm_variant)v}};
        vkt_bench_case c = {.op = "gradnorm",
                            .dtype = "f32",
                            .variant = variants[v],
                            .wg = v == VKT_GRADNORM_GROUP ? 256 : 64, /* plan in gradnorm.c */
                            .flops = 2.0 * (double)x.n,
                            .bytes = 4.0 * (double)x.n,
                            .setup = setup,
                            .record = record,
                            .check = check,
                            .teardown = teardown,
                            .ctx = &x};
        snprintf(c.shape, sizeof c.shape, "n=%lld", (long long)x.n);
        VKT_TRY(vkt_bench_run(b, &c));
    }
    optim_ctx x = {.n = n_adamw, .adamw = true, .cfg = vkt_adamw_cfg_default()};
    x.cfg.weight_decay = 0.1f;
    vkt_bench_case c = {.op = "adamw_update",
                        .dtype = "f32",
                        .variant = "-",
                        .wg = 256, /* WG in adamw.c */
                        .flops = 14.0 * (double)x.n,
                        .bytes = 28.0 * (double)x.n,
                        .setup = setup,
                        .record = record,
                        .check = check,
                        .teardown = teardown,
                        .ctx = &x};
    snprintf(c.shape, sizeof c.shape, "n=%lld", (long long)x.n);
    return vkt_bench_run(b, &c);
}
