/* GELU (tanh approximation) and SiLU: forward, overwriting and accumulating backward, 16-bit storage
 * forward, odd sizes and one size split over the binding limit. Inputs include far tails (|x| up to 100)
 * where a naive tanh() can produce NaN. */
#include "half_io.h"
#include "ops/gelu.h"
#include "ref/ref_gelu.h"

typedef struct {
    int act; /* 0 gelu, 1 silu */
    bool acc;
    vkt_tensor x, y, dy, dx;
} ctx_t;

static const char *act_name[2] = {"gelu", "silu"};

static vkt_status run_fwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return x->act ? vkt_op_silu_fwd(r, &x->x, &x->y) : vkt_op_gelu_fwd(r, &x->x, &x->y);
}

static vkt_status run_bwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return x->act ? vkt_op_silu_bwd(r, &x->x, &x->dy, &x->dx, x->acc)
                  : vkt_op_gelu_bwd(r, &x->x, &x->dy, &x->dx, x->acc);
}

typedef struct {
    int act;
    const double *dy;
    int64_t n;
} loss_ctx;

/* L = sum_i dy_i f(x_i), so dL/dx_i = dy_i f'(x_i). */
static double loss(const double *x, void *c) {
    const loss_ctx *l = c;
    double s = 0;
    for (int64_t i = 0; i < l->n; i++) s += l->dy[i] * (l->act ? vkt_ref_silu(x[i]) : vkt_ref_gelu(x[i]));
    return s;
}

static float *inputs(vkt_test *t, int64_t n) {
    float *x = vkt_test_randn(t, (size_t)n, 3.0f);
    for (int64_t i = 5; i < n; i += 97) x[i] = (i & 1 ? -1.0f : 1.0f) * vkt_rng_range(&t->rng, 20.0f, 100.0f);
    return x;
}

/* Bounds (max |y-r| / (|r| + 1e-3 rms(r))):
 *  fwd 1e-5: a handful of f32 roundings in x + a x^3, exp and one division.
 *  bwd 2e-4: f'(x) is a sum s + 2 x s (1-s) u' whose O(0.3) terms cancel where f' crosses zero (gelu
 *      near x = -0.75, silu near x = -1.28). There the result is ~0 and a few f32 ulps of the terms
 *      (~1e-7), times |dy| up to ~5, measured against atol = 1e-3 rms(dx) ~ 7e-4, give up to ~1e-4
 *      (7e-5 measured over 1M samples).
 *  bwd accumulate 5e-4: dx0 + dy f' with dx0 ~ N(0, 1) cancels to ~0 at some elements; the f32 sum and
 *      product round by up to ~2 half-ulps of |dx0| <= ~5 (~5e-7) against atol ~ 1.2e-3 (fma is not
 *      guaranteed to fuse: Vulkan lets drivers lower it to mul + add). 2.3e-4 measured.
 *  fd 1e-6: central differences in double with h = 1e-5 max(1, |x|): truncation O(h^2). */
/* The op runs under vkt_test_run_expect_variant: on a CPU driver the 8-wide kernel for aligned bindings (any n:
 * a partial last word goes element by element), the one-element kernel when `misaligned` puts x off an
 * 8-element boundary. */
static void run_checked(vkt_test *t, ctx_t *c, bool bwd, vkt_dtype dt, bool misaligned, int64_t n) {
    char base[32], want[64], label[96];
    snprintf(base, sizeof base, "%s_%s", act_name[c->act], bwd ? "bwd" : "fwd");
    vkt_test_vec8_variant(t, base, dt, !misaligned, want, sizeof want);
    snprintf(label, sizeof label, "%s%s n=%lld%s", base, c->acc ? "+=" : "", (long long)n,
             misaligned ? " misaligned" : "");
    vkt_test_run_expect_variant(t, bwd ? run_bwd : run_fwd, c, base, want, label);
}

/* Reruns c's forward and backward (overwriting and accumulating onto dx0) with x uploaded aligned: the
 * outputs y, dx, dx+= into out[0..2] (caller frees). */
static void run_aligned(vkt_test *t, const ctx_t *c0, const float *x, const float *dx0, int64_t n, float *out[3]) {
    ctx_t c = *c0;
    c.acc = false, c.x = vkt_test_upload(t, x, n, 1, 1, 1);
    vkt_test_out y = vkt_test_output(t, n, 1, 1, 1), dx = vkt_test_output(t, n, 1, 1, 1);
    vkt_test_out dxa = vkt_test_output_init(t, dx0, n, 1, 1, 1);
    c.y = y.view, c.dx = dx.view;
    run_checked(t, &c, false, VKT_DTYPE_F32, false, n);
    run_checked(t, &c, true, VKT_DTYPE_F32, false, n);
    c.dx = dxa.view, c.acc = true;
    run_checked(t, &c, true, VKT_DTYPE_F32, false, n);
    out[0] = vkt_test_read_output(t, &y, "y"), out[1] = vkt_test_read_output(t, &dx, "dx");
    out[2] = vkt_test_read_output(t, &dxa, "dx (acc)");
}

static void check_size(vkt_test *t, int act, int64_t n, bool misaligned) {
    size_t un = (size_t)n;
    float *x = inputs(t, n), *dy = vkt_test_randn(t, un, 1), *dx0 = vkt_test_randn(t, un, 1);
    double *xd = vkt_test_to_double(x, un), *dyd = vkt_test_to_double(dy, un), *ref = malloc(un * sizeof *ref);
    double *gref = malloc(un * sizeof *gref), *gacc = vkt_test_to_double(dx0, un);
    char what[96];

    ctx_t c = {.act = act, .dy = vkt_test_upload(t, dy, n, 1, 1, 1)};
    if (!misaligned)
        c.x = vkt_test_upload(t, x, n, 1, 1, 1);
    else if (!vkt_test_upload_misaligned(t, VKT_DTYPE_F32, x, n, &c.x))
        vkt_test_fail(t, "no misaligned offset");
    vkt_test_out y = vkt_test_output(t, n, 1, 1, 1), dx = vkt_test_output(t, n, 1, 1, 1);
    vkt_test_out dxa = vkt_test_output_init(t, dx0, n, 1, 1, 1);
    c.y = y.view, c.dx = dx.view;
    run_checked(t, &c, false, VKT_DTYPE_F32, misaligned, n);
    run_checked(t, &c, true, VKT_DTYPE_F32, misaligned, n);
    c.dx = dxa.view, c.acc = true;
    run_checked(t, &c, true, VKT_DTYPE_F32, misaligned, n);

    (act ? vkt_ref_silu_fwd : vkt_ref_gelu_fwd)(xd, ref, n);
    float *gy = vkt_test_read_output(t, &y, "y");
    snprintf(what, sizeof what, "%s_fwd n=%lld", act_name[act], (long long)n);
    vkt_check(t, what, gy, ref, un, 1e-5);

    (act ? vkt_ref_silu_bwd : vkt_ref_gelu_bwd)(xd, dyd, gref, n, false);
    (act ? vkt_ref_silu_bwd : vkt_ref_gelu_bwd)(xd, dyd, gacc, n, true);
    if (n <= 4099 && !misaligned) { /* the reference's own check: once per size is enough */
        loss_ctx l = {act, dyd, n};
        snprintf(what, sizeof what, "%s ref dx n=%lld", act_name[act], (long long)n);
        vkt_check_fd(t, what, loss, xd, gref, un, &l, 1e-6);
    }
    float *gdx = vkt_test_read_output(t, &dx, "dx"), *gdxa = vkt_test_read_output(t, &dxa, "dx (acc)");
    snprintf(what, sizeof what, "%s_bwd dx n=%lld", act_name[act], (long long)n);
    vkt_check(t, what, gdx, gref, un, 2e-4);
    snprintf(what, sizeof what, "%s_bwd dx+= n=%lld", act_name[act], (long long)n);
    vkt_check(t, what, gdxa, gacc, un, 5e-4);
    if (misaligned) { /* the one-element results just checked must equal the 8-wide kernel's bit for bit */
        float *wide[3];
        run_aligned(t, &c, x, dx0, n, wide);
        const float *one[3] = {gy, gdx, gdxa};
        for (int k = 0; k < 3; k++) {
            if (memcmp(one[k], wide[k], un * sizeof *gy) != 0)
                vkt_test_fail(t, "%s n=%lld: output %d of the 8-wide kernel differs from the one-element kernel's",
                              act_name[act], (long long)n, k);
            free(wide[k]);
        }
        printf("   %s n=%lld: 8-wide and one-element kernels agree bit for bit\n", act_name[act], (long long)n);
    }

    free(x), free(dy), free(dx0), free(xd), free(dyd), free(ref), free(gref), free(gacc);
    free(gy), free(gdx), free(gdxa);
    vkt_arena_reset(t->arena);
}

/* 16-bit storage forward: inputs rounded to the storage type (the reference sees the rounded values),
 * output rounded once: relative error <= 2^-11 (f16) or 2^-8 (bf16) plus f32 math; bound 1e-2. */
static void check_half(vkt_test *t, int act, vkt_dtype dt, int64_t n) {
    float *x = inputs(t, n);
    ctx_t c = {.act = act, .x = vkt_half_upload(t, dt, x, n, 1)};
    vkt_test_out y = vkt_half_output(t, dt, n, 1);
    c.y = y.view;
    run_checked(t, &c, false, dt, false, n);
    double *xd = vkt_test_to_double(x, (size_t)n), *ref = malloc((size_t)n * sizeof *ref);
    (act ? vkt_ref_silu_fwd : vkt_ref_gelu_fwd)(xd, ref, n);
    float *gy = vkt_half_read(t, &y, "y16");
    char what[96];
    snprintf(what, sizeof what, "%s_fwd_%s n=%lld", act_name[act], vkt_dtype_name(dt), (long long)n);
    vkt_check(t, what, gy, ref, (size_t)n, 1e-2);
    free(gy);

    /* Backward in the same storage (x, dy, dx all dt), overwriting and accumulating: check_size's f32
     * bounds plus one rounding of the stored dx (dx0 is rounded before the reference sees it). */
    float *dy = vkt_test_randn(t, (size_t)n, 1), *dx0 = vkt_test_randn(t, (size_t)n, 1);
    c.dy = vkt_half_upload(t, dt, dy, n, 1);
    vkt_test_out dx = vkt_half_output(t, dt, n, 1), dxa = vkt_half_output_init(t, dt, dx0, n, 1);
    c.dx = dx.view;
    run_checked(t, &c, true, dt, false, n);
    c.dx = dxa.view, c.acc = true;
    run_checked(t, &c, true, dt, false, n);
    double *dyd = vkt_test_to_double(dy, (size_t)n), *gacc = vkt_test_to_double(dx0, (size_t)n);
    (act ? vkt_ref_silu_bwd : vkt_ref_gelu_bwd)(xd, dyd, ref, n, false);
    (act ? vkt_ref_silu_bwd : vkt_ref_gelu_bwd)(xd, dyd, gacc, n, true);
    float *gdx = vkt_half_read(t, &dx, "dx16"), *gdxa = vkt_half_read(t, &dxa, "dx16 (acc)");
    snprintf(what, sizeof what, "%s_bwd_%s dx n=%lld", act_name[act], vkt_dtype_name(dt), (long long)n);
    vkt_check(t, what, gdx, ref, (size_t)n, 2e-4 + vkt_half_unit(dt));
    snprintf(what, sizeof what, "%s_bwd_%s dx+= n=%lld", act_name[act], vkt_dtype_name(dt), (long long)n);
    vkt_check(t, what, gdxa, gacc, (size_t)n, 5e-4 + vkt_half_unit(dt));
    free(x), free(xd), free(ref), free(dy), free(dx0), free(dyd), free(gacc), free(gdx), free(gdxa);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    /* 1 MiB bindings: the 1000003-element case splits into four chunks. */
    setenv("VKT_MAX_BINDING_BYTES", "1048576", 1);
    vkt_test_init(&t, "op_gelu");
    const int64_t sizes[] = {1, 7, 255, 257, 4099, 1000003};
    for (int act = 0; act < 2; act++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_size(&t, act, sizes[i], false);
    /* Whole 8-element words only (no element-by-element tail), and x off an 8-element boundary. */
    bool can_misalign = vkt_device_get_info(t.dev)->min_storage_offset_align % 32 != 0;
    for (int act = 0; act < 2; act++) {
        check_size(&t, act, 2048, false);
        if (can_misalign) check_size(&t, act, 4099, true), check_size(&t, act, 1000003, true);
    }
    if (!can_misalign) printf("   skipped misaligned f32: storage offsets are whole 8-float words\n");
    if (vkt_half_supported(&t)) {
        for (int act = 0; act < 2; act++) {
            check_half(&t, act, VKT_DTYPE_F16, 4099);
            check_half(&t, act, VKT_DTYPE_F16, 7);
            check_half(&t, act, VKT_DTYPE_F16, 1000003);
            check_half(&t, act, VKT_DTYPE_BF16, 4099);
            check_half(&t, act, VKT_DTYPE_BF16, 1000003);
        }
    } else {
        printf("   skipped 16-bit storage forward: device lacks storageBuffer16BitAccess\n");
    }
    return vkt_test_finish(&t);
}
