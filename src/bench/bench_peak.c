/* The device's ceilings, measured in the same run as the cases: FMA throughput (bench_fma.comp) and
 * streaming copy bandwidth (bench_copy.comp). Both are validated like any case before their rate counts.
 * No datasheet figure is used here; stated peaks are only printed beside these (bench.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "ops/op_util.h"

#define WG     256
#define CHAINS 8 /* independent vec4 recurrences per invocation, as in bench_fma.comp */

typedef struct {
    uint32_t n, iters;
    float m, a;
} vkt_pc_bench_fma;
_Static_assert(sizeof(vkt_pc_bench_fma) == 16, "keep in sync with bench_fma.comp");
typedef struct {
    uint32_t n4;
} vkt_pc_bench_copy;
_Static_assert(sizeof(vkt_pc_bench_copy) == 4, "keep in sync with bench_copy.comp");

typedef struct {
    vkt_pc_bench_fma pc;
    uint32_t groups;
    vkt_tensor out; /* (n) */
} fma_ctx;

static vkt_status fma_setup(vkt_bench *b, void *c) {
    fma_ctx *x = c;
    return vkt_bench_upload(b, NULL, x->pc.n, 1, 1, 1, &x->out);
}

static vkt_status fma_record(vkt_rec *r, void *c) {
    fma_ctx *x = c;
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    VKT_TRY(vkt_ops_pipeline(r, "bench_fma", 1, sizeof x->pc, spec, 1, &p));
    vkt_binding bind[1] = {{x->out, VKT_WRITE}};
    uint32_t gx, gy;
    vkt_ops_grid_1d(x->groups, &gx, &gy);
    return vkt_rec_dispatch(r, "bench_fma", p, bind, 1, &x->pc, sizeof x->pc, gx, gy, 1);
}

/* The shader's value depends only on i % 64: recompute those 64 in double and compare every element. */
static bool fma_check(vkt_bench *b, void *c, char *why, size_t why_size) {
    fma_ctx *x = c;
    double want[64];
    for (int i = 0; i < 64; i++) {
        double s = (double)(float)(i * 0.125), sum = 0;
        for (int k = 0; k < CHAINS; k++)
            for (int j = 0; j < 4; j++) {
                double v = s + 0.5 * j + 2.0 * k;
                for (uint32_t it = 0; it < x->pc.iters; it++) v = v * (double)x->pc.m + (double)x->pc.a;
                sum += v;
            }
        want[i] = sum;
    }
    float *y = vkt_bench_download(b, &x->out);
    double *ref = malloc(x->pc.n * sizeof *ref);
    bool ok = ref != NULL;
    if (ok) {
        for (uint32_t i = 0; i < x->pc.n; i++) ref[i] = want[i % 64];
        /* float rounding of a contracting recurrence stays near 1e-6 relative; 1e-4 leaves margin */
        ok = vkt_bench_compare(y, ref, x->pc.n, 1e-4, why, why_size);
    }
    free(ref);
    free(y);
    return ok;
}

typedef struct {
    int64_t n;           /* floats per buffer */
    vkt_tensor src, dst; /* (n) each */
    float *host;         /* owned: what src holds */
} copy_ctx;

static vkt_status copy_setup(vkt_bench *b, void *c) {
    copy_ctx *x = c;
    x->host = vkt_bench_rand(b, (size_t)x->n, -1, 1);
    if (!x->host) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload(b, x->host, x->n, 1, 1, 1, &x->src));
    return vkt_bench_upload(b, NULL, x->n, 1, 1, 1, &x->dst);
}

static vkt_status copy_record(vkt_rec *r, void *c) {
    copy_ctx *x = c;
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    vkt_pc_bench_copy pc = {(uint32_t)(x->n / 4)};
    VKT_TRY(vkt_ops_pipeline(r, "bench_copy", 2, sizeof pc, spec, 1, &p));
    vkt_binding bind[2] = {{x->src, VKT_READ}, {x->dst, VKT_WRITE}};
    uint32_t gx, gy;
    vkt_ops_grid_1d(vkt_ceil_div(pc.n4, WG), &gx, &gy);
    return vkt_rec_dispatch(r, "bench_copy", p, bind, 2, &pc, sizeof pc, gx, gy, 1);
}

static bool copy_check(vkt_bench *b, void *c, char *why, size_t why_size) {
    copy_ctx *x = c;
    float *y = vkt_bench_download(b, &x->dst);
    if (!y) {
        snprintf(why, why_size, "could not read the output");
        return false;
    }
    bool ok = true;
    for (int64_t i = 0; ok && i < x->n; i++)
        if (memcmp(&y[i], &x->host[i], 4) != 0) {
            snprintf(why, why_size, "copy differs at index %lld (got %.9g, want %.9g)", (long long)i, y[i], x->host[i]);
            ok = false;
        }
    free(y);
    return ok;
}

static void copy_teardown(void *c) {
    copy_ctx *x = c;
    free(x->host);
    x->host = NULL;
}

vkt_status vkt_bench_peaks(vkt_bench *b) {
    /* Enough workgroups to fill any current GPU several times over (4096 x 256 invocations); 256
     * steps of 32 FMAs make one repetition ~17 GFLOP: ~0.3 ms on a large GPU, ~0.2 s on lavapipe. */
    fma_ctx f = {.pc = {.iters = b->quick ? 64 : 256, .m = 0.999f, .a = 0.001f}, .groups = b->quick ? 32 : 4096};
    f.pc.n = f.groups * WG;
    vkt_bench_case fc = {.op = "peak_fma",
                         .dtype = "f32",
                         .variant = "chains8",
                         .wg = WG,
                         .flops = (double)f.pc.n * f.pc.iters * CHAINS * 4 * 2,
                         .bytes = 4.0 * f.pc.n,
                         .role = VKT_BENCH_SETS_PEAK_FLOPS,
                         .setup = fma_setup,
                         .record = fma_record,
                         .check = fma_check,
                         .ctx = &f};
    snprintf(fc.shape, sizeof fc.shape, "n=%u iters=%u", f.pc.n, f.pc.iters);
    VKT_TRY(vkt_bench_run(b, &fc));

    /* Far beyond any cache: 256 MiB per buffer where one binding and the arena allow it. */
    size_t bytes = b->quick ? (size_t)4 << 20 : (size_t)256 << 20;
    size_t cap = vkt_rec_max_binding_bytes(b->rec) & ~(size_t)4095;
    if (bytes > cap) bytes = cap;
    if (bytes > vkt_arena_capacity(b->arena) / 2 - 4096)
        bytes = (vkt_arena_capacity(b->arena) / 2 - 4096) & ~(size_t)4095;
    copy_ctx x = {.n = (int64_t)(bytes / 4)};
    vkt_bench_case cc = {.op = "peak_copy",
                         .dtype = "f32",
                         .variant = "vec4",
                         .wg = WG,
                         .bytes = 2.0 * (double)bytes,
                         .role = VKT_BENCH_SETS_PEAK_BYTES,
                         .setup = copy_setup,
                         .record = copy_record,
                         .check = copy_check,
                         .teardown = copy_teardown,
                         .ctx = &x};
    snprintf(cc.shape, sizeof cc.shape, "bytes=%zu", bytes);
    return vkt_bench_run(b, &cc);
}
