/* qmatmul: the Linear forward (y (+)= x W^T + bias) and input gradient (dx (+)= dy W) on a frozen weight
 * stored as f32, f16, bf16, int8 or NF4, for both kernel variants (reg and smem, forced with
 * VKT_QMATMUL_VARIANT), against the double reference that dequantizes on the host (ref_qmatmul.c).
 *
 * Shapes: rows 1..37, in a multiple of 64 and not (99 and 200: NF4 blocks straddle rows; 99 and 1: no
 * 8-element groups; 72 and 136: groups but straddling blocks, and an odd count of groups, so the reg
 * input gradient's last invocation clamps its second group of 8 columns onto its first), odd out; outputs
 * NaN-poisoned with guard words, accumulating outputs pre-filled; windows split over a 256 KiB binding limit
 * (rows, W rows, depth).
 * The reference backward is checked against finite differences of the reference forward first.
 * Bound: the f32 matmul bound of test_op_matmul.c, 1.2e-4 * sqrt(K): the weights the kernel sees are
 * exactly the reference's (same dequantization in f32; NF4's block maximum may differ by one rounding
 * where the shader compiler fuses code * absmax2 + offset, ~6e-8 relative, far inside the bound).
 * 16-bit activations (x, y, bias, dy, dx in f16 or bf16, the mixed precision case): inputs and the
 * accumulated y0, dx0 are rounded before the reference sees them; the output adds one rounding, so the
 * bound is the f32 one plus the unit roundoff (2^-11, 2^-8). */
#include <string.h>

#include "half_io.h"
#include "harness.h"
#include "ops/qmatmul.h"
#include "ref/ref_qmatmul.h"

typedef struct {
    vkt_tensor x, dy, bias;
    vkt_qweight w;
    vkt_tensor y, dx;
    int64_t rows;
    bool acc, has_bias;
} q_ctx;

static vkt_status run_fwd(vkt_rec *r, void *p) {
    q_ctx *c = p;
    return vkt_op_qmatmul_fwd(r, &c->x, &c->w, c->has_bias ? &c->bias : NULL, &c->y, c->rows, c->acc, VKT_MATMUL_AUTO);
}

static vkt_status run_dx(vkt_rec *r, void *p) {
    q_ctx *c = p;
    return vkt_op_qmatmul_bwd_dx(r, &c->dy, &c->w, &c->dx, c->rows, c->acc, VKT_MATMUL_AUTO);
}

/* Finite differences: loss = sum(g * y(x)), its gradient in x is g W (the reference backward). */
typedef struct {
    const vkt_qlayout *l;
    const void *blob;
    const double *g;
    int64_t rows;
} fd_ctx;

static double fd_loss(const double *x, void *p) {
    const fd_ctx *f = p;
    size_t ny = (size_t)(f->rows * f->l->out);
    double *y = malloc(ny * sizeof *y), s = 0;
    vkt_ref_qmatmul_fwd(x, f->l, f->blob, NULL, y, f->rows, false);
    for (size_t i = 0; i < ny; i++) s += f->g[i] * y[i];
    free(y);
    return s;
}

static void check_case(vkt_test *t, const char *vname, vkt_qformat f, int64_t rows, int64_t in, int64_t out, bool acc,
                       bool expect_split, vkt_dtype dt) {
    size_t nx = (size_t)(rows * in), ny = (size_t)(rows * out), nw = (size_t)(out * in);
    float *w = vkt_test_randn(t, nw, 0.1f), *x = vkt_test_randn(t, nx, 1), *dy = vkt_test_randn(t, ny, 1);
    float *bias = vkt_test_randn(t, (size_t)out, 1), *y0 = vkt_test_randn(t, ny, 1), *dx0 = vkt_test_randn(t, nx, 1);
    const double uh = dt == VKT_DTYPE_F32 ? 0 : vkt_half_unit(dt);
    vkt_qlayout l = vkt_quant_layout(f, out, in);
    void *blob = malloc(l.bytes);
    VKT_TEST_TRY(t, vkt_quant_pack(w, out, in, f, blob));
    q_ctx c = {.rows = rows, .acc = acc, .has_bias = !acc};
    VKT_TEST_TRY(t, vkt_qweight_upload(t->dev, t->arena, w, out, in, f, &c.w));
    c.x = vkt_half_or_f32_upload(t, dt, x, rows, in), c.dy = vkt_half_or_f32_upload(t, dt, dy, rows, out);
    c.bias = vkt_half_or_f32_upload(t, dt, bias, out, 1);
    vkt_test_out yo = vkt_any_output(t, dt, acc ? y0 : NULL, rows, out);
    vkt_test_out dxo = vkt_any_output(t, dt, acc ? dx0 : NULL, rows, in);
    c.y = yo.view, c.dx = dxo.view;

    double *xd = vkt_test_to_double(x, nx), *dyd = vkt_test_to_double(dy, ny),
           *bd = vkt_test_to_double(bias, (size_t)out);
    double *yr = vkt_test_to_double(y0, ny), *dxr = vkt_test_to_double(dx0, nx);
    vkt_ref_qmatmul_fwd(xd, &l, blob, acc ? NULL : bd, yr, rows, acc);
    vkt_ref_qmatmul_bwd_dx(dyd, &l, blob, dxr, rows, acc);
    char what[160];
    if (!acc && rows * in * out <= 20000 && dt == VKT_DTYPE_F32) {
        double *g = calloc(nx, sizeof *g);
        vkt_ref_qmatmul_bwd_dx(dyd, &l, blob, g, rows, false);
        fd_ctx fc = {&l, blob, dyd, rows};
        snprintf(what, sizeof what, "ref dx vs fd %s %lldx%lldx%lld", vkt_qformat_name(f), (long long)rows,
                 (long long)in, (long long)out);
        vkt_check_fd(t, what, fd_loss, xd, g, nx, &fc, 1e-6);
        free(g);
    }

    const char *mode = acc ? " acc" : " bias", *dn = dt == VKT_DTYPE_F32 ? "" : vkt_dtype_name(dt);
    vkt_test_run(t, run_fwd, &c);
    uint32_t nd_fwd = vkt_rec_dispatch_count(t->rec);
    float *gy = vkt_any_read(t, &yo, "y");
    snprintf(what, sizeof what, "%s %s fwd %lldx%lldx%lld%s d%u %s", vname, vkt_qformat_name(f), (long long)rows,
             (long long)in, (long long)out, mode, nd_fwd, dn);
    vkt_check(t, what, gy, yr, ny, vkt_matmul_bound(in) + uh);
    vkt_test_run(t, run_dx, &c);
    uint32_t nd_dx = vkt_rec_dispatch_count(t->rec);
    float *gdx = vkt_any_read(t, &dxo, "dx");
    snprintf(what, sizeof what, "%s %s dx  %lldx%lldx%lld%s d%u %s", vname, vkt_qformat_name(f), (long long)rows,
             (long long)in, (long long)out, acc ? " acc" : "", nd_dx, dn);
    vkt_check(t, what, gdx, dxr, nx, vkt_matmul_bound(out) + uh);
    if (expect_split && (nd_fwd < 2 || nd_dx < 2))
        vkt_test_fail(t, "%s %s %lldx%lldx%lld: expected split dispatches, got %u and %u", vname, vkt_qformat_name(f),
                      (long long)rows, (long long)in, (long long)out, nd_fwd, nd_dx);
    free(w), free(x), free(dy), free(bias), free(y0), free(dx0), free(blob), free(xd), free(dyd), free(bd);
    free(yr), free(dxr), free(gy), free(gdx);
    vkt_arena_reset(t->arena);
}

typedef struct {
    int64_t rows, in, out;
    bool acc, split;
} shape;

static const shape shapes[] = {
    {1, 64, 1, false, false},  {5, 64, 7, true, false},     {37, 128, 33, false, false}, {13, 99, 17, false, false},
    {7, 72, 129, true, false}, {29, 200, 31, false, false}, {3, 1, 5, true, false},      {17, 256, 9, true, false},
    {2, 8, 3, false, false},   {19, 136, 45, false, false},
};

/* Over the 256 KiB binding limit: x / y rows (forward), W rows and depth (dx), every format. */
static const shape split_shapes[] = {
    {1100, 64, 40, false, true},
    {24, 512, 1100, true, true},
};

int main(void) {
    vkt_test t;
    setenv("VKT_MAX_BINDING_BYTES", "262144", 1);
    vkt_test_init(&t, "op_qmatmul");
    const vkt_device_info *info = vkt_device_get_info(t.dev);
    unsetenv("VKT_QMATMUL_VARIANT");
    unsetenv("VKT_MATMUL_VARIANT");
    vkt_matmul_variant def = vkt_qmatmul_pick(t.rec, VKT_MATMUL_AUTO);
    printf("   default variant: %s (device type %s)\n", vkt_matmul_variant_name(def), vkt_device_type_name(info->type));
    if (def != (info->type == VKT_DEVICE_CPU ? VKT_MATMUL_REG : VKT_MATMUL_SMEM))
        vkt_test_fail(&t, "default variant is %s", vkt_matmul_variant_name(def));
    setenv("VKT_MATMUL_VARIANT", "smem", 1);
    if (vkt_qmatmul_pick(t.rec, VKT_MATMUL_AUTO) != VKT_MATMUL_SMEM) vkt_test_fail(&t, "VKT_MATMUL_VARIANT ignored");
    unsetenv("VKT_MATMUL_VARIANT");

    const vkt_matmul_variant variants[] = {VKT_MATMUL_REG, VKT_MATMUL_SMEM};
    for (int vi = 0; vi < 2; vi++) {
        const char *vname = vkt_matmul_variant_name(variants[vi]);
        setenv("VKT_QMATMUL_VARIANT", vname, 1);
        for (int f = 0; f < VKT_QFORMAT_COUNT; f++) {
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                check_case(&t, vname, (vkt_qformat)f, shapes[s].rows, shapes[s].in, shapes[s].out, shapes[s].acc, false,
                           VKT_DTYPE_F32);
            for (size_t s = 0; s < sizeof split_shapes / sizeof split_shapes[0]; s++) {
                const shape *sp = &split_shapes[s];
                check_case(&t, vname, (vkt_qformat)f, sp->rows, sp->in, sp->out, sp->acc, sp->split, VKT_DTYPE_F32);
            }
            if (!vkt_half_supported(&t)) continue;
            /* 16-bit activations (QLoRA in mixed precision): the 8-wide loads (in 256 and 72, both kernels),
             * a row-straddling NF4 shape (99: one element at a time), accumulation, and a split (2200 rows
             * of 64 bf16 are 275 KiB). smem is slow on CPU drivers: one shape there. */
            check_case(&t, vname, (vkt_qformat)f, 7, 72, 129, true, false, VKT_DTYPE_F16);
            if (variants[vi] == VKT_MATMUL_SMEM) continue;
            check_case(&t, vname, (vkt_qformat)f, 17, 256, 9, false, false, VKT_DTYPE_BF16);
            check_case(&t, vname, (vkt_qformat)f, 13, 99, 17, true, false, VKT_DTYPE_BF16);
            check_case(&t, vname, (vkt_qformat)f, 2200, 64, 40, false, true, VKT_DTYPE_F16);
        }
    }
    unsetenv("VKT_QMATMUL_VARIANT");
    return vkt_test_finish(&t);
}
