/* matmul_narrow (issue 7): the rank-r products of a LoRA branch on CPU drivers, against the double reference.
 *
 * Shapes are those of a branch with rows x in -> out and rank r (src/ops/lora.c): u = x A^T (NT, N = r),
 * du = dy_window B (NN, N = r, A strided), dB += s dy^T u (TN, N = r), and with N <= 64 also y += s u B^T
 * (NT, K = r, a column window of a fused output) and dx += s du A (NN, K = r); odd row counts, r = 8, 16, 24,
 * 64, alpha != 1, overwrite and accumulate, batches, K chunks, a split over the binding limit, f32 and
 * 16-bit inputs, f32 and 16-bit C. Each case checks that the fast dispatches all ran the expected kernel (the
 * profile), that C outside its window and between batches keeps its bits, and that the result equals
 * matmul_wide's forced on the same operands bit for bit (the same sums in the same k order). The weight
 * gradient dA += du^T x (TN, M = r) and products with N > 64 stay on matmul_wide and are checked the same way.
 * Bounds as in test_op_matmul.c: 1.2e-4 * sqrt(K), plus one rounding of a 16-bit C. */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/matmul.h"
#include "ref/ref_matmul.h"

#define F32  VKT_DTYPE_F32
#define F16  VKT_DTYPE_F16
#define BF16 VKT_DTYPE_BF16

typedef struct {
    const char *role;
    int64_t m, n, k;
    bool ta, tb;
    int64_t batch;
    int64_t pad_a, pad_b, ldc, c0; /* extra elements per stored row of A and B; C's row stride and window column */
    bool accumulate;
    float alpha;
    vkt_dtype dt; /* A and B */
    bool c16;     /* C in dt, else f32 */
    const char *kernel;
} nc_case;

typedef struct {
    vkt_tensor a, b, c;
    vkt_matmul_desc d;
} nc_ctx;

static vkt_status run_nc(vkt_rec *r, void *p) {
    nc_ctx *x = p;
    return vkt_op_matmul(r, &x->a, &x->b, NULL, &x->c, &x->d);
}

/* Runs x profiled; fails unless some dispatch ran `kernel` and none the other fast kernel (matmul_wide or
 * matmul_narrow). K tails of odd row counts may take matmul_reg (the tail split of matmul.h). */
static void run_expect_kernel(vkt_test *t, nc_ctx *x, const char *kernel, const char *what) {
    vkt_rec_set_profile(t->rec, true);
    vkt_test_run(t, run_nc, x);
    vkt_rec_profile_row *rows = NULL;
    int n = 0, hits = 0, others = 0;
    double total;
    VKT_TEST_TRY(t, vkt_rec_profile_rows(t->rec, &rows, &n, &total));
    vkt_rec_set_profile(t->rec, false);
    for (int i = 0; i < n; i++) {
        /* matmul_wide_ua is matmul_wide reading A through uniform-buffer windows (test_op_matmul_windows) */
        const char *name = strcmp(rows[i].name, "matmul_wide_ua") ? rows[i].name : "matmul_wide";
        if (!strcmp(name, kernel))
            hits += rows[i].count;
        else if (!strcmp(name, "matmul_wide") || !strcmp(name, "matmul_narrow"))
            others += rows[i].count;
    }
    printf("   %s: %d dispatches of %s, %d of the other fast kernel, %d kinds\n", what, hits, kernel, others, n);
    if (hits == 0 || others != 0) vkt_test_fail(t, "%s: expected only %s among the fast kernels", what, kernel);
    free(rows);
}

/* C as the device holds it before the run: init (accumulate) or NaN, everywhere including outside the window. */
static vkt_test_out fresh_c(vkt_test *t, const nc_case *cs, float *init, int64_t nc, nc_ctx *x) {
    vkt_dtype cdt = cs->c16 ? cs->dt : F32;
    vkt_test_out out = vkt_any_output(t, cdt, init, nc, 1);
    x->c = out.view;
    x->c.offset += (size_t)cs->c0 * vkt_dtype_size(cdt), x->c.shape[0] = nc - cs->c0;
    return out;
}

static void check_case(vkt_test *t, const nc_case *cs) {
    const int64_t nb = cs->batch > 1 ? cs->batch : 1;
    const int64_t ra = cs->ta ? cs->k : cs->m, ca = cs->ta ? cs->m : cs->k;
    const int64_t rb = cs->tb ? cs->n : cs->k, cb = cs->tb ? cs->k : cs->n;
    const int64_t lda = ca + cs->pad_a, ldb = cb + cs->pad_b, sa = ra * lda, sb = rb * ldb, sc = cs->m * cs->ldc;
    const int64_t na = nb * sa, nbb = nb * sb, nc = nb * sc;
    const vkt_dtype cdt = cs->c16 ? cs->dt : F32;
    float *a = vkt_test_randn(t, (size_t)na, 1), *b = vkt_test_randn(t, (size_t)nbb, 1);
    /* Outside the window C holds c0 even when the product overwrites: those bits must come back. */
    float *c0 = vkt_test_randn(t, (size_t)nc, 1);
    nc_ctx x = {.a = vkt_half_or_f32_upload(t, cs->dt, a, na, 1), .b = vkt_half_or_f32_upload(t, cs->dt, b, nbb, 1)};
    x.d = (vkt_matmul_desc){.m = cs->m,
                            .n = cs->n,
                            .k = cs->k,
                            .trans_a = cs->ta,
                            .trans_b = cs->tb,
                            .batch = cs->batch,
                            .stride_a = sa,
                            .stride_b = sb,
                            .stride_c = sc,
                            .alpha = cs->alpha,
                            .accumulate = cs->accumulate,
                            .lda = lda,
                            .ldb = ldb,
                            .ldc = cs->ldc,
                            .variant = VKT_MATMUL_REG};
    char what[160];
    snprintf(what, sizeof what, "%s %s%s%s %c%c %lldx%lldx%lld b%lld lda %lld ldb %lld ldc %lld col %lld%s a%g",
             cs->role, vkt_dtype_name(cs->dt), cs->c16 ? "->" : "", cs->c16 ? vkt_dtype_name(cdt) : "",
             cs->ta ? 'T' : 'N', cs->tb ? 'T' : 'N', (long long)cs->m, (long long)cs->n, (long long)cs->k,
             (long long)nb, (long long)lda, (long long)ldb, (long long)cs->ldc, (long long)cs->c0,
             cs->accumulate ? " acc" : "", cs->alpha != 0 ? cs->alpha : 1.0);
    vkt_test_out out = fresh_c(t, cs, c0, nc, &x);
    run_expect_kernel(t, &x, cs->kernel, what);
    float *y = vkt_any_read(t, &out, "c");

    double *ad = vkt_test_to_double(a, (size_t)na), *bd = vkt_test_to_double(b, (size_t)nbb);
    double *ref = vkt_test_to_double(c0, (size_t)nc);
    vkt_ref_matmul_desc rd = {.m = cs->m,
                              .n = cs->n,
                              .k = cs->k,
                              .trans_a = cs->ta,
                              .trans_b = cs->tb,
                              .batch = cs->batch,
                              .stride_a = sa,
                              .stride_b = sb,
                              .stride_c = sc,
                              .alpha = cs->alpha != 0 ? cs->alpha : 1.0,
                              .accumulate = cs->accumulate,
                              .lda = lda,
                              .ldb = ldb,
                              .ldc = cs->ldc};
    vkt_ref_matmul(ad, bd, NULL, ref + cs->c0, &rd);
    size_t nw = (size_t)(nb * cs->m * cs->n), p = 0;
    float *yw = malloc(nw * sizeof *yw);
    double *rw = malloc(nw * sizeof *rw);
    bool stray = false;
    for (int64_t e = 0; e < nc; e++) {
        int64_t j = e % cs->ldc;
        if (j >= cs->c0 && j < cs->c0 + cs->n) {
            yw[p] = y[e], rw[p++] = ref[e];
        } else if (!stray && memcmp(&y[e], &c0[e], sizeof y[e]) != 0) {
            vkt_test_fail(t, "%s: element %lld outside the window was written", what, (long long)e);
            stray = true;
        }
    }
    vkt_check(t, what, yw, rw, nw,
              1.2e-4 * sqrt((double)(cs->k > 16 ? cs->k : 16)) + (cs->c16 ? vkt_half_unit(cdt) : 0));

    /* matmul_wide forced on the same operands: the same sums, so the same bits. */
    vkt_matmul_force wide = {VKT_MM_KERNEL_WIDE, vkt_matmul_tile_default(VKT_MM_KERNEL_WIDE, cs->ta)};
    x.d.force = &wide;
    vkt_test_out out_w = fresh_c(t, cs, c0, nc, &x);
    vkt_test_run(t, run_nc, &x);
    float *yw2 = vkt_any_read(t, &out_w, "c (wide)");
    for (int64_t e = 0; e < nc; e++)
        if (memcmp(&y[e], &yw2[e], sizeof y[e]) != 0) {
            vkt_test_fail(t, "%s: element %lld is %.9g, matmul_wide's %.9g", what, (long long)e, y[e], yw2[e]);
            break;
        }
    free(a), free(b), free(c0), free(ad), free(bd), free(ref), free(y), free(yw), free(rw), free(yw2);
    vkt_arena_reset(t->arena);
}

#define NARROW "matmul_narrow"
#define WIDE   "matmul_wide"

static const nc_case cases[] = {
    /* role, m, n, k, ta, tb, batch, pad_a, pad_b, ldc, c0, acc, alpha, dt, c16, kernel */
    {"u = x A^T", 67, 16, 40, false, true, 1, 0, 0, 16, 0, false, 0, F32, false, NARROW},
    {"u = x A^T r8", 129, 8, 64, false, true, 1, 8, 0, 8, 0, false, 0, F32, false, NARROW},
    {"u = x A^T r24", 67, 24, 48, false, true, 1, 0, 0, 24, 0, false, 0, F32, false, NARROW},
    {"u = x A^T r64", 65, 64, 24, false, true, 1, 0, 0, 64, 0, false, 0, F32, false, NARROW},
    {"y += s u B^T", 67, 40, 16, false, true, 1, 0, 0, 88, 8, true, 2.0f, F32, false, NARROW},
    {"y += s u B^T r8 (N > 64)", 130, 72, 8, false, true, 1, 0, 0, 72, 0, true, -0.5f, F32, false, WIDE},
    {"y = s u B^T r24", 67, 48, 24, false, true, 1, 0, 0, 64, 16, false, 0.25f, F32, false, NARROW},
    {"du = dy_window B", 67, 16, 72, false, false, 1, 16, 0, 16, 0, false, 0, F32, false, NARROW},
    {"du = dy_window B r24", 75, 24, 40, false, false, 1, 8, 0, 24, 0, false, 0, F32, false, NARROW},
    {"dx += s du A", 67, 56, 16, false, false, 1, 0, 0, 56, 0, true, 2.0f, F32, false, NARROW},
    {"dx = s du A r24", 131, 32, 24, false, false, 1, 0, 0, 32, 0, false, 1.5f, F32, false, NARROW},
    {"dx += s du A r64", 67, 48, 64, false, false, 1, 0, 0, 48, 0, true, 0.5f, F32, false, NARROW},
    {"dB += s dy^T u", 72, 16, 67, true, false, 1, 0, 0, 16, 0, true, 2.0f, F32, false, NARROW},
    {"dB += s dy_window^T u r24", 80, 24, 33, true, false, 1, 16, 0, 24, 0, true, 0.5f, F32, false, NARROW},
    {"batched u", 67, 16, 24, false, true, 3, 8, 0, 16, 0, true, 0, F32, false, NARROW},
    {"u over the binding limit", 4100, 16, 16, false, true, 1, 0, 0, 16, 0, false, 0, F32, false, NARROW},
    /* dA += s du^T x: M = r, on matmul_wide */
    {"dA += s du^T x", 16, 40, 67, true, false, 1, 0, 0, 40, 0, true, 2.0f, F32, false, WIDE},
    {"dA += s du^T x r24", 24, 48, 35, true, false, 1, 0, 0, 48, 0, true, 0.5f, F32, false, WIDE},
    /* 16-bit inputs, f32 C (dA, dB under mixed precision) and 16-bit C (u, g, y, dx) */
    {"dB f16", 72, 16, 67, true, false, 1, 0, 0, 16, 0, true, 2.0f, F16, false, NARROW},
    {"du f16, 2 K chunks", 64, 16, 1504, false, false, 1, 0, 0, 16, 0, true, 0.5f, F16, false, NARROW},
    {"dB bf16", 72, 16, 67, true, false, 1, 0, 0, 16, 0, true, 2.0f, BF16, false, NARROW},
    {"u f16", 67, 16, 40, false, true, 1, 0, 0, 16, 0, false, 0, F16, true, NARROW},
    {"u bf16, K tail", 67, 16, 45, false, true, 1, 3, 3, 16, 0, false, 0, BF16, true, NARROW},
    {"y bf16", 67, 40, 16, false, true, 1, 0, 0, 88, 8, true, 2.0f, BF16, true, NARROW},
    {"dx f16", 67, 56, 16, false, false, 1, 0, 0, 56, 0, true, -2.0f, F16, true, NARROW},
    {"du bf16", 67, 16, 72, false, false, 1, 16, 0, 16, 0, false, 0, BF16, true, NARROW},
};

int main(void) {
    vkt_test t;
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    setenv("VKT_TUNE", "0", 1); /* default tiles, as under ctest */
    vkt_test_init(&t, "op_matmul_narrow");
    const vkt_device_info *info = vkt_device_get_info(t.dev);
    /* Only the reg variant (CPU drivers) has matmul_narrow; forcing it elsewhere still runs it correctly. */
    unsetenv("VKT_MATMUL_VARIANT");
    printf("   device %s (%s)\n", info->name, vkt_device_type_name(info->type));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].dt != F32 && !info->storage16) {
            printf("   SKIP %s: no 16-bit storage\n", cases[i].role);
            continue;
        }
        check_case(&t, &cases[i]);
    }
    return vkt_test_finish(&t);
}
