/* Bench cases for the token + position embedding: the forward gather and the deterministic backward
 * (radix sort + per-run sums + dwpe). Token ids follow a Zipf-like law (id = floor(V^u) - 1, so id 0 takes
 * ~6% of the rows, like the commonest tokens of English text), which sets the backward's run lengths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_groups.h"
#include "ops/embed.h"
#include "ref/ref_embed.h"

typedef struct {
    int64_t B, T, C, V;
    vkt_tensor tokens, wte, wpe, out, dout, scratch, dwte, dwpe;
    int32_t *tok;     /* owned: (B*T) */
    float *hw, *hp;   /* owned: wte (V, C) and wpe (T, C), or dout (B*T, C) for the backward */
    int64_t distinct; /* distinct ids in tok */
} embed_ctx;

static vkt_status setup_common(vkt_bench *b, embed_ctx *x) {
    const int64_t N = x->B * x->T;
    x->tok = malloc((size_t)N * sizeof *x->tok);
    char *seen = calloc((size_t)x->V, 1);
    if (!x->tok || !seen) return free(seen), VKT_ERR_OOM;
    x->distinct = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t id = (int64_t)exp(vkt_rng_uniform(&b->rng) * log((double)x->V)) - 1;
        x->tok[i] = (int32_t)(id < 0 ? 0 : id >= x->V ? x->V - 1 : id);
        if (!seen[x->tok[i]]) seen[x->tok[i]] = 1, x->distinct++;
    }
    free(seen);
    VKT_TRY(vkt_tensor_alloc(b->arena, VKT_DTYPE_I32, N, 1, 1, 1, &x->tokens));
    return vkt_tensor_upload(b->dev, &x->tokens, x->tok, (size_t)N * sizeof *x->tok);
}

static vkt_status setup_fwd(vkt_bench *b, void *c) {
    embed_ctx *x = c;
    VKT_TRY(setup_common(b, x));
    x->hw = vkt_bench_rand(b, (size_t)(x->V * x->C), -1, 1);
    x->hp = vkt_bench_rand(b, (size_t)(x->T * x->C), -1, 1);
    if (!x->hw || !x->hp) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload(b, x->hw, x->V, x->C, 1, 1, &x->wte));
    VKT_TRY(vkt_bench_upload(b, x->hp, x->T, x->C, 1, 1, &x->wpe));
    return vkt_bench_upload(b, NULL, x->B, x->T, x->C, 1, &x->out);
}

static vkt_status record_fwd(vkt_rec *r, void *c) {
    embed_ctx *x = c;
    return vkt_op_embed_fwd(r, &x->tokens, &x->wte, &x->wpe, 0, NULL, &x->out);
}

static bool check_fwd(vkt_bench *b, void *c, char *why, size_t why_size) {
    embed_ctx *x = c;
    const size_t n = (size_t)(x->B * x->T * x->C), nw = (size_t)(x->V * x->C), np = (size_t)(x->T * x->C);
    double *w = malloc(nw * sizeof *w), *p = malloc(np * sizeof *p), *ref = malloc(n * sizeof *ref);
    float *y = vkt_bench_download(b, &x->out);
    bool ok = w && p && ref;
    if (ok) {
        for (size_t i = 0; i < nw; i++) w[i] = x->hw[i];
        for (size_t i = 0; i < np; i++) p[i] = x->hp[i];
        vkt_ref_embed_fwd(x->tok, w, p, x->B, x->T, x->C, x->V, 0, NULL, ref);
        ok = vkt_bench_compare(y, ref, n, 1e-7, why, why_size); /* one f32 rounding of an exact sum */
    }
    free(w), free(p), free(ref), free(y);
    return ok;
}

static vkt_status setup_bwd(vkt_bench *b, void *c) {
    embed_ctx *x = c;
    VKT_TRY(setup_common(b, x));
    x->hw = vkt_bench_rand(b, (size_t)(x->B * x->T * x->C), -1, 1);
    if (!x->hw) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload(b, x->hw, x->B, x->T, x->C, 1, &x->dout));
    VKT_TRY(vkt_tensor_alloc(b->arena, VKT_DTYPE_I32, vkt_op_embed_bwd_scratch(x->B * x->T), 1, 1, 1, &x->scratch));
    VKT_TRY(vkt_bench_upload(b, NULL, x->V, x->C, 1, 1, &x->dwte));
    return vkt_bench_upload(b, NULL, x->T, x->C, 1, 1, &x->dwpe);
}

/* The gradients accumulate, so each replay first zeroes them (counted in the case's bytes). */
static vkt_status record_bwd(vkt_rec *r, void *c) {
    embed_ctx *x = c;
    VKT_TRY(vkt_rec_fill(r, &x->dwte, 0));
    VKT_TRY(vkt_rec_fill(r, &x->dwpe, 0));
    return vkt_op_embed_bwd(r, &x->dout, &x->tokens, &x->scratch, 0, NULL, &x->dwte, &x->dwpe);
}

/* Sequential f32 sums of k terms: |y - r| <= (k + 1) 2^-24 sum |terms| per element (see test_op_embed.c). */
static bool check_bwd(vkt_bench *b, void *c, char *why, size_t why_size) {
    embed_ctx *x = c;
    const int64_t N = x->B * x->T, C = x->C;
    const size_t n = (size_t)(N * C), nw = (size_t)(x->V * C), np = (size_t)(x->T * C);
    double *d = malloc(n * sizeof *d), *ad = malloc(n * sizeof *ad);
    double *rw = calloc(nw, sizeof *rw), *sw = calloc(nw, sizeof *sw);
    double *rp = calloc(np, sizeof *rp), *sp = calloc(np, sizeof *sp);
    int64_t *k = calloc((size_t)x->V, sizeof *k);
    float *yw = vkt_bench_download(b, &x->dwte), *yp = vkt_bench_download(b, &x->dwpe);
    bool ok = d && ad && rw && sw && rp && sp && k && yw && yp;
    if (!ok) snprintf(why, why_size, "out of host memory or download failed");
    if (ok) {
        for (size_t i = 0; i < n; i++) d[i] = x->hw[i], ad[i] = fabs(d[i]);
        vkt_ref_embed_bwd(d, x->tok, x->B, x->T, C, x->V, 0, NULL, rw, rp);
        vkt_ref_embed_bwd(ad, x->tok, x->B, x->T, C, x->V, 0, NULL, sw, sp);
        for (int64_t i = 0; i < N; i++) k[x->tok[i]]++;
        for (size_t i = 0; ok && i < nw + np; i++) {
            const bool pos = i >= nw;
            const size_t j = pos ? i - nw : i;
            const double y = pos ? yp[j] : yw[j], r = pos ? rp[j] : rw[j], s = pos ? sp[j] : sw[j];
            const double bound = (double)((pos ? x->B : k[j / (size_t)C]) + 1) * 0x1p-24 * s;
            if (!(fabs(y - r) <= bound)) {
                snprintf(why, why_size, "%s[%zu] = %.9g, want %.9g (bound %.3g)", pos ? "dwpe" : "dwte", j, y, r,
                         bound);
                ok = false;
            }
        }
    }
    free(d), free(ad), free(rw), free(sw), free(rp), free(sp), free(k), free(yw), free(yp);
    return ok;
}

static void teardown(void *c) {
    embed_ctx *x = c;
    free(x->tok), free(x->hw), free(x->hp);
    x->tok = NULL, x->hw = x->hp = NULL;
}

vkt_status vkt_bench_group_embed(vkt_bench *b) {
    /* GPT-2 small (its wte is 154 MB, split in two on a 128 MiB binding limit); quick: a toy. */
    const int64_t full[][4] = {{8, 1024, 768, 50257}}, quick[][4] = {{2, 64, 96, 1031}};
    const int64_t(*shapes)[4] = b->quick ? quick : full;
    for (int dir = 0; dir < 2; dir++) {
        embed_ctx x = {.B = shapes[0][0], .T = shapes[0][1], .C = shapes[0][2], .V = shapes[0][3]};
        const double N = (double)(x.B * x.T), C = (double)x.C, V = (double)x.V, T = (double)x.T;
        vkt_bench_case c = {.op = dir ? "embed_bwd" : "embed_fwd",
                            .dtype = "f32",
                            .variant = dir ? "fill+sort+dw+dwpe" : "-",
                            .wg = dir ? 64 : 128,
                            .ctx = &x,
                            .teardown = teardown};
        if (dir == 0) {
            /* tokens, the gathered wte rows and wpe read once; out written */
            c.flops = N * C, c.bytes = 4 * N + 4 * N * C + 4 * T * C + 4 * N * C;
            c.setup = setup_fwd, c.record = record_fwd, c.check = check_fwd;
        } else {
            /* the fills, tokens, dout read; touched dwte rows read+written (distinct ids <= N, taken as
             * min(N, V) since the ids are drawn at setup), dwpe read+written */
            const double touched = N < V ? N : V;
            c.flops = N * C, c.bytes = 4 * (V * C + T * C) + 4 * N + 4 * N * C + 8 * touched * C + 8 * T * C;
            c.setup = setup_bwd, c.record = record_bwd, c.check = check_bwd;
        }
        snprintf(c.shape, sizeof c.shape, "B=%lld T=%lld C=%lld V=%lld", (long long)x.B, (long long)x.T, (long long)x.C,
                 (long long)x.V);
        VKT_TRY(vkt_bench_run(b, &c));
    }
    return VKT_OK;
}
