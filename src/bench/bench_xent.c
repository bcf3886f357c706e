/* Bench cases for softmax cross-entropy: forward alone, and forward + backward both fused and split
 * (xent_fwd then xent_bwd), for each kernel layout. Memory-bound by design: the minimum traffic is one
 * read of the logits (forward) plus one write of dlogits (backward); the kernels read the logits twice,
 * which the roofline figure (of_peak) therefore shows. dlogits is a separate tensor here so that replays
 * are identical (training writes it in place). */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/xent.h"
#include "ref/ref_xent.h"

typedef enum { FWD, FUSED, SPLIT } xent_mode;

typedef struct {
    int64_t N, V;
    xent_mode mode;
    vkt_xent_opts o;
    vkt_tensor logits, targets, losses, rowstats, stats, dlogits;
    float *hx;          /* owned: host logits */
    int32_t *ht;        /* owned: host targets */
} xent_ctx;

static vkt_status setup(vkt_bench *b, void *c) {
    xent_ctx *x = c;
    x->hx = vkt_bench_rand(b, (size_t)(x->N * x->V), -4, 4);
    x->ht = malloc((size_t)x->N * sizeof *x->ht);
    if (!x->hx || !x->ht) return VKT_ERR_OOM;
    for (int64_t r = 0; r < x->N; r++) x->ht[r] = r % 7 == 3 ? -100 : (int32_t)((r * 7919) % x->V);
    VKT_TRY(vkt_bench_upload(b, x->hx, x->N, x->V, 1, 1, &x->logits));
    VKT_TRY(vkt_tensor_alloc(b->arena, VKT_DTYPE_I32, x->N, 1, 1, 1, &x->targets));
    VKT_TRY(vkt_tensor_upload(b->dev, &x->targets, x->ht, (size_t)x->N * sizeof *x->ht));
    VKT_TRY(vkt_bench_upload(b, NULL, x->N, 1, 1, 1, &x->losses));
    VKT_TRY(vkt_bench_upload(b, NULL, x->N, 2, 1, 1, &x->rowstats));
    VKT_TRY(vkt_bench_upload(b, NULL, 4, 1, 1, 1, &x->stats));
    if (x->mode == FWD) return VKT_OK;
    return vkt_bench_upload(b, NULL, x->N, x->V, 1, 1, &x->dlogits);
}

static vkt_status record(vkt_rec *r, void *c) {
    xent_ctx *x = c;
    if (x->mode == FUSED)
        return vkt_op_xent_fwd_bwd(r, &x->logits, &x->targets, &x->losses, &x->stats, &x->dlogits, &x->o);
    VKT_TRY(vkt_op_xent_fwd(r, &x->logits, &x->targets, &x->losses, &x->rowstats, &x->stats, &x->o));
    if (x->mode == FWD) return VKT_OK;
    return vkt_op_xent_bwd(r, &x->logits, &x->targets, &x->rowstats, &x->stats, &x->dlogits, &x->o);
}

/* Checks the loss of every row and dlogits of a sample of rows, one row at a time in double (the full
 * reference of a 1024 x 50257 problem would need 400 MB of doubles). */
static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    xent_ctx *x = c;
    int64_t N = x->N, V = x->V, stride = N > 64 ? N / 16 : 1, ns = (N + stride - 1) / stride, nv = 0;
    double *xr = malloc((size_t)V * sizeof *xr), *lref = malloc((size_t)N * sizeof *lref);
    double *dref = malloc((size_t)(ns * V) * sizeof *dref);
    float *l = vkt_bench_download(b, &x->losses), *d = x->mode == FWD ? NULL : vkt_bench_download(b, &x->dlogits);
    float *ds = malloc((size_t)(ns * V) * sizeof *ds);
    bool ok = xr && lref && dref && l && ds && (x->mode == FWD || d);
    if (!ok) snprintf(why, why_size, "out of host memory");
    for (int64_t r = 0; ok && r < N; r++) {
        for (int64_t j = 0; j < V; j++) xr[j] = x->hx[r * V + j];
        int64_t valid;
        vkt_ref_xent_fwd(xr, &x->ht[r], &lref[r], 1, V, -100, &valid);
        nv += valid;
    }
    if (ok) ok = vkt_bench_compare(l, lref, (size_t)N, 1e-5, why, why_size); /* as tests/test_op_xent.c */
    for (int64_t k = 0; ok && d && k < ns; k++) {
        int64_t r = k * stride;
        for (int64_t j = 0; j < V; j++) xr[j] = x->hx[r * V + j], ds[k * V + j] = d[r * V + j];
        /* One row alone has n_valid 1: scale its gradient to the whole batch's 1 / n_valid. */
        vkt_ref_xent_bwd(xr, &x->ht[r], dref + k * V, 1, V, -100, nv ? 1.0 / (double)nv : 1.0);
    }
    if (ok && d) ok = vkt_bench_compare(ds, dref, (size_t)(ns * V), 1e-4, why, why_size);
    free(xr), free(lref), free(dref), free(l), free(d), free(ds);
    return ok;
}

static void teardown(void *c) {
    xent_ctx *x = c;
    free(x->hx), free(x->ht);
    x->hx = NULL, x->ht = NULL;
}

vkt_status vkt_bench_group_xent(vkt_bench *b) {
    /* GPT-2 vocabulary over 1024 positions (B*T = 4 x 256 or 1 x 1024): 206 MB of logits, split into two
     * bindings on a 128 MiB device; quick: 32 x 1000. */
    int64_t N = b->quick ? 32 : 1024, V = b->quick ? 1000 : 50257;
    static const char *const modes[] = {"xent_fwd", "xent_fwd_bwd", "xent_fwd+bwd"};
    static const char *const variants[] = {"", "group_per_row", "thread_per_row"};
    for (int mode = FWD; mode <= SPLIT; mode++) {
        for (int v = VKT_XENT_GROUP_PER_ROW; v <= VKT_XENT_THREAD_PER_ROW; v++) {
            xent_ctx x = {.N = N, .V = V, .mode = (xent_mode)mode, .o = vkt_xent_opts_default()};
            x.o.variant = (vkt_xent_variant)v;
            double nv = (double)N * (double)V;
            vkt_bench_case c = {.op = modes[mode], .dtype = "f32", .variant = variants[v],
                                .wg = v == VKT_XENT_GROUP_PER_ROW ? 256 : 16, /* WG_GROUP, WG_SERIAL in xent.c */
                                .flops = 0, /* exp-heavy, counted as memory traffic only */
                                .bytes = (mode == FWD ? 4.0 : 8.0) * nv + 8.0 * (double)N,
                                .setup = setup, .record = record, .check = check, .teardown = teardown, .ctx = &x};
            snprintf(c.shape, sizeof c.shape, "N=%lld V=%lld", (long long)N, (long long)V);
            VKT_TRY(vkt_bench_run(b, &c));
        }
    }
    return VKT_OK;
}
