/* KV-cache attention: append of new k/v rows at a device-held position, then attention of the new
 * queries over the cache, against the double reference. Odd head sizes, GQA / MQA, Tq = 1 (decode) and
 * Tq > 1 (prefill), pos0 = 0 and > 0, q/k/v packed or as columns of a fused qkv row, a cache split over
 * bindings (binding limit lowered), and a replay of the same recording after the host changes pos0.
 *
 * Every cache row at or past pos0 starts as NaN: a kernel reading a row it should not see (beyond
 * pos0 + t) turns its output NaN, and rows past pos0 + Tq must still be NaN afterwards. The output is
 * NaN-poisoned and guarded. The cache rows must be bit-exact copies (the append is a copy).
 *
 * Bound for o: 1e-4, the default for f32 reductions. Each output is a convex combination of value rows
 * with weights from an f32 dot product of HS <= 128 terms (relative error ~HS * 2^-24 of |q||k|, here
 * |scores| < 4, so < 1e-5 absolute in the exponent) and exp2 accurate to ~1 ulp, merged over 32 lanes in
 * f32. Those errors scale with the values summed, not with the result: an output averaging hundreds of
 * values of either sign can be 100x smaller than the values (cancellation), so the absolute floor is set
 * from the values' own scale, atol = 1e-3 rms(v) = 1e-3 / sqrt(3) for v ~ U(-1, 1), not from rms(o). */
#include <string.h>

#include "harness.h"
#include "ops/attention_decode.h"
#include "ref/ref_attention_decode.h"

typedef struct {
    int64_t B, Tq, Tmax, NH, KVH, HS, pos0;
    int fused;
} case_t;

typedef struct {
    vkt_attention_decode_cfg cfg;
    vkt_attention_view q, k, v;
    vkt_tensor kc, vc, pos, o;
} ctx_t;

static vkt_status run(vkt_rec *r, void *c) {
    ctx_t *x = c;
    VKT_TRY(vkt_op_attention_decode_append(r, &x->cfg, &x->k, &x->v, &x->pos, &x->kc, &x->vc));
    return vkt_op_attention_decode_fwd(r, &x->cfg, &x->q, &x->kc, &x->vc, &x->pos, &x->o);
}

/* Expected cache: init with rows [pos0, pos0 + Tq) of each batch replaced by the new rows (float bits). */
static void expect_cache(const case_t *c, int64_t pos0, float *cache, const float *src, int64_t stride, int64_t col) {
    const int64_t row = c->KVH * c->HS;
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t t = 0; t < c->Tq; t++)
            memcpy(cache + (b * c->Tmax + pos0 + t) * row, src + (b * c->Tq + t) * stride + col,
                   (size_t)row * sizeof *cache);
}

/* Packs the (B*Tq rows) heads at col of a strided buffer into a double array. */
static double *gather(const float *x, int64_t rows, int64_t stride, int64_t col, int64_t n) {
    double *d = malloc((size_t)(rows * n) * sizeof *d);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i++) d[r * n + i] = x[r * stride + col + i];
    return d;
}

static void check_result(vkt_test *t, const case_t *c, int64_t pos0, const float *qh, int64_t q_stride,
                         const float *kc_expect, const float *vc_expect, const vkt_test_out *o, const vkt_test_out *kco,
                         const vkt_test_out *vco, const char *tag) {
    const int64_t nc = c->B * c->Tmax * c->KVH * c->HS, no = c->B * c->Tq * c->NH * c->HS;
    float *kc = vkt_test_read_output(t, kco, "kc"), *vc = vkt_test_read_output(t, vco, "vc");
    float *y = vkt_test_read_output(t, o, "o");
    for (int w = 0; w < 2; w++) {
        const float *got = w ? vc : kc, *want = w ? vc_expect : kc_expect;
        for (int64_t i = 0; i < nc; i++) {
            if (memcmp(&got[i], &want[i], 4) != 0) {
                vkt_test_fail(t, "%s: %s cache element %lld is %g, expected %g (seed %llu)", tag, w ? "v" : "k",
                              (long long)i, got[i], want[i], (unsigned long long)t->seed);
                break;
            }
        }
    }
    vkt_ref_attention_decode_shape s = {c->B, c->Tq, c->Tmax, c->NH, c->KVH, c->HS, 1.0 / sqrt((double)c->HS)};
    double *qd = gather(qh, c->B * c->Tq, q_stride, 0, c->NH * c->HS);
    double *kd = vkt_test_to_double(kc_expect, (size_t)nc), *vd = vkt_test_to_double(vc_expect, (size_t)nc);
    double *ref = malloc((size_t)no * sizeof *ref);
    vkt_ref_attention_decode_fwd(&s, pos0, qd, kd, vd, ref);
    char what[160];
    snprintf(what, sizeof what, "%s o B=%lld Tq=%lld Tmax=%lld NH=%lld KVH=%lld HS=%lld pos0=%lld %s", tag,
             (long long)c->B, (long long)c->Tq, (long long)c->Tmax, (long long)c->NH, (long long)c->KVH,
             (long long)c->HS, (long long)pos0, c->fused ? "fused" : "packed");
    vkt_check_atol(t, what, y, ref, (size_t)no, 1e-3 / sqrt(3.0), 1e-4);
    free(kc), free(vc), free(y), free(qd), free(kd), free(vd), free(ref);
}

static void run_case(vkt_test *t, const case_t *c) {
    const int64_t NH = c->NH, KVH = c->KVH, HS = c->HS, rows = c->B * c->Tq, row = KVH * HS;
    const int64_t nc = c->B * c->Tmax * row, QKV = (NH + 2 * KVH) * HS;
    ctx_t x = {.cfg = {c->B, c->Tq, c->Tmax, NH, KVH, HS, 0}};
    float *qh, *kh, *vh;
    int64_t qs, ks, vs, kcol, vcol;
    if (c->fused) {
        float *qkv = vkt_test_rand(t, (size_t)(rows * QKV), -1, 1);
        vkt_tensor f = vkt_test_upload(t, qkv, rows, QKV, 1, 1);
        x.q = (vkt_attention_view){f, QKV, 0};
        x.k = (vkt_attention_view){f, QKV, NH * HS};
        x.v = (vkt_attention_view){f, QKV, (NH + KVH) * HS};
        qh = kh = vh = qkv, qs = ks = vs = QKV, kcol = NH * HS, vcol = (NH + KVH) * HS;
    } else {
        qh = vkt_test_rand(t, (size_t)(rows * NH * HS), -1, 1);
        kh = vkt_test_rand(t, (size_t)(rows * row), -1, 1);
        vh = vkt_test_rand(t, (size_t)(rows * row), -1, 1);
        x.q = (vkt_attention_view){vkt_test_upload(t, qh, rows, NH * HS, 1, 1), NH * HS, 0};
        x.k = (vkt_attention_view){vkt_test_upload(t, kh, rows, row, 1, 1), row, 0};
        x.v = (vkt_attention_view){vkt_test_upload(t, vh, rows, row, 1, 1), row, 0};
        qs = NH * HS, ks = vs = row, kcol = vcol = 0;
    }
    /* History rows random, rows from pos0 on NaN. */
    float *kinit = vkt_test_rand(t, (size_t)nc, -1, 1), *vinit = vkt_test_rand(t, (size_t)nc, -1, 1);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t j = c->pos0; j < c->Tmax; j++)
            for (int64_t e = 0; e < row; e++)
                kinit[(b * c->Tmax + j) * row + e] = vinit[(b * c->Tmax + j) * row + e] = NAN;
    vkt_test_out kco = vkt_test_output_init(t, kinit, c->B, c->Tmax, KVH, HS);
    vkt_test_out vco = vkt_test_output_init(t, vinit, c->B, c->Tmax, KVH, HS);
    vkt_test_out o = vkt_test_output(t, c->B, c->Tq, NH, HS);
    int32_t pos0 = (int32_t)c->pos0;
    x.pos = vkt_test_upload_i32(t, &pos0, 1);
    x.kc = kco.view, x.vc = vco.view, x.o = o.view;
    vkt_test_run(t, run, &x);
    float *kexp = malloc((size_t)nc * 4), *vexp = malloc((size_t)nc * 4);
    memcpy(kexp, kinit, (size_t)nc * 4), memcpy(vexp, vinit, (size_t)nc * 4);
    expect_cache(c, c->pos0, kexp, kh, ks, kcol), expect_cache(c, c->pos0, vexp, vh, vs, vcol);
    check_result(t, c, c->pos0, qh, qs, kexp, vexp, &o, &kco, &vco, "first");

    /* Replay the same recording at another position written by the host (what sampling does per token):
     * the new rows land at pos1 and the queries see rows [0, pos1 + t]. */
    const int64_t p1 = c->pos0 > 0 ? c->pos0 / 2 : (c->Tq < c->Tmax - c->Tq ? c->Tq : c->Tmax - c->Tq);
    const int32_t pos1 = (int32_t)p1; /* every row below pos1 + Tq is history or written by a run */
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &x.pos, &pos1, sizeof pos1));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
    expect_cache(c, pos1, kexp, kh, ks, kcol), expect_cache(c, pos1, vexp, vh, vs, vcol);
    check_result(t, c, pos1, qh, qs, kexp, vexp, &o, &kco, &vco, "replay");
    if (qh != kh) free(kh), free(vh);
    free(qh), free(kinit), free(vinit), free(kexp), free(vexp);
}

int main(void) {
    vkt_test t;
    /* 2 MiB per binding: the last case's caches (1.2 MB per sequence) are split by sequence. */
    setenv("VKT_MAX_BINDING_BYTES", "2097152", 1);
    vkt_test_init(&t, "op_attention_decode");
    const case_t cases[] = {
        {1, 1, 1, 1, 1, 1, 0, 0},        /* one key */
        {1, 1, 17, 4, 2, 8, 16, 1},      /* last slot of the cache, fused, GQA */
        {2, 1, 37, 6, 2, 13, 20, 0},     /* odd head size, two sequences */
        {1, 5, 29, 3, 3, 7, 11, 1},      /* prefill after a history */
        {3, 7, 40, 4, 1, 16, 0, 1},      /* prefill from 0, MQA */
        {1, 1, 700, 8, 4, 64, 555, 1},   /* long cache: many keys per lane */
        {2, 16, 300, 8, 8, 128, 201, 0}, /* largest head size */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&t, &cases[i]);
    return vkt_test_finish(&t);
}
