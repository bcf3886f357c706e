/* SwiGLU recorders. Both layouts share one shader pair: gate and up are described by (tensor, row stride,
 * first column), and each dispatch binds whole rows from the aligned offset at or below its first row. On CPU
 * drivers a dispatch whose F, strides and offsets are multiples of 8 runs the _vec8 variant (8 elements of a
 * row per invocation, one word per access: vkt_ops_wide8_rows). */
#include "ops/swiglu.h"

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_rows, F, g_stride, u_stride, g_off, u_off, o_off, _pad;
} vkt_pc_swiglu_fwd;
_Static_assert(sizeof(vkt_pc_swiglu_fwd) == 32, "keep in sync with swiglu_fwd.comp");

typedef struct {
    uint32_t n_rows, F, g_stride, u_stride, g_off, u_off, do_off, dg_off, du_off, _pad[3];
} vkt_pc_swiglu_bwd;
_Static_assert(sizeof(vkt_pc_swiglu_bwd) == 48, "keep in sync with swiglu_bwd.comp");

#define WG 256

/* One operand: rows of `stride` elements of t, this operand starting at column col0. */
typedef struct {
    const vkt_tensor *t;
    int64_t stride, col0;
} operand;

static vkt_tensor bind_rows(vkt_rec *r, operand o, int64_t r0, int64_t n, uint32_t *off) {
    vkt_tensor v = vkt_ops_rows_binding(r, o.t, o.stride, r0, n, off);
    *off += (uint32_t)o.col0;
    return v;
}

/* Rows per dispatch: whole rows of the widest operand fit one binding, and n_rows * F fits 32-bit indices. */
static int64_t split_rows(vkt_rec *r, int64_t widest_row_elems, vkt_dtype dt, int64_t F) {
    int64_t rows = vkt_ops_max_rows(r, (size_t)widest_row_elems * vkt_dtype_size(dt));
    int64_t lim = (int64_t)(UINT32_MAX / 2) / F;
    return rows < lim ? rows : lim;
}

/* The last dimension that is not 1 (shapes pad unused trailing dims with 1). */
static int64_t last_dim(const vkt_tensor *t) {
    for (int i = 3; i > 0; i--)
        if (t->shape[i] != 1) return t->shape[i];
    return t->shape[0];
}

static vkt_status fwd(vkt_rec *r, int64_t N, int64_t F, operand g, operand u, const vkt_tensor *out) {
    VKT_ASSERT(N * F == vkt_tensor_numel(out) && N * g.stride == vkt_tensor_numel(g.t));
    VKT_ASSERT(N * u.stride == vkt_tensor_numel(u.t));
    VKT_ASSERT(g.t->dtype == u.t->dtype && out->dtype == g.t->dtype);
    const uint32_t spec[] = {WG};
    int64_t split = split_rows(r, g.stride > u.stride ? g.stride : u.stride, out->dtype, F);
    operand o = {out, F, 0};
    for (int64_t r0 = 0; r0 < N; r0 += split) {
        int64_t n = N - r0 < split ? N - r0 : split;
        vkt_pc_swiglu_fwd pc = {(uint32_t)n, (uint32_t)F, (uint32_t)g.stride, (uint32_t)u.stride, 0, 0, 0, 0};
        vkt_binding b[3] = {{bind_rows(r, g, r0, n, &pc.g_off), VKT_READ},
                            {bind_rows(r, u, r0, n, &pc.u_off), VKT_READ},
                            {bind_rows(r, o, r0, n, &pc.o_off), VKT_WRITE}};
        const uint32_t woff[3] = {pc.g_off, pc.u_off, pc.o_off};
        char shader[64];
        vkt_pipeline *p;
        bool vec8 = vkt_ops_wide8_rows(r, F, b, woff, 3);
        vkt_ops_vec8_variant("swiglu_fwd", out->dtype, vec8, shader, sizeof shader);
        VKT_TRY(vkt_ops_pipeline(r, shader, 3, sizeof pc, spec, 1, &p));
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div(vkt_ceil_div((uint64_t)(n * F), vec8 ? 8 : 1), WG), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "swiglu_fwd", p, b, 3, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the choice) */
    }
    return VKT_OK;
}

static vkt_status bwd(vkt_rec *r, int64_t N, int64_t F, operand g, operand u, const vkt_tensor *dout, operand dg,
                      operand du) {
    VKT_ASSERT(N * F == vkt_tensor_numel(dout) && N * g.stride == vkt_tensor_numel(g.t));
    VKT_ASSERT(N * u.stride == vkt_tensor_numel(u.t));
    VKT_ASSERT(dg.stride == g.stride && du.stride == u.stride && dg.col0 == g.col0 && du.col0 == u.col0);
    VKT_ASSERT(vkt_tensor_numel(dg.t) == vkt_tensor_numel(g.t) && vkt_tensor_numel(du.t) == vkt_tensor_numel(u.t));
    const vkt_tensor *all[] = {g.t, u.t, dout, dg.t, du.t};
    const char *names[] = {"gate", "up", "dout", "dgate", "dup"};
    VKT_TRY(vkt_ops_check_storage("swiglu_bwd", 5, all, names));
    const uint32_t spec[] = {WG};
    int64_t split = split_rows(r, g.stride > u.stride ? g.stride : u.stride, dout->dtype, F);
    operand d = {dout, F, 0};
    for (int64_t r0 = 0; r0 < N; r0 += split) {
        int64_t n = N - r0 < split ? N - r0 : split;
        vkt_pc_swiglu_bwd pc = {
            .n_rows = (uint32_t)n, .F = (uint32_t)F, .g_stride = (uint32_t)g.stride, .u_stride = (uint32_t)u.stride};
        /* Fused: dg and du bind the same rows; the shader writes them at disjoint elements. */
        vkt_binding b[5] = {{bind_rows(r, g, r0, n, &pc.g_off), VKT_READ},
                            {bind_rows(r, u, r0, n, &pc.u_off), VKT_READ},
                            {bind_rows(r, d, r0, n, &pc.do_off), VKT_READ},
                            {bind_rows(r, dg, r0, n, &pc.dg_off), VKT_WRITE},
                            {bind_rows(r, du, r0, n, &pc.du_off), VKT_WRITE}};
        const uint32_t woff[5] = {pc.g_off, pc.u_off, pc.do_off, pc.dg_off, pc.du_off};
        char shader[64];
        vkt_pipeline *p;
        bool vec8 = vkt_ops_wide8_rows(r, F, b, woff, 5);
        vkt_ops_vec8_variant("swiglu_bwd", dout->dtype, vec8, shader, sizeof shader);
        VKT_TRY(vkt_ops_pipeline(r, shader, 5, sizeof pc, spec, 1, &p));
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div(vkt_ceil_div((uint64_t)(n * F), vec8 ? 8 : 1), WG), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "swiglu_bwd", p, b, 5, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the choice) */
    }
    return VKT_OK;
}

/* Separate tensors are elementwise: any common row length works, so use out's last dimension. */
vkt_status vkt_op_swiglu_fwd(vkt_rec *r, const vkt_tensor *gate, const vkt_tensor *up, const vkt_tensor *out) {
    int64_t F = last_dim(out), N = vkt_tensor_numel(out) / F;
    return fwd(r, N, F, (operand){gate, F, 0}, (operand){up, F, 0}, out);
}

vkt_status vkt_op_swiglu_bwd(vkt_rec *r, const vkt_tensor *gate, const vkt_tensor *up, const vkt_tensor *dout,
                             const vkt_tensor *dgate, const vkt_tensor *dup) {
    int64_t F = last_dim(dout), N = vkt_tensor_numel(dout) / F;
    return bwd(r, N, F, (operand){gate, F, 0}, (operand){up, F, 0}, dout, (operand){dgate, F, 0}, (operand){dup, F, 0});
}

/* Fused: F is half of gu's last dimension. */
vkt_status vkt_op_swiglu_fused_fwd(vkt_rec *r, const vkt_tensor *gu, const vkt_tensor *out) {
    int64_t F = last_dim(gu) / 2, N = vkt_tensor_numel(gu) / (2 * F);
    VKT_ASSERT(F > 0 && last_dim(gu) == 2 * F);
    return fwd(r, N, F, (operand){gu, 2 * F, 0}, (operand){gu, 2 * F, F}, out);
}

vkt_status vkt_op_swiglu_fused_bwd(vkt_rec *r, const vkt_tensor *gu, const vkt_tensor *dout, const vkt_tensor *dgu) {
    int64_t F = last_dim(gu) / 2, N = vkt_tensor_numel(gu) / (2 * F);
    VKT_ASSERT(F > 0 && last_dim(gu) == 2 * F);
    return bwd(r, N, F, (operand){gu, 2 * F, 0}, (operand){gu, 2 * F, F}, dout, (operand){dgu, 2 * F, 0},
               (operand){dgu, 2 * F, F});
}
