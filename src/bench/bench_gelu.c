/* Bench cases for GELU (tanh form): forward in f32 and bf16 storage, backward in f32. Memory-bound:
 * bytes count each input read once and each output written once; FLOPs are not counted. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "core/half.h"
#include "ops/gelu.h"
#include "ref/ref_gelu.h"

typedef enum { GELU_FWD_F32, GELU_FWD_BF16, GELU_BWD_F32 } gelu_kind;

typedef struct {
    gelu_kind kind;
    int64_t n;           /* elements: B*T*4C */
    vkt_tensor x, dy, y; /* (n) each; y is dx for the backward */
    float *hx, *hdy;     /* owned: inputs as the device holds them (bf16-rounded for bf16) */
} gelu_ctx;

static vkt_status setup(vkt_bench *b, void *c) {
    gelu_ctx *g = c;
    size_t n = (size_t)g->n;
    g->hx = vkt_bench_rand(b, n, -4, 4);
    if (!g->hx) return VKT_ERR_OOM;
    if (g->kind == GELU_FWD_BF16) {
        uint16_t *h = malloc(n * sizeof *h);
        if (!h) return VKT_ERR_OOM;
        for (size_t i = 0; i < n; i++) h[i] = vkt_f32_to_bf16(g->hx[i]), g->hx[i] = vkt_bf16_to_f32(h[i]);
        vkt_status s = vkt_tensor_alloc(b->arena, VKT_DTYPE_BF16, g->n, 1, 1, 1, &g->x);
        if (s == VKT_OK) s = vkt_tensor_upload(b->dev, &g->x, h, n * sizeof *h);
        free(h);
        VKT_TRY(s);
        return vkt_tensor_alloc(b->arena, VKT_DTYPE_BF16, g->n, 1, 1, 1, &g->y);
    }
    VKT_TRY(vkt_bench_upload(b, g->hx, g->n, 1, 1, 1, &g->x));
    if (g->kind == GELU_BWD_F32) {
        g->hdy = vkt_bench_rand(b, n, -1, 1);
        if (!g->hdy) return VKT_ERR_OOM;
        VKT_TRY(vkt_bench_upload(b, g->hdy, g->n, 1, 1, 1, &g->dy));
    }
    return vkt_bench_upload(b, NULL, g->n, 1, 1, 1, &g->y);
}

static vkt_status record(vkt_rec *r, void *c) {
    gelu_ctx *g = c;
    if (g->kind == GELU_BWD_F32) return vkt_op_gelu_bwd(r, &g->x, &g->dy, &g->y, false);
    return vkt_op_gelu_fwd(r, &g->x, &g->y);
}

/* Bounds as in tests/test_op_gelu.c: fwd f32 1e-5, bwd 2e-4, 16-bit storage 1e-2. */
static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    gelu_ctx *g = c;
    size_t n = (size_t)g->n;
    double *ref = malloc(n * sizeof *ref);
    float *y = NULL;
    if (g->kind == GELU_FWD_BF16) {
        uint16_t *h = malloc(n * sizeof *h);
        y = malloc(n * sizeof *y);
        if (h && y && vkt_tensor_download(b->dev, &g->y, h, n * sizeof *h) == VKT_OK)
            for (size_t i = 0; i < n; i++) y[i] = vkt_bf16_to_f32(h[i]);
        else
            free(y), y = NULL;
        free(h);
    } else {
        y = vkt_bench_download(b, &g->y);
    }
    bool ok = ref != NULL;
    if (ok) {
        for (size_t i = 0; i < n; i++)
            ref[i] = g->kind == GELU_BWD_F32 ? g->hdy[i] * vkt_ref_gelu_grad(g->hx[i]) : vkt_ref_gelu(g->hx[i]);
        double bound = g->kind == GELU_FWD_F32 ? 1e-5 : g->kind == GELU_BWD_F32 ? 2e-4 : 1e-2;
        ok = vkt_bench_compare(y, ref, n, bound, why, why_size);
    }
    free(ref), free(y);
    return ok;
}

static void teardown(void *c) {
    gelu_ctx *g = c;
    free(g->hx), free(g->hdy);
    g->hx = g->hdy = NULL;
}

vkt_status vkt_bench_group_gelu(vkt_bench *b) {
    /* The MLP activation of GPT-2 small at B=8, T=1024: (B*T, 4C) = 8192 x 3072. */
    const int64_t n = b->quick ? 4096 * 17 : (int64_t)8192 * 3072;
    const struct {
        gelu_kind kind;
        const char *op, *dtype;
        double bytes_per_elem;
    } cases[] = {
        {GELU_FWD_F32, "gelu_fwd", "f32", 8},
        {GELU_FWD_BF16, "gelu_fwd", "bf16", 4},
        {GELU_BWD_F32, "gelu_bwd", "f32", 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gelu_ctx g = {.kind = cases[i].kind, .n = n};
        vkt_bench_case c = {.op = cases[i].op,
                            .dtype = cases[i].dtype,
                            .variant = "-",
                            .wg = 256, /* the elementwise helper's workgroup (op_eltwise.c) */
                            .bytes = cases[i].bytes_per_elem * (double)n,
                            .setup = setup,
                            .record = record,
                            .check = check,
                            .teardown = teardown,
                            .ctx = &g};
        snprintf(c.shape, sizeof c.shape, "n=%lld", (long long)n);
        VKT_TRY(vkt_bench_run(b, &c));
    }
    return VKT_OK;
}
