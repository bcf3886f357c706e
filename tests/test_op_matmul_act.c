/* Matmul epilogues of the fast CPU kernel (ops/matmul.h). GELU in its store (vkt_matmul_act): GPT-2's MLP up-projection (C = x W^T + b,
 * aux = gelu(C)) and its input gradient through GELU (C = (dy W) * gelu'(aux), aux the pre-activation).
 * Each case runs twice, fused and as the plain matmul followed by the separate gelu pass, on poisoned outputs:
 * both against the double reference, and against each other bit for bit (the fused store rounds C as stored
 * before the activation, as the separate pass reads it). On a CPU driver the cases marked `fused` must run as
 * one matmul dispatch and the others (N % 8 != 0, misaligned K, K in chunks) must fall back to the separate
 * pass; the shared-memory variant (GPUs) always falls back.
 *
 * The row sums of op(A) beside a weight gradient (a_row_sums: db += colsum(dy) with dW += dy^T x) are checked
 * the same way against vkt_op_matmul_colsum: bit for bit where K is one dispatch (both sum each row in k order),
 * within the reference bound where K is split into chunks (each chunk adds its partial sums).
 *
 * Bounds (max |y-r| / (|r| + 1e-3 rms(r))): C as test_op_matmul's, 1.2e-4 sqrt(K); gelu(C) amplifies C's
 * relative error by |x gelu'(x) / gelu(x)|, which is below 3 except in the far negative tail, where gelu(C) is
 * under 1e-3 rms and the absolute floor takes over: 4x C's bound + op_gelu's 1e-5. The gradient adds op_gelu's
 * backward bound, 2e-4 (gelu' cancels near x = -0.75). A 16-bit C adds one unit roundoff per rounding: one for
 * C and for gelu(C), two for the gradient (the product is rounded as stored, then the result). */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/gelu.h"
#include "ops/matmul.h"
#include "ref/ref_gelu.h"
#include "ref/ref_matmul.h"

#define F32 VKT_DTYPE_F32

typedef struct {
    int64_t m, n, k;
    vkt_matmul_act act;
    vkt_dtype dt; /* A, B, and (16-bit: the run's activations) C, bias and aux */
    bool fused;   /* on a CPU driver's register variant: one dispatch, no separate pass */
    const char *why;
} act_case;

typedef struct {
    vkt_tensor a, b, bias, c, aux;
    vkt_matmul_desc d;
    bool separate;
} act_ctx;

static vkt_status run_act(vkt_rec *r, void *p) {
    act_ctx *x = p;
    const vkt_tensor *bias = x->d.act == VKT_MM_ACT_GELU ? &x->bias : NULL;
    if (!x->separate) return vkt_op_matmul(r, &x->a, &x->b, bias, &x->c, &x->d);
    vkt_matmul_desc plain = x->d;
    plain.act = VKT_MM_ACT_NONE, plain.aux = NULL;
    VKT_TRY(vkt_op_matmul(r, &x->a, &x->b, bias, &x->c, &plain));
    return x->d.act == VKT_MM_ACT_GELU ? vkt_op_gelu_fwd(r, &x->c, &x->aux)
                                       : vkt_op_gelu_bwd(r, &x->aux, &x->c, &x->c, false);
}

static void check_act(vkt_test *t, vkt_matmul_variant v, const act_case *cs) {
    const int64_t M = cs->m, N = cs->n, K = cs->k;
    const bool up = cs->act == VKT_MM_ACT_GELU, half = cs->dt != F32;
    const vkt_dtype cdt = cs->dt; /* C, bias and aux share the activations' dtype */
    /* up: x (M, K) W (N, K) stored transposed; grad: dy (M, K) W (K, N) as stored. */
    float *a = vkt_test_randn(t, (size_t)(M * K), 1), *b = vkt_test_randn(t, (size_t)(K * N), 1);
    float *bias = vkt_test_randn(t, (size_t)N, 1), *pre = vkt_test_randn(t, (size_t)(M * N), 2);
    act_ctx x = {.a = vkt_half_or_f32_upload(t, cs->dt, a, M, K), .b = vkt_half_or_f32_upload(t, cs->dt, b, K, N),
                 .bias = vkt_half_or_f32_upload(t, cdt, bias, N, 1)};
    x.d = (vkt_matmul_desc){.m = M, .n = N, .k = K, .trans_b = up, .variant = v, .act = cs->act};
    float *got[2][2]; /* [fused, separate][C, aux] */
    for (int s = 0; s < 2; s++) {
        vkt_test_out c = vkt_any_output(t, cdt, NULL, M, N);
        vkt_test_out aux = up ? vkt_any_output(t, cdt, NULL, M, N) : vkt_any_output(t, cdt, pre, M, N);
        x.c = c.view, x.aux = aux.view, x.d.aux = &x.aux, x.separate = s == 1;
        vkt_test_run(t, run_act, &x);
        if (s == 0 && v == VKT_MATMUL_REG && vkt_device_get_info(t->dev)->type == VKT_DEVICE_CPU) {
            uint32_t n = vkt_rec_dispatch_count(t->rec);
            if (cs->fused ? n != 1 : n < 2)
                vkt_test_fail(t, "%s: %u dispatches, expected %s", cs->why, n,
                              cs->fused ? "one (the fused store)" : "the separate gelu pass");
        }
        got[s][0] = vkt_any_read(t, &c, "c"), got[s][1] = vkt_any_read(t, &aux, "aux");
    }

    /* The reference from the values the device holds (rounded to dt by the uploads above). */
    double *ad = vkt_test_to_double(a, (size_t)(M * K)), *bd = vkt_test_to_double(b, (size_t)(K * N));
    double *biasd = vkt_test_to_double(bias, (size_t)N), *prod = malloc((size_t)(M * N) * sizeof *prod);
    double *ref_aux = malloc((size_t)(M * N) * sizeof *ref_aux);
    vkt_ref_matmul_desc rd = {.m = M, .n = N, .k = K, .trans_b = up, .alpha = 1.0};
    vkt_ref_matmul(ad, bd, up ? biasd : NULL, prod, &rd);
    double hu = half ? vkt_half_unit(cs->dt) : 0;
    char what[160];
    snprintf(what, sizeof what, "%s %s %s %lldx%lldx%lld (%s)", vkt_matmul_variant_name(v), up ? "+gelu" : "*gelu'",
             vkt_dtype_name(cs->dt), (long long)M, (long long)N, (long long)K, cs->why);
    if (up) {
        /* gelu of C as stored: the device's C rounded to dt, which the reference rounds alike. */
        double *cd = vkt_test_to_double(got[0][0], (size_t)(M * N));
        vkt_ref_gelu_fwd(cd, ref_aux, M * N);
        vkt_check(t, what, got[0][0], prod, (size_t)(M * N), vkt_matmul_bound(K) + hu);
        vkt_check(t, what, got[0][1], ref_aux, (size_t)(M * N), 4 * vkt_matmul_bound(K) + 1e-5 + hu);
        free(cd);
    } else {
        double *pred = vkt_test_to_double(pre, (size_t)(M * N));
        vkt_ref_gelu_bwd(pred, prod, ref_aux, M * N, false);
        vkt_check(t, what, got[0][0], ref_aux, (size_t)(M * N), vkt_matmul_bound(K) + 2e-4 + 2 * hu);
        free(pred);
    }
    for (int o = 0; o < 2; o++)
        if (memcmp(got[0][o], got[1][o], (size_t)(M * N) * sizeof(float)) != 0)
            vkt_test_fail(t, "%s: %s differs from the plain matmul + separate gelu pass", what, o ? "aux" : "C");
    for (int s = 0; s < 2; s++) free(got[s][0]), free(got[s][1]);
    free(a), free(b), free(bias), free(pre), free(ad), free(bd), free(biasd), free(prod), free(ref_aux);
    vkt_arena_reset(t->arena);
}

typedef struct {
    int64_t m, n, k; /* dW (m, n) += dy^T x: dy (k, m), x (k, n) */
    vkt_dtype dt;
    int dispatches; /* on a CPU driver's register variant: matmul dispatches, and no colsum (0: colsum runs) */
    const char *why;
} sums_case;

typedef struct {
    vkt_tensor dy, x, dw, db;
    vkt_matmul_desc d;
    bool separate;
} sums_ctx;

static vkt_status run_sums(vkt_rec *r, void *p) {
    sums_ctx *c = p;
    if (!c->separate) return vkt_op_matmul(r, &c->dy, &c->x, NULL, &c->dw, &c->d);
    vkt_matmul_desc plain = c->d;
    plain.a_row_sums = NULL;
    VKT_TRY(vkt_op_matmul(r, &c->dy, &c->x, NULL, &c->dw, &plain));
    return vkt_op_matmul_colsum(r, &c->dy, &c->db, c->d.k, c->d.m);
}

static void check_sums(vkt_test *t, vkt_matmul_variant v, const sums_case *cs) {
    const int64_t M = cs->m, N = cs->n, K = cs->k;
    float *dy = vkt_test_randn(t, (size_t)(K * M), 1), *x = vkt_test_randn(t, (size_t)(K * N), 1);
    float *dw0 = vkt_test_randn(t, (size_t)(M * N), 1), *db0 = vkt_test_randn(t, (size_t)M, 1);
    sums_ctx c = {.dy = vkt_half_or_f32_upload(t, cs->dt, dy, K, M), .x = vkt_half_or_f32_upload(t, cs->dt, x, K, N)};
    c.d = (vkt_matmul_desc){.m = M, .n = N, .k = K, .trans_a = true, .accumulate = true, .variant = v,
                            .a_row_sums = &c.db};
    float *got[2][2];
    for (int s = 0; s < 2; s++) {
        vkt_test_out dw = vkt_test_output_init(t, dw0, M, N, 1, 1), db = vkt_test_output_init(t, db0, M, 1, 1, 1);
        c.dw = dw.view, c.db = db.view, c.separate = s == 1;
        vkt_test_run(t, run_sums, &c);
        if (s == 0 && v == VKT_MATMUL_REG && vkt_device_get_info(t->dev)->type == VKT_DEVICE_CPU) {
            uint32_t n = vkt_rec_dispatch_count(t->rec);
            if (cs->dispatches ? n != (uint32_t)cs->dispatches : n < 2)
                vkt_test_fail(t, "sums %s: %u dispatches, expected %s", cs->why, n,
                              cs->dispatches ? "the matmul's alone" : "a colsum pass too");
        }
        got[s][0] = vkt_test_read_output(t, &dw, "dw"), got[s][1] = vkt_test_read_output(t, &db, "db");
    }
    double *dyd = vkt_test_to_double(dy, (size_t)(K * M)), *xd = vkt_test_to_double(x, (size_t)(K * N));
    double *rw = vkt_test_to_double(dw0, (size_t)(M * N)), *rb = vkt_test_to_double(db0, (size_t)M);
    vkt_ref_matmul_desc rd = {.m = M, .n = N, .k = K, .trans_a = true, .alpha = 1.0, .accumulate = true};
    vkt_ref_matmul(dyd, xd, NULL, rw, &rd);
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = 0; j < M; j++) rb[j] += dyd[i * M + j];
    char what[160];
    snprintf(what, sizeof what, "%s rowsums %s %lldx%lldx%lld (%s)", vkt_matmul_variant_name(v),
             vkt_dtype_name(cs->dt), (long long)M, (long long)N, (long long)K, cs->why);
    vkt_check(t, what, got[0][0], rw, (size_t)(M * N), vkt_matmul_bound(K));
    vkt_check(t, what, got[0][1], rb, (size_t)M, vkt_matmul_bound(K));
    bool one_dispatch = K <= 1024; /* the default tile's K chunk */
    if (memcmp(got[0][0], got[1][0], (size_t)(M * N) * sizeof(float)) != 0 ||
        (one_dispatch && memcmp(got[0][1], got[1][1], (size_t)M * sizeof(float)) != 0))
        vkt_test_fail(t, "%s: differs from the plain matmul + colsum", what);
    for (int s = 0; s < 2; s++) free(got[s][0]), free(got[s][1]);
    free(dy), free(x), free(dw0), free(db0), free(dyd), free(xd), free(rw), free(rb);
    vkt_arena_reset(t->arena);
}

static const sums_case sums_cases[] = {
    {40, 24, 64, F32, 1, "in the K loop"},
    {40, 24, 61, F32, 0, "K % 8: tail split, colsum"},
    {24, 136, 2056, F32, 3, "K in 3 chunks, each adding"},
    {37, 24, 64, F32, 0, "M % 8: colsum"},
    {40, 20, 64, F32, 0, "N % 8: colsum"},
    {40, 24, 64, VKT_DTYPE_BF16, 1, "in the K loop"},
};

/* The contract's refusals: aux of another dtype, accumulate. */
static void expect_refused(vkt_test *t) {
    vkt_tensor a, c, aux;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, F32, 64, 1, 1, 1, &a));
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, F32, 64, 1, 1, 1, &c));
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_BF16, 64, 1, 1, 1, &aux));
    vkt_matmul_desc bad[2] = {{.m = 8, .n = 8, .k = 8, .act = VKT_MM_ACT_GELU, .aux = &aux},
                              {.m = 8, .n = 8, .k = 8, .act = VKT_MM_ACT_GELU, .aux = &c, .accumulate = true}};
    for (int i = 0; i < 2; i++) {
        VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
        vkt_status s = vkt_op_matmul(t->rec, &a, &a, NULL, &c, &bad[i]);
        VKT_TEST_TRY(t, vkt_rec_end(t->rec));
        if (s != VKT_ERR_ARG) vkt_test_fail(t, "activation case %d: %s, expected VKT_ERR_ARG", i, vkt_status_name(s));
    }
    vkt_arena_reset(t->arena);
}

static const act_case cases[] = {
    {37, 136, 40, VKT_MM_ACT_GELU, F32, true, "word store"},
    {37, 27, 40, VKT_MM_ACT_GELU, F32, false, "N % 8"},
    {64, 24, 2048, VKT_MM_ACT_GELU, F32, false, "K in chunks"},
    {37, 136, 40, VKT_MM_ACT_GELU_GRAD, F32, true, "word store"},
    {21, 64, 36, VKT_MM_ACT_GELU_GRAD, F32, false, "K % 8: tail split"},
    {9, 13, 8, VKT_MM_ACT_GELU_GRAD, F32, false, "N % 8"},
    {37, 136, 40, VKT_MM_ACT_GELU, VKT_DTYPE_F16, true, "word store"},
    {37, 136, 40, VKT_MM_ACT_GELU, VKT_DTYPE_BF16, true, "word store"},
    {37, 136, 40, VKT_MM_ACT_GELU_GRAD, VKT_DTYPE_F16, false, "gelu' into a 16-bit C: the separate pass"},
    {37, 136, 40, VKT_MM_ACT_GELU_GRAD, VKT_DTYPE_BF16, false, "gelu' into a 16-bit C: the separate pass"},
};

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "op_matmul_act");
    expect_refused(&t);
    const vkt_matmul_variant variants[] = {VKT_MATMUL_REG, VKT_MATMUL_SMEM};
    for (size_t vi = 0; vi < 2; vi++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (cases[i].dt != F32 && !vkt_half_supported(&t)) {
                printf("   SKIP %s: no 16-bit storage\n", vkt_dtype_name(cases[i].dt));
                continue;
            }
            check_act(&t, variants[vi], &cases[i]);
        }
    for (size_t vi = 0; vi < 2; vi++)
        for (size_t i = 0; i < sizeof sums_cases / sizeof sums_cases[0]; i++) {
            if (sums_cases[i].dt != F32 && !vkt_half_supported(&t)) continue;
            check_sums(&t, variants[vi], &sums_cases[i]);
        }
    return vkt_test_finish(&t);
}
