/* Residual add: forward, accumulating backward, odd sizes and a chunked size over the binding limit. */
#include "harness.h"
#include "ops/residual.h"
#include "ref/ref_residual.h"

typedef struct {
    vkt_tensor a, b, out, dout, da, db;
} ctx_t;

static vkt_status run_fwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_residual_fwd(r, &x->a, &x->b, &x->out);
}

static vkt_status run_bwd(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_residual_bwd(r, &x->dout, &x->da, &x->db);
}

static void check_size(vkt_test *t, int64_t n) {
    float *a = vkt_test_randn(t, (size_t)n, 1), *b = vkt_test_randn(t, (size_t)n, 1);
    float *dout = vkt_test_randn(t, (size_t)n, 1), *da0 = vkt_test_randn(t, (size_t)n, 1);
    float *db0 = vkt_test_randn(t, (size_t)n, 1);
    double *ad = vkt_test_to_double(a, (size_t)n), *bd = vkt_test_to_double(b, (size_t)n);
    double *dd = vkt_test_to_double(dout, (size_t)n), *dad = vkt_test_to_double(da0, (size_t)n);
    double *dbd = vkt_test_to_double(db0, (size_t)n), *ref = malloc((size_t)n * sizeof *ref);

    ctx_t c = {.a = vkt_test_upload(t, a, n, 1, 1, 1), .b = vkt_test_upload(t, b, n, 1, 1, 1),
               .dout = vkt_test_upload(t, dout, n, 1, 1, 1)};
    vkt_test_out out = vkt_test_output(t, n, 1, 1, 1);
    vkt_test_out da = vkt_test_output_init(t, da0, n, 1, 1, 1), db = vkt_test_output_init(t, db0, n, 1, 1, 1);
    c.out = out.view, c.da = da.view, c.db = db.view;
    vkt_test_run(t, run_fwd, &c);
    vkt_test_run(t, run_bwd, &c);

    char what[64];
    vkt_ref_residual_fwd(ad, bd, ref, n);
    float *y = vkt_test_read_output(t, &out, "out");
    snprintf(what, sizeof what, "residual_fwd n=%lld", (long long)n);
    vkt_check(t, what, y, ref, (size_t)n, 1e-6);
    vkt_ref_residual_bwd(dd, dad, dbd, n);
    float *gda = vkt_test_read_output(t, &da, "da"), *gdb = vkt_test_read_output(t, &db, "db");
    snprintf(what, sizeof what, "residual_bwd da n=%lld", (long long)n);
    vkt_check(t, what, gda, dad, (size_t)n, 1e-6);
    snprintf(what, sizeof what, "residual_bwd db n=%lld", (long long)n);
    vkt_check(t, what, gdb, dbd, (size_t)n, 1e-6);
    free(a), free(b), free(dout), free(da0), free(db0), free(ad), free(bd), free(dd), free(dad), free(dbd);
    free(ref), free(y), free(gda), free(gdb);
    vkt_arena_reset(t->arena);
}

int main(void) {
    vkt_test t;
    /* 1 MiB bindings: the 1000003-element case must split into four chunks. */
    setenv("VKT_MAX_BINDING_BYTES", "1048576", 1);
    vkt_test_init(&t, "op_residual");
    const int64_t sizes[] = {1, 7, 255, 256, 257, 1000003};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_size(&t, sizes[i]);
    return vkt_test_finish(&t);
}
