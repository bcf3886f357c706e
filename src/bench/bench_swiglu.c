/* Bench cases for SwiGLU on a fused (N, 2F) gate/up tensor, forward and backward (f32). Memory-bound:
 * bytes count each input read once and each output written once; FLOPs are not counted. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/swiglu.h"
#include "ref/ref_swiglu.h"

typedef struct {
    bool bwd;
    int64_t N, F;
    vkt_tensor gu, dout, out, dgu; /* (N, 2F) (N, F) (N, F) (N, 2F) */
    float *hgu, *hdout;            /* owned host copies */
} swiglu_ctx;

static vkt_status setup(vkt_bench *b, void *c) {
    swiglu_ctx *x = c;
    int64_t n = x->N * x->F;
    x->hgu = vkt_bench_rand(b, (size_t)(2 * n), -4, 4);
    x->hdout = vkt_bench_rand(b, (size_t)n, -1, 1);
    if (!x->hgu || !x->hdout) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload(b, x->hgu, x->N, 2 * x->F, 1, 1, &x->gu));
    if (!x->bwd) return vkt_bench_upload(b, NULL, x->N, x->F, 1, 1, &x->out);
    VKT_TRY(vkt_bench_upload(b, x->hdout, x->N, x->F, 1, 1, &x->dout));
    return vkt_bench_upload(b, NULL, x->N, 2 * x->F, 1, 1, &x->dgu);
}

static vkt_status record(vkt_rec *r, void *c) {
    swiglu_ctx *x = c;
    return x->bwd ? vkt_op_swiglu_fused_bwd(r, &x->gu, &x->dout, &x->dgu) : vkt_op_swiglu_fused_fwd(r, &x->gu, &x->out);
}

/* Bounds as in tests/test_op_swiglu.c (d_gate goes through silu' near its zero: 2e-4). */
static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    swiglu_ctx *x = c;
    size_t n = (size_t)(x->N * x->F), F = (size_t)x->F;
    double *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u), *d = malloc(n * sizeof *d);
    double *dg = malloc(n * sizeof *dg), *du = malloc(n * sizeof *du), *r = malloc(2 * n * sizeof *r);
    float *y = vkt_bench_download(b, x->bwd ? &x->dgu : &x->out);
    bool ok = g && u && d && dg && du && r && y;
    if (ok) {
        for (size_t i = 0; i < n; i++) {
            size_t row = i / F, col = i % F;
            g[i] = x->hgu[row * 2 * F + col], u[i] = x->hgu[row * 2 * F + F + col], d[i] = x->hdout[i];
        }
        if (x->bwd) {
            vkt_ref_swiglu_bwd(g, u, d, dg, du, (int64_t)n);
            for (size_t i = 0; i < n; i++) {
                size_t row = i / F, col = i % F;
                r[row * 2 * F + col] = dg[i], r[row * 2 * F + F + col] = du[i];
            }
        } else {
            vkt_ref_swiglu_fwd(g, u, r, (int64_t)n);
        }
        ok = vkt_bench_compare(y, r, x->bwd ? 2 * n : n, x->bwd ? 2e-4 : 1e-5, why, why_size);
    }
    free(g), free(u), free(d), free(dg), free(du), free(r), free(y);
    return ok;
}

static void teardown(void *c) {
    swiglu_ctx *x = c;
    free(x->hgu), free(x->hdout);
    x->hgu = x->hdout = NULL;
}

vkt_status vkt_bench_group_swiglu(vkt_bench *b) {
    /* A 1B-class LLaMA MLP (B*T = 2048, F = 5632). Quick: (256, 704), ~720 KiB per (N, F) tensor. */
    for (int bwd = 0; bwd < 2; bwd++) {
        swiglu_ctx x = {.bwd = bwd, .N = b->quick ? 256 : 2048, .F = b->quick ? 704 : 5632};
        /* fwd: read gate, up; write out. bwd: read gate, up, dout; write dgate, dup. */
        double bytes = 4.0 * (double)(x.N * x.F) * (bwd ? 5 : 3);
        vkt_bench_case c = {.op = bwd ? "swiglu_bwd" : "swiglu_fwd",
                            .dtype = "f32",
                            .variant = "fused-gu",
                            .wg = 256, /* WG in swiglu.c */
                            .bytes = bytes,
                            .setup = setup,
                            .record = record,
                            .check = check,
                            .teardown = teardown,
                            .ctx = &x};
        snprintf(c.shape, sizeof c.shape, "N=%lld F=%lld", (long long)x.N, (long long)x.F);
        VKT_TRY(vkt_bench_run(b, &c));
    }
    return VKT_OK;
}
