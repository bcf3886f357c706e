/* Bench cases for LayerNorm and RMSNorm, forward and backward (memory-bound: each reads its row tensors
 * once from memory, then re-reads rows from cache). The backward cases get mean/rstd computed on the host
 * and zero their accumulating parameter gradients inside the recording. The backward also runs in bf16 and
 * f16 storage (x, w, dy, dx 16-bit, counted at 2 bytes; mean, rstd, dw, db f32), the mixed-precision case. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/layernorm.h"
#include "ops/rmsnorm.h"
#include "ref/ref_layernorm.h"
#include "ref/ref_rmsnorm.h"

typedef struct {
    bool rms, bwd;
    vkt_dtype dt; /* storage of x, w, dy, dx (the backward); the forward cases are f32 */
    int64_t N, C;
    vkt_tensor x, w, b, y, mean, rstd, dy, dx, dw, db, scratch; /* (N,C) (C) (C) (N,C) (N) (N) (N,C)x2 (C)x2 */
    double *hx, *hw, *hb, *hdy, *hmean, *hrstd;                 /* owned host copies */
} norm_ctx;

static double *to_double(const float *f, size_t n) {
    double *d = malloc(n * sizeof *d);
    if (d)
        for (size_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

static vkt_status upload_d(vkt_bench *b, const double *h, int64_t n, vkt_tensor *out) {
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return VKT_ERR_OOM;
    for (int64_t i = 0; i < n; i++) f[i] = (float)h[i];
    vkt_status s = vkt_bench_upload(b, f, n, 1, 1, 1, out);
    free(f);
    return s;
}

/* Uploads h (n values) stored as dt, rounding h to the stored values. */
static vkt_status upload_rounded(vkt_bench *b, double *h, int64_t n, vkt_dtype dt, vkt_tensor *out) {
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return VKT_ERR_OOM;
    for (int64_t i = 0; i < n; i++) f[i] = (float)h[i];
    vkt_status s = vkt_bench_upload_as(b, f, n, dt, out);
    for (int64_t i = 0; i < n; i++) h[i] = f[i];
    free(f);
    return s;
}

static vkt_status setup(vkt_bench *b, void *c) {
    norm_ctx *x = c;
    size_t n = (size_t)(x->N * x->C), C = (size_t)x->C;
    float *fx = vkt_bench_rand(b, n, -2, 2), *fw = vkt_bench_rand(b, C, 0.5f, 1.5f);
    float *fb = vkt_bench_rand(b, C, -0.5f, 0.5f), *fdy = vkt_bench_rand(b, n, -1, 1);
    x->hx = to_double(fx, n), x->hw = to_double(fw, C), x->hb = to_double(fb, C), x->hdy = to_double(fdy, n);
    free(fx), free(fw), free(fb), free(fdy);
    x->hmean = malloc((size_t)x->N * sizeof *x->hmean), x->hrstd = malloc((size_t)x->N * sizeof *x->hrstd);
    if (!x->hx || !x->hw || !x->hb || !x->hdy || !x->hmean || !x->hrstd) return VKT_ERR_OOM;
    if (x->bwd) {
        /* x, w, dy as the device stores them (rounded for 16 bits): the reference sees the same values. */
        VKT_TRY(upload_rounded(b, x->hx, (int64_t)n, x->dt, &x->x));
        VKT_TRY(upload_rounded(b, x->hw, x->C, x->dt, &x->w));
        VKT_TRY(upload_rounded(b, x->hdy, (int64_t)n, x->dt, &x->dy));
    } else {
        VKT_TRY(upload_d(b, x->hx, (int64_t)n, &x->x));
        VKT_TRY(upload_d(b, x->hw, x->C, &x->w));
    }
    x->x.shape[0] = x->N, x->x.shape[1] = x->C;
    VKT_TRY(upload_d(b, x->hb, x->C, &x->b));
    if (!x->bwd) {
        VKT_TRY(vkt_bench_upload(b, NULL, x->N, x->C, 1, 1, &x->y));
        VKT_TRY(vkt_bench_upload(b, NULL, x->N, 1, 1, 1, &x->mean));
        return vkt_bench_upload(b, NULL, x->N, 1, 1, 1, &x->rstd);
    }
    double *y = malloc(n * sizeof *y);
    if (!y) return VKT_ERR_OOM;
    if (x->rms)
        vkt_ref_rmsnorm_fwd(x->hx, x->hw, 1e-5, y, x->hrstd, x->N, x->C);
    else
        vkt_ref_layernorm_fwd(x->hx, x->hw, x->hb, 1e-5, y, x->hmean, x->hrstd, x->N, x->C);
    free(y);
    if (!x->rms) VKT_TRY(upload_d(b, x->hmean, x->N, &x->mean));
    VKT_TRY(upload_d(b, x->hrstd, x->N, &x->rstd));
    VKT_TRY(vkt_tensor_alloc(b->arena, x->dt, x->N, x->C, 1, 1, &x->dx));
    VKT_TRY(vkt_bench_upload(b, NULL, x->C, 1, 1, 1, &x->dw));
    VKT_TRY(vkt_bench_upload(b, NULL, x->C, 1, 1, 1, &x->db));
    int64_t scratch =
        x->rms ? vkt_op_rmsnorm_bwd_scratch(b->rec, x->N, x->C) : vkt_op_layernorm_bwd_scratch(b->rec, x->N, x->C);
    return vkt_bench_upload(b, NULL, scratch, 1, 1, 1, &x->scratch);
}

static vkt_status record(vkt_rec *r, void *c) {
    norm_ctx *x = c;
    if (!x->bwd)
        return x->rms ? vkt_op_rmsnorm_fwd(r, &x->x, &x->w, 1e-5f, &x->y, &x->rstd)
                      : vkt_op_layernorm_fwd(r, &x->x, &x->w, &x->b, 1e-5f, &x->y, &x->mean, &x->rstd);
    VKT_TRY(vkt_rec_fill(r, &x->dw, 0));
    if (x->rms) return vkt_op_rmsnorm_bwd(r, &x->x, &x->w, &x->rstd, &x->dy, &x->dx, false, &x->dw, &x->scratch);
    VKT_TRY(vkt_rec_fill(r, &x->db, 0));
    return vkt_op_layernorm_bwd(r, &x->x, &x->w, &x->mean, &x->rstd, &x->dy, &x->dx, false, &x->dw, &x->db, &x->scratch);
}

/* Bounds as in tests/test_op_layernorm.c and test_op_rmsnorm.c. */
static bool compare(vkt_bench *b, const vkt_tensor *t, const double *ref, size_t n, double bound, char *why,
                    size_t why_size) {
    float *y = vkt_bench_download(b, t);
    bool ok = vkt_bench_compare(y, ref, n, bound, why, why_size);
    free(y);
    return ok;
}

static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    norm_ctx *x = c;
    size_t n = (size_t)(x->N * x->C), C = (size_t)x->C;
    double *y = malloc(n * sizeof *y), *dw = calloc(C, sizeof *dw), *db = calloc(C, sizeof *db);
    bool ok = y && dw && db;
    if (ok && !x->bwd) {
        if (x->rms)
            vkt_ref_rmsnorm_fwd(x->hx, x->hw, 1e-5, y, x->hrstd, x->N, x->C);
        else
            vkt_ref_layernorm_fwd(x->hx, x->hw, x->hb, 1e-5, y, x->hmean, x->hrstd, x->N, x->C);
        ok = compare(b, &x->y, y, n, x->rms ? 1e-5 : 1e-3, why, why_size) &&
             compare(b, &x->rstd, x->hrstd, (size_t)x->N, 1e-5, why, why_size);
    } else if (ok) {
        if (x->rms)
            vkt_ref_rmsnorm_bwd(x->hx, x->hw, x->hrstd, x->hdy, y, dw, x->N, x->C);
        else
            vkt_ref_layernorm_bwd(x->hx, x->hw, x->hmean, x->hrstd, x->hdy, y, dw, db, x->N, x->C);
        /* 16-bit dx: plus one rounding on store (2^-11 f16, 2^-8 bf16), as the op tests. */
        double unit = x->dt == VKT_DTYPE_F16 ? 1.0 / 2048 : x->dt == VKT_DTYPE_BF16 ? 1.0 / 256 : 0;
        ok = compare(b, &x->dx, y, n, 1e-4 + unit, why, why_size) && compare(b, &x->dw, dw, C, 5e-4, why, why_size) &&
             (x->rms || compare(b, &x->db, db, C, 5e-4, why, why_size));
    }
    free(y), free(dw), free(db);
    return ok;
}

static void teardown(void *c) {
    norm_ctx *x = c;
    free(x->hx), free(x->hw), free(x->hb), free(x->hdy), free(x->hmean), free(x->hrstd);
    x->hx = x->hw = x->hb = x->hdy = x->hmean = x->hrstd = NULL;
}

vkt_status vkt_bench_group_norm(vkt_bench *b) {
    /* GPT-2 small (B*T = 8*1024, C = 768) and a LLaMA-7B-wide row (B*T = 4096, C = 4096). Quick: (256, 768),
     * 768 KiB per row tensor like the residual quick case (smaller ones sit in cache and can outrun the
     * streaming ceiling). */
    const int64_t full[][2] = {{8192, 768}, {4096, 4096}}, quick[][2] = {{256, 768}};
    size_t count = b->quick ? 1 : 2;
    const vkt_dtype dts[] = {VKT_DTYPE_F32, VKT_DTYPE_BF16, VKT_DTYPE_F16};
    for (int rms = 0; rms < 2; rms++) {
        for (int bwd = 0; bwd < 2; bwd++) {
            for (size_t i = 0; i < count * (bwd ? 3 : 1); i++) {
                norm_ctx x = {.rms = rms,
                              .bwd = bwd,
                              .dt = dts[i / count],
                              .N = b->quick ? quick[i % count][0] : full[i % count][0],
                              .C = b->quick ? quick[i % count][1] : full[i % count][1]};
                double nc = (double)(x.N * x.C), N = (double)x.N, C = (double)x.C;
                double es = (double)vkt_dtype_size(x.dt);
                /* Minimum traffic: fwd reads x, w(, b) and writes y, rstd(, mean); bwd reads x, dy, w,
                 * rstd(, mean) and writes dx, dw(, db), x, dy, w, dx of es bytes. */
                double bytes = bwd ? es * (3 * nc + C) + 4 * ((rms ? 1 : 2) * C + (rms ? 1 : 2) * N)
                                   : 4 * (2 * nc + (rms ? 1 : 2) * C + (rms ? 1 : 2) * N);
                vkt_bench_case c = {.op = rms ? (bwd ? "rmsnorm_bwd" : "rmsnorm_fwd")
                                              : (bwd ? "layernorm_bwd" : "layernorm_fwd"),
                                    .dtype = vkt_dtype_name(x.dt),
                                    .variant = bwd ? "dx+colsum" : "row-per-subgroup",
                                    .wg = 256, /* WG in layernorm.c / rmsnorm.c (row kernels) */
                                    .bytes = bytes,
                                    .setup = setup,
                                    .record = record,
                                    .check = check,
                                    .teardown = teardown,
                                    .ctx = &x};
                snprintf(c.shape, sizeof c.shape, "N=%lld C=%lld", (long long)x.N, (long long)x.C);
                VKT_TRY(vkt_bench_run(b, &c));
            }
        }
    }
    return VKT_OK;
}
