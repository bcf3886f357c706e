/* LayerNorm: forward (f32 and 16-bit storage), backward (dx overwritten, dw/db accumulated), odd shapes,
 * rows with a large common offset (x = 1000 + 0.1 noise: E[x^2] - E[x]^2 would lose every digit), views
 * that start off the binding alignment, and row splits over a lowered binding limit. */
#include "half_io.h"
#include "ops/layernorm.h"
#include "ref/ref_layernorm.h"

#include <string.h>

typedef struct {
    vkt_tensor x, w, b, y, mean, rstd, dy, dx, dw, db, scratch;
    float eps;
    bool acc; /* dx += (the residual stream's gradient) instead of dx = */
} ctx_t;

static vkt_status run_fwd(vkt_rec *r, void *c) {
    ctx_t *k = c;
    return vkt_op_layernorm_fwd(r, &k->x, &k->w, &k->b, k->eps, &k->y, &k->mean, &k->rstd);
}

static vkt_status run_bwd(vkt_rec *r, void *c) {
    ctx_t *k = c;
    return vkt_op_layernorm_bwd(r, &k->x, &k->w, &k->mean, &k->rstd, &k->dy, &k->dx, k->acc, &k->dw, &k->db,
                                &k->scratch);
}

/* L = sum dy * y(x, w, b) with one of x, w, b (`which`) replaced by the perturbed array. */
typedef struct {
    const double *x, *w, *b, *dy;
    double eps;
    int64_t N, C;
    int which;
} loss_ctx;

static double loss(const double *v, void *c) {
    const loss_ctx *l = c;
    int64_t n = l->N * l->C;
    double *y = malloc((size_t)n * sizeof *y), s = 0;
    vkt_ref_layernorm_fwd(l->which == 0 ? v : l->x, l->which == 1 ? v : l->w, l->which == 2 ? v : l->b, l->eps, y, NULL,
                          NULL, l->N, l->C);
    for (int64_t i = 0; i < n; i++) s += l->dy[i] * y[i];
    free(y);
    return s;
}

/* Uploads x (N x C) flat, `shift` elements past an aligned offset, which the op must bind from the
 * aligned offset below. shift = C: whole rows in; shift % 4 != 0 with C % 4 == 0: rows that would suit the
 * vec4 backward but for their alignment, so the scalar variant must be chosen. */
static vkt_tensor upload_shifted(vkt_test *t, const float *x, int64_t N, int64_t C, int64_t shift) {
    float *buf = calloc((size_t)(N * C + shift), sizeof *buf);
    memcpy(buf + shift, x, (size_t)(N * C) * sizeof *buf);
    vkt_tensor all = vkt_test_upload(t, buf, N * C + shift, 1, 1, 1);
    free(buf);
    return vkt_tensor_rows(&all, shift, N * C);
}

/* The backward kernel that must run: on CPU drivers the two-pass 8-wide one where the rows lie in 8-element
 * words (profile detail layernorm_bwd_dx[_dt]_vec8), else the fused 4-wide one where they start on 16-byte
 * boundaries, else the fused element-wise one. */
static const char *bwd_variant(vkt_test *t, vkt_dtype dt, int64_t C, int64_t shift, char *buf, size_t n) {
    bool cpu = vkt_device_get_info(t->dev)->type == VKT_DEVICE_CPU;
    const char *d = dt == VKT_DTYPE_F32 ? "" : dt == VKT_DTYPE_F16 ? "_f16" : "_bf16";
    if (cpu && C % 8 == 0 && shift % 8 == 0)
        snprintf(buf, n, "layernorm_bwd_dx%s_vec8", d);
    else
        snprintf(buf, n, "layernorm_bwd%s%s", d, C % 4 == 0 && shift % 4 == 0 ? "_vec4" : "");
    return buf;
}

/* Bounds, max |y-r| / (|r| + 1e-3 rms(r)). With atol = 1e-3 rms, an absolute error of one f32 ulp of an
 * O(1) value (1.2e-7) already scores ~1e-4, so elements where a result cancels to ~0 set the figures:
 *  y 1e-3: y = xhat w + b cancels where xhat w ~ -b; the centring, the product (|xhat w| up to ~5) and the
 *      sum each round by up to half an ulp of ~4 (2.4e-7), against atol ~1e-3: measured 5.1e-4.
 *  mean 1e-3: an f32 sum of C unit-scale values errs by ~1e-7 sqrt(C), against atol = 1e-3 rms(mean)
 *      ~ 3e-5 for zero-mean rows of 1000: measured 3.2e-4 (1.2e-7 on the +1000 rows).
 *  rstd 1e-5: no cancellation (sum of squares), inversesqrt within 2 ulp: measured 2e-7.
 *  dx 1e-4: dx = rstd (g - mean g - xhat mean(g xhat)) cancels like y: measured 4.4e-5.
 *  dw, db 5e-4: the f32 sums over N land on pre-filled values ~ N(0, 1) and cancel where they meet:
 *      measured 1.8e-4 (dw), 4.4e-5 (db).
 *  fd 1e-6: central differences in double; LayerNorm is smooth at these scales (not run on the +1000
 *      rows, where h = 1e-5 |x| = 0.01 is not small against the 0.1 spread). */
static void check_case(vkt_test *t, int64_t N, int64_t C, float offset, int64_t shift) {
    size_t n = (size_t)(N * C), uc = (size_t)C;
    const double eps = 1e-5;
    float *x = vkt_test_randn(t, n, offset ? 0.1f : 1.0f), *w = vkt_test_randn(t, uc, 0.2f);
    float *b = vkt_test_randn(t, uc, 0.2f), *dy = vkt_test_randn(t, n, 1), *dw0 = vkt_test_randn(t, uc, 1);
    float *db0 = vkt_test_randn(t, uc, 1);
    for (size_t i = 0; i < n; i++) x[i] += offset;
    for (size_t i = 0; i < uc; i++) w[i] += 1.0f;
    double *xd = vkt_test_to_double(x, n), *wd = vkt_test_to_double(w, uc), *bd = vkt_test_to_double(b, uc);
    double *dyd = vkt_test_to_double(dy, n), *dwr = vkt_test_to_double(dw0, uc), *dbr = vkt_test_to_double(db0, uc);
    double *yr = malloc(n * sizeof *yr), *mr = malloc((size_t)N * sizeof *mr), *rr = malloc((size_t)N * sizeof *rr);
    double *dxr = malloc(n * sizeof *dxr);

    ctx_t c = {.eps = (float)eps, .w = vkt_test_upload(t, w, C, 1, 1, 1), .b = vkt_test_upload(t, b, C, 1, 1, 1)};
    c.x = shift ? upload_shifted(t, x, N, C, shift) : vkt_test_upload(t, x, N, C, 1, 1);
    c.dy = shift ? upload_shifted(t, dy, N, C, shift) : vkt_test_upload(t, dy, N, C, 1, 1);
    vkt_test_out y = vkt_test_output(t, N, C, 1, 1), mean = vkt_test_output(t, N, 1, 1, 1);
    vkt_test_out rstd = vkt_test_output(t, N, 1, 1, 1), dx = vkt_test_output(t, N, C, 1, 1);
    vkt_test_out dw = vkt_test_output_init(t, dw0, C, 1, 1, 1), db = vkt_test_output_init(t, db0, C, 1, 1, 1);
    c.y = y.view, c.mean = mean.view, c.rstd = rstd.view, c.dx = dx.view, c.dw = dw.view, c.db = db.view;
    VKT_TEST_TRY(
        t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, vkt_op_layernorm_bwd_scratch(t->rec, N, C), 1, 1, 1, &c.scratch));
    char want[64], label[96];
    /* The 8-wide forward must run exactly when C % 8 == 0 and the rows start on 8-element boundaries. */
    vkt_test_vec8_variant(t, "layernorm_fwd", VKT_DTYPE_F32, C % 8 == 0 && shift % 8 == 0, want, sizeof want);
    snprintf(label, sizeof label, "layernorm fwd N=%lld C=%lld shift=%lld", (long long)N, (long long)C,
             (long long)shift);
    vkt_test_run_expect_variant(t, run_fwd, &c, "layernorm_fwd", want, label);
    bwd_variant(t, VKT_DTYPE_F32, C, shift, want, sizeof want);
    snprintf(label, sizeof label, "layernorm bwd N=%lld C=%lld shift=%lld", (long long)N, (long long)C,
             (long long)shift);
    vkt_test_run_expect_variant(t, run_bwd, &c, "layernorm_bwd", want, label);
    /* Run the backward again into fresh outputs: fixed-order sums must repeat bit for bit. This time dx
     * accumulates onto random values, which must come out as exactly dx0 + (the first run's dx) in f32. */
    ctx_t c2 = c;
    float *dx0 = malloc(n * sizeof *dx0); /* dy reversed: random values without moving the test's RNG */
    for (size_t j = 0; j < n; j++) dx0[j] = dy[n - 1 - j];
    c2.acc = true;
    vkt_test_out dx2 = vkt_test_output_init(t, dx0, N, C, 1, 1), dw2 = vkt_test_output_init(t, dw0, C, 1, 1, 1);
    vkt_test_out db2 = vkt_test_output_init(t, db0, C, 1, 1, 1);
    c2.db = db2.view;
    c2.dx = dx2.view, c2.dw = dw2.view;
    vkt_test_run(t, run_bwd, &c2);

    vkt_ref_layernorm_fwd(xd, wd, bd, eps, yr, mr, rr, N, C);
    vkt_ref_layernorm_bwd(xd, wd, mr, rr, dyd, dxr, dwr, dbr, N, C);
    char what[96], tag[48];
    snprintf(tag, sizeof tag, "N=%lld C=%lld%s%s", (long long)N, (long long)C, offset ? " +1000" : "",
             shift ? " shifted" : "");
    if (!offset && n <= 20000) {
        loss_ctx l = {xd, wd, bd, dyd, eps, N, C, 0};
        double *dwz = calloc(uc, sizeof *dwz), *dbz = calloc(uc, sizeof *dbz), *dxz = malloc(n * sizeof *dxz);
        vkt_ref_layernorm_bwd(xd, wd, mr, rr, dyd, dxz, dwz, dbz, N, C);
        snprintf(what, sizeof what, "ref dx %s", tag);
        vkt_check_fd(t, what, loss, xd, dxz, n, &l, 1e-6);
        l.which = 1, snprintf(what, sizeof what, "ref dw %s", tag);
        vkt_check_fd(t, what, loss, wd, dwz, uc, &l, 1e-6);
        l.which = 2, snprintf(what, sizeof what, "ref db %s", tag);
        vkt_check_fd(t, what, loss, bd, dbz, uc, &l, 1e-6);
        free(dwz), free(dbz), free(dxz);
    }
    struct {
        vkt_test_out *o;
        const double *r;
        size_t n;
        const char *name;
        double bound;
    } chk[] = {{&y, yr, n, "y", 1e-3},    {&mean, mr, (size_t)N, "mean", 1e-3}, {&rstd, rr, (size_t)N, "rstd", 1e-5},
               {&dx, dxr, n, "dx", 1e-4}, {&dw, dwr, uc, "dw+=", 5e-4},         {&db, dbr, uc, "db+=", 5e-4}};
    for (size_t i = 0; i < sizeof chk / sizeof chk[0]; i++) {
        float *g = vkt_test_read_output(t, chk[i].o, chk[i].name);
        snprintf(what, sizeof what, "layernorm %s %s", chk[i].name, tag);
        vkt_check(t, what, g, chk[i].r, chk[i].n, chk[i].bound);
        free(g);
    }
    struct {
        vkt_test_out *a, *b;
    } rep[] = {{&dx, &dx2}, {&dw, &dw2}, {&db, &db2}};
    for (size_t i = 0; i < sizeof rep / sizeof rep[0]; i++) {
        float *ya = vkt_test_read_output(t, rep[i].a, "bwd"), *yb = vkt_test_read_output(t, rep[i].b, "bwd again");
        if (rep[i].a == &dx)
            for (size_t j = 0; j < n; j++) ya[j] += dx0[j];
        if (memcmp(ya, yb, vkt_tensor_bytes(&rep[i].a->view)) != 0)
            vkt_test_fail(t, "layernorm bwd output %zu differs between two identical runs (%s)", i, tag);
        free(ya), free(yb);
    }
    free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(xd), free(wd), free(bd), free(dyd);
    free(dwr), free(dbr), free(yr), free(mr), free(rr), free(dxr), free(dx0);
    vkt_arena_reset(t->arena);
}

/* 16-bit storage forward (x, w, b, y in dt; mean, rstd f32). The reference sees the rounded inputs; y is
 * rounded once more on store: relative error ~2^-11 (f16) or 2^-8 (bf16) of |y|. Bound 1e-2. */
static void check_half(vkt_test *t, vkt_dtype dt, int64_t N, int64_t C) {
    size_t n = (size_t)(N * C), uc = (size_t)C;
    float *x = vkt_test_randn(t, n, 1), *w = vkt_test_randn(t, uc, 0.2f), *b = vkt_test_randn(t, uc, 0.2f);
    for (size_t i = 0; i < uc; i++) w[i] += 1.0f;
    ctx_t c = {.eps = 1e-5f,
               .x = vkt_half_upload(t, dt, x, N, C),
               .w = vkt_half_upload(t, dt, w, C, 1),
               .b = vkt_half_upload(t, dt, b, C, 1)};
    vkt_test_out y = vkt_half_output(t, dt, N, C), mean = vkt_test_output(t, N, 1, 1, 1);
    vkt_test_out rstd = vkt_test_output(t, N, 1, 1, 1);
    c.y = y.view, c.mean = mean.view, c.rstd = rstd.view;
    char want[64], label[96];
    vkt_test_vec8_variant(t, "layernorm_fwd", dt, C % 8 == 0, want, sizeof want);
    snprintf(label, sizeof label, "layernorm fwd %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_test_run_expect_variant(t, run_fwd, &c, "layernorm_fwd", want, label);
    double *xd = vkt_test_to_double(x, n), *wd = vkt_test_to_double(w, uc), *bd = vkt_test_to_double(b, uc);
    double *yr = malloc(n * sizeof *yr), *rr = malloc((size_t)N * sizeof *rr);
    vkt_ref_layernorm_fwd(xd, wd, bd, 1e-5, yr, NULL, rr, N, C);
    float *gy = vkt_half_read(t, &y, "y16"), *gr = vkt_test_read_output(t, &rstd, "rstd");
    char what[96];
    snprintf(what, sizeof what, "layernorm y %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_check(t, what, gy, yr, n, 1e-2);
    snprintf(what, sizeof what, "layernorm rstd %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_check(t, what, gr, rr, (size_t)N, 1e-5);
    free(gy), free(gr);

    /* Backward in the same storage: x, w, dy, dx in dt; the saved mean and rstd, dw, db (accumulated onto
     * pre-filled values) and the scratch f32. Bounds: check_case's f32 ones, plus one rounding of the stored
     * dx (vkt_half_unit); dw and db are f32 sums of the same rounded inputs the reference sees. */
    float *dy = vkt_test_randn(t, n, 1), *dw0 = vkt_test_randn(t, uc, 1), *db0 = vkt_test_randn(t, uc, 1);
    c.dy = vkt_half_upload(t, dt, dy, N, C);
    vkt_test_out dx = vkt_half_output(t, dt, N, C);
    vkt_test_out dw = vkt_test_output_init(t, dw0, C, 1, 1, 1), db = vkt_test_output_init(t, db0, C, 1, 1, 1);
    c.dx = dx.view, c.dw = dw.view, c.db = db.view;
    VKT_TEST_TRY(
        t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, vkt_op_layernorm_bwd_scratch(t->rec, N, C), 1, 1, 1, &c.scratch));
    /* The 8-wide (CPU) or 4-wide kernel must run exactly when rows of C allow it (the views here start
     * aligned), in every row split. */
    bwd_variant(t, dt, C, 0, want, sizeof want);
    snprintf(label, sizeof label, "layernorm bwd %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_test_run_expect_variant(t, run_bwd, &c, "layernorm_bwd", want, label);
    double *mr = malloc((size_t)N * sizeof *mr), *dyd = vkt_test_to_double(dy, n), *dxr = malloc(n * sizeof *dxr);
    double *dwr = vkt_test_to_double(dw0, uc), *dbr = vkt_test_to_double(db0, uc);
    vkt_ref_layernorm_fwd(xd, wd, bd, 1e-5, yr, mr, rr, N, C);
    vkt_ref_layernorm_bwd(xd, wd, mr, rr, dyd, dxr, dwr, dbr, N, C);
    float *gdx = vkt_half_read(t, &dx, "dx16"), *gdw = vkt_test_read_output(t, &dw, "dw");
    float *gdb = vkt_test_read_output(t, &db, "db");
    snprintf(what, sizeof what, "layernorm dx %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_check(t, what, gdx, dxr, n, 1e-4 + vkt_half_unit(dt));
    snprintf(what, sizeof what, "layernorm dw+= %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_check(t, what, gdw, dwr, uc, 5e-4);
    snprintf(what, sizeof what, "layernorm db+= %s N=%lld C=%lld", vkt_dtype_name(dt), (long long)N, (long long)C);
    vkt_check(t, what, gdb, dbr, uc, 5e-4);
    free(x), free(w), free(b), free(xd), free(wd), free(bd), free(yr), free(rr);
    free(dy), free(dw0), free(db0), free(mr), free(dyd), free(dxr), free(dwr), free(dbr), free(gdx), free(gdw),
        free(gdb);
    free(vkt_test_read_output(t, &mean, "mean"));
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    /* 256 KiB bindings: (257, 768) and (257, 1000) rows split into 64-row dispatches. */
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_layernorm");
    const int64_t Ns[] = {1, 3, 64, 257}, Cs[] = {1, 7, 64, 768, 1000};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 5; j++) check_case(&t, Ns[i], Cs[j], 0.0f, false);
    check_case(&t, 64, 768, 1000.0f, 0);
    check_case(&t, 257, 1000, 1000.0f, 1000);
    check_case(&t, 257, 768, 0.0f, 1);
    check_case(&t, 64, 64, 0.0f, 2);
    check_case(&t, 3, 7, 0.0f, 7);
    check_case(&t, 257, 7, 0.0f, 7);
    /* 600 rows of 1000: 38 chunks of 16 would need 38 x 2000 partials, over the 256 KiB binding, so the
     * backward doubles its chunk to 32 rows (a different shared-array size). */
    check_case(&t, 600, 1000, 0.0f, 0);
    check_case(&t, 64, 768, 0.0f, 4); /* 16-byte but not 32-byte row starts: the scalar forward */
    check_case(&t, 48, 512, 0.0f, 8); /* one 8-element word past the start: the 8-wide forward */
    if (vkt_half_supported(&t)) {
        check_half(&t, VKT_DTYPE_F16, 257, 1000);
        check_half(&t, VKT_DTYPE_BF16, 257, 1000);
        check_half(&t, VKT_DTYPE_BF16, 3, 7);
        check_half(&t, VKT_DTYPE_F16, 600, 1000); /* backward: 32-row chunks, row splits */
        check_half(&t, VKT_DTYPE_F16, 5, 64);     /* C % 4 == 0: the 16-bit 4-wide kernel, not the f32 vec4 one */
        check_half(&t, VKT_DTYPE_BF16, 5, 64);
        check_half(&t, VKT_DTYPE_F16, 3, 7);     /* odd C: the scalar 16-bit kernel */
        check_half(&t, VKT_DTYPE_F16, 64, 1002); /* C % 4 == 2: rows alternate 8-byte alignment: scalar */
        check_half(&t, VKT_DTYPE_BF16, 64, 1002);
        check_half(&t, VKT_DTYPE_F16, 64, 1004); /* C % 8 == 4: 4-wide backward, scalar forward */
    } else {
        printf("   skipped 16-bit storage forward: device lacks storageBuffer16BitAccess\n");
    }
    return vkt_test_finish(&t);
}
