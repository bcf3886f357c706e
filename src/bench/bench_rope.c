/* Bench cases for RoPE on a fused qkv buffer (Llama 3 8B head layout: 32 q heads, 8 kv heads, HS 128):
 * one in-place pass over the q and k heads. The op works in place, so each replay first copies the
 * pristine input over the working buffer (vkt_rec_copy, counted in the bytes) and replays stay equal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/rope.h"
#include "ref/ref_rope.h"

typedef struct {
    int64_t B, T, NH, KVH, HS;
    vkt_tensor src, x, table; /* src, x: (B*T, (NH + 2 KVH) HS); table: (T, HS/2, 2) */
    float *hx, *htab;         /* owned: host copies of src and table */
} rope_ctx;

static int64_t stride(const rope_ctx *x) { return (x->NH + 2 * x->KVH) * x->HS; }

static vkt_status setup(vkt_bench *b, void *c) {
    rope_ctx *x = c;
    const int64_t N = x->B * x->T, n = N * stride(x), nf = x->HS / 2;
    x->hx = vkt_bench_rand(b, (size_t)n, -1, 1);
    x->htab = malloc((size_t)(x->T * nf * 2) * sizeof *x->htab);
    double *inv = malloc((size_t)nf * sizeof *inv);
    if (!x->hx || !x->htab || !inv) return free(inv), VKT_ERR_OOM;
    vkt_rope_inv_freq(inv, x->HS, 5e5);
    vkt_rope_table(x->htab, x->T, nf, inv, false);
    free(inv);
    VKT_TRY(vkt_bench_upload(b, x->hx, N, stride(x), 1, 1, &x->src));
    VKT_TRY(vkt_bench_upload(b, NULL, N, stride(x), 1, 1, &x->x));
    return vkt_bench_upload(b, x->htab, x->T, nf, 2, 1, &x->table);
}

static vkt_rope_desc desc(const rope_ctx *x) {
    return (vkt_rope_desc){
        .B = x->B, .T = x->T, .n_heads = x->NH + x->KVH, .head_size = x->HS, .row_stride = stride(x)};
}

static vkt_status record(vkt_rec *r, void *c) {
    rope_ctx *x = c;
    const vkt_rope_desc d = desc(x);
    VKT_TRY(vkt_rec_copy(r, &x->src, &x->x));
    return vkt_op_rope_fwd(r, &x->x, &x->table, &d);
}

/* Gate only (test_op_rope checks the tight per-element bound): where a cos - b sin cancels, the metric's
 * atol (1e-3 rms) over an error of ~2^-23 (|a| + |b|) stays below 1e-3; a wrong angle or pair is O(1). */
static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    rope_ctx *x = c;
    const int64_t n = x->B * x->T * stride(x), ncs = x->T * x->HS;
    double *ref = malloc((size_t)n * sizeof *ref), *cs = malloc((size_t)ncs * sizeof *cs);
    float *y = vkt_bench_download(b, &x->x);
    bool ok = ref && cs;
    if (ok) {
        for (int64_t i = 0; i < n; i++) ref[i] = x->hx[i];
        for (int64_t i = 0; i < ncs; i++) cs[i] = x->htab[i];
        const vkt_ref_rope_shape s = {x->B, x->T, x->NH + x->KVH, x->HS, x->HS, stride(x), 0, 0, false, NULL};
        vkt_ref_rope_fwd(ref, &s, cs);
        ok = vkt_bench_compare(y, ref, (size_t)n, 1e-3, why, why_size);
    }
    free(ref), free(cs), free(y);
    return ok;
}

static void teardown(void *c) {
    rope_ctx *x = c;
    free(x->hx), free(x->htab);
    x->hx = x->htab = NULL;
}

vkt_status vkt_bench_group_rope(vkt_bench *b) {
    rope_ctx x = b->quick ? (rope_ctx){.B = 1, .T = 16, .NH = 4, .KVH = 2, .HS = 16}
                          : (rope_ctx){.B = 2, .T = 1024, .NH = 32, .KVH = 8, .HS = 128};
    const double N = (double)(x.B * x.T), rotated = N * (double)((x.NH + x.KVH) * x.HS);
    vkt_bench_case c = {.op = "rope_fwd",
                        .dtype = "f32",
                        .variant = "copy+rope",
                        .wg = 256, /* WG in rope.c */
                        /* 3 flops per rotated value (4 products, 2 sums a pair); bytes: the copy (read + write all) and
                         * the rotated values read + written, plus the table once */
                        .flops = 3 * rotated,
                        .bytes = 8 * N * (double)stride(&x) + 8 * rotated + 4 * (double)(x.T * x.HS),
                        .setup = setup,
                        .record = record,
                        .check = check,
                        .teardown = teardown,
                        .ctx = &x};
    snprintf(c.shape, sizeof c.shape, "B=%lld T=%lld NH=%lld KVH=%lld HS=%lld", (long long)x.B, (long long)x.T,
             (long long)x.NH, (long long)x.KVH, (long long)x.HS);
    return vkt_bench_run(b, &c);
}
