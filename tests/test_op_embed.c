/* Token + position embedding: forward gather, deterministic backward scatter, vocabulary and row splits.
 *
 * Bindings are capped at 256 KiB so the mid and large cases split wte/dwte into vocabulary chunks and
 * out/dout into row chunks (with C odd, so chunk sizes must honour the offset alignment). Token ids mix
 * uniform draws with a few very frequent ids (long runs in the backward's sort), one case has a single
 * id everywhere, and some cases plant out-of-range ids (-1, V, INT32_MAX, INT32_MIN). Packed cases give
 * positions from a random document-start table (vkt_test_random_seg_start: odd lengths, length-1
 * documents, one unpacked row), so positions restart at every document, forward and backward, including
 * row chunks that cut a row's documents.
 *
 * Bounds. Forward: out = fl(wte + wpe), one f32 rounding of an exact sum, so |y - r| <= 2^-24 |r| and the
 * metric stays below 6e-8 (bound 1e-7); without wpe it is a copy (error 0). Backward: each dwte or dwpe
 * element is init plus a sequential f32 sum of the k dout values that map to it, and such a sum obeys
 * |y - r| <= (k + 1) 2^-24 S with S = |init| + sum |dout| (the classic recursive-summation bound, k u <<
 * 1). The usual relative metric is unfit here: hot ids sum ~250 unit-size terms to results near zero
 * while rms(r) is dominated by untouched rows, so the test checks the per-element bound as a ratio that
 * must stay <= 1, and prints the usual metric beside it. A missing, extra or wrong row moves an element
 * by a whole |dout| term, orders of magnitude above the bound. */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/embed.h"
#include "ref/ref_embed.h"

typedef struct {
    int64_t B, T, C, V, P, pos0; /* P = 0: no position table */
    int mode;                    /* 0 uniform + frequent ids, 1 one id everywhere, 2 with invalid ids */
    bool packed;                 /* positions restart at random document starts */
} shape_t;

typedef struct {
    vkt_tensor tokens, wte, wpe, out, dout, scratch, dwte, dwpe, seg;
    int64_t pos0;
    bool has_wpe, packed;
} ctx_t;

static vkt_status run_fwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_embed_fwd(r, &x->tokens, &x->wte, x->has_wpe ? &x->wpe : NULL, x->pos0, x->packed ? &x->seg : NULL,
                            &x->out);
}

static vkt_status run_bwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_embed_bwd(r, &x->dout, &x->tokens, &x->scratch, x->pos0, x->packed ? &x->seg : NULL, &x->dwte,
                            x->has_wpe ? &x->dwpe : NULL);
}

/* The document-start table of a packed shape (random), or all zeros (the position is then t). */
static int32_t *make_seg(vkt_test *t, const shape_t *s) {
    int32_t *seg = calloc((size_t)(s->B * s->T), sizeof *seg);
    if (s->packed) vkt_test_random_seg_start(&t->rng, s->B, s->T, seg);
    return seg;
}

/* Finite-difference context: loss = sum(w * fwd(wte, wpe)); x is either wte or wpe. */
typedef struct {
    const shape_t *s;
    const int32_t *tok, *seg;
    double *wte, *wpe, *w, *tmp;
} fd_ctx;

static double fd_loss(const double *x, void *c) {
    (void)x; /* x aliases wte or wpe, which the context already points at */
    fd_ctx *f = c;
    const shape_t *s = f->s;
    int64_t n = s->B * s->T * s->C;
    vkt_ref_embed_fwd(f->tok, f->wte, f->wpe, s->B, s->T, s->C, s->V, s->pos0, f->seg, f->tmp);
    double l = 0;
    for (int64_t i = 0; i < n; i++) l += f->w[i] * f->tmp[i];
    return l;
}

/* Checks |y - r| <= (k + 1) 2^-24 S elementwise, where k counts the rows summed into each element of a
 * table with C columns (k_row per row) and S = |init| + sum |dout| (s). */
static void check_sum(vkt_test *t, const char *what, const float *y, const double *r, const double *s,
                      const int64_t *k_row, int64_t rows, int64_t C) {
    double worst = 0;
    int64_t bad = -1;
    for (int64_t i = 0; i < rows * C; i++) {
        double bound = (double)(k_row[i / C] + 1) * 0x1p-24 * s[i] + 1e-30;
        double e = fabs((double)y[i] - r[i]) / bound;
        if (!(e <= worst)) worst = e, bad = i;
    }
    long bad_cmp;
    double rel = vkt_cmp(y, r, (size_t)(rows * C), 1e-3 * vkt_rms(r, (size_t)(rows * C)), &bad_cmp);
    bool ok = worst <= 1.0;
    printf("   %-40s n=%-8lld err/bound=%.3f (max_rel=%.2e nmse=%.2e) %s\n", what, (long long)(rows * C), worst, rel,
           vkt_nmse(y, r, (size_t)(rows * C)), ok ? "ok" : "FAIL");
    if (!ok)
        vkt_test_fail(t, "%s: error %.3g x the summation bound at index %lld (got %.9g, want %.9g)", what, worst,
                      (long long)bad, y[bad], r[bad]);
}

static int32_t *make_tokens(vkt_test *t, const shape_t *s) {
    int64_t N = s->B * s->T;
    int32_t *tok = malloc((size_t)N * sizeof *tok);
    const uint32_t V = (uint32_t)s->V, hot = V < 5 ? V : 5;
    const int32_t bad[4] = {-1, (int32_t)s->V, INT32_MAX, INT32_MIN};
    for (int64_t i = 0; i < N; i++) {
        if (s->mode == 1)
            tok[i] = (int32_t)(V / 2);
        else if (vkt_rng_below(&t->rng, 2))
            tok[i] = (int32_t)vkt_rng_below(&t->rng, hot);
        else
            tok[i] = (int32_t)vkt_rng_below(&t->rng, V);
        if (s->mode == 2 && vkt_rng_below(&t->rng, 8) == 0) tok[i] = bad[vkt_rng_below(&t->rng, 4)];
    }
    return tok;
}

/* ddt: dout's storage (16-bit: the mixed precision backward; dout is rounded before the reference sees it,
 * and the sums stay f32, so the summation bounds are unchanged). */
static void check_shape(vkt_test *t, const shape_t *s, vkt_dtype ddt) {
    const int64_t B = s->B, T = s->T, C = s->C, V = s->V, N = B * T, P = s->P > 0 ? s->P : 1;
    const size_t n_out = (size_t)(N * C), n_wte = (size_t)(V * C), n_wpe = (size_t)(P * C);
    int32_t *tok = make_tokens(t, s), *seg = make_seg(t, s);
    float *wte = vkt_test_randn(t, n_wte, 1), *wpe = vkt_test_randn(t, n_wpe, 1);
    float *dout = vkt_test_randn(t, n_out, 1), *dwte0 = vkt_test_randn(t, n_wte, 1);
    float *dwpe0 = vkt_test_randn(t, n_wpe, 1);
    if (ddt != VKT_DTYPE_F32)
        for (size_t i = 0; i < n_out; i++) dout[i] = vkt_half_to(ddt, vkt_half_from(ddt, dout[i]));
    double *wte_d = vkt_test_to_double(wte, n_wte), *wpe_d = vkt_test_to_double(wpe, n_wpe);
    double *dout_d = vkt_test_to_double(dout, n_out), *dwte_d = vkt_test_to_double(dwte0, n_wte);
    double *dwpe_d = vkt_test_to_double(dwpe0, n_wpe), *ref = malloc(n_out * sizeof *ref);
    const bool has_wpe = s->P > 0;

    ctx_t c = {.tokens = vkt_test_upload_i32(t, tok, N),
               .wte = vkt_test_upload(t, wte, V, C, 1, 1),
               .wpe = vkt_test_upload(t, wpe, P, C, 1, 1),
               .dout = vkt_half_or_f32_upload(t, ddt, dout, N * C, 1),
               .seg = vkt_test_upload_i32(t, seg, N),
               .pos0 = s->pos0,
               .has_wpe = has_wpe,
               .packed = s->packed};
    c.dout.shape[0] = B, c.dout.shape[1] = T, c.dout.shape[2] = C, c.dout.shape[3] = 1;
    const int32_t *rseg = s->packed ? seg : NULL; /* the reference's view of the table */
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_I32, vkt_op_embed_bwd_scratch(N), 1, 1, 1, &c.scratch));
    vkt_test_out out = vkt_test_output(t, B, T, C, 1);
    vkt_test_out dwte = vkt_test_output_init(t, dwte0, V, C, 1, 1), dwpe = vkt_test_output_init(t, dwpe0, P, C, 1, 1);
    vkt_test_out dwte2 = vkt_test_output_init(t, dwte0, V, C, 1, 1);
    c.out = out.view, c.dwte = dwte.view, c.dwpe = dwpe.view;
    vkt_test_run(t, run_fwd, &c);
    vkt_test_run(t, run_bwd, &c);
    c.dwte = dwte2.view, c.has_wpe = false; /* second run, for bit-reproducibility */
    vkt_test_run(t, run_bwd, &c);

    char what[96], shape[64];
    snprintf(shape, sizeof shape, "B=%lld T=%lld C=%lld V=%lld P=%lld pos0=%lld m%d%s%s%s", (long long)B, (long long)T,
             (long long)C, (long long)V, (long long)s->P, (long long)s->pos0, s->mode, s->packed ? " packed" : "",
             ddt != VKT_DTYPE_F32 ? " dout " : "", ddt != VKT_DTYPE_F32 ? vkt_dtype_name(ddt) : "");
    vkt_ref_embed_fwd(tok, wte_d, has_wpe ? wpe_d : NULL, B, T, C, V, s->pos0, rseg, ref);
    float *y = vkt_test_read_output(t, &out, "out");
    snprintf(what, sizeof what, "fwd %s", shape);
    vkt_check(t, what, y, ref, n_out, 1e-7);

    vkt_ref_embed_bwd(dout_d, tok, B, T, C, V, s->pos0, rseg, dwte_d, has_wpe ? dwpe_d : NULL);
    float *g_dwte = vkt_test_read_output(t, &dwte, "dwte"), *g_dwpe = vkt_test_read_output(t, &dwpe, "dwpe");
    float *g_dwte2 = vkt_test_read_output(t, &dwte2, "dwte (rerun)");
    /* Summation bounds: S = |init| + reference backward of |dout|, k = rows per table row. */
    double *abs_dout = malloc(n_out * sizeof *abs_dout), *s_wte = malloc(n_wte * sizeof *s_wte);
    double *s_wpe = malloc(n_wpe * sizeof *s_wpe);
    int64_t *k_wte = calloc((size_t)V, sizeof *k_wte), *k_wpe = calloc((size_t)P, sizeof *k_wpe);
    for (size_t i = 0; i < n_out; i++) abs_dout[i] = fabs(dout_d[i]);
    for (size_t i = 0; i < n_wte; i++) s_wte[i] = fabs((double)dwte0[i]);
    for (size_t i = 0; i < n_wpe; i++) s_wpe[i] = fabs((double)dwpe0[i]);
    vkt_ref_embed_bwd(abs_dout, tok, B, T, C, V, s->pos0, rseg, s_wte, has_wpe ? s_wpe : NULL);
    for (int64_t i = 0; i < N; i++) {
        if (tok[i] >= 0 && tok[i] < V) k_wte[tok[i]]++;
        if (has_wpe) k_wpe[s->pos0 + i % T - seg[i]]++;
    }
    snprintf(what, sizeof what, "bwd dwte %s", shape);
    check_sum(t, what, g_dwte, dwte_d, s_wte, k_wte, V, C);
    snprintf(what, sizeof what, "bwd dwpe %s", shape);
    check_sum(t, what, g_dwpe, dwpe_d, s_wpe, k_wpe, P, C);
    free(abs_dout), free(s_wte), free(s_wpe), free(k_wte), free(k_wpe);
    if (memcmp(g_dwte, g_dwte2, n_wte * sizeof *g_dwte) != 0)
        vkt_test_fail(t, "bwd dwte %s: two runs differ (must be bit-reproducible)", shape);
    /* The documented order, bit for bit: f32 sums over rows in increasing row order, then one add to the
     * gradient (only when dout is bound whole, as row chunks add partial sums). Catches an unstable sort,
     * which the error bound above cannot see. */
    if (N * C * 4 <= 131072) {
        float *acc = calloc(n_wte, sizeof *acc), *accp = calloc(n_wpe, sizeof *accp);
        int64_t mism = -1;
        for (int64_t i = 0; i < N; i++) {
            for (int64_t k = 0; k < C; k++) {
                if (tok[i] >= 0 && tok[i] < V) acc[tok[i] * C + k] += dout[i * C + k];
                if (has_wpe) accp[(s->pos0 + i % T - seg[i]) * C + k] += dout[i * C + k];
            }
        }
        for (size_t i = 0; i < n_wte && mism < 0; i++)
            if (g_dwte[i] != dwte0[i] + acc[i]) mism = (int64_t)i;
        for (size_t i = 0; has_wpe && i < n_wpe && mism < 0; i++)
            if (g_dwpe[i] != dwpe0[i] + accp[i]) mism = (int64_t)(n_wte + i);
        printf("   bwd %-40s f32 row-order sums: %s\n", shape, mism < 0 ? "bit-identical ok" : "FAIL");
        if (mism >= 0) vkt_test_fail(t, "bwd %s: not the row-order f32 sum at element %lld", shape, (long long)mism);
        free(acc), free(accp);
    }

    /* Reference backward against finite differences of the reference forward (loss = sum(dout * out)). */
    double *tmp = malloc(n_out * sizeof *tmp), *g = malloc((n_wte > n_wpe ? n_wte : n_wpe) * sizeof *g);
    double *wte_x = vkt_test_to_double(wte, n_wte), *wpe_x = vkt_test_to_double(wpe, n_wpe);
    fd_ctx f = {s, tok, rseg, wte_x, has_wpe ? wpe_x : NULL, dout_d, tmp};
    memset(g, 0, n_wte * sizeof *g);
    double *gp = calloc(n_wpe, sizeof *gp);
    vkt_ref_embed_bwd(dout_d, tok, B, T, C, V, s->pos0, rseg, g, has_wpe ? gp : NULL);
    if (N * C <= 200000) {
        snprintf(what, sizeof what, "dwte %s", shape);
        vkt_check_fd(t, what, fd_loss, wte_x, g, n_wte, &f, 1e-6);
        if (has_wpe) {
            snprintf(what, sizeof what, "dwpe %s", shape);
            vkt_check_fd(t, what, fd_loss, wpe_x, gp, n_wpe, &f, 1e-6);
        }
    }
    free(tok), free(wte), free(wpe), free(dout), free(dwte0), free(dwpe0), free(wte_d), free(wpe_d);
    free(dout_d), free(dwte_d), free(dwpe_d), free(ref), free(y), free(g_dwte), free(g_dwpe), free(g_dwte2);
    free(tmp), free(g), free(gp), free(wte_x), free(wpe_x), free(seg);
    vkt_arena_reset(t->arena);
}

/* 16-bit storage forward: wte, wpe and out in f16 or bf16, the add in f32. The reference adds the stored
 * (rounded) inputs in double; the result is rounded once to f32 and once to the storage type, so the
 * error is at most 2^-24 + 2^-11 (f16) or 2^-24 + 2^-8 (bf16) relative, plus 2^-25 absolute for f16
 * subnormals (1e-3 rms of headroom in the metric's atol covers it). */
static void check_fwd16(vkt_test *t, const shape_t *s, vkt_dtype dt) {
    if (!vkt_half_supported(t)) {
        printf("   skipped %s forward: no 16-bit storage\n", vkt_dtype_name(dt));
        return;
    }
    const int64_t B = s->B, T = s->T, C = s->C, V = s->V, N = B * T, P = s->P > 0 ? s->P : 1;
    const bool has_wpe = s->P > 0;
    int32_t *tok = make_tokens(t, s), *seg = make_seg(t, s);
    float *wte = vkt_test_randn(t, (size_t)(V * C), 1), *wpe = vkt_test_randn(t, (size_t)(P * C), 1);
    ctx_t c = {.tokens = vkt_test_upload_i32(t, tok, N),
               .wte = vkt_half_upload(t, dt, wte, V, C),
               .wpe = vkt_half_upload(t, dt, wpe, P, C),
               .seg = vkt_test_upload_i32(t, seg, N),
               .pos0 = s->pos0,
               .has_wpe = has_wpe,
               .packed = s->packed};
    vkt_test_out out = vkt_half_output(t, dt, N, C);
    c.out = out.view;
    c.out.shape[0] = B, c.out.shape[1] = T, c.out.shape[2] = C;
    vkt_test_run(t, run_fwd, &c);
    double *wte_d = vkt_test_to_double(wte, (size_t)(V * C)), *wpe_d = vkt_test_to_double(wpe, (size_t)(P * C));
    double *ref = malloc((size_t)(N * C) * sizeof *ref);
    vkt_ref_embed_fwd(tok, wte_d, has_wpe ? wpe_d : NULL, B, T, C, V, s->pos0, s->packed ? seg : NULL, ref);
    float *y = vkt_half_read(t, &out, "out");
    char what[96];
    snprintf(what, sizeof what, "fwd %s B=%lld T=%lld C=%lld V=%lld P=%lld%s", vkt_dtype_name(dt), (long long)B,
             (long long)T, (long long)C, (long long)V, (long long)s->P, s->packed ? " packed" : "");
    vkt_check(t, what, y, ref, (size_t)(N * C), dt == VKT_DTYPE_F16 ? 0x1p-11 + 0x1p-23 : 0x1p-8 + 0x1p-23);
    free(tok), free(wte), free(wpe), free(wte_d), free(wpe_d), free(ref), free(y), free(seg);
    vkt_arena_reset(t->arena);
}

/* vkt_op_embed_fwd_at (pos0 from a device buffer, for replayed KV-cache recordings): one recording replayed
 * at positions the host writes must give exactly (bit for bit) what vkt_op_embed_fwd gives at each, invalid
 * ids included. */
static void check_dynamic_pos(vkt_test *t) {
    const int64_t B = 2, T = 5, C = 7, V = 11, P = 23, N = B * T;
    int32_t tok[10];
    for (int64_t i = 0; i < N; i++) tok[i] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
    tok[3] = -1, tok[8] = (int32_t)V;
    float *wte = vkt_test_randn(t, (size_t)(V * C), 1), *wpe = vkt_test_randn(t, (size_t)(P * C), 1);
    vkt_tensor tk = vkt_test_upload_i32(t, tok, N), we = vkt_test_upload(t, wte, V, C, 1, 1);
    vkt_tensor wp = vkt_test_upload(t, wpe, P, C, 1, 1);
    int32_t zero = 0;
    vkt_tensor pos = vkt_test_upload_i32(t, &zero, 1);
    vkt_test_out dyn = vkt_test_output(t, B, T, C, 1), stat = vkt_test_output(t, B, T, C, 1);
    vkt_rec *rec;
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 0, &rec));
    VKT_TEST_TRY(t, vkt_rec_begin(rec));
    VKT_TEST_TRY(t, vkt_op_embed_fwd_at(rec, &tk, &we, &wp, &pos, &dyn.view));
    VKT_TEST_TRY(t, vkt_rec_end(rec));
    const int32_t positions[] = {0, 4, (int32_t)(P - T)};
    for (int i = 0; i < 3; i++) {
        VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &pos, &positions[i], sizeof positions[i]));
        VKT_TEST_TRY(t, vkt_rec_submit_wait(rec));
        VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
        VKT_TEST_TRY(t, vkt_op_embed_fwd(t->rec, &tk, &we, &wp, positions[i], NULL, &stat.view));
        VKT_TEST_TRY(t, vkt_rec_end(t->rec));
        VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
        float *a = vkt_test_read_output(t, &dyn, "out (device pos0)"), *b = vkt_test_read_output(t, &stat, "out");
        const bool same = memcmp(a, b, (size_t)(N * C) * sizeof *a) == 0;
        printf("   device-side pos0=%d: replayed recording %s the push-constant path\n", positions[i],
               same ? "bit-identical to" : "DIFFERS from");
        if (!same) vkt_test_fail(t, "embed_fwd_at at pos0 %d differs from embed_fwd", positions[i]);
        free(a), free(b);
    }
    vkt_rec_destroy(rec);
    free(wte), free(wpe);
}

int main(void) {
    vkt_test t;
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_embed");
    const shape_t shapes[] = {
        {1, 1, 1, 1, 1, 0, 0, false},         /* everything 1 */
        {2, 5, 7, 11, 9, 3, 0, false},        /* pos0 offset into a longer table */
        {3, 37, 67, 101, 37, 0, 2, false},    /* invalid ids */
        {1, 13, 5, 3, 0, 0, 2, false},        /* no wpe, invalid ids */
        {4, 17, 37, 2053, 17, 0, 0, false},   /* wte split in 2 vocab chunks; odd row bytes */
        {2, 31, 29, 257, 31, 0, 1, false},    /* one id everywhere: a single run of B*T rows */
        {4, 509, 97, 5003, 509, 0, 2, false}, /* large: wte in 8 vocab chunks, out/dout in 4 row chunks */
        {4, 509, 96, 1031, 0, 0, 1, false},   /* large, no wpe, one run of 2036 rows */
        {4, 127, 3, 70001, 127, 0, 2, false}, /* 3 sort passes (17-bit keys), 2 sort blocks, vocab split */
        {8, 100, 5, 300, 100, 0, 0, false},   /* 2 sort passes, 4 sort blocks, many repeats */
        /* Packed rows: positions restart at each document. */
        {1, 1, 1, 1, 1, 0, 0, true},         /* one position: one document of length 1 */
        {2, 5, 7, 11, 9, 3, 0, true},        /* pos0 offset */
        {3, 37, 67, 101, 37, 0, 2, true},    /* invalid ids; finite differences of the packed reference */
        {8, 100, 5, 300, 100, 0, 0, true},   /* many documents per position */
        {4, 509, 97, 5003, 509, 0, 2, true}, /* dout in 4 row chunks that cut rows inside documents */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(&t, &shapes[i], VKT_DTYPE_F32);
    /* 16-bit dout (f32 dwte, dwpe): odd C with row chunks, a vocab split, packed rows. */
    if (vkt_half_supported(&t)) {
        check_shape(&t, &shapes[6], VKT_DTYPE_F16);
        check_shape(&t, &shapes[2], VKT_DTYPE_BF16);
        check_shape(&t, &shapes[14], VKT_DTYPE_BF16);
        check_shape(&t, &shapes[4], VKT_DTYPE_F16);
    }
    /* 16-bit forward: an offset case, and a large one whose tables split (wte 1 MiB in bf16). */
    const shape_t half_shapes[] = {{2, 5, 7, 11, 9, 3, 2, false},
                                   {4, 509, 97, 5003, 509, 0, 2, false},
                                   {3, 37, 67, 101, 0, 0, 0, false},
                                   {3, 37, 67, 101, 39, 2, 0, true}};
    for (size_t i = 0; i < sizeof half_shapes / sizeof half_shapes[0]; i++) {
        check_fwd16(&t, &half_shapes[i], VKT_DTYPE_F16);
        check_fwd16(&t, &half_shapes[i], VKT_DTYPE_BF16);
    }
    check_dynamic_pos(&t);
    return vkt_test_finish(&t);
}
