/* Rotary position embedding: host cos/sin table accuracy, in-place forward and backward on q-like
 * buffers and on slices of a fused qkv buffer, both pair conventions, partial rotary, large positions,
 * a row split over bindings (capped at 256 KiB), f16/bf16 storage, and packed rows (random document-start
 * tables: each document's positions restart at pos0).
 *
 * Bounds.
 * Table: exact mode rounds cos/sin of the double angle once, so |table - exact| <= 2^-25 (half an ulp
 * below 1; 2^-50 more covers the double evaluation). fp32_angles mode (Hugging Face / Meta arithmetic)
 * rounds inv_freq and the product to f32: the angle is off by at most 2^-23 * angle, and cos/sin are
 * 1-Lipschitz, so |table - exact| <= 2^-23 * angle + 2^-25 (about 4e-3 at angle 32768, which is why
 * angles are not formed in f32 on the device).
 * Kernel: the reference uses the same f32 table (in double), so the only error is the kernel's arithmetic
 * a c - b s: two products and a difference, fused or not, stay within 2u (|a| + |b|) with u = 2^-24, plus
 * the storage rounding of the result (2^-11 f16, 2^-8 bf16, relative, and 2^-25 absolute for f16
 * subnormals). The test checks that per-element bound as a ratio <= 1 and requires every element that is
 * not rotated (columns past rot_dim, heads outside the range, v in a fused buffer) to be bit-identical.
 * The usual relative metric is printed beside it: where a c - b s cancels to near zero it measures the
 * inputs' rounding against a tiny result, so the per-element bound is the meaningful one. */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/rope.h"
#include "ref/ref_rope.h"

typedef struct {
    int64_t B, T, n_heads, head_size, rot_dim, row_stride, col0, pos0;
    bool interleaved;
    double theta;
    vkt_dtype dt;
    bool packed; /* positions restart at random document starts (vkt_test_random_seg_start) */
} case_t;

typedef struct {
    vkt_tensor x, table, seg;
    vkt_rope_desc d;
    bool bwd;
} ctx_t;

static vkt_status run(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return x->bwd ? vkt_op_rope_bwd(r, &x->x, &x->table, &x->d) : vkt_op_rope_fwd(r, &x->x, &x->table, &x->d);
}

static void check_table(vkt_test *t, double theta, int64_t rot_dim, int64_t n_pos) {
    const int64_t nf = rot_dim / 2;
    double *inv = malloc((size_t)nf * sizeof *inv);
    float *tab = malloc((size_t)(n_pos * nf * 2) * sizeof *tab);
    vkt_rope_inv_freq(inv, rot_dim, theta);
    for (int mode = 0; mode < 2; mode++) {
        vkt_rope_table(tab, n_pos, nf, inv, mode == 1);
        double worst = 0, worst_abs = 0;
        int64_t bad = -1;
        for (int64_t p = 0; p < n_pos; p++) {
            for (int64_t i = 0; i < nf; i++) {
                const double a = (double)p * inv[i], bound = (mode ? 0x1p-23 * a : 0) + 0x1p-25 + 0x1p-50;
                const double e = fmax(fabs(tab[(p * nf + i) * 2] - cos(a)), fabs(tab[(p * nf + i) * 2 + 1] - sin(a)));
                if (e / bound > worst) worst = e / bound, bad = p * nf + i;
                if (e > worst_abs) worst_abs = e;
            }
        }
        bool ok = worst <= 1.0;
        printf("   table theta=%-8g rot=%lld P=%lld %-6s max_abs_err=%.3e err/bound=%.3f %s\n", theta,
               (long long)rot_dim, (long long)n_pos, mode ? "fp32" : "exact", worst_abs, worst, ok ? "ok" : "FAIL");
        if (!ok)
            vkt_test_fail(t, "rope table theta=%g: error %.3g x bound at entry %lld", theta, worst, (long long)bad);
    }
    free(inv), free(tab);
}

/* Llama 3.1 scaling on the Llama 3.1 8B settings (theta 5e5, HS 128, factor 8, low 1, high 4, original
 * context 8192): short wavelengths unchanged, long ones divided by the factor exactly, the blend strictly
 * between the two, frequencies still decreasing, and each region non-empty. */
static void check_llama3(vkt_test *t) {
    double f[64], g[64];
    vkt_rope_inv_freq(f, 128, 5e5);
    memcpy(g, f, sizeof g);
    vkt_rope_scale_llama3(g, 64, 8.0, 1.0, 4.0, 8192.0);
    int n_keep = 0, n_div = 0, n_mid = 0, bad = -1;
    for (int i = 0; i < 64; i++) {
        const double wl = 2 * 3.14159265358979323846 / f[i];
        if (wl < 8192.0 / 4)
            n_keep++, bad = g[i] == f[i] ? bad : i;
        else if (wl > 8192.0)
            n_div++, bad = g[i] == f[i] / 8 ? bad : i;
        else
            n_mid++, bad = g[i] < f[i] && g[i] > f[i] / 8 ? bad : i;
        if (i > 0 && !(g[i] < g[i - 1])) bad = i;
    }
    const bool ok = bad < 0 && n_keep && n_div && n_mid;
    printf("   llama3 scaling: %d kept, %d blended, %d divided %s\n", n_keep, n_mid, n_div, ok ? "ok" : "FAIL");
    if (!ok) vkt_test_fail(t, "llama3 rope scaling wrong at frequency %d", bad);
}

/* Per-element allowed error: rotated elements get the bound above, everything else 0 (must be exact). */
static double *error_bounds(const case_t *c, const double *x, double rel16, double abs16) {
    const int64_t n = c->B * c->T * c->row_stride, half = c->rot_dim / 2;
    double *bound = calloc((size_t)n, sizeof *bound);
    for (int64_t row = 0; row < c->B * c->T; row++) {
        for (int64_t h = 0; h < c->n_heads; h++) {
            const int64_t base = row * c->row_stride + c->col0 + h * c->head_size;
            for (int64_t i = 0; i < half; i++) {
                const int64_t ia = c->interleaved ? base + 2 * i : base + i, ib = c->interleaved ? ia + 1 : ia + half;
                const double s = fabs(x[ia]) + fabs(x[ib]);
                bound[ia] = bound[ib] = (0x1p-23 + rel16) * s + abs16;
            }
        }
    }
    return bound;
}

/* Uploads x into a guarded buffer of dtype dt (rounding x to dt in place for 16-bit dtypes). */
static vkt_test_out upload_inplace(vkt_test *t, vkt_dtype dt, float *x, int64_t n) {
    if (dt == VKT_DTYPE_F32) return vkt_test_output_init(t, x, n, 1, 1, 1);
    vkt_test_out o = vkt_half_output(t, dt, n, 1);
    uint16_t *h = malloc((size_t)(n + 2 * o.guard) * sizeof *h);
    for (int64_t i = 0; i < n + 2 * o.guard; i++) h[i] = VKT_HALF_GUARD_WORD;
    for (int64_t i = 0; i < n; i++) h[o.guard + i] = vkt_half_from(dt, x[i]), x[i] = vkt_half_to(dt, h[o.guard + i]);
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &o.outer, h, vkt_tensor_bytes(&o.outer)));
    free(h);
    return o;
}

/* The reference's shape of case c over document starts seg (NULL: unpacked). */
static vkt_ref_rope_shape ref_shape(const case_t *c, const int32_t *seg) {
    return (vkt_ref_rope_shape){c->B,          c->T,    c->n_heads, c->head_size,   c->rot_dim,
                                c->row_stride, c->col0, c->pos0,    c->interleaved, seg};
}

static void check_dir(vkt_test *t, const case_t *c, ctx_t *ctx, const double *cs, const int32_t *seg, bool bwd,
                      const char *shape) {
    const int64_t n = c->B * c->T * c->row_stride;
    float *x = vkt_test_randn(t, (size_t)n, 1);
    vkt_test_out buf = upload_inplace(t, c->dt, x, n);
    ctx->x = buf.view, ctx->bwd = bwd;
    vkt_test_run(t, run, ctx);
    float *y = c->dt == VKT_DTYPE_F32 ? vkt_test_read_output(t, &buf, "x") : vkt_half_read(t, &buf, "x");
    double *ref = vkt_test_to_double(x, (size_t)n);
    const vkt_ref_rope_shape rs = ref_shape(c, seg);
    double rel16 = c->dt == VKT_DTYPE_F16 ? 0x1p-11 : c->dt == VKT_DTYPE_BF16 ? 0x1p-8 : 0;
    double *bound = error_bounds(c, ref, rel16, c->dt == VKT_DTYPE_F16 ? 0x1p-25 : 0);
    if (bwd)
        vkt_ref_rope_bwd(ref, &rs, cs);
    else
        vkt_ref_rope_fwd(ref, &rs, cs);
    double worst = 0;
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs((double)y[i] - ref[i]);
        const double ratio = bound[i] > 0 ? e / bound[i] : (y[i] == x[i] ? 0 : INFINITY);
        if (!(ratio <= worst)) worst = ratio, bad = i;
    }
    long bad_rel;
    const double rel = vkt_cmp(y, ref, (size_t)n, 1e-3 * vkt_rms(ref, (size_t)n), &bad_rel);
    const bool ok = worst <= 1.0;
    printf("   %s %-52s n=%-7lld err/bound=%.3f (max_rel=%.2e nmse=%.2e) %s\n", bwd ? "bwd" : "fwd", shape,
           (long long)n, worst, rel, vkt_nmse(y, ref, (size_t)n), ok ? "ok" : "FAIL");
    if (!ok)
        vkt_test_fail(t, "rope %s %s: error %.3g x bound at index %lld (got %.9g, want %.9g, input %.9g)",
                      bwd ? "bwd" : "fwd", shape, worst, (long long)bad, y[bad], ref[bad], x[bad]);
    free(x), free(y), free(ref), free(bound);
}

/* Reference backward against finite differences of the reference forward: loss = sum(w * rope(x)). */
typedef struct {
    const vkt_ref_rope_shape *s;
    const double *cs, *w;
    double *tmp;
    int64_t n;
} fd_ctx;

static double fd_loss(const double *x, void *p) {
    fd_ctx *f = p;
    memcpy(f->tmp, x, (size_t)f->n * sizeof *x);
    vkt_ref_rope_fwd(f->tmp, f->s, f->cs);
    double l = 0;
    for (int64_t i = 0; i < f->n; i++) l += f->w[i] * f->tmp[i];
    return l;
}

static void check_fd(vkt_test *t, const case_t *c, const double *cs, const int32_t *seg, const char *shape) {
    const int64_t n = c->B * c->T * c->row_stride;
    const vkt_ref_rope_shape rs = ref_shape(c, seg);
    float *xf = vkt_test_randn(t, (size_t)n, 1), *wf = vkt_test_randn(t, (size_t)n, 1);
    double *x = vkt_test_to_double(xf, (size_t)n), *w = vkt_test_to_double(wf, (size_t)n);
    double *g = vkt_test_to_double(wf, (size_t)n), *tmp = malloc((size_t)n * sizeof *tmp);
    vkt_ref_rope_bwd(g, &rs, cs);
    fd_ctx f = {&rs, cs, w, tmp, n};
    vkt_check_fd(t, shape, fd_loss, x, g, (size_t)n, &f, 1e-6);
    free(xf), free(wf), free(x), free(w), free(g), free(tmp);
}

static void check_case(vkt_test *t, const case_t *c) {
    if (c->dt != VKT_DTYPE_F32 && !vkt_half_supported(t)) {
        printf("   skipped %s case: no 16-bit storage\n", vkt_dtype_name(c->dt));
        return;
    }
    const int64_t P = c->pos0 + c->T, nf = c->rot_dim / 2;
    double *inv = malloc((size_t)nf * sizeof *inv);
    float *tab = malloc((size_t)(P * nf * 2) * sizeof *tab);
    vkt_rope_inv_freq(inv, c->rot_dim, c->theta);
    vkt_rope_table(tab, P, nf, inv, false);
    double *cs = vkt_test_to_double(tab, (size_t)(P * nf * 2));
    int32_t *seg = NULL;
    if (c->packed) {
        seg = malloc((size_t)(c->B * c->T) * sizeof *seg);
        vkt_test_random_seg_start(&t->rng, c->B, c->T, seg);
    }
    ctx_t ctx = {.table = vkt_test_upload(t, tab, P, nf, 2, 1),
                 .d = {c->B, c->T, c->n_heads, c->head_size, c->rot_dim == c->head_size ? 0 : c->rot_dim, c->row_stride,
                       c->col0, c->pos0, c->interleaved, NULL}};
    if (seg) ctx.seg = vkt_test_upload_i32(t, seg, c->B * c->T), ctx.d.seg_start = &ctx.seg;
    char shape[140];
    snprintf(shape, sizeof shape, "%s B=%lld T=%lld H=%lld HS=%lld rot=%lld stride=%lld col0=%lld pos0=%lld %s th=%g%s",
             vkt_dtype_name(c->dt), (long long)c->B, (long long)c->T, (long long)c->n_heads, (long long)c->head_size,
             (long long)c->rot_dim, (long long)c->row_stride, (long long)c->col0, (long long)c->pos0,
             c->interleaved ? "ileave" : "half", c->theta, seg ? " packed" : "");
    check_dir(t, c, &ctx, cs, seg, false, shape);
    check_dir(t, c, &ctx, cs, seg, true, shape);
    if (c->dt == VKT_DTYPE_F32 && c->B * c->T * c->row_stride <= 4096) check_fd(t, c, cs, seg, shape);
    free(inv), free(tab), free(cs), free(seg);
    vkt_arena_reset(t->arena);
}

/* vkt_op_rope_fwd_at (pos0 from a device buffer, for replayed KV-cache recordings): one recording that
 * restores the input and rotates it, replayed at several positions the host writes, must give exactly
 * (bit for bit) what the push-constant path gives at each position: same table entries, same arithmetic. */
typedef struct {
    vkt_tensor x0, x, table, pos;
    vkt_rope_desc d;
} dyn_ctx;

static vkt_status run_dyn(vkt_rec *r, void *c) {
    dyn_ctx *x = c;
    VKT_TRY(vkt_rec_copy(r, &x->x0, &x->x));
    return vkt_op_rope_fwd_at(r, &x->x, &x->table, &x->d, &x->pos);
}

static vkt_status run_static(vkt_rec *r, void *c) {
    dyn_ctx *x = c;
    VKT_TRY(vkt_rec_copy(r, &x->x0, &x->x));
    return vkt_op_rope_fwd(r, &x->x, &x->table, &x->d);
}

static void check_dynamic_pos(vkt_test *t) {
    const int64_t B = 2, T = 5, HS = 16, P = 64, stride = 128, n = B * T * stride;
    double inv[8];
    vkt_rope_inv_freq(inv, HS, 1e4);
    float *tab = malloc((size_t)(P * HS) * sizeof *tab), *x = vkt_test_randn(t, (size_t)n, 1);
    vkt_rope_table(tab, P, HS / 2, inv, false);
    int32_t zero = 0;
    dyn_ctx c = {.x0 = vkt_test_upload(t, x, n, 1, 1, 1),
                 .table = vkt_test_upload(t, tab, P, HS, 1, 1),
                 .pos = vkt_test_upload_i32(t, &zero, 1),
                 .d = {.B = B, .T = T, .n_heads = 6, .head_size = HS, .row_stride = stride, .seg_start = NULL}};
    vkt_test_out dyn = vkt_test_output(t, n, 1, 1, 1), stat = vkt_test_output(t, n, 1, 1, 1);
    vkt_rec *rec;
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 0, &rec));
    c.x = dyn.view;
    VKT_TEST_TRY(t, vkt_rec_begin(rec));
    VKT_TEST_TRY(t, run_dyn(rec, &c));
    VKT_TEST_TRY(t, vkt_rec_end(rec));
    const int32_t positions[] = {0, 7, (int32_t)(P - T)};
    for (int i = 0; i < 3; i++) {
        VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &c.pos, &positions[i], sizeof positions[i]));
        VKT_TEST_TRY(t, vkt_rec_submit_wait(rec));
        c.x = stat.view, c.d.pos0 = positions[i];
        vkt_test_run(t, run_static, &c);
        c.d.pos0 = 0;
        float *a = vkt_test_read_output(t, &dyn, "x (device pos0)"), *b = vkt_test_read_output(t, &stat, "x");
        const bool same = memcmp(a, b, (size_t)n * sizeof *a) == 0;
        printf("   device-side pos0=%d: replayed recording %s the push-constant path\n", positions[i],
               same ? "bit-identical to" : "DIFFERS from");
        if (!same) vkt_test_fail(t, "rope_fwd_at at pos0 %d differs from rope_fwd", positions[i]);
        free(a), free(b);
    }
    vkt_rec_destroy(rec);
    free(tab), free(x);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_rope");
    check_table(&t, 1e4, 128, 32768);
    check_table(&t, 5e5, 128, 32768);
    check_table(&t, 1e6, 64, 32768);
    check_llama3(&t);

    const vkt_dtype F32 = VKT_DTYPE_F32, F16 = VKT_DTYPE_F16, BF16 = VKT_DTYPE_BF16;
    const case_t cases[] = {
        /* B, T, heads, HS, rot, stride, col0, pos0, interleaved, theta, dtype, packed */
        {1, 1, 1, 2, 2, 2, 0, 0, false, 1e4, F32, false},            /* smallest */
        {2, 7, 3, 8, 8, 24, 0, 0, false, 1e4, F32, false},           /* q (B, T, NH, HS) */
        {2, 7, 3, 8, 8, 24, 0, 0, true, 1e4, F32, false},            /* interleaved pairs */
        {3, 5, 2, 10, 6, 20, 0, 11, true, 1e4, F32, false},          /* partial rotary, interleaved, offset */
        {1, 3, 2, 6, 4, 12, 0, 0, false, 1e4, F32, false},           /* partial rotary, rotate_half */
        {2, 13, 6, 16, 16, 128, 0, 0, false, 1e4, F32, false},       /* fused qkv, NH=4 KVH=2: q and k in one call */
        {2, 13, 2, 16, 16, 128, 64, 5, false, 5e5, F32, false},      /* fused qkv: k only (q and v untouched) */
        {1, 37, 2, 128, 128, 256, 0, 32731, false, 5e5, F32, false}, /* positions up to 32767, Llama 3 theta */
        {2, 9, 3, 64, 64, 192, 0, 4093, true, 1e6, F32, false},      /* Qwen2 theta, interleaved */
        {4, 129, 6, 24, 24, 168, 0, 0, false, 1e4, F32, false},      /* large: fused qkv split in 2 row chunks */
        {2, 7, 3, 8, 8, 24, 0, 3, false, 1e4, F16, false},
        {2, 13, 6, 16, 16, 128, 0, 0, true, 1e4, BF16, false},
        {8, 129, 6, 24, 20, 168, 0, 0, false, 1e4, BF16, false},   /* 16-bit rows split in 2 chunks, partial */
        {8, 129, 6, 24, 24, 168, 24, 100, false, 1e4, F16, false}, /* k part only, split */
        /* Packed rows: positions restart at every document (pos0 included). */
        {2, 7, 3, 8, 8, 24, 0, 0, false, 1e4, F32, true},
        {3, 5, 2, 10, 6, 20, 0, 11, true, 1e4, F32, true},     /* partial rotary, interleaved, offset */
        {2, 13, 6, 16, 16, 128, 0, 0, false, 1e4, F32, true},  /* fused qkv: q and k in one call */
        {4, 129, 6, 24, 24, 168, 0, 0, false, 1e4, F32, true}, /* 2 row chunks, cut inside documents */
        {2, 7, 3, 8, 8, 24, 0, 3, false, 1e4, F16, true},
        {8, 129, 6, 24, 20, 168, 0, 0, false, 1e4, BF16, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&t, &cases[i]);
    check_dynamic_pos(&t);
    return vkt_test_finish(&t);
}
