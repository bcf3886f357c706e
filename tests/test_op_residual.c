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

/* misaligned: a and dout start off an 8-element boundary, so the one-element kernel must run; otherwise
 * every binding is aligned and CPU drivers must run the 8-wide one (any n: a partial last word goes element
 * by element). */
static void check_size(vkt_test *t, vkt_dtype dt, int64_t n, bool misaligned) {
    float *a = vkt_test_randn(t, (size_t)n, 1), *b = vkt_test_randn(t, (size_t)n, 1);
    float *dout = vkt_test_randn(t, (size_t)n, 1), *da0 = vkt_test_randn(t, (size_t)n, 1);
    float *db0 = vkt_test_randn(t, (size_t)n, 1);
    ctx_t c = {.b = vkt_half_or_f32_upload(t, dt, b, n, 1)};
    if (misaligned) {
        if (!vkt_test_upload_misaligned(t, dt, a, n, &c.a) || !vkt_test_upload_misaligned(t, dt, dout, n, &c.dout))
            vkt_test_fail(t, "residual: no misaligned binding offset for %s", vkt_dtype_name(dt));
    } else {
        c.a = vkt_half_or_f32_upload(t, dt, a, n, 1), c.dout = vkt_half_or_f32_upload(t, dt, dout, n, 1);
    }
    vkt_test_out out = vkt_any_output(t, dt, NULL, n, 1);
    vkt_test_out da = vkt_any_output(t, dt, da0, n, 1), db = vkt_any_output(t, dt, db0, n, 1);
    double *ad = vkt_test_to_double(a, (size_t)n), *bd = vkt_test_to_double(b, (size_t)n);
    double *dd = vkt_test_to_double(dout, (size_t)n), *dad = vkt_test_to_double(da0, (size_t)n);
    double *dbd = vkt_test_to_double(db0, (size_t)n), *ref = malloc((size_t)n * sizeof *ref);

    c.out = out.view, c.da = da.view, c.db = db.view;
    char what[64], want[64];
    const char *dn = vkt_dtype_name(dt);
    vkt_test_vec8_variant(t, "residual_fwd", dt, !misaligned, want, sizeof want);
    snprintf(what, sizeof what, "residual_fwd %s n=%lld%s", dn, (long long)n, misaligned ? " misaligned" : "");
    vkt_test_run_expect_variant(t, run_fwd, &c, "residual_fwd", want, what);
    /* The backward's da += dout reads a misaligned dout: one-element kernel; db += dout likewise. */
    vkt_test_run_expect_variant(t, run_bwd, &c, "residual_fwd", want, what);

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
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_size(&t, VKT_DTYPE_F32, sizes[i], false);
    uint32_t align = vkt_device_get_info(t.dev)->min_storage_offset_align;
    if (align % 32) {
        check_size(&t, VKT_DTYPE_F32, 257, true);
        check_size(&t, VKT_DTYPE_F32, 1000003, true);
    } else {
        printf("   skipped misaligned f32: storage offsets are aligned to %u bytes (whole 8-float words)\n", align);
    }
    if (vkt_half_supported(&t)) {
        const vkt_dtype dts[] = {VKT_DTYPE_F16, VKT_DTYPE_BF16};
        for (int d = 0; d < 2; d++) {
            check_size(&t, dts[d], 7, false);
            check_size(&t, dts[d], 257, false);
            check_size(&t, dts[d], 1000003, false); /* two chunks of 2-byte elements over the 1 MiB limit */
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
