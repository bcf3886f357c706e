/* Bench cases for fused attention (compute-bound at training T): forward and backward, causal, at
 * GPT-2 small's shape (B=4, NH=12, T=1024, HS=64) with the device's default variant (env
 * VKT_ATTENTION_VARIANT=row|tiled picks another), and both variants at a small shape with --quick.
 *
 * Work is counted as the algorithm's matmuls over the visible (i, j) pairs, T (T + 1) / 2 per head:
 * forward 4 HS flops per pair (q.k and P v), backward 10 HS (q.k recomputed, do.v, P^T do, dS k,
 * dS^T q), the usual FlashAttention convention. The kernels do more than that (the backward recomputes
 * q.k and do.v in both passes: 14 HS per pair) and the exponentials are not counted.
 * Validation compares two (batch, head) slices, the first and the last, with the double reference (the
 * whole reference would take minutes on a CPU), with the bound of tests/test_op_attention.c.
 * Every case binds a document-start table as training does (the model always binds one): docs=1 is the
 * all-zero table of unpacked batches, docs=8 rows packed with 8 equal documents (SFT packing), where the
 * kernels skip the key blocks of other documents; the work counted is then the pairs inside documents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_groups.h"
#include "core/log.h"
#include "ops/attention.h"
#include "ops/seg_start.h"
#include "ref/ref_attention.h"

typedef struct {
    vkt_attention_cfg cfg;     /* cfg.seg_start points at seg */
    bool bwd;
    int docs;                  /* equal documents per row (1: unpacked) */
    vkt_tensor q, k, v, o, lse, dout, dq, dk, dv, delta, seg;
    float *hq, *hk, *hv, *hdo;  /* owned: host inputs (B, T, NH, HS) */
    int32_t *hseg;              /* owned: (B, T) document starts */
} att_ctx;

static vkt_status record_fwd(vkt_rec *r, void *c) {
    att_ctx *x = c;
    vkt_attention_view qkv[3];
    vkt_attention_views_packed(&x->cfg, &x->q, &x->k, &x->v, qkv);
    return vkt_op_attention_fwd(r, &x->cfg, qkv, &x->o, &x->lse);
}

static vkt_status record_bwd(vkt_rec *r, void *c) {
    att_ctx *x = c;
    vkt_attention_view qkv[3], dqkv[3];
    vkt_attention_views_packed(&x->cfg, &x->q, &x->k, &x->v, qkv);
    vkt_attention_views_packed(&x->cfg, &x->dq, &x->dk, &x->dv, dqkv);
    return vkt_op_attention_bwd(r, &x->cfg, &x->dout, qkv, &x->o, &x->lse, dqkv, &x->delta);
}

static vkt_status setup(vkt_bench *b, void *c) {
    att_ctx *x = c;
    const vkt_attention_cfg *g = &x->cfg;
    size_t n = (size_t)(g->B * g->T * g->NH * g->HS);
    x->hq = vkt_bench_rand(b, n, -2, 2), x->hk = vkt_bench_rand(b, n, -2, 2);
    x->hv = vkt_bench_rand(b, n, -1, 1), x->hdo = vkt_bench_rand(b, n, -1, 1);
    x->hseg = malloc((size_t)(g->B * g->T) * sizeof *x->hseg);
    if (!x->hq || !x->hk || !x->hv || !x->hdo || !x->hseg) return VKT_ERR_OOM;
    int64_t len[64];
    VKT_ASSERT(x->docs >= 1 && x->docs <= 64);
    for (int d = 0; d < x->docs; d++) len[d] = g->T / x->docs + (d < g->T % x->docs ? 1 : 0);
    for (int64_t bb = 0; bb < g->B; bb++) VKT_TRY(vkt_seg_start_from_lengths(x->hseg + bb * g->T, g->T, len, x->docs));
    VKT_TRY(vkt_tensor_alloc(b->arena, VKT_DTYPE_I32, g->B * g->T, 1, 1, 1, &x->seg));
    VKT_TRY(vkt_tensor_upload(b->dev, &x->seg, x->hseg, (size_t)(g->B * g->T) * sizeof *x->hseg));
    x->cfg.seg_start = &x->seg;
    VKT_TRY(vkt_bench_upload(b, x->hq, g->B, g->T, g->NH, g->HS, &x->q));
    VKT_TRY(vkt_bench_upload(b, x->hk, g->B, g->T, g->NH, g->HS, &x->k));
    VKT_TRY(vkt_bench_upload(b, x->hv, g->B, g->T, g->NH, g->HS, &x->v));
    VKT_TRY(vkt_bench_upload(b, NULL, g->B, g->T, g->NH, g->HS, &x->o));
    VKT_TRY(vkt_bench_upload(b, NULL, g->B, g->NH, g->T, 1, &x->lse));
    if (!x->bwd) return VKT_OK;
    VKT_TRY(vkt_bench_upload(b, x->hdo, g->B, g->T, g->NH, g->HS, &x->dout));
    VKT_TRY(vkt_bench_upload(b, NULL, g->B, g->T, g->NH, g->HS, &x->dq));
    VKT_TRY(vkt_bench_upload(b, NULL, g->B, g->T, g->NH, g->HS, &x->dk));
    VKT_TRY(vkt_bench_upload(b, NULL, g->B, g->T, g->NH, g->HS, &x->dv));
    VKT_TRY(vkt_bench_upload(b, NULL, g->B, g->NH, g->T, 1, &x->delta));
    /* The backward's o and lse come from one forward here (the forward is validated as its own case). */
    VKT_TRY(vkt_rec_begin(b->rec));
    VKT_TRY(record_fwd(b->rec, x));
    VKT_TRY(vkt_rec_end(b->rec));
    return vkt_rec_submit_wait(b->rec);
}

/* Head h of batch b of a (B, T, heads, HS) array, as doubles (T, HS). */
static void head_get(const att_ctx *x, const float *src, int64_t heads, int64_t b, int64_t h, double *dst) {
    const vkt_attention_cfg *g = &x->cfg;
    for (int64_t t = 0; t < g->T; t++)
        for (int64_t d = 0; d < g->HS; d++) dst[t * g->HS + d] = src[((b * g->T + t) * heads + h) * g->HS + d];
}

/* The bound of tests/test_op_attention.c: |y - r| <= 1e-4 (|r| + 0.25 rms(r)) (see its comment). */
static bool compare(const float *y, const double *r, size_t n, const char *what, char *why, size_t why_size) {
    double ss = 0, worst = 0;
    for (size_t i = 0; i < n; i++) ss += r[i] * r[i];
    double atol = 0.25 * sqrt(ss / (double)n) + 1e-30;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)y[i] - r[i]) / (fabs(r[i]) + atol);
        if (!(e <= worst)) worst = e, bad = i;
    }
    if (worst <= 1e-4) return true;
    snprintf(why, why_size, "%s: max relative error %.3e > 1e-4 at %zu (got %.9g, want %.9g)", what, worst, bad,
             y[bad], r[bad]);
    return false;
}

static bool check(vkt_bench *b, void *c, char *why, size_t why_size) {
    att_ctx *x = c;
    const vkt_attention_cfg *g = &x->cfg;
    size_t nh = (size_t)(g->T * g->HS);
    float *go = vkt_bench_download(b, &x->o), *gq = NULL, *gk = NULL, *gv = NULL;
    if (x->bwd) gq = vkt_bench_download(b, &x->dq), gk = vkt_bench_download(b, &x->dk), gv = vkt_bench_download(b, &x->dv);
    double *buf = malloc(11 * nh * sizeof *buf), *lse = malloc((size_t)g->T * sizeof *lse);
    float *gy = malloc(nh * sizeof *gy);
    bool ok = go && buf && lse && gy && (!x->bwd || (gq && gk && gv));
    if (!ok) snprintf(why, why_size, "out of host memory or download failed");
    double *q = buf, *k = q + nh, *v = k + nh, *dout = v + nh, *o = dout + nh, *dq = o + nh, *dk = dq + nh;
    double *dv = dk + nh;
    vkt_ref_attention_shape s = {1, g->T, 1, 1, g->HS, g->scale != 0 ? g->scale : 1 / sqrt((double)g->HS),
                                 g->causal, NULL};
    const int64_t picks[2][2] = {{0, 0}, {g->B - 1, g->NH - 1}};
    for (int p = 0; ok && p < 2; p++) {
        int64_t pb = picks[p][0], ph = picks[p][1];
        s.seg_start = x->hseg + pb * g->T;
        int64_t kvh = ph / (g->NH / g->KVH); /* k and v are (B, T, KVH, HS) as bound */
        head_get(x, x->hq, g->NH, pb, ph, q), head_get(x, x->hk, g->KVH, pb, kvh, k);
        head_get(x, x->hv, g->KVH, pb, kvh, v);
        vkt_ref_attention_fwd(&s, q, k, v, o, lse);
        const float *outs[4] = {go, gq, gk, gv};
        const double *refs[4] = {o, dq, dk, dv};
        const char *names[4] = {"o", "dq", "dk", "dv"};
        if (x->bwd) {
            head_get(x, x->hdo, g->NH, pb, ph, dout);
            vkt_ref_attention_bwd(&s, dout, q, k, v, dq, dk, dv);
        }
        /* Grouped heads: dk and dv sum over the group's query heads, which a one-head reference lacks. */
        int n_out = !x->bwd ? 1 : g->KVH == g->NH ? 4 : 2;
        for (int i = x->bwd ? 1 : 0; ok && i < n_out; i++) {
            for (int64_t t = 0; t < g->T; t++)
                for (int64_t d = 0; d < g->HS; d++)
                    gy[t * g->HS + d] = outs[i][((pb * g->T + t) * g->NH + ph) * g->HS + d];
            ok = compare(gy, refs[i], nh, names[i], why, why_size);
        }
    }
    free(go), free(gq), free(gk), free(gv), free(buf), free(lse), free(gy);
    return ok;
}

static void teardown(void *c) {
    att_ctx *x = c;
    free(x->hq), free(x->hk), free(x->hv), free(x->hdo), free(x->hseg);
    x->hq = x->hk = x->hv = x->hdo = NULL, x->hseg = NULL;
}

/* One case: cfg's shape, forward or backward, rows packed with `docs` equal documents. */
static vkt_status run_case(vkt_bench *b, const vkt_attention_cfg *cfg, bool bwd, int docs) {
    att_ctx x = {.cfg = *cfg, .bwd = bwd, .docs = docs};
    const vkt_attention_cfg *g = &x.cfg;
    double pairs = 0; /* visible (query, key) pairs, summed over documents */
    for (int d = 0; d < docs; d++) {
        double L = (double)(g->T / docs + (d < g->T % docs ? 1 : 0));
        pairs += (double)g->B * (double)g->NH * L * (g->causal ? L + 1 : 2 * L) / 2;
    }
    double act = 4.0 * (double)(g->B * g->T * g->NH * g->HS), rows = 4.0 * (double)(g->B * g->NH * g->T);
    vkt_bench_case c = {.op = bwd ? "attention_bwd" : "attention_fwd", .dtype = "f32",
                        .variant = vkt_attention_variant_name(g->variant),
                        .wg = vkt_attention_workgroup(g->variant),
                        .flops = (bwd ? 10.0 : 4.0) * (double)g->HS * pairs,
                        /* fwd: q, k, v in, o and lse out; bwd: q, k, v, o, do, lse in, dq, dk, dv and D out */
                        .bytes = bwd ? 8 * act + 2 * rows : 4 * act + rows,
                        .setup = setup, .record = bwd ? record_bwd : record_fwd, .check = check,
                        .teardown = teardown, .ctx = &x};
    snprintf(c.shape, sizeof c.shape, "B=%lld T=%lld NH=%lld KVH=%lld HS=%lld %s docs=%d", (long long)g->B,
             (long long)g->T, (long long)g->NH, (long long)g->KVH, (long long)g->HS, g->causal ? "causal" : "bidir",
             docs);
    return vkt_bench_run(b, &c);
}

/* VKT_BENCH_ATTENTION_SHAPE=B,T,NH,KVH,HS replaces the full-size shape (a model's own, e.g. 1,512,32,4,64
 * for TinyLlama); the quick shape stays. */
static vkt_status shape_from_env(vkt_attention_cfg *g) {
    const char *env = getenv("VKT_BENCH_ATTENTION_SHAPE");
    if (!env || !*env) return VKT_OK;
    long long B, T, NH, KVH, HS;
    char tail;
    if (sscanf(env, "%lld,%lld,%lld,%lld,%lld%c", &B, &T, &NH, &KVH, &HS, &tail) != 5 || B < 1 || T < 1 ||
        NH < 1 || KVH < 1 || NH % KVH != 0 || HS < 1 || HS > VKT_ATTENTION_MAX_HS) {
        vkt_log_error("VKT_BENCH_ATTENTION_SHAPE=%s: want B,T,NH,KVH,HS (positive, KVH dividing NH, HS <= %d)",
                      env, VKT_ATTENTION_MAX_HS);
        return VKT_ERR_FORMAT;
    }
    g->B = B, g->T = T, g->NH = NH, g->KVH = KVH, g->HS = HS;
    return VKT_OK;
}

vkt_status vkt_bench_group_attention(vkt_bench *b) {
    vkt_attention_cfg full = {4, 1024, 12, 12, 64, 0, true, VKT_ATTENTION_AUTO, NULL};
    VKT_TRY(shape_from_env(&full));
    const vkt_attention_cfg quick = {1, 64, 2, 2, 32, 0, true, VKT_ATTENTION_AUTO, NULL};
    /* Quick: both variants (validation). Full: the variant this device gets by default, since the other
     * one is far off its best here (tiled on lavapipe: minutes for 24 submits) and is not what runs. */
    vkt_attention_variant variants[2] = {VKT_ATTENTION_ROW, VKT_ATTENTION_TILED};
    int n_variants = 2;
    if (!b->quick) {
        vkt_attention_cfg probe = full;
        variants[0] = vkt_attention_variant_for(b->rec, &probe), n_variants = 1;
    }
    const int docs[2] = {1, 8};
    for (int di = 0; di < 2; di++)
        for (int bwd = 0; bwd < 2; bwd++)
            for (int vi = 0; vi < n_variants; vi++) {
                vkt_attention_cfg g = b->quick ? quick : full;
                g.variant = variants[vi];
                VKT_TRY(run_case(b, &g, bwd, docs[di]));
            }
    return VKT_OK;
}
