/* Residual add: forward, accumulating backward, odd sizes and a chunked size over the binding limit, in f32
 * and in 16-bit storage.
 * Bounds: f32 1e-6 (one f32 rounding of an exact sum, 2^-24). 16-bit: inputs (and the accumulated da, db)
 * are rounded before the reference sees them; the f32 sum rounds once more to the storage type, so the
 * relative error is at most 2^-24 + the unit roundoff (2^-11 f16, 2^-8 bf16): bound 1e-6 + that. Adding b
 * twice or dropping it scores ~1 under this metric. */
#include "half_io.h"
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

static void check_size(vkt_test *t, vkt_dtype dt, int64_t n) {
    float *a = vkt_test_randn(t, (size_t)n, 1), *b = vkt_test_randn(t, (size_t)n, 1);
    float *dout = vkt_test_randn(t, (size_t)n, 1), *da0 = vkt_test_randn(t, (size_t)n, 1);
    float *db0 = vkt_test_randn(t, (size_t)n, 1);
    ctx_t c = {.a = vkt_half_or_f32_upload(t, dt, a, n, 1),
               .b = vkt_half_or_f32_upload(t, dt, b, n, 1),
               .dout = vkt_half_or_f32_upload(t, dt, dout, n, 1)};
    vkt_test_out out = vkt_any_output(t, dt, NULL, n, 1);
    vkt_test_out da = vkt_any_output(t, dt, da0, n, 1), db = vkt_any_output(t, dt, db0, n, 1);
    double *ad = vkt_test_to_double(a, (size_t)n), *bd = vkt_test_to_double(b, (size_t)n);
    double *dd = vkt_test_to_double(dout, (size_t)n), *dad = vkt_test_to_double(da0, (size_t)n);
    double *dbd = vkt_test_to_double(db0, (size_t)n), *ref = malloc((size_t)n * sizeof *ref);

    c.out = out.view, c.da = da.view, c.db = db.view;
    vkt_test_run(t, run_fwd, &c);
    vkt_test_run(t, run_bwd, &c);

    char what[64];
    const char *dn = vkt_dtype_name(dt);
    double bound = 1e-6 + (dt == VKT_DTYPE_F32 ? 0 : vkt_half_unit(dt));
    vkt_ref_residual_fwd(ad, bd, ref, n);
    float *y = vkt_any_read(t, &out, "out");
    snprintf(what, sizeof what, "residual_fwd %s n=%lld", dn, (long long)n);
    vkt_check(t, what, y, ref, (size_t)n, bound);
    vkt_ref_residual_bwd(dd, dad, dbd, n);
    float *gda = vkt_any_read(t, &da, "da"), *gdb = vkt_any_read(t, &db, "db");
    snprintf(what, sizeof what, "residual_bwd %s da n=%lld", dn, (long long)n);
    vkt_check(t, what, gda, dad, (size_t)n, bound);
    snprintf(what, sizeof what, "residual_bwd %s db n=%lld", dn, (long long)n);
    vkt_check(t, what, gdb, dbd, (size_t)n, bound);
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
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_size(&t, VKT_DTYPE_F32, sizes[i]);
    if (vkt_half_supported(&t)) {
        const vkt_dtype dts[] = {VKT_DTYPE_F16, VKT_DTYPE_BF16};
        for (int d = 0; d < 2; d++) {
            check_size(&t, dts[d], 7);
            check_size(&t, dts[d], 257);
            check_size(&t, dts[d], 1000003); /* two chunks of 2-byte elements over the 1 MiB limit */
        }
        /* Mixed storage is refused, not recorded. */
        vkt_tensor h, f;
        VKT_TEST_TRY(&t, vkt_tensor_alloc(t.arena, VKT_DTYPE_F16, 64, 1, 1, 1, &h));
        VKT_TEST_TRY(&t, vkt_tensor_alloc(t.arena, VKT_DTYPE_F32, 64, 1, 1, 1, &f));
        VKT_TEST_TRY(&t, vkt_rec_begin(t.rec));
        vkt_status s = vkt_op_residual_fwd(t.rec, &h, &f, &h);
        VKT_TEST_TRY(&t, vkt_rec_end(t.rec));
        if (s != VKT_ERR_ARG) vkt_test_fail(&t, "residual f16 + f32 returned %s, not ARG", vkt_status_name(s));
    } else {
        printf("   skipped 16-bit storage: device lacks storageBuffer16BitAccess\n");
    }
    return vkt_test_finish(&t);
}
