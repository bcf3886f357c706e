/* Fused attention: reference backward vs finite differences, then GPU forward (o, lse) and backward
 * (dq, dk, dv, D) vs the double reference for every variant that runs here, causal and bidirectional,
 * multi-head and grouped-query, packed and fused-qkv layouts, odd T (not a multiple of any workgroup or
 * tile size), HS from 8 to 128, sharp softmaxes (exercising the online-max rescale), and a second device
 * with a tiny binding limit so the batch is split over several dispatches.
 * Document packing ("packed" cases): random document-start tables (odd lengths, length-1 documents, one
 * unpacked row among packed ones; vkt_test_random_seg_start) against the reference's same-document mask,
 * in every variant and dtype, with finite differences of the reference, over T long enough that tiles
 * start inside documents and whole key blocks are skipped; and an all-zero table must give the same bits
 * as no table.
 *
 * Bounds (f32 storage and arithmetic): per element |y - r| <= 1e-4 (|r| + 0.25 rms(r)), and NMSE <= 1e-10.
 * Every output is a sum of n signed terms (n = visible keys, query rows or HS): P-weighted averages of
 * values for o and dv, dS-weighted sums for dq and dk, do.o for D. Rounding error grows with the terms'
 * magnitudes (~ eps * sqrt(n) * |terms|) while the outputs shrink like |terms| / sqrt(n) through sign
 * cancellation, so the error relative to rms(r) is ~ eps * n: measured 5e-7 (T = 17) to 1.3e-5 (T = 100,
 * HS = 128, sharp softmaxes) of rms(r). The standard absolute floor (1e-3 rms) would turn that into a
 * 1e-2 bound on near-zero elements; a 0.25 rms floor keeps 1e-4 meaningful with ~2x margin at T <= 131
 * (it is the same device as matmul's sqrt(K) scaling, for sums whose terms do not share one sign).
 * The NMSE bound (measured <= 1e-12) catches any systematic error: a mask off by one key, a wrong
 * scale or a lost rescale gives NMSE >= 1e-6 at these T. */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/attention.h"
#include "ref/ref_attention.h"

#define ATOL_RMS 0.25
#define NMSE_BOUND 1e-10

typedef struct {
    int64_t B, T, NH, KVH, HS;
    bool causal, fused;
    float q_gain;  /* > 1: sharper softmax */
    float scale;   /* 0: default 1/sqrt(HS) */
} shape_t;

typedef struct {
    vkt_attention_cfg cfg;
    vkt_attention_view qkv[3], dqkv[3];
    vkt_tensor o, lse, dout, delta, seg;
} ctx_t;

static vkt_status run_fwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_attention_fwd(r, &x->cfg, x->qkv, &x->o, &x->lse);
}

static vkt_status run_bwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_attention_bwd(r, &x->cfg, &x->dout, x->qkv, &x->o, &x->lse, x->dqkv, &x->delta);
}

/* Finite-difference loss: sum(o * dout) of the reference forward over the packed [q | k | v] array. */
typedef struct {
    vkt_ref_attention_shape s;
    double *all, *dout, *o, *lse;
    size_t nq, nkv, no;
} fd_ctx;

static double fd_loss(const double *x, void *c) {
    fd_ctx *f = c;
    (void)x; /* x points into f->all */
    vkt_ref_attention_fwd(&f->s, f->all, f->all + f->nq, f->all + f->nq + f->nkv, f->o, f->lse);
    double loss = 0;
    for (size_t i = 0; i < f->no; i++) loss += f->o[i] * f->dout[i];
    return loss;
}

/* Reports max |y - r| / rms(r) too: the figure the bound's absolute floor is about. */
static double nmse_bound = NMSE_BOUND;
/* Tensors of the storage dtype under test (f32 or 16-bit; 16-bit ones are 2-D, only numel matters). */
static vkt_dtype dtype = VKT_DTYPE_F32;

static void check(vkt_test *t, const char *what, const float *y, const double *r, size_t n, double bound) {
    double rms = vkt_rms(r, n), worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(y[i] - r[i]));
    printf("   %-56s max_abs/rms=%.2e\n", what, rms > 0 ? worst / rms : worst);
    vkt_check_atol(t, what, y, r, n, ATOL_RMS * rms, bound);
    double nmse = vkt_nmse(y, r, n);
    if (!(nmse <= nmse_bound)) vkt_test_fail(t, "%s: NMSE %.3e > %.1e", what, nmse, nmse_bound);
}

/* How a case packs its rows. */
enum { UNPACKED = 0, PACKED = 1, EDGES = 2 };

/* The document-start table of a case, or NULL when UNPACKED. Caller frees.
 * PACKED: random (vkt_test_random_seg_start). EDGES: documents [0, 63), [63, 127), [127, T) in every row,
 * aimed at the kernels' block bounds (64-row tiles; key/query blocks of 16 or 64 from a tile's first
 * document start): for tile 1 (rows 64..127) blocks start at 63 and one starts at 127, the tile's last
 * row and a document start, so an off-by-one in a block skip drops pairs that count. */
static int32_t *random_seg(vkt_test *t, const shape_t *s, int packed) {
    if (packed == UNPACKED) return NULL;
    int32_t *seg = malloc((size_t)(s->B * s->T) * sizeof *seg);
    if (packed == PACKED) vkt_test_random_seg_start(&t->rng, s->B, s->T, seg);
    for (int64_t i = 0; packed == EDGES && i < s->B * s->T; i++) {
        int64_t t0 = i % s->T;
        seg[i] = t0 < 63 ? 0 : t0 < 127 ? 63 : 127;
    }
    return seg;
}

static void label(char *buf, size_t n, const char *what, const shape_t *s, const char *variant) {
    snprintf(buf, n, "%s%s B%lld T%lld NH%lld KVH%lld HS%lld %s%s %s", what,
             dtype == VKT_DTYPE_F32 ? "" : dtype == VKT_DTYPE_F16 ? " f16" : " bf16", (long long)s->B, (long long)s->T,
             (long long)s->NH, (long long)s->KVH, (long long)s->HS, s->causal ? "causal" : "bidir",
             s->fused ? " fused" : "", variant);
}

static vkt_ref_attention_shape ref_shape(const shape_t *s, const int32_t *seg) {
    return (vkt_ref_attention_shape){s->B, s->T, s->NH, s->KVH, s->HS,
                                     s->scale != 0 ? s->scale : 1.0 / sqrt((double)s->HS), s->causal, seg};
}

static void check_fd(vkt_test *t, const shape_t *s, int packed) {
    int32_t *seg = random_seg(t, s, packed);
    fd_ctx f = {.s = ref_shape(s, seg)};
    f.nq = (size_t)(s->B * s->T * s->NH * s->HS), f.nkv = (size_t)(s->B * s->T * s->KVH * s->HS), f.no = f.nq;
    float *x = vkt_test_randn(t, f.nq + 2 * f.nkv, 1), *dout = vkt_test_randn(t, f.no, 1);
    for (size_t i = 0; i < f.nq; i++) x[i] *= s->q_gain;
    f.all = vkt_test_to_double(x, f.nq + 2 * f.nkv), f.dout = vkt_test_to_double(dout, f.no);
    f.o = malloc(f.no * sizeof *f.o), f.lse = malloc((size_t)(s->B * s->NH * s->T) * sizeof *f.lse);
    double *g = malloc((f.nq + 2 * f.nkv) * sizeof *g);
    vkt_ref_attention_bwd(&f.s, f.dout, f.all, f.all + f.nq, f.all + f.nq + f.nkv, g, g + f.nq, g + f.nq + f.nkv);
    const char *names[3] = {"ref dq", "ref dk", "ref dv"};
    size_t off[3] = {0, f.nq, f.nq + f.nkv}, len[3] = {f.nq, f.nkv, f.nkv};
    for (int i = 0; i < 3; i++) {
        char what[128];
        label(what, sizeof what, names[i], s, packed ? "packed" : "");
        /* Central differences in double (h = 1e-5 max(1, |x|)): truncation h^2 |f'''| / 6 ~ 1e-11, but the
         * loss sums no = 2176 products o * dout (|.| ~ 0.4) whose rounding (eps = 1.1e-16 each, random
         * signs, re-drawn when x moves) leaves ~ sqrt(no) eps 0.4 / h ~ 2e-10 absolute in the difference
         * quotient, ~ 1e-9 at 4-5 sigma over the 64 x 9 samples (measured 1.4e-9, seed 6). vkt_check_d
         * divides by |g| + 1e-3 rms(g), rms(g) ~ 0.1-1: 1e-6 to 1e-5 relative where g ~ 0, and the
         * worst case (all roundings aligned, eps sum|o dout| / h ~ 1e-8) is ~ 1e-4. Packed rows measured
         * 8e-6 the same way (seeds 1-8). Bound 3e-5 for both: well above the typical tail, far below
         * the O(1) error of a wrong mask or scale. */
        vkt_check_fd(t, what, fd_loss, f.all + off[i], g + off[i], len[i], &f, 3e-5);
    }
    free(x), free(dout), free(f.all), free(f.dout), free(f.o), free(f.lse), free(g), free(seg);
}


static vkt_tensor up(vkt_test *t, float *x, int64_t rows, int64_t cols) {
    return dtype == VKT_DTYPE_F32 ? vkt_test_upload(t, x, rows, cols, 1, 1) : vkt_half_upload(t, dtype, x, rows, cols);
}
static vkt_test_out out(vkt_test *t, int64_t rows, int64_t cols) {
    return dtype == VKT_DTYPE_F32 ? vkt_test_output(t, rows, cols, 1, 1) : vkt_half_output(t, dtype, rows, cols);
}
static float *rd(vkt_test *t, const vkt_test_out *o, const char *what) {
    return dtype == VKT_DTYPE_F32 ? vkt_test_read_output(t, o, what) : vkt_half_read(t, o, what);
}
/* Rounds host values to the storage dtype, so the reference sees exactly what the GPU reads. */
static void round_to_dtype(float *x, size_t n) {
    if (dtype != VKT_DTYPE_F32)
        for (size_t i = 0; i < n; i++) x[i] = vkt_half_to(dtype, vkt_half_from(dtype, x[i]));
}

/* An operand's host values in packed layout, scattered into the fused layout when s->fused. */
static void check_gpu(vkt_test *t, const shape_t *s, vkt_attention_variant variant, double bound,
                      double bwd_bound, int packed) {
    int32_t *seg = random_seg(t, s, packed);
    vkt_ref_attention_shape rs = ref_shape(s, seg);
    int64_t B = s->B, T = s->T, NH = s->NH, KVH = s->KVH, HS = s->HS;
    size_t nq = (size_t)(B * T * NH * HS), nkv = (size_t)(B * T * KVH * HS), nl = (size_t)(B * NH * T);
    float *q = vkt_test_randn(t, nq, s->q_gain), *k = vkt_test_randn(t, nkv, 1);
    float *v = vkt_test_randn(t, nkv, 1), *dout = vkt_test_randn(t, nq, 1);
    round_to_dtype(q, nq), round_to_dtype(k, nkv), round_to_dtype(v, nkv), round_to_dtype(dout, nq);
    ctx_t c = {.cfg = {B, T, NH, KVH, HS, s->scale, s->causal, variant, NULL}};
    if (seg) c.seg = vkt_test_upload_i32(t, seg, B * T), c.cfg.seg_start = &c.seg;
    vkt_test_out o = out(t, B * T, NH * HS), lse = vkt_test_output(t, B, NH, T, 1);
    vkt_test_out delta = vkt_test_output(t, B, NH, T, 1), dq, dk, dv, dqkv;
    c.o = o.view, c.lse = lse.view, c.delta = delta.view;
    c.dout = up(t, dout, B * T, NH * HS);
    int64_t row = (NH + 2 * KVH) * HS;
    float *fused = NULL;
    if (s->fused) {
        fused = malloc((size_t)(B * T * row) * sizeof *fused);
        for (int64_t r = 0; r < B * T; r++) {
            memcpy(fused + r * row, q + r * NH * HS, (size_t)(NH * HS) * 4);
            memcpy(fused + r * row + NH * HS, k + r * KVH * HS, (size_t)(KVH * HS) * 4);
            memcpy(fused + r * row + (NH + KVH) * HS, v + r * KVH * HS, (size_t)(KVH * HS) * 4);
        }
        vkt_tensor qkv = up(t, fused, B * T, row);
        vkt_attention_views_fused(&c.cfg, &qkv, c.qkv);
        dqkv = out(t, B * T, row);
        vkt_attention_views_fused(&c.cfg, &dqkv.view, c.dqkv);
    } else {
        vkt_tensor tq = up(t, q, B * T, NH * HS), tk = up(t, k, B * T, KVH * HS), tv = up(t, v, B * T, KVH * HS);
        vkt_attention_views_packed(&c.cfg, &tq, &tk, &tv, c.qkv);
        dq = out(t, B * T, NH * HS), dk = out(t, B * T, KVH * HS), dv = out(t, B * T, KVH * HS);
        vkt_attention_views_packed(&c.cfg, &dq.view, &dk.view, &dv.view, c.dqkv);
    }
    vkt_test_run(t, run_fwd, &c);
    vkt_test_run(t, run_bwd, &c);

    double *qd = vkt_test_to_double(q, nq), *kd = vkt_test_to_double(k, nkv), *vd = vkt_test_to_double(v, nkv);
    double *dd = vkt_test_to_double(dout, nq), *ro = malloc(nq * sizeof *ro), *rl = malloc(nl * sizeof *rl);
    double *rdq = malloc(nq * sizeof *rdq), *rdk = malloc(nkv * sizeof *rdk), *rdv = malloc(nkv * sizeof *rdv);
    double *rD = calloc(nl, sizeof *rD);
    float *go = rd(t, &o, "o"), *gl = vkt_test_read_output(t, &lse, "lse");
    float *gD = vkt_test_read_output(t, &delta, "delta");
    vkt_ref_attention_fwd(&rs, qd, kd, vd, ro, rl);
    /* D = do . o from o as the kernel stored it (16-bit storage rounds it; f32 matches ro to rounding):
     * the backward reference below takes the same D (see the 16-bit bounds in main). */
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t h = 0; h < NH; h++)
                for (int64_t d = 0; d < HS; d++) {
                    size_t e = (size_t)(((b * T + i) * NH + h) * HS + d);
                    rD[(b * NH + h) * T + i] += dd[e] * (dtype == VKT_DTYPE_F32 ? ro[e] : (double)go[e]);
                }
    vkt_ref_attention_bwd_delta(&rs, dd, qd, kd, vd, dtype == VKT_DTYPE_F32 ? NULL : rD, rdq, rdk, rdv);

    char vn[32], what[160];
    snprintf(vn, sizeof vn, "%s%s", vkt_attention_variant_name(variant),
             packed == EDGES ? " edges" : packed ? " packed" : "");
    label(what, sizeof what, "fwd o", s, vn), check(t, what, go, ro, nq, bound);
    label(what, sizeof what, "fwd lse", s, vn), check(t, what, gl, rl, nl, bound);
    label(what, sizeof what, "bwd D", s, vn), check(t, what, gD, rD, nl, bwd_bound);
    float *gq = NULL, *gk = NULL, *gv = NULL, *again[3] = {NULL, NULL, NULL};
    for (int rep = 0; rep < 2; rep++) {
        float **dst = rep == 0 ? (float *[3]){NULL, NULL, NULL} : again;
        float *rq, *rk, *rv;
        if (s->fused) {
            float *all = rd(t, &dqkv, "dqkv");
            rq = malloc(nq * 4), rk = malloc(nkv * 4), rv = malloc(nkv * 4);
            for (int64_t r = 0; r < B * T; r++) {
                memcpy(rq + r * NH * HS, all + r * row, (size_t)(NH * HS) * 4);
                memcpy(rk + r * KVH * HS, all + r * row + NH * HS, (size_t)(KVH * HS) * 4);
                memcpy(rv + r * KVH * HS, all + r * row + (NH + KVH) * HS, (size_t)(KVH * HS) * 4);
            }
            free(all);
        } else {
            rq = rd(t, &dq, "dq"), rk = rd(t, &dk, "dk"), rv = rd(t, &dv, "dv");
        }
        if (rep == 0) {
            gq = rq, gk = rk, gv = rv;
            vkt_test_run(t, run_bwd, &c); /* replay: results must be bitwise identical (no atomics) */
        } else {
            dst[0] = rq, dst[1] = rk, dst[2] = rv;
        }
    }
    if (memcmp(gq, again[0], nq * 4) || memcmp(gk, again[1], nkv * 4) || memcmp(gv, again[2], nkv * 4)) {
        label(what, sizeof what, "bwd replay", s, vn);
        vkt_test_fail(t, "%s: a second backward gave different bits", what);
    }
    free(again[0]), free(again[1]), free(again[2]);
    label(what, sizeof what, "bwd dq", s, vn), check(t, what, gq, rdq, nq, bwd_bound);
    label(what, sizeof what, "bwd dk", s, vn), check(t, what, gk, rdk, nkv, bwd_bound);
    label(what, sizeof what, "bwd dv", s, vn), check(t, what, gv, rdv, nkv, bwd_bound);

    free(q), free(k), free(v), free(dout), free(fused), free(qd), free(kd), free(vd), free(dd);
    free(ro), free(rl), free(rdq), free(rdk), free(rdv), free(rD), free(go), free(gl), free(gD);
    free(gq), free(gk), free(gv), free(seg);
    vkt_arena_reset(t->arena);
}

/* Outputs of one forward and backward with cfg.seg_start = seg (NULL: no table), in host order
 * o | lse | dq | dk | dv. Caller frees. */
static float *run_all(vkt_test *t, const shape_t *s, vkt_attention_variant variant, const float *const in[4],
                      const vkt_tensor *seg, size_t *n_out) {
    int64_t B = s->B, T = s->T, NH = s->NH, KVH = s->KVH, HS = s->HS;
    size_t nq = (size_t)(B * T * NH * HS), nkv = (size_t)(B * T * KVH * HS), nl = (size_t)(B * NH * T);
    ctx_t c = {.cfg = {B, T, NH, KVH, HS, s->scale, s->causal, variant, seg}};
    vkt_tensor tq = vkt_test_upload(t, in[0], B * T, NH * HS, 1, 1);
    vkt_tensor tk = vkt_test_upload(t, in[1], B * T, KVH * HS, 1, 1);
    vkt_tensor tv = vkt_test_upload(t, in[2], B * T, KVH * HS, 1, 1);
    c.dout = vkt_test_upload(t, in[3], B * T, NH * HS, 1, 1);
    vkt_test_out o = vkt_test_output(t, B * T, NH * HS, 1, 1), lse = vkt_test_output(t, B, NH, T, 1);
    vkt_test_out delta = vkt_test_output(t, B, NH, T, 1), dq = vkt_test_output(t, B * T, NH * HS, 1, 1);
    vkt_test_out dk = vkt_test_output(t, B * T, KVH * HS, 1, 1), dv = vkt_test_output(t, B * T, KVH * HS, 1, 1);
    c.o = o.view, c.lse = lse.view, c.delta = delta.view;
    vkt_attention_views_packed(&c.cfg, &tq, &tk, &tv, c.qkv);
    vkt_attention_views_packed(&c.cfg, &dq.view, &dk.view, &dv.view, c.dqkv);
    vkt_test_run(t, run_fwd, &c);
    vkt_test_run(t, run_bwd, &c);
    const vkt_test_out *outs[5] = {&o, &lse, &dq, &dk, &dv};
    const size_t lens[5] = {nq, nl, nq, nkv, nkv};
    *n_out = 2 * nq + nl + 2 * nkv;
    float *all = malloc(*n_out * sizeof *all), *at = all;
    for (int i = 0; i < 5; i++) {
        float *y = vkt_test_read_output(t, outs[i], "attention output");
        memcpy(at, y, lens[i] * sizeof *y), at += lens[i];
        free(y);
    }
    return all;
}

/* An all-zero document-start table must give exactly (bit for bit) what no table gives. */
static void check_zero_table(vkt_test *t, const shape_t *s, vkt_attention_variant variant) {
    size_t nq = (size_t)(s->B * s->T * s->NH * s->HS), nkv = (size_t)(s->B * s->T * s->KVH * s->HS), n0, n1;
    float *in[4] = {vkt_test_randn(t, nq, s->q_gain), vkt_test_randn(t, nkv, 1), vkt_test_randn(t, nkv, 1),
                    vkt_test_randn(t, nq, 1)};
    int32_t *zeros = calloc((size_t)(s->B * s->T), sizeof *zeros);
    vkt_tensor seg = vkt_test_upload_i32(t, zeros, s->B * s->T);
    float *plain = run_all(t, s, variant, (const float *const *)in, NULL, &n0);
    float *tabled = run_all(t, s, variant, (const float *const *)in, &seg, &n1);
    char what[160];
    label(what, sizeof what, "zero table == no table", s, vkt_attention_variant_name(variant));
    bool same = n0 == n1 && memcmp(plain, tabled, n0 * sizeof *plain) == 0;
    printf("   %-56s %s\n", what, same ? "bit-identical" : "DIFFERENT");
    if (!same) vkt_test_fail(t, "%s: outputs differ", what);
    for (int i = 0; i < 4; i++) free(in[i]);
    free(zeros), free(plain), free(tabled);
    vkt_arena_reset(t->arena);
}

static const vkt_attention_variant variants[] = {VKT_ATTENTION_ROW, VKT_ATTENTION_TILED};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

int main(void) {
    const double bound = 1e-4;
    vkt_test t;
    vkt_test_init(&t, "op_attention");
    const shape_t fd_shapes[] = {
        {2, 17, 4, 2, 16, true, false, 1, 0},
        {2, 17, 4, 2, 16, false, false, 1, 0},
        {1, 9, 2, 1, 8, true, false, 3, 0.7f},
    };
    for (size_t i = 0; i < sizeof fd_shapes / sizeof fd_shapes[0]; i++) check_fd(&t, &fd_shapes[i], UNPACKED);
    for (size_t i = 0; i < sizeof fd_shapes / sizeof fd_shapes[0]; i++) check_fd(&t, &fd_shapes[i], PACKED);
    const shape_t shapes[] = {
        {1, 1, 1, 1, 8, true, false, 1, 0},     {1, 1, 1, 1, 8, false, true, 1, 0},
        {2, 17, 4, 2, 16, true, false, 1, 0},   {2, 17, 4, 2, 16, false, true, 1, 0},
        {1, 65, 3, 1, 32, true, true, 1, 0},    {1, 65, 3, 1, 32, false, false, 4, 0},
        {2, 100, 4, 4, 64, true, false, 1, 0},  {2, 100, 4, 4, 64, false, true, 1, 0.05f},
        {1, 37, 2, 1, 128, true, true, 3, 0},   {1, 37, 2, 2, 128, false, false, 1, 0},
        {3, 23, 6, 3, 16, true, false, 5, 0},   {1, 131, 2, 1, 32, true, false, 1, 0},
        /* HS not a multiple of 4: the element-wise (generic) kernels. (Few distinct HS values overall:
         * each is a pipeline to compile, ~10 s of CPU for the unrolled row kernels on lavapipe.) */
        {2, 19, 2, 1, 13, true, false, 2, 0},   {1, 7, 3, 3, 13, false, true, 1, 0},
        /* HS a multiple of 4 but not of 8: the row kernels' vec4 path, with a half-empty last word. */
        {2, 70, 4, 2, 20, true, true, 1, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t j = 0; j < N_VARIANTS; j++) check_gpu(&t, &shapes[i], variants[j], bound, bound, UNPACKED);

    /* Packed rows: T of several tiles (row variant: 64 rows, tiled: 64) so that tiles start inside
     * documents and key blocks are skipped at both ends; GQA, fused layouts and the generic HS 13 path. */
    const shape_t packed[] = {
        {2, 17, 4, 2, 16, true, false, 1, 0},  {2, 17, 4, 2, 16, false, true, 1, 0},
        {3, 131, 2, 1, 32, true, true, 2, 0},  {3, 131, 2, 1, 32, false, false, 1, 0},
        {2, 100, 4, 4, 64, true, false, 1, 0}, {2, 100, 4, 2, 64, false, true, 3, 0},
        {2, 19, 2, 1, 13, true, false, 2, 0},  {2, 7, 3, 3, 13, false, true, 1, 0},
    };
    for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++)
        for (size_t j = 0; j < N_VARIANTS; j++) check_gpu(&t, &packed[i], variants[j], bound, bound, PACKED);
    const shape_t edges[] = {{2, 150, 2, 1, 16, true, false, 1, 0}, {2, 150, 2, 1, 16, false, true, 1, 0}};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < N_VARIANTS; j++) check_gpu(&t, &edges[i], variants[j], bound, bound, EDGES);
    const shape_t zero_table[] = {{2, 70, 2, 1, 16, true, false, 1, 0}, {2, 70, 2, 1, 16, false, false, 1, 0}};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < N_VARIANTS; j++) check_zero_table(&t, &zero_table[i], variants[j]);

    /* 16-bit storage (arithmetic stays f32): inputs are rounded before the reference sees them, so the
     * forward's error is the outputs' own rounding (2^-9 relative for bf16, 2^-12 for f16): bound 1e-2
     * (STYLE.md 16-bit default) with the same absolute floor.
     * The backward computes D = do . o from o as stored (rounded); dS = P (dP - D) magnifies that
     * rounding wherever dP ~ D, by an amount that depends on the draw (seeds 1-10 measured up to 7e-2
     * for bf16 dq against the exact D). The reference is therefore given the same D, computed in double
     * from the o the kernel stored (vkt_ref_attention_bwd_delta), and what remains per element is
     *   the store's rounding of dq, dk, dv:  <= u |r|       (u = 2^-11 for f16, 2^-8 = 3.9e-3 for bf16)
     *   f32 arithmetic, as in the f32 cases: <= 1e-4 of the bound's denominator (measured <= 1.3e-5)
     *   f16 subnormals below 2^-14:          <= 2^-25 absolute, < 1.2e-4 of the 0.25 rms floor here
     * so bounds 1e-3 for f16 (sum 7.3e-4) and 1e-2 for bf16 (sum 4.1e-3), packed rows or not. NMSE of a
     * store rounding is <= u^2 / 3 (8e-8 for f16, 5e-6 for bf16): bounds 1e-6 and 1e-4, which a wrong
     * mask or D (NMSE >= 1e-2) exceeds by far. */
    const shape_t half[2][2] = {{{2, 17, 4, 2, 16, true, false, 1, 0}, {1, 7, 3, 3, 13, false, true, 2, 0}},
                                {{2, 17, 4, 2, 16, false, true, 1, 0}, {2, 19, 2, 1, 13, true, false, 1, 0}}};
    const vkt_dtype half_types[2] = {VKT_DTYPE_F16, VKT_DTYPE_BF16};
    if (!vkt_half_supported(&t)) printf("   skipped 16-bit storage cases: no storageBuffer16BitAccess\n");
    for (int d = 0; d < 2 && vkt_half_supported(&t); d++) {
        dtype = half_types[d];
        for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < N_VARIANTS; j++)
                for (int p = 0; p < 2; p++) {
                    nmse_bound = d == 0 ? 1e-6 : 1e-4;
                    check_gpu(&t, &half[d][i], variants[j], 1e-2, d == 0 ? 1e-3 : 1e-2, p);
                }
    }
    dtype = VKT_DTYPE_F32, nmse_bound = NMSE_BOUND;
    int rc = vkt_test_finish(&t);

    /* A 16 KiB binding limit: one sequence per dispatch (chunk offsets not aligned to the device's
     * storage-buffer alignment in general, exercising the aligned-down bindings). */
    setenv("VKT_MAX_BINDING_BYTES", "16384", 1);
    vkt_test_init(&t, "op_attention (split batches)");
    const shape_t split[] = {{5, 33, 2, 1, 16, true, true, 1, 0}, {4, 13, 3, 3, 8, false, false, 2, 0}};
    for (size_t i = 0; i < sizeof split / sizeof split[0]; i++)
        for (size_t j = 0; j < N_VARIANTS; j++)
            for (int p = 0; p < 2; p++) check_gpu(&t, &split[i], variants[j], bound, bound, p);
    return vkt_test_finish(&t) | rc;
}
