/* matmul_wide_ua (CPU drivers): matmul_wide reading A's row blocks through uniform-buffer windows
 * (src/ops/matmul.c: a_window_blocks, a_window; shaders/LAVAPIPE.md says why). Each case
 * runs with the windows and again with VKT_MATMUL_A_UBO=0: the two results must be equal bit for bit (the
 * same products summed in the same order), and equal the double reference within vkt_matmul_bound. The
 * profile must show the windowed kernel where a row block fits a window, with several dispatches where M
 * needs them, and the plain kernel where it does not fit. Cases cover NT and NN, padded rows, bias and
 * accumulate, a partial last row block, several row blocks per window and several dispatches, and A alone
 * in an arena of its own size, so that the windows end at the buffer's end short of 64 KiB. Devices where
 * the variant does not apply (GPUs) skip the test. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/matmul.h"
#include "ref/ref_matmul.h"

typedef struct {
    int64_t m, n, k;
    bool tb;
    int64_t pad_a;   /* extra elements per stored row of A */
    bool bias, accumulate, own_arena;
    bool windows;    /* the windowed kernel must run (else the plain one) */
    int dispatches;  /* at least this many matmul dispatches */
} win_case;

typedef struct {
    vkt_tensor a, b, bias, c;
    bool has_bias;
    vkt_matmul_desc d;
} mm_ctx;

static vkt_status run_mm(vkt_rec *r, void *p) {
    mm_ctx *x = p;
    return vkt_op_matmul(r, &x->a, &x->b, x->has_bias ? &x->bias : NULL, &x->c, &x->d);
}

/* Runs x profiled; returns the dispatches of `name`. */
static int run_count(vkt_test *t, mm_ctx *x, const char *name) {
    vkt_rec_set_profile(t->rec, true);
    vkt_test_run(t, run_mm, x);
    vkt_rec_profile_row *rows = NULL;
    int n = 0, hits = 0;
    double total;
    VKT_TEST_TRY(t, vkt_rec_profile_rows(t->rec, &rows, &n, &total));
    vkt_rec_set_profile(t->rec, false);
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].name, name)) hits += rows[i].count;
    free(rows);
    return hits;
}

static void check(vkt_test *t, const win_case *cs) {
    int64_t lda = cs->k + cs->pad_a, na = cs->m * lda, nb = cs->k * cs->n, nc = cs->m * cs->n;
    float *a = vkt_test_randn(t, (size_t)na, 1), *b = vkt_test_randn(t, (size_t)nb, 1);
    float *bias = vkt_test_randn(t, (size_t)cs->n, 1), *c0 = vkt_test_randn(t, (size_t)nc, 1);
    vkt_arena *own = NULL;
    mm_ctx x = {.has_bias = cs->bias};
    if (cs->own_arena) {
        VKT_TEST_TRY(t, vkt_arena_create(t->dev, "a_only", (size_t)na * 4, &own));
        VKT_TEST_TRY(t, vkt_tensor_alloc(own, VKT_DTYPE_F32, na, 1, 1, 1, &x.a));
        VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &x.a, a, (size_t)na * 4));
    } else {
        x.a = vkt_test_upload(t, a, na, 1, 1, 1);
    }
    x.b = vkt_test_upload(t, b, nb, 1, 1, 1);
    x.bias = vkt_test_upload(t, bias, cs->n, 1, 1, 1);
    x.d = (vkt_matmul_desc){.m = cs->m, .n = cs->n, .k = cs->k, .trans_b = cs->tb, .lda = lda,
                            .accumulate = cs->accumulate, .variant = VKT_MATMUL_REG};
    char what[96];
    snprintf(what, sizeof what, "N%c %lldx%lldx%lld lda %lld%s%s%s", cs->tb ? 'T' : 'N', (long long)cs->m,
             (long long)cs->n, (long long)cs->k, (long long)lda, cs->bias ? " bias" : "", cs->accumulate ? " acc" : "",
             cs->own_arena ? " (A ends its buffer)" : "");

    vkt_test_out out = vkt_test_output_init(t, c0, nc, 1, 1, 1);
    x.c = out.view;
    int ua = run_count(t, &x, "matmul_wide_ua"), plain = run_count(t, &x, "matmul_wide");
    /* run_count ran the product twice: for the checked values, C starts over from c0 */
    out = vkt_test_output_init(t, c0, nc, 1, 1, 1), x.c = out.view;
    vkt_test_run(t, run_mm, &x);
    float *y = vkt_test_read_output(t, &out, "c");

    setenv("VKT_MATMUL_A_UBO", "0", 1);
    vkt_test_out out0 = vkt_test_output_init(t, c0, nc, 1, 1, 1);
    x.c = out0.view;
    int ua_off = run_count(t, &x, "matmul_wide_ua");
    out0 = vkt_test_output_init(t, c0, nc, 1, 1, 1), x.c = out0.view;
    vkt_test_run(t, run_mm, &x);
    float *y0 = vkt_test_read_output(t, &out0, "c (plain)");
    unsetenv("VKT_MATMUL_A_UBO");

    printf("   %s: %d windowed and %d plain dispatches (%d windowed with VKT_MATMUL_A_UBO=0)\n", what, ua, plain,
           ua_off);
    if (cs->windows && (ua < cs->dispatches || plain != 0))
        vkt_test_fail(t, "%s: want at least %d matmul_wide_ua dispatches and no matmul_wide", what, cs->dispatches);
    if (!cs->windows && (ua != 0 || plain < 1)) vkt_test_fail(t, "%s: a row block cannot fit a window", what);
    if (ua_off != 0) vkt_test_fail(t, "%s: VKT_MATMUL_A_UBO=0 did not turn the windows off", what);
    for (int64_t e = 0; e < nc; e++)
        if (memcmp(&y[e], &y0[e], sizeof y[e]) != 0) {
            vkt_test_fail(t, "%s: element %lld is %.9g with the windows, %.9g without", what, (long long)e, y[e], y0[e]);
            break;
        }

    double *ad = vkt_test_to_double(a, (size_t)na), *bd = vkt_test_to_double(b, (size_t)nb);
    double *ref = vkt_test_to_double(c0, (size_t)nc), *biasd = vkt_test_to_double(bias, (size_t)cs->n);
    vkt_ref_matmul_desc rd = {.m = cs->m, .n = cs->n, .k = cs->k, .trans_b = cs->tb, .alpha = 1.0,
                              .accumulate = cs->accumulate, .lda = lda, .ldb = cs->tb ? cs->k : cs->n, .ldc = cs->n};
    vkt_ref_matmul(ad, bd, cs->bias ? biasd : NULL, ref, &rd);
    vkt_check(t, what, y, ref, (size_t)nc, vkt_matmul_bound(cs->k));
    free(a), free(b), free(bias), free(c0), free(y), free(y0), free(ad), free(bd), free(ref), free(biasd);
    if (own) vkt_arena_destroy(own);
    vkt_arena_reset(t->arena);
}

static const win_case cases[] = {
    /* m, n, k, tb, pad_a, bias, acc, own arena, windows, dispatches */
    {200, 72, 64, true, 0, true, false, false, true, 1},    /* several row blocks per window */
    {400, 72, 512, true, 0, false, false, false, true, 3},  /* one block per window, 6 per dispatch */
    {77, 80, 96, false, 8, false, true, true, true, 1},     /* partial last block, windows cut at A's end */
    {130, 72, 40, true, 8, true, true, true, true, 1},
    {800, 128, 128, true, 0, false, false, false, true, 2}, /* Shakespeare-char's attention projection, taller */
    {40, 64, 2048, true, 0, false, false, false, false, 1}, /* 16 rows of 2048: over 64 KiB */
};

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "op_matmul_windows");
    const vkt_device_info *info = vkt_device_get_info(t.dev);
    if (info->type != VKT_DEVICE_CPU || !info->ubo_array_indexing) {
        printf("   %s: no CPU driver with uniform-buffer array indexing, nothing to test\n", info->name);
        return vkt_test_finish(&t);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check(&t, &cases[i]);
    return vkt_test_finish(&t);
}
