/* SwiGLU: forward (f32 and 16-bit storage) and backward, with gate/up as two tensors and as the halves of
 * one fused (N, 2F) tensor (also as a view off the binding alignment), odd shapes, and row splits over a
 * lowered binding limit. */
#include "half_io.h"
#include "ops/swiglu.h"
#include "ref/ref_swiglu.h"

#include <string.h>

typedef struct {
    bool fused;
    vkt_tensor gate, up, gu, out, dout, dgate, dup, dgu;
} ctx_t;

static vkt_status run_fwd(vkt_rec *r, void *c) {
    ctx_t *k = c;
    return k->fused ? vkt_op_swiglu_fused_fwd(r, &k->gu, &k->out) : vkt_op_swiglu_fwd(r, &k->gate, &k->up, &k->out);
}

static vkt_status run_bwd(vkt_rec *r, void *c) {
    ctx_t *k = c;
    return k->fused ? vkt_op_swiglu_fused_bwd(r, &k->gu, &k->dout, &k->dgu)
                    : vkt_op_swiglu_bwd(r, &k->gate, &k->up, &k->dout, &k->dgate, &k->dup);
}

/* L = sum dout * silu(gate) * up with gate (which = 0) or up (which = 1) perturbed. */
typedef struct {
    const double *gate, *up, *dout;
    int64_t n;
    int which;
} loss_ctx;

static double loss(const double *v, void *c) {
    const loss_ctx *l = c;
    double *y = malloc((size_t)l->n * sizeof *y), s = 0;
    vkt_ref_swiglu_fwd(l->which == 0 ? v : l->gate, l->which == 1 ? v : l->up, y, l->n);
    for (int64_t i = 0; i < l->n; i++) s += l->dout[i] * y[i];
    free(y);
    return s;
}

/* Interleaves gate and up rows into an (N, 2F) host array. */
static float *fuse(const float *gate, const float *up, int64_t N, int64_t F) {
    float *gu = malloc((size_t)(N * 2 * F) * sizeof *gu);
    for (int64_t i = 0; i < N; i++) {
        memcpy(gu + i * 2 * F, gate + i * F, (size_t)F * sizeof *gu);
        memcpy(gu + i * 2 * F + F, up + i * F, (size_t)F * sizeof *gu);
    }
    return gu;
}

/* Bounds, max |y-r| / (|r| + 1e-3 rms(r)):
 *  out, dup 1e-5: products of silu (exp and one division) with up / dout: a few f32 roundings.
 *  dgate 2e-4: silu'(g) = s (1 + g (1 - s)) crosses zero near g = -1.28, where its O(0.3) terms cancel;
 *      a few ulps of those terms against atol ~1e-3 rms gives up to ~1e-4 (as in test_op_gelu).
 *  fd 1e-5: central differences in double; with gate ~ N(0, 9), h = 1e-5 |gate| reaches 1e-4 and the
 *      truncation h^2 |f'''| / 6 ~ 1e-9 scores ~1e-6 against atol ~1e-3 (1.75e-6 measured). */
/* Runs forward and backward, checking that the 8-wide kernels ran (CPU drivers) exactly when `aligned`. */
static void run_checked(vkt_test *t, ctx_t *c, vkt_dtype dt, int64_t N, int64_t F, bool aligned) {
    char want[64], label[96];
    snprintf(label, sizeof label, "swiglu %s N=%lld F=%lld%s", vkt_dtype_name(dt), (long long)N, (long long)F,
             c->fused ? " fused" : "");
    vkt_test_run_expect_variant(t, run_fwd, c, "swiglu_fwd",
                                vkt_test_vec8_variant(t, "swiglu_fwd", dt, aligned, want, sizeof want), label);
    vkt_test_run_expect_variant(t, run_bwd, c, "swiglu_bwd",
                                vkt_test_vec8_variant(t, "swiglu_bwd", dt, aligned, want, sizeof want), label);
}

static void check_case(vkt_test *t, int64_t N, int64_t F, bool fused, bool shifted) {
    size_t n = (size_t)(N * F);
    float *gate = vkt_test_randn(t, n, 3), *up = vkt_test_randn(t, n, 1), *dout = vkt_test_randn(t, n, 1);
    double *gd = vkt_test_to_double(gate, n), *ud = vkt_test_to_double(up, n), *dd = vkt_test_to_double(dout, n);
    double *outr = malloc(n * sizeof *outr), *dgr = malloc(n * sizeof *dgr), *dur = malloc(n * sizeof *dur);
    ctx_t c = {.fused = fused, .dout = vkt_test_upload(t, dout, N, F, 1, 1)};
    vkt_test_out out = vkt_test_output(t, N, F, 1, 1), dg = {0}, du = {0}, dgu = {0};
    c.out = out.view;
    if (fused) {
        float *gu = fuse(gate, up, N, F);
        if (shifted) {
            float *buf = calloc((size_t)((N + 1) * 2 * F), sizeof *buf);
            memcpy(buf + 2 * F, gu, n * 2 * sizeof *buf);
            vkt_tensor all = vkt_test_upload(t, buf, N + 1, 2 * F, 1, 1);
            c.gu = vkt_tensor_rows(&all, 1, N);
            free(buf);
        } else {
            c.gu = vkt_test_upload(t, gu, N, 2 * F, 1, 1);
        }
        dgu = vkt_test_output(t, N, 2 * F, 1, 1);
        c.dgu = dgu.view;
        free(gu);
    } else {
        /* shifted, separate tensors: gate starts off an 8-element boundary (the one-element kernels run). */
        if (!shifted)
            c.gate = vkt_test_upload(t, gate, N, F, 1, 1);
        else if (!vkt_test_upload_misaligned(t, VKT_DTYPE_F32, gate, (int64_t)n, &c.gate))
            vkt_test_fail(t, "swiglu: no misaligned binding offset");
        c.up = vkt_test_upload(t, up, N, F, 1, 1);
        dg = vkt_test_output(t, N, F, 1, 1), du = vkt_test_output(t, N, F, 1, 1);
        c.dgate = dg.view, c.dup = du.view;
    }
    /* Separate tensors are elementwise: the op takes out's last dimension not 1 as the row length. */
    int64_t row = fused || F > 1 ? F : N;
    run_checked(t, &c, VKT_DTYPE_F32, N, F, row % 8 == 0 && (fused || !shifted));

    vkt_ref_swiglu_fwd(gd, ud, outr, (int64_t)n);
    vkt_ref_swiglu_bwd(gd, ud, dd, dgr, dur, (int64_t)n);
    char what[96], tag[64];
    snprintf(tag, sizeof tag, "N=%lld F=%lld%s%s", (long long)N, (long long)F, fused ? " fused" : "",
             shifted ? " shifted" : "");
    if (!fused && n <= 20000) {
        loss_ctx l = {gd, ud, dd, (int64_t)n, 0};
        snprintf(what, sizeof what, "ref dgate %s", tag);
        vkt_check_fd(t, what, loss, gd, dgr, n, &l, 1e-5);
        l.which = 1, snprintf(what, sizeof what, "ref dup %s", tag);
        vkt_check_fd(t, what, loss, ud, dur, n, &l, 1e-5);
    }
    float *go = vkt_test_read_output(t, &out, "out"), *gdg, *gdu;
    if (fused) {
        float *g2 = vkt_test_read_output(t, &dgu, "dgu");
        gdg = malloc(n * sizeof *gdg), gdu = malloc(n * sizeof *gdu);
        for (int64_t i = 0; i < N; i++) {
            memcpy(gdg + i * F, g2 + i * 2 * F, (size_t)F * sizeof *gdg);
            memcpy(gdu + i * F, g2 + i * 2 * F + F, (size_t)F * sizeof *gdu);
        }
        free(g2);
    } else {
        gdg = vkt_test_read_output(t, &dg, "dgate"), gdu = vkt_test_read_output(t, &du, "dup");
    }
    snprintf(what, sizeof what, "swiglu out %s", tag);
    vkt_check(t, what, go, outr, n, 1e-5);
    snprintf(what, sizeof what, "swiglu dgate %s", tag);
    vkt_check(t, what, gdg, dgr, n, 2e-4);
    snprintf(what, sizeof what, "swiglu dup %s", tag);
    vkt_check(t, what, gdu, dur, n, 1e-5);
    free(gate), free(up), free(dout), free(gd), free(ud), free(dd), free(outr), free(dgr), free(dur);
    free(go), free(gdg), free(gdu);
    vkt_arena_reset(t->arena);
}

/* 16-bit storage forward and backward; the reference sees the rounded inputs. out: rounded once, bound 1e-2.
 * dgate, dup: the f32 bounds of check_case plus one rounding of the stored result (vkt_half_unit). */
static void check_half(vkt_test *t, vkt_dtype dt, int64_t N, int64_t F, bool fused) {
    size_t n = (size_t)(N * F);
    float *gate = vkt_test_randn(t, n, 3), *up = vkt_test_randn(t, n, 1), *dout = vkt_test_randn(t, n, 1);
    ctx_t c = {.fused = fused, .dout = vkt_half_upload(t, dt, dout, N, F)};
    vkt_test_out dg = {0}, du = {0}, dgu = {0};
    if (fused) {
        float *gu = fuse(gate, up, N, F);
        c.gu = vkt_half_upload(t, dt, gu, N, 2 * F);
        for (int64_t i = 0; i < N; i++) { /* read back the rounded values for the reference */
            memcpy(gate + i * F, gu + i * 2 * F, (size_t)F * sizeof *gate);
            memcpy(up + i * F, gu + i * 2 * F + F, (size_t)F * sizeof *up);
        }
        free(gu);
        dgu = vkt_half_output(t, dt, N, 2 * F);
        c.dgu = dgu.view;
    } else {
        c.gate = vkt_half_upload(t, dt, gate, N, F), c.up = vkt_half_upload(t, dt, up, N, F);
        dg = vkt_half_output(t, dt, N, F), du = vkt_half_output(t, dt, N, F);
        c.dgate = dg.view, c.dup = du.view;
    }
    vkt_test_out out = vkt_half_output(t, dt, N, F);
    c.out = out.view;
    run_checked(t, &c, dt, N, F, F % 8 == 0);
    double *gd = vkt_test_to_double(gate, n), *ud = vkt_test_to_double(up, n), *r = malloc(n * sizeof *r);
    double *dd = vkt_test_to_double(dout, n), *dgr = malloc(n * sizeof *dgr), *dur = malloc(n * sizeof *dur);
    vkt_ref_swiglu_fwd(gd, ud, r, (int64_t)n);
    vkt_ref_swiglu_bwd(gd, ud, dd, dgr, dur, (int64_t)n);
    float *go = vkt_half_read(t, &out, "out16"), *gdg, *gdu;
    if (fused) {
        float *g2 = vkt_half_read(t, &dgu, "dgu16");
        gdg = malloc(n * sizeof *gdg), gdu = malloc(n * sizeof *gdu);
        for (int64_t i = 0; i < N; i++) {
            memcpy(gdg + i * F, g2 + i * 2 * F, (size_t)F * sizeof *gdg);
            memcpy(gdu + i * F, g2 + i * 2 * F + F, (size_t)F * sizeof *gdu);
        }
        free(g2);
    } else {
        gdg = vkt_half_read(t, &dg, "dgate16"), gdu = vkt_half_read(t, &du, "dup16");
    }
    char what[96];
    snprintf(what, sizeof what, "swiglu out %s N=%lld F=%lld%s", vkt_dtype_name(dt), (long long)N, (long long)F,
             fused ? " fused" : "");
    vkt_check(t, what, go, r, n, 1e-2);
    memcpy(what + 7, "dgt", 3);
    vkt_check(t, what, gdg, dgr, n, 2e-4 + vkt_half_unit(dt));
    memcpy(what + 7, "dup", 3);
    vkt_check(t, what, gdu, dur, n, 1e-5 + vkt_half_unit(dt));
    free(gate), free(up), free(dout), free(gd), free(ud), free(dd), free(r), free(dgr), free(dur);
    free(go), free(gdg), free(gdu);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    /* 256 KiB bindings: fused (257, 2 x 1000) rows split into 32-row dispatches. */
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_swiglu");
    const int64_t Ns[] = {1, 3, 64, 257}, Fs[] = {1, 7, 64, 768, 1000};
    for (int fused = 0; fused < 2; fused++)
        for (size_t i = 0; i < 4; i++)
            for (size_t j = 0; j < 5; j++) check_case(&t, Ns[i], Fs[j], fused, false);
    check_case(&t, 257, 1000, true, true);
    check_case(&t, 3, 7, true, true);
    check_case(&t, 64, 768, false, true); /* gate off an 8-element boundary */
    if (vkt_half_supported(&t)) {
        check_half(&t, VKT_DTYPE_F16, 257, 1000, false);
        check_half(&t, VKT_DTYPE_BF16, 257, 1000, true);
        check_half(&t, VKT_DTYPE_BF16, 3, 7, true);
        check_half(&t, VKT_DTYPE_F16, 65, 33, true);
        check_half(&t, VKT_DTYPE_BF16, 65, 33, false);
    } else {
        printf("   skipped 16-bit storage forward: device lacks storageBuffer16BitAccess\n");
    }
    return vkt_test_finish(&t);
}
