/* LoRA branch (ops/lora.h) against its double reference: forward into a column window of a wider output
 * (the other columns must survive bit for bit), every gradient, u and the g scratch poisoned with NaN,
 * accumulating outputs pre-filled; the reference backward against finite differences of the reference
 * forward. Bounds: each output is a chain of two f32 matmuls, so the matmul bound 1.2e-4 sqrt(K) of the
 * longer reduction (test_op_matmul.c explains it), doubled for the second product's rounding.
 * 16-bit storage (x, a, b, y, dy, u, g, dx, the dropout scratches in f16 or bf16; dA, dB f32): inputs are
 * rounded before the reference sees them, but the device also rounds the intermediates u and g and the
 * outputs y, dx (unit roundoff uh = 2^-11 or 2^-8 each), which the double reference does not. Where y0 and
 * the branch cancel, one such rounding is large against atol, so the 16-bit cases are judged by the
 * relative error in norm (vkt_rel_norm_err): a chain of at most three roundings (u or g, the product,
 * the stored sum), each <= uh per element but independent, so about sqrt(3) uh / sqrt(3) in norm (uniform
 * rounding errors have rms uh / sqrt(3)); bound 2 uh (measured <= 0.65 uh). A missing scale s
 * (0.25 .. 2) or a dropped term errs by > 0.2 in norm. The dropout mask (xd) is checked per element,
 * 1e-6 + uh (one rounding of x / (1 - p)). */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/lora.h"
#include "ref/ref_lora.h"

typedef struct {
    int64_t rows, in, out, rank, ldy, c0; /* the window is columns [c0, c0 + out) of a (rows, ldy) output */
    float scale;
    float p;      /* dropout probability (0: none) */
    uint32_t ctr; /* the pass counter the mask is drawn for */
} lora_case;

typedef struct {
    vkt_lora_desc d;
    vkt_tensor x, a, b, u, g, y, dy, dx, da, db, counter;
    bool with_dx;
} lora_ctx;

static vkt_status run_fwd(vkt_rec *r, void *p) {
    lora_ctx *c = p;
    return vkt_op_lora_fwd(r, &c->d, &c->x, &c->a, &c->b, &c->u, &c->y);
}

static vkt_status run_bwd(vkt_rec *r, void *p) {
    lora_ctx *c = p;
    return vkt_op_lora_bwd(r, &c->d, &c->dy, &c->x, &c->a, &c->b, &c->u, &c->g, c->with_dx ? &c->dx : NULL, &c->da,
                           &c->db);
}

/* ---- reference backward vs finite differences: loss = sum over the window of gy * y ---- */
typedef struct {
    const lora_case *cs;
    const double *x, *mask, *a, *b, *gy;
    int which; /* 0: perturb x, 1: a, 2: b */
} fd_ctx;

static double loss(const double *v, void *p) {
    const fd_ctx *f = p;
    const lora_case *cs = f->cs;
    double *y = calloc((size_t)(cs->rows * cs->ldy), sizeof *y), *u = malloc((size_t)(cs->rows * cs->rank) * 8);
    vkt_ref_lora_fwd(f->which == 0 ? v : f->x, f->mask, f->which == 1 ? v : f->a, f->which == 2 ? v : f->b, u,
                     y + cs->c0, cs->rows, cs->in, cs->out, cs->rank, cs->ldy, cs->scale);
    double s = 0;
    for (int64_t i = 0; i < cs->rows * cs->ldy; i++) s += f->gy[i] * y[i];
    free(y), free(u);
    return s;
}

static void check_fd(vkt_test *t, const lora_case *cs, const double *x, const double *mask, const double *a,
                     const double *b, const double *dy) {
    size_t nx = (size_t)(cs->rows * cs->in), na = (size_t)(cs->rank * cs->in), nb = (size_t)(cs->out * cs->rank);
    double *gx = calloc(nx, 8), *ga = calloc(na, 8), *gb = calloc(nb, 8);
    /* The loss only sees the window: gy is dy with the columns outside it zeroed. */
    double *gy = calloc((size_t)(cs->rows * cs->ldy), 8);
    for (int64_t i = 0; i < cs->rows; i++)
        for (int64_t j = 0; j < cs->out; j++) gy[i * cs->ldy + cs->c0 + j] = dy[i * cs->ldy + cs->c0 + j];
    vkt_ref_lora_bwd(dy + cs->c0, x, mask, a, b, gx, ga, gb, cs->rows, cs->in, cs->out, cs->rank, cs->ldy, cs->scale);
    double *xc = malloc(nx * 8), *ac = malloc(na * 8), *bc = malloc(nb * 8);
    memcpy(xc, x, nx * 8), memcpy(ac, a, na * 8), memcpy(bc, b, nb * 8);
    fd_ctx f = {cs, x, mask, a, b, gy, 0};
    vkt_check_fd(t, "ref lora dx", loss, xc, gx, nx, &f, 1e-6);
    f.which = 1;
    vkt_check_fd(t, "ref lora dA", loss, ac, ga, na, &f, 1e-6);
    f.which = 2;
    vkt_check_fd(t, "ref lora dB", loss, bc, gb, nb, &f, 1e-6);
    free(gx), free(ga), free(gb), free(gy), free(xc), free(ac), free(bc);
}

static double bound(int64_t k) { return 2.4e-4 * sqrt((double)(k > 16 ? k : 16)); }

/* Rounds x to dt in place (no-op for f32): what the device will hold. */
static void round_to(vkt_dtype dt, float *x, size_t n) {
    if (dt != VKT_DTYPE_F32)
        for (size_t i = 0; i < n; i++) x[i] = vkt_half_to(dt, vkt_half_from(dt, x[i]));
}

/* Checks y against r: the usual metric for f32, the relative error in norm for 16-bit (see the top). */
static void check_dt(vkt_test *t, vkt_dtype dt, const char *what, const float *y, const double *r, size_t n,
                     double f32_bound) {
    if (dt == VKT_DTYPE_F32) {
        vkt_check(t, what, y, r, n, f32_bound);
        return;
    }
    double err = vkt_rel_norm_err(y, r, (int64_t)n), b = 2 * vkt_half_unit(dt);
    bool ok = err <= b; /* NaN fails */
    printf("   %-44s n=%-8zu rel_norm=%.3e bound=%.1e %s\n", what, n, err, b, ok ? "ok" : "FAIL");
    if (!ok) vkt_test_fail(t, "%s: relative error in norm %.3e over %.1e", what, err, b);
}

static void check_case(vkt_test *t, const lora_case *cs, bool with_dx, vkt_dtype dt) {
    int64_t R = cs->rows, IN = cs->in, OUT = cs->out, RK = cs->rank, NY = R * cs->ldy;
    size_t nx = (size_t)(R * IN), na = (size_t)(RK * IN), nb = (size_t)(OUT * RK), nu = (size_t)(R * RK);
    const size_t es = vkt_dtype_size(dt);
    float *x = vkt_test_randn(t, nx, 1), *a = vkt_test_randn(t, na, 0.3f), *b = vkt_test_randn(t, nb, 0.3f);
    float *y0 = vkt_test_randn(t, (size_t)NY, 1), *dy = vkt_test_randn(t, (size_t)NY, 1);
    float *dx0 = vkt_test_randn(t, nx, 1), *da0 = vkt_test_randn(t, na, 1), *db0 = vkt_test_randn(t, nb, 1);
    round_to(dt, x, nx), round_to(dt, a, na), round_to(dt, b, nb), round_to(dt, y0, (size_t)NY);
    round_to(dt, dy, (size_t)NY), round_to(dt, dx0, nx);
    double *xd = vkt_test_to_double(x, nx), *ad = vkt_test_to_double(a, na), *bd = vkt_test_to_double(b, nb);
    double *dyd = vkt_test_to_double(dy, (size_t)NY), *mask = NULL;
    lora_ctx c = {.d = {.rows = R, .in = IN, .out = OUT, .rank = RK, .ldy = cs->ldy, .scale = cs->scale},
                  .with_dx = with_dx};
    /* Dropout: the mask the shader must draw for (seed, stream, counter), and poisoned scratches. */
    vkt_lora_dropout drop = {.p = cs->p, .seed = 1234567u, .stream = 3};
    vkt_test_out xds = {0}, tmps = {0};
    if (cs->p > 0) {
        mask = malloc(nx * 8);
        vkt_ref_lora_dropout_mask(drop.seed, drop.stream, cs->ctr, cs->p, (int64_t)nx, mask);
        c.counter = vkt_test_upload_i32(t, (const int32_t *)&cs->ctr, 1);
        xds = vkt_any_output(t, dt, NULL, R, IN), tmps = vkt_any_output(t, dt, NULL, R, IN);
        drop.counter = &c.counter, drop.xd = &xds.view, drop.tmp = &tmps.view;
        c.d.dropout = &drop;
    }
    if (R * IN * OUT <= 4096 && dt == VKT_DTYPE_F32) check_fd(t, cs, xd, mask, ad, bd, dyd);

    c.x = vkt_half_or_f32_upload(t, dt, x, R, IN), c.a = vkt_half_or_f32_upload(t, dt, a, RK, IN);
    c.b = vkt_half_or_f32_upload(t, dt, b, OUT, RK);
    c.dy = vkt_half_or_f32_upload(t, dt, dy, NY, 1);
    c.dy.offset += (size_t)cs->c0 * es, c.dy.shape[0] = NY - cs->c0;
    vkt_test_out y = vkt_any_output(t, dt, y0, NY, 1), u = vkt_any_output(t, dt, NULL, R, RK);
    vkt_test_out g = vkt_any_output(t, dt, NULL, R, RK), dx = vkt_any_output(t, dt, dx0, R, IN);
    vkt_test_out da = vkt_test_output_init(t, da0, RK, IN, 1, 1), db = vkt_test_output_init(t, db0, OUT, RK, 1, 1);
    c.y = y.view, c.u = u.view, c.g = g.view, c.dx = dx.view, c.da = da.view, c.db = db.view;
    c.y.offset += (size_t)cs->c0 * es, c.y.shape[0] = NY - cs->c0;
    vkt_test_run(t, run_fwd, &c);
    vkt_test_run(t, run_bwd, &c);

    double *yr = vkt_test_to_double(y0, (size_t)NY), *ur = malloc(nu * 8);
    double *dxr = vkt_test_to_double(dx0, nx), *dar = vkt_test_to_double(da0, na), *dbr = vkt_test_to_double(db0, nb);
    vkt_ref_lora_fwd(xd, mask, ad, bd, ur, yr + cs->c0, R, IN, OUT, RK, cs->ldy, cs->scale);
    vkt_ref_lora_bwd(dyd + cs->c0, xd, mask, ad, bd, dxr, dar, dbr, R, IN, OUT, RK, cs->ldy, cs->scale);
    int64_t dropped = 0;
    if (mask) {
        float *gxd = vkt_any_read(t, &xds, "xd");
        double *xdr = malloc(nx * 8);
        for (size_t e = 0; e < nx; e++) xdr[e] = mask[e] * xd[e], dropped += mask[e] == 0;
        char w[96];
        snprintf(w, sizeof w, "lora dropout mask p %g counter %u: %lld of %zu dropped", cs->p, cs->ctr,
                 (long long)dropped, nx);
        vkt_check(t, w, gxd, xdr, nx, 1e-6 + (dt == VKT_DTYPE_F32 ? 0 : vkt_half_unit(dt)));
        free(vkt_any_read(t, &tmps, "tmp"));
        free(gxd), free(xdr);
    }
    float *gy = vkt_any_read(t, &y, "y"), *gu = vkt_any_read(t, &u, "u");
    float *gdx = vkt_any_read(t, &dx, "dx"), *gda = vkt_test_read_output(t, &da, "dA");
    float *gdb = vkt_test_read_output(t, &db, "dB");
    free(vkt_any_read(t, &g, "g"));
    char what[160];
    snprintf(what, sizeof what, "%s%lldx%lldx%lld r%lld window %lld+%lld of %lld s %g%s",
             dt == VKT_DTYPE_F32   ? ""
             : dt == VKT_DTYPE_F16 ? "f16 "
                                   : "bf16 ",
             (long long)R, (long long)IN, (long long)OUT, (long long)RK, (long long)cs->c0, (long long)OUT,
             (long long)cs->ldy, cs->scale, mask ? " dropout" : "");
    for (int64_t e = 0; e < NY; e++) {
        int64_t j = e % cs->ldy;
        if ((j < cs->c0 || j >= cs->c0 + OUT) && memcmp(&gy[e], &y0[e], 4) != 0) {
            vkt_test_fail(t, "%s: y element %lld outside the window was written", what, (long long)e);
            break;
        }
    }
    char w2[200];
    int64_t kmax = IN > RK ? IN : RK;
    snprintf(w2, sizeof w2, "lora y  %s", what), check_dt(t, dt, w2, gy, yr, (size_t)NY, bound(kmax));
    snprintf(w2, sizeof w2, "lora u  %s", what), check_dt(t, dt, w2, gu, ur, nu, bound(IN));
    if (with_dx)
        snprintf(w2, sizeof w2, "lora dx %s", what), check_dt(t, dt, w2, gdx, dxr, nx, bound(OUT));
    else if (memcmp(gdx, dx0, nx * 4) != 0)
        vkt_test_fail(t, "%s: dx written although not asked for", what);
    snprintf(w2, sizeof w2, "lora dA %s", what), check_dt(t, dt, w2, gda, dar, na, bound(R > OUT ? R : OUT));
    snprintf(w2, sizeof w2, "lora dB %s", what), check_dt(t, dt, w2, gdb, dbr, nb, bound(R > IN ? R : IN));
    free(x), free(a), free(b), free(y0), free(dy), free(dx0), free(da0), free(db0), free(xd), free(ad), free(bd);
    free(mask), free(dyd), free(yr), free(ur), free(dxr), free(dar), free(dbr), free(gy), free(gu), free(gdx),
        free(gda), free(gdb);
    vkt_arena_reset(t->arena);
}

static const lora_case cases[] = {
    /* rows, in, out, rank, ldy, c0, scale */
    {3, 5, 4, 2, 11, 3, 2.0f, 0, 0}, /* small enough for finite differences */
    {1, 1, 1, 1, 1, 0, 1.0f, 0, 0},
    {37, 33, 17, 7, 51, 17, 0.5f, 0, 0},      /* odd everything, the middle of a fused output */
    {64, 64, 64, 8, 64, 0, 2.0f, 0, 0},       /* aligned: the fast matmul path */
    {128, 96, 32, 16, 160, 128, 0.25f, 0, 0}, /* the v part of a fused q|k|v */
    {300, 48, 192, 4, 384, 192, 1.0f, 0, 0},  /* the up part of a fused gate|up */
    {2100, 24, 40, 3, 40, 0, 1.5f, 0, 0},     /* rows over the test's binding limit: split dispatches */
    /* dropout on the adapter input: p, pass counter */
    {3, 5, 4, 2, 11, 3, 2.0f, 0.3f, 0},
    {37, 33, 17, 7, 51, 17, 0.5f, 0.1f, 7},
    {300, 48, 192, 4, 384, 192, 1.0f, 0.5f, 123456},
    {2100, 24, 40, 3, 40, 0, 1.5f, 0.05f, 2}, /* chunks: the element index stays global */
};

int main(void) {
    vkt_test t;
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_lora");
    const vkt_dtype F32 = VKT_DTYPE_F32;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&t, &cases[i], true, F32);
    check_case(&t, &cases[2], false, F32);
    check_case(&t, &cases[8], false, F32);
    if (vkt_half_supported(&t)) { /* mixed precision: half activations and adapter copy, f32 dA, dB */
        check_case(&t, &cases[2], true, VKT_DTYPE_F16);
        check_case(&t, &cases[5], true, VKT_DTYPE_BF16);
        check_case(&t, &cases[8], true, VKT_DTYPE_F16);
        check_case(&t, &cases[10], false, VKT_DTYPE_BF16);
    }
    return vkt_test_finish(&t);
}
