/* Bench cases for the residual add (memory-bound: two reads and one write per element). Also the
 * example to copy when adding an op's cases. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/residual.h"
#include "ref/ref_residual.h"

typedef struct {
    int64_t n;            /* elements (B*T*C) */
    vkt_tensor a, b, out; /* (n) each */
    float *ha, *hb;       /* owned: host copies of a and b */
} residual_ctx;

static vkt_status setup(vkt_bench *b, void *c) {
    residual_ctx *x = c;
    x->ha = vkt_bench_rand(b, (size_t)x->n, -1, 1);
    x->hb = vkt_bench_rand(b, (size_t)x->n, -1, 1);
    if (!x->ha || !x->hb) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload(b, x->ha, x->n, 1, 1, 1, &x->a));
    VKT_TRY(vkt_bench_upload(b, x->hb, x->n, 1, 1, 1, &x->b));
    return vkt_bench_upload(b, NULL, x->n, 1, 1, 1, &x->out);
}

static vkt_status record(vkt_rec *r, void *c) {
    residual_ctx *x = c;
    return vkt_op_residual_fwd(r, &x->a, &x->b, &x->out);
}

static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    residual_ctx *x = c;
    size_t n = (size_t)x->n;
    double *ad = malloc(n * sizeof *ad), *bd = malloc(n * sizeof *bd), *ref = malloc(n * sizeof *ref);
    float *y = vkt_bench_download(b, &x->out);
    bool ok = ad && bd && ref;
    if (ok) {
        for (size_t i = 0; i < n; i++) ad[i] = x->ha[i], bd[i] = x->hb[i];
        vkt_ref_residual_fwd(ad, bd, ref, x->n);
        ok = vkt_bench_compare(y, ref, n, 1e-6, why, why_size); /* one f32 rounding */
    }
    free(ad), free(bd), free(ref), free(y);
    return ok;
}

static void teardown(void *c) {
    residual_ctx *x = c;
    free(x->ha), free(x->hb);
    x->ha = x->hb = NULL;
}

vkt_status vkt_bench_group_residual(vkt_bench *b) {
    /* B*T*C of GPT-2 small (B=8, T=1024, C=768) and of a 1024-wide model with B=16; quick: 64K. */
    const int64_t full[] = {8 * 1024 * 768, 16 * 1024 * 1024};
    const int64_t quick[] = {65536};
    const int64_t *sizes = b->quick ? quick : full;
    size_t count = b->quick ? 1 : 2;
    for (size_t i = 0; i < count; i++) {
        residual_ctx x = {.n = sizes[i]};
        vkt_bench_case c = {.op = "residual_fwd",
                            .dtype = "f32",
                            .variant = "-",
                            .wg = 256, /* WG in residual.c */
                            .flops = (double)x.n,
                            .bytes = 12.0 * (double)x.n,
                            .setup = setup,
                            .record = record,
                            .check = check,
                            .teardown = teardown,
                            .ctx = &x};
        snprintf(c.shape, sizeof c.shape, "n=%lld", (long long)x.n);
        VKT_TRY(vkt_bench_run(b, &c));
    }
    return VKT_OK;
}
