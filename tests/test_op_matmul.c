/* Matmul: every layout, batched, bias, alpha, accumulate, 16-bit inputs, windows split over a lowered binding
 * limit, and the Linear layer's forward and backward, for every variant this device can run.
 *
 * Bounds: STYLE.md's 1e-4 default does not hold for any f32 matmul under this metric. Each of the K additions
 * rounds by up to u = 2^-24 of a partial sum that grows like sqrt(i) * t (t = rms of one product), so the
 * error is ~ u * t * K / sqrt(2), while the metric divides by |r| + 1e-3 * rms(r) and rms(r) = sqrt(K) * t:
 * near-zero outputs score ~ u * sqrt(K) / 1.4e-3 = 4.3e-5 * sqrt(K). The bound is 1.2e-4 * sqrt(K) (observed
 * maxima are 4-8x lower). It still catches any real defect: one missing or doubled term scores ~ 1e3 / sqrt(K).
 * 16-bit inputs are rounded on the host first and the reference uses the rounded values, so the same bound
 * checks that the kernel widens exactly and accumulates in f32.  */
#include <string.h>

#include "core/half.h"
#include "half_io.h"
#include "harness.h"
#include "ops/matmul.h"
#include "ref/ref_matmul.h"
#include "vk/shaders.h"

#define F32 VKT_DTYPE_F32

typedef struct {
    int64_t m, n, k;
    bool ta, tb;
    int64_t batch, pad_a, pad_b, pad_c; /* extra elements between batches; pad_b < 0 broadcasts B */
    bool bias, accumulate;
    float alpha;
    vkt_dtype dt;
    int wide;   /* 1: the f32 fast path (matmul_wide) must apply; 2: A and B views start 16 bytes off a
                   32-byte boundary, which must rule it out */
    bool c16;   /* C and bias in dt (a half activation output) instead of f32 */
} mm_case;

typedef struct {
    vkt_tensor a, b, bias, c;
    bool has_bias;
    vkt_matmul_desc d;
} mm_ctx;

static vkt_status run_mm(vkt_rec *r, void *p) {
    mm_ctx *x = p;
    return vkt_op_matmul(r, &x->a, &x->b, x->has_bias ? &x->bias : NULL, &x->c, &x->d);
}

/* Uploads x as dtype dt, rounding x in place to what the device will see. shift: the view starts 4
 * elements into its allocation. */
static vkt_tensor upload_as(vkt_test *t, float *x, int64_t n, vkt_dtype dt, bool shift) {
    if (shift) {
        VKT_ASSERT(dt == VKT_DTYPE_F32);
        float *h = calloc((size_t)n + 4, sizeof *h);
        memcpy(h + 4, x, (size_t)n * sizeof *h);
        vkt_tensor v = vkt_test_upload(t, h, n + 4, 1, 1, 1);
        free(h);
        v.offset += 16, v.shape[0] = n;
        return v;
    }
    if (dt == VKT_DTYPE_F32) return vkt_test_upload(t, x, n, 1, 1, 1);
    uint16_t *h = malloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; i++) {
        h[i] = dt == VKT_DTYPE_F16 ? vkt_f32_to_f16(x[i]) : vkt_f32_to_bf16(x[i]);
        x[i] = dt == VKT_DTYPE_F16 ? vkt_f16_to_f32(h[i]) : vkt_bf16_to_f32(h[i]);
    }
    vkt_tensor v;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, dt, n, 1, 1, 1, &v));
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &v, h, vkt_tensor_bytes(&v)));
    free(h);
    return v;
}

static void check_case(vkt_test *t, vkt_matmul_variant v, const mm_case *cs) {
    int64_t nb = cs->batch > 1 ? cs->batch : 1;
    int64_t sa = cs->m * cs->k + cs->pad_a, sc = cs->m * cs->n + cs->pad_c;
    int64_t sb = cs->pad_b < 0 ? 0 : cs->k * cs->n + cs->pad_b;
    int64_t na = (nb - 1) * sa + cs->m * cs->k, nbb = (nb - 1) * sb + cs->k * cs->n, nc = (nb - 1) * sc + cs->m * cs->n;
    float *a = vkt_test_randn(t, (size_t)na, 1), *b = vkt_test_randn(t, (size_t)nbb, 1);
    float *bias = vkt_test_randn(t, (size_t)cs->n, 1), *c0 = vkt_test_randn(t, (size_t)nc, 1);
    mm_ctx x = {.has_bias = cs->bias};
    x.a = upload_as(t, a, na, cs->dt, cs->wide == 2), x.b = upload_as(t, b, nbb, cs->dt, cs->wide == 2);
    vkt_dtype cdt = cs->c16 ? cs->dt : F32;
    x.bias = vkt_half_or_f32_upload(t, cdt, bias, cs->n, 1);
    /* Batch padding is never written: NaN there in the output buffer would mark a stray write. */
    vkt_test_out out = vkt_any_output(t, cdt, cs->accumulate ? c0 : NULL, nc, 1);
    x.c = out.view;
    x.d = (vkt_matmul_desc){.m = cs->m, .n = cs->n, .k = cs->k, .trans_a = cs->ta, .trans_b = cs->tb,
                            .batch = cs->batch, .stride_a = sa, .stride_b = sb, .stride_c = sc,
                            .alpha = cs->alpha, .accumulate = cs->accumulate, .variant = v};
    bool wide = v == VKT_MATMUL_REG && vkt_matmul_wide_ok(&x.a, &x.b, &x.d);
    if ((cs->wide == 1 && v == VKT_MATMUL_REG && !wide) || (cs->wide == 2 && wide))
        vkt_test_fail(t, "case %lldx%lldx%lld: wide path %s", (long long)cs->m, (long long)cs->n, (long long)cs->k,
                      wide ? "taken for a misaligned view" : "not taken for an aligned shape");
    vkt_test_run(t, run_mm, &x);

    double *ad = vkt_test_to_double(a, (size_t)na), *bd = vkt_test_to_double(b, (size_t)nbb);
    double *biasd = vkt_test_to_double(bias, (size_t)cs->n), *ref = malloc((size_t)nc * sizeof *ref);
    for (int64_t i = 0; i < nc; i++) ref[i] = cs->accumulate ? c0[i] : NAN;
    vkt_ref_matmul_desc rd = {.m = cs->m, .n = cs->n, .k = cs->k, .trans_a = cs->ta, .trans_b = cs->tb,
                              .batch = cs->batch, .stride_a = sa, .stride_b = sb, .stride_c = sc,
                              .alpha = cs->alpha != 0 ? cs->alpha : 1.0, .accumulate = cs->accumulate};
    vkt_ref_matmul(ad, bd, cs->bias ? biasd : NULL, ref, &rd);
    float *y = vkt_any_read(t, &out, "c");
    char what[128];
    snprintf(what, sizeof what, "%s%s %s%s %c%c %lldx%lldx%lld b%lld%s%s d%u", vkt_matmul_variant_name(v),
             wide ? "/wide" : "", vkt_dtype_name(cs->dt), cs->c16 ? "->c16" : "", cs->ta ? 'T' : 'N',
             cs->tb ? 'T' : 'N', (long long)cs->m, (long long)cs->n, (long long)cs->k, (long long)nb,
             cs->bias ? " bias" : "", cs->accumulate ? " acc" : "", vkt_rec_dispatch_count(t->rec));
    /* Compare the matrices only; the padding between batches must be untouched (NaN or the initial C). */
    size_t nmn = (size_t)(nb * cs->m * cs->n), p = 0;
    float *yp = malloc(nmn * sizeof *yp);
    double *rp = malloc(nmn * sizeof *rp);
    for (int64_t z = 0; z < nb; z++) {
        for (int64_t e = 0; e < cs->m * cs->n; e++, p++) yp[p] = y[z * sc + e], rp[p] = ref[z * sc + e];
        for (int64_t e = cs->m * cs->n; e < sc && z * sc + e < nc; e++) {
            float got = y[z * sc + e], want = cs->accumulate ? c0[z * sc + e] : NAN;
            if (!(got == want || (isnan(got) && isnan(want)))) {
                vkt_test_fail(t, "%s: padding element %lld of batch %lld was written", what, (long long)e, (long long)z);
                break;
            }
        }
    }
    /* A 16-bit C adds one rounding of each stored result (bias and accumulated C were rounded on input). */
    vkt_check(t, what, yp, rp, nmn, vkt_matmul_bound(cs->k) + (cs->c16 ? vkt_half_unit(cs->dt) : 0));
    free(yp), free(rp);
    /* The cases sized over the test's binding limit must really have been split. */
    if (na * (int64_t)vkt_dtype_size(cs->dt) > (int64_t)vkt_rec_max_binding_bytes(t->rec) ||
        nbb * (int64_t)vkt_dtype_size(cs->dt) > (int64_t)vkt_rec_max_binding_bytes(t->rec) ||
        nc * (int64_t)vkt_dtype_size(cdt) > (int64_t)vkt_rec_max_binding_bytes(t->rec))
        if (vkt_rec_dispatch_count(t->rec) < 2) vkt_test_fail(t, "%s: expected a split dispatch", what);
    free(a), free(b), free(bias), free(c0), free(ad), free(bd), free(biasd), free(ref), free(y);
    vkt_arena_reset(t->arena);
}

/* ---- Linear layer: reference backward against finite differences, GPU against reference ---- */

typedef struct {
    int64_t rows, in, out;
    const double *x, *w, *bias, *g; /* loss = sum(g * y) */
    int which;                      /* 0: perturb x, 1: w, 2: bias */
} fd_ctx;

static double linear_loss(const double *v, void *p) {
    const fd_ctx *f = p;
    double *y = malloc((size_t)(f->rows * f->out) * sizeof *y);
    vkt_ref_linear_fwd(f->which == 0 ? v : f->x, f->which == 1 ? v : f->w, f->which == 2 ? v : f->bias, y, f->rows,
                       f->in, f->out);
    double s = 0;
    for (int64_t i = 0; i < f->rows * f->out; i++) s += f->g[i] * y[i];
    free(y);
    return s;
}

typedef struct {
    vkt_tensor x, w, bias, dy, y, dx, dw, db;
    int64_t rows, in, out;
} lin_ctx;

static vkt_status run_lin_fwd(vkt_rec *r, void *p) {
    lin_ctx *c = p;
    return vkt_op_matmul_fwd(r, &c->x, &c->w, &c->bias, &c->y, c->rows, c->in, c->out);
}

static vkt_status run_lin_bwd(vkt_rec *r, void *p) {
    lin_ctx *c = p;
    return vkt_op_matmul_bwd(r, &c->dy, &c->x, &c->w, &c->dx, &c->dw, &c->db, c->rows, c->in, c->out);
}

/* dt: storage of x, w, bias, dy and of the outputs y and dx (the mixed precision convention); dw and db f32. */
static void check_linear(vkt_test *t, const char *vname, vkt_dtype dt, int64_t rows, int64_t in, int64_t out) {
    size_t nx = (size_t)(rows * in), nw = (size_t)(out * in), ny = (size_t)(rows * out);
    float *x = vkt_test_randn(t, nx, 1), *w = vkt_test_randn(t, nw, 0.1f), *bias = vkt_test_randn(t, (size_t)out, 1);
    float *dy = vkt_test_randn(t, ny, 1), *dw0 = vkt_test_randn(t, nw, 1), *db0 = vkt_test_randn(t, (size_t)out, 1);
    /* Inputs are rounded to dt in place before the reference sees them. */
    lin_ctx c = {.x = vkt_half_or_f32_upload(t, dt, x, rows, in),
                 .w = vkt_half_or_f32_upload(t, dt, w, out, in),
                 .bias = vkt_half_or_f32_upload(t, dt, bias, out, 1),
                 .dy = vkt_half_or_f32_upload(t, dt, dy, rows, out),
                 .rows = rows,
                 .in = in,
                 .out = out};
    double *xd = vkt_test_to_double(x, nx), *wd = vkt_test_to_double(w, nw), *bd = vkt_test_to_double(bias, (size_t)out);
    double *dyd = vkt_test_to_double(dy, ny), *dwd = vkt_test_to_double(dw0, nw);
    double *dbd = vkt_test_to_double(db0, (size_t)out), *yd = malloc(ny * sizeof *yd), *dxd = malloc(nx * sizeof *dxd);
    char what[128];

    /* Reference backward vs finite differences of the reference forward (fresh zero gradients). */
    if (rows * in * out <= 4096) {
        double *gx = calloc(nx, sizeof *gx), *gw = calloc(nw, sizeof *gw), *gb = calloc((size_t)out, sizeof *gb);
        vkt_ref_linear_bwd(dyd, xd, wd, gx, gw, gb, rows, in, out);
        fd_ctx f = {rows, in, out, xd, wd, bd, dyd, 0};
        snprintf(what, sizeof what, "linear dx %lldx%lldx%lld", (long long)rows, (long long)in, (long long)out);
        vkt_check_fd(t, what, linear_loss, xd, gx, nx, &f, 1e-6);
        f.which = 1, what[7] = 'w';
        vkt_check_fd(t, what, linear_loss, wd, gw, nw, &f, 1e-6);
        f.which = 2, what[7] = 'b';
        vkt_check_fd(t, what, linear_loss, bd, gb, (size_t)out, &f, 1e-6);
        free(gx), free(gw), free(gb);
    }

    vkt_test_out y = vkt_any_output(t, dt, NULL, rows, out), dx = vkt_any_output(t, dt, NULL, rows, in);
    vkt_test_out dw = vkt_test_output_init(t, dw0, out, in, 1, 1), db = vkt_test_output_init(t, db0, out, 1, 1, 1);
    c.y = y.view, c.dx = dx.view, c.dw = dw.view, c.db = db.view;
    vkt_test_run(t, run_lin_fwd, &c);
    vkt_test_run(t, run_lin_bwd, &c);

    vkt_ref_linear_fwd(xd, wd, bd, yd, rows, in, out);
    vkt_ref_linear_bwd(dyd, xd, wd, dxd, dwd, dbd, rows, in, out);
    float *gy = vkt_any_read(t, &y, "y"), *gdx = vkt_any_read(t, &dx, "dx");
    float *gdw = vkt_test_read_output(t, &dw, "dw"), *gdb = vkt_test_read_output(t, &db, "db");
    const char *names[] = {"y", "dx", "dw", "db"};
    const float *got[] = {gy, gdx, gdw, gdb};
    const double *want[] = {yd, dxd, dwd, dbd};
    const size_t n[] = {ny, nx, nw, (size_t)out};
    const int64_t depth[] = {in, out, rows, rows};
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "%s linear %s %s %lldx%lldx%lld", vname, vkt_dtype_name(dt), names[i],
                 (long long)rows, (long long)in, (long long)out);
        /* y and dx are stored in dt: one more rounding; dw and db are f32. */
        vkt_check(t, what, got[i], want[i], n[i], vkt_matmul_bound(depth[i]) + (i < 2 ? vkt_half_unit(dt) : 0));
    }
    free(x), free(w), free(bias), free(dy), free(dw0), free(db0), free(xd), free(wd), free(bd), free(dyd);
    free(dwd), free(dbd), free(yd), free(dxd), free(gy), free(gdx), free(gdw), free(gdb);
    vkt_arena_reset(t->arena);
}

/* ---- Row strides: A and B with padded rows, C a column window [c0, c0 + n) of a (m, ldc) matrix ---- */

typedef struct {
    int64_t m, n, k;
    bool ta, tb;
    int64_t pad_a, pad_b, ldc, c0; /* extra elements per stored row of A and B; C's row stride and first column */
    bool accumulate;
    float alpha;
    vkt_dtype dt; /* A, B and (16-bit: c16) C; f32 C otherwise */
} ld_case;

static void check_strided(vkt_test *t, vkt_matmul_variant v, const ld_case *cs) {
    int64_t ra = cs->ta ? cs->k : cs->m, ca = cs->ta ? cs->m : cs->k;
    int64_t rb = cs->tb ? cs->n : cs->k, cb = cs->tb ? cs->k : cs->n;
    int64_t lda = ca + cs->pad_a, ldb = cb + cs->pad_b, na = ra * lda, nbb = rb * ldb, nc = cs->m * cs->ldc;
    float *a = vkt_test_randn(t, (size_t)na, 1), *b = vkt_test_randn(t, (size_t)nbb, 1);
    float *c0 = vkt_test_randn(t, (size_t)nc, 1);
    mm_ctx x = {.a = vkt_half_or_f32_upload(t, cs->dt, a, na, 1), .b = vkt_half_or_f32_upload(t, cs->dt, b, nbb, 1)};
    /* The whole C matrix is pre-filled: columns outside the window must come back bit for bit. */
    vkt_test_out out = vkt_any_output(t, cs->dt, c0, nc, 1);
    x.c = out.view;
    x.c.offset += (size_t)cs->c0 * vkt_dtype_size(cs->dt), x.c.shape[0] = nc - cs->c0;
    x.d = (vkt_matmul_desc){.m = cs->m, .n = cs->n, .k = cs->k, .trans_a = cs->ta, .trans_b = cs->tb,
                            .alpha = cs->alpha, .accumulate = cs->accumulate, .lda = lda, .ldb = ldb,
                            .ldc = cs->ldc, .variant = v};
    /* With a 16-bit C, K tails must stay in one dispatch on the fast kernel (no second rounding of C). */
    bool want_wide = v == VKT_MATMUL_REG && cs->dt != F32 && lda % 8 == 0 && ldb % 8 == 0 && cs->ldc % 8 == 0 &&
                     (cs->ta ? cs->m : cs->k) % 8 != 0 && !cs->ta && (cs->tb || cs->n % 8 == 0);
    if (want_wide) {
        vkt_rec *rec;
        VKT_TEST_TRY(t, vkt_rec_create(t->dev, 64, &rec));
        vkt_rec_set_profile(rec, true);
        VKT_TEST_TRY(t, vkt_rec_begin(rec));
        VKT_TEST_TRY(t, run_mm(rec, &x));
        VKT_TEST_TRY(t, vkt_rec_end(rec));
        VKT_TEST_TRY(t, vkt_rec_submit_wait(rec));
        vkt_rec_profile_row *rows;
        int n_rows;
        double total;
        VKT_TEST_TRY(t, vkt_rec_profile_rows(rec, &rows, &n_rows, &total));
        if (n_rows != 1 || strcmp(rows[0].name, "matmul_wide") != 0 || rows[0].count != 1)
            vkt_test_fail(t, "16-bit C with a K tail: %d kinds of dispatch, first %s x%d (want one matmul_wide)",
                          n_rows, n_rows ? rows[0].name : "none", n_rows ? rows[0].count : 0);
        free(rows);
        vkt_rec_destroy(rec);
        /* Restore C for the checked run below. */
        vkt_test_out fresh = vkt_any_output(t, cs->dt, c0, nc, 1);
        out = fresh, x.c = out.view;
        x.c.offset += (size_t)cs->c0 * vkt_dtype_size(cs->dt), x.c.shape[0] = nc - cs->c0;
    }
    vkt_test_run(t, run_mm, &x);
    double *ad = vkt_test_to_double(a, (size_t)na), *bd = vkt_test_to_double(b, (size_t)nbb);
    double *ref = vkt_test_to_double(c0, (size_t)nc);
    vkt_ref_matmul_desc rd = {.m = cs->m, .n = cs->n, .k = cs->k, .trans_a = cs->ta, .trans_b = cs->tb,
                              .alpha = cs->alpha != 0 ? cs->alpha : 1.0, .accumulate = cs->accumulate,
                              .lda = lda, .ldb = ldb, .ldc = cs->ldc};
    vkt_ref_matmul(ad, bd, NULL, ref + cs->c0, &rd);
    float *y = vkt_any_read(t, &out, "c");
    char what[128];
    snprintf(what, sizeof what, "%s %s%c%c %lldx%lldx%lld lda %lld ldb %lld ldc %lld col %lld%s",
             vkt_matmul_variant_name(v), cs->dt == F32 ? "" : vkt_dtype_name(cs->dt), cs->ta ? 'T' : 'N',
             cs->tb ? 'T' : 'N', (long long)cs->m, (long long)cs->n, (long long)cs->k, (long long)lda, (long long)ldb,
             (long long)cs->ldc, (long long)cs->c0, cs->accumulate ? " acc" : "");
    size_t nw = (size_t)(cs->m * cs->n), p = 0;
    float *yw = malloc(nw * sizeof *yw);
    double *rw = malloc(nw * sizeof *rw);
    for (int64_t i = 0; i < cs->m; i++)
        for (int64_t j = 0; j < cs->ldc; j++) {
            int64_t e = i * cs->ldc + j;
            if (j >= cs->c0 && j < cs->c0 + cs->n) {
                yw[p] = y[e], rw[p++] = ref[e];
            } else if (memcmp(&y[e], &c0[e], sizeof y[e]) != 0) {
                vkt_test_fail(t, "%s: element (%lld, %lld) outside the window was written", what, (long long)i,
                              (long long)j);
                i = cs->m;
                break;
            }
        }
    vkt_check(t, what, yw, rw, nw, vkt_matmul_bound(cs->k) + (cs->dt == F32 ? 0 : vkt_half_unit(cs->dt)));
    free(a), free(b), free(c0), free(ad), free(bd), free(ref), free(y), free(yw), free(rw);
    vkt_arena_reset(t->arena);
}

static const ld_case ld_cases[] = {
    /* m, n, k, ta, tb, pad_a, pad_b, ldc, c0, acc, alpha */
    {7, 5, 3, false, true, 0, 0, 17, 4, true, 0.5f, F32},    /* LoRA forward: y[:, window] += s u B^T */
    {33, 16, 8, false, true, 3, 0, 48, 16, true, 2.0f, F32}, /* the k part of a fused q|k|v */
    {33, 8, 16, false, false, 0, 0, 8, 0, false, 0, F32},    /* dy_window B with dy strided: see next */
    {33, 8, 16, false, false, 32, 0, 8, 0, false, 0, F32},   /* A rows 48 apart (a window of dy) */
    {16, 8, 33, true, false, 32, 0, 8, 0, true, 0.25f, F32}, /* dB += s dy_window^T u */
    {65, 72, 24, false, false, 8, 8, 80, 8, true, 1, F32},   /* 8-aligned strides: the fast path */
    {9, 3, 130, true, true, 5, 7, 11, 1, false, -1, F32},
    {1500, 7, 40, false, true, 2, 1, 9, 2, true, 1, F32}, /* split over the binding limit */
    /* Strides on multiples of 8 but K (or M with transposed A) not: the aligned bulk on the fast kernel,
     * the tail on the general one (reg; padded LM-head logits, V = 50257 in rows of 50304). */
    {40, 16, 37, false, false, 3, 0, 16, 0, true, 1, F32},   /* dx = dlogits W: K tail */
    {37, 24, 20, true, false, 3, 0, 24, 0, true, 0.5f, F32}, /* dW += dlogits^T x: M and K tails */
    {9, 5, 21, false, true, 3, 3, 5, 0, false, 0, F32},      /* NT: K tail */
    {24, 8, 3001, false, false, 7, 0, 8, 0, false, 0, F32},  /* tails and a K split over the binding limit */
    /* 16-bit A, B and C, strides on multiples of 8 and a K tail: one fast dispatch with its scalar tail (a
     * split would round C twice); the LM head's dx = dlogits W over padded rows, and an NT one */
    {40, 16, 37, false, false, 3, 0, 16, 0, true, 1, VKT_DTYPE_F16},
    {24, 8, 301, false, false, 3, 0, 8, 0, false, 0, VKT_DTYPE_BF16},
    {9, 8, 21, false, true, 3, 3, 24, 8, false, 0.5f, VKT_DTYPE_BF16},
};

/* Mismatched storage dtypes are refused (VKT_ERR_ARG, logged) before anything is recorded. */
static void expect_dtype_refused(vkt_test *t) {
    vkt_tensor h16, b16, f32;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F16, 256, 1, 1, 1, &h16));
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_BF16, 256, 1, 1, 1, &b16));
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, F32, 256, 1, 1, 1, &f32));
    const vkt_tensor *cases[][4] = {{&h16, &h16, &b16, NULL},  /* C of another 16-bit type */
                                    {&f32, &f32, &h16, NULL},  /* f32 inputs, half C */
                                    {&h16, &h16, &h16, &f32},  /* bias not in C's dtype */
                                    {&h16, &b16, &f32, NULL}}; /* A and B differ */
    vkt_matmul_desc d = {.m = 16, .n = 16, .k = 16};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
        vkt_status s = vkt_op_matmul(t->rec, cases[i][0], cases[i][1], cases[i][3], cases[i][2], &d);
        VKT_TEST_TRY(t, vkt_rec_end(t->rec));
        if (s != VKT_ERR_ARG) vkt_test_fail(t, "matmul dtype case %zu returned %s, not ARG", i, vkt_status_name(s));
    }
    vkt_tensor dy16 = h16;
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    vkt_status s = vkt_op_matmul_colsum(t->rec, &dy16, &h16, 16, 16);
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    if (s != VKT_ERR_ARG) vkt_test_fail(t, "colsum into a half db returned %s, not ARG", vkt_status_name(s));
    vkt_arena_reset(t->arena);
}

/* ---- Bias gradient: column sums, one column or 8 per invocation ---- */

typedef struct {
    vkt_tensor dy, db;
    int64_t rows, n;
} colsum_ctx;

static vkt_status run_colsum(vkt_rec *r, void *p) {
    colsum_ctx *c = p;
    return vkt_op_matmul_colsum(r, &c->dy, &c->db, c->rows, c->n);
}

/* db += colsum(dy) from dy stored as dt, aligned (the 8-wide kernel on CPU drivers where n % 8 == 0) and
 * at a misaligned offset (the one-column kernel): both against the double reference, and bit for bit
 * against each other, since both sum every column in row order. */
static void check_colsum(vkt_test *t, vkt_dtype dt, int64_t rows, int64_t n) {
    size_t ny = (size_t)(rows * n);
    float *dy = vkt_test_randn(t, ny, 1), *db0 = vkt_test_randn(t, (size_t)n, 1);
    vkt_tensor shifted;
    bool have_shifted = vkt_test_upload_misaligned(t, dt, dy, (int64_t)ny, &shifted); /* rounds dy to dt */
    colsum_ctx c = {.dy = vkt_half_or_f32_upload(t, dt, dy, rows, n), .rows = rows, .n = n};
    double *want = vkt_test_to_double(db0, (size_t)n);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < n; j++) want[j] += dy[i * n + j];
    float *got[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && !have_shifted) break;
        if (k == 1) c.dy = shifted;
        vkt_test_out db = vkt_test_output_init(t, db0, n, 1, 1, 1);
        c.db = db.view;
        char variant[64], label[96];
        vkt_test_vec8_variant(t, "matmul_colsum", dt, k == 0 && n % 8 == 0, variant, sizeof variant);
        snprintf(label, sizeof label, "colsum %s %lldx%lld%s", vkt_dtype_name(dt), (long long)rows, (long long)n,
                 k ? " misaligned" : "");
        vkt_test_run_expect_variant(t, run_colsum, &c, "matmul_colsum", variant, label);
        got[k] = vkt_test_read_output(t, &db, "db");
        vkt_check(t, label, got[k], want, (size_t)n, vkt_matmul_bound(rows));
    }
    if (got[1] && memcmp(got[0], got[1], (size_t)n * sizeof(float)) != 0)
        vkt_test_fail(t, "colsum %s %lldx%lld: the aligned and misaligned kernels differ", vkt_dtype_name(dt),
                      (long long)rows, (long long)n);
    free(dy), free(db0), free(want), free(got[0]), free(got[1]);
    vkt_arena_reset(t->arena);
}

static void expect_coopmat_unsupported(vkt_test *t) {
    vkt_tensor a, c;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F16, 256, 1, 1, 1, &a));
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, F32, 256, 1, 1, 1, &c));
    vkt_matmul_desc d = {.m = 16, .n = 16, .k = 16, .variant = VKT_MATMUL_COOPMAT};
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    vkt_status s = vkt_op_matmul(t->rec, &a, &a, NULL, &c, &d);
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    if (s != VKT_ERR_UNSUPPORTED) vkt_test_fail(t, "forced coopmat on a device without it returned %s", vkt_status_name(s));
    vkt_arena_reset(t->arena);
}

static const mm_case cases[] = {
    /* m, n, k, ta, tb, batch, pad_a, pad_b, pad_c, bias, acc, alpha, dtype */
    {1, 1, 1, false, false, 1, 0, 0, 0, false, false, 0, F32, 0, false},
    {7, 33, 65, false, false, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {33, 7, 127, false, true, 1, 0, 0, 0, false, true, 0, F32, 0, false},
    {65, 127, 1, true, false, 1, 0, 0, 0, true, true, 0.5f, F32, 0, false},
    {127, 65, 33, false, true, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {127, 65, 33, true, false, 1, 0, 0, 0, false, true, 0, F32, 0, false},
    {65, 1, 7, true, true, 1, 0, 0, 0, true, false, -2.0f, F32, 0, false},
    {300, 257, 129, false, false, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {300, 257, 129, false, true, 1, 0, 0, 0, false, true, 0, F32, 0, false},
    {300, 257, 129, true, false, 1, 0, 0, 0, true, true, 0, F32, 0, false},
    /* batched: padded strides, a broadcast B */
    {33, 65, 7, false, false, 3, 5, 3, 9, true, false, 0, F32, 0, false},
    {17, 31, 66, false, true, 4, 1, -1, 2, false, true, 0, F32, 0, false},
    {31, 9, 40, true, false, 2, 0, 0, 4, true, true, 0, F32, 0, false},
    /* over the 256 KiB test binding limit: split along M and N, and along K with accumulation */
    {1500, 60, 50, false, false, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {40, 3000, 40, false, true, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {2000, 17, 70, true, false, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {2000, 17, 70, true, false, 1, 0, 0, 0, false, true, 0, F32, 0, false},
    /* windows that cannot start on an aligned element: offsets travel in push constants */
    {9, 11, 3, false, false, 700, 2, 0, 4, true, true, 0, F32, 0, false},
    {2001, 17, 70, true, false, 1, 0, 0, 0, true, true, 0, F32, 0, false},
    {5, 10, 20001, false, true, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    /* multiples of 8: the f32 fast path of the reg variant, every layout, batches, splits (K with accumulation) */
    {64, 72, 40, false, false, 1, 0, 0, 0, true, false, 0, F32, 1, false},
    {40, 64, 48, false, true, 1, 0, 0, 0, false, true, 0, F32, 1, false},
    {48, 40, 64, true, false, 1, 0, 0, 0, true, true, 0, F32, 1, false},
    {56, 24, 16, true, true, 1, 0, 0, 0, true, false, 1.5f, F32, 1, false},
    {264, 256, 136, false, false, 1, 0, 0, 0, true, false, 0, F32, 1, false},
    {8, 3000, 40, false, true, 1, 0, 0, 0, true, true, 0, F32, 1, false},
    {2000, 16, 72, true, false, 1, 0, 0, 0, true, true, 0, F32, 1, false},
    {16, 24, 32, false, false, 5, 8, 0, 3, true, false, 0, F32, 1, false},
    {24, 16, 40, true, true, 3, 16, -1, 1, false, true, 0, F32, 1, false},
    {16, 16, 2056, false, false, 1, 0, 0, 0, true, true, 0, F32, 1, false}, /* K over WIDE_KMAX: 3 K chunks */
    {24, 8, 1040, true, true, 2, 8, 0, 0, true, false, 0, F32, 1, false},
    {40, 61, 48, false, true, 1, 0, 0, 0, true, true, 0, F32, 1, false}, /* N % 8 != 0: element-wise epilogue */
    /* A's rows misaligned only by its stride (K or M not a multiple of 8): 8 row classes, fast middles */
    {40, 16, 1001, false, false, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {300, 24, 131, false, false, 1, 0, 0, 0, false, true, 0.5f, F32, 0, false},
    {1001, 16, 72, true, false, 1, 0, 0, 0, true, true, 0, F32, 0, false},
    {203, 24, 77, true, false, 1, 0, 0, 0, true, false, 0, F32, 0, false},
    {520, 16, 2001, false, false, 1, 0, 0, 0, true, true, 0, F32, 0, false},
    {64, 72, 40, false, false, 1, 0, 0, 0, true, false, 0, F32, 2, false},
    {48, 40, 64, true, true, 1, 0, 0, 0, false, true, 0, F32, 2, false},
    /* 16-bit storage */
    {65, 127, 33, false, false, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_F16, 0, false},
    {33, 65, 129, false, true, 2, 1, 3, 0, false, true, 0, VKT_DTYPE_F16, 0, false},
    {127, 33, 65, true, false, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_F16, 0, false},
    {65, 127, 33, false, false, 1, 0, 0, 0, false, true, 0, VKT_DTYPE_BF16, 0, false},
    {33, 65, 129, false, true, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_BF16, 0, false},
    {127, 33, 65, true, false, 2, 2, 1, 1, false, false, 0, VKT_DTYPE_BF16, 0, false},
    /* 16-bit C (half activations: y = x W^T + b, dx = dy W), bias in C's dtype; alpha and accumulation too */
    {65, 127, 33, false, true, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_F16, 0, true},
    {33, 65, 129, false, false, 2, 1, 3, 5, false, false, -0.5f, VKT_DTYPE_F16, 0, true},
    {127, 33, 65, true, false, 1, 0, 0, 0, true, true, 0, VKT_DTYPE_F16, 0, true},
    {65, 127, 33, false, true, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_BF16, 0, true},
    {33, 65, 129, false, false, 2, 1, 3, 5, false, true, 2.0f, VKT_DTYPE_BF16, 0, true},
    {3000, 60, 50, false, false, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_BF16, 0, true}, /* split over the limit */
    /* 16-bit multiples of 8: the fast path with 16-byte loads, every layout, batches, f32 and 16-bit C */
    {64, 72, 40, false, false, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_F16, 1, false},
    {40, 64, 48, false, true, 1, 0, 0, 0, false, true, 0, VKT_DTYPE_BF16, 1, false},
    {48, 40, 64, true, false, 1, 0, 0, 0, true, true, 0.5f, VKT_DTYPE_F16, 1, true},
    {56, 24, 16, true, true, 1, 0, 0, 0, true, false, 1.5f, VKT_DTYPE_BF16, 1, true},
    {64, 72, 40, false, true, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_BF16, 1, true},
    {16, 16, 2056, false, false, 1, 0, 0, 0, true, true, 0, VKT_DTYPE_F16, 1, false},  /* 3 K chunks into f32 C */
    {16, 16, 2056, false, false, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_BF16, 1, true}, /* K whole into 16-bit C */
    {16, 24, 32, false, false, 5, 8, 0, 3, true, false, 0, VKT_DTYPE_F16, 1, true},
    {24, 16, 40, true, true, 3, 16, -1, 1, false, true, 0, VKT_DTYPE_BF16, 1, false},
    {8, 3000, 40, false, true, 1, 0, 0, 0, true, false, 0, VKT_DTYPE_F16, 1, true}, /* N split */
    {40, 61, 48, false, true, 1, 0, 0, 0, true, true, 0, VKT_DTYPE_BF16, 1, true},  /* element-wise epilogue */
};

int main(void) {
    vkt_test t;
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_matmul");
    const vkt_device_info *info = vkt_device_get_info(t.dev);

    /* Variant choice: CPU drivers get the register kernel, GPUs the shared-memory one, and the env wins. */
    unsetenv("VKT_MATMUL_VARIANT");
    vkt_matmul_variant def = vkt_matmul_pick(t.rec, F32, VKT_MATMUL_AUTO);
    printf("   default variant: %s (device type %s)\n", vkt_matmul_variant_name(def), vkt_device_type_name(info->type));
    if (def != (info->type == VKT_DEVICE_CPU ? VKT_MATMUL_REG : VKT_MATMUL_SMEM))
        vkt_test_fail(&t, "default f32 variant is %s", vkt_matmul_variant_name(def));
    setenv("VKT_MATMUL_VARIANT", "smem", 1);
    if (vkt_matmul_pick(t.rec, F32, VKT_MATMUL_AUTO) != VKT_MATMUL_SMEM)
        vkt_test_fail(&t, "VKT_MATMUL_VARIANT=smem was not honoured");

    expect_dtype_refused(&t);

    const vkt_matmul_variant variants[] = {VKT_MATMUL_REG, VKT_MATMUL_SMEM, VKT_MATMUL_COOPMAT};
    for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++) {
        vkt_matmul_variant v = variants[vi];
        const char *vname = vkt_matmul_variant_name(v);
        setenv("VKT_MATMUL_VARIANT", vname, 1);
        if (v == VKT_MATMUL_COOPMAT) {
            /* f16 inputs only. Where it cannot run, forcing it must fail cleanly, not record garbage. */
            if (!info->coopmat_nv || !vkt_shader_find("matmul_coopmat_nv_f16")) {
                expect_coopmat_unsupported(&t);
                printf("   SKIP coopmat runs: %s has no VK_NV_cooperative_matrix%s\n", info->name,
                       vkt_shader_find("matmul_coopmat_nv_f16") ? "" : " and glslang could not build it");
                continue;
            }
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                mm_case cs = cases[i];
                cs.dt = VKT_DTYPE_F16;
                check_case(&t, v, &cs);
            }
            continue;
        }
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (cases[i].dt != F32 && !info->storage16) {
                printf("   SKIP %s %s: no 16-bit storage\n", vname, vkt_dtype_name(cases[i].dt));
                continue;
            }
            check_case(&t, v, &cases[i]);
        }
        for (size_t i = 0; i < sizeof ld_cases / sizeof ld_cases[0]; i++) check_strided(&t, v, &ld_cases[i]);
        check_linear(&t, vname, F32, 5, 7, 3);
        check_linear(&t, vname, F32, 67, 33, 129);
        check_linear(&t, vname, F32, 2100, 24, 40); /* dy, dx, x windows split; dW splits K */
        check_linear(&t, vname, F32, 64, 24, 131);  /* odd out: dx and dW take the row-class split on reg */
        if (info->storage16) {
            /* Mixed precision: half x, w, b, dy, y, dx; f32 dw, db. */
            check_linear(&t, vname, VKT_DTYPE_F16, 67, 33, 129);
            check_linear(&t, vname, VKT_DTYPE_BF16, 67, 33, 129);
            check_linear(&t, vname, VKT_DTYPE_BF16, 4100, 24, 40); /* windows split (binding limit); dW splits K */
            check_linear(&t, vname, VKT_DTYPE_F16, 64, 24, 136);   /* multiples of 8: the 16-bit fast path */
            check_linear(&t, vname, VKT_DTYPE_BF16, 64, 24, 136);
        }
    }
    unsetenv("VKT_MATMUL_VARIANT");
    /* Bias gradients (no variant: one kernel, 8 columns per invocation on CPU drivers where aligned). */
    check_colsum(&t, F32, 37, 48);
    check_colsum(&t, F32, 5, 13);
    check_colsum(&t, F32, 3000, 40); /* dy windows split at the binding limit */
    if (info->storage16) {
        check_colsum(&t, VKT_DTYPE_F16, 37, 48);
        check_colsum(&t, VKT_DTYPE_BF16, 37, 48);
        check_colsum(&t, VKT_DTYPE_BF16, 9, 21);
    }
    return vkt_test_finish(&t);
}
