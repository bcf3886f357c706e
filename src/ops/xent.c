/* Softmax cross-entropy recorders (see xent.h). Three small dispatches around the row kernel:
 * xent_count (n_valid, before the fused kernel needs it), the row kernel in row chunks that each fit one
 * binding, and xent_fwd_mean (second reduction stage). */
#include "ops/xent.h"

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_rows, V;
    int32_t ignore_index;
    float dloss;
    uint32_t base_logits, base_targets, base_losses, base_rowstats, base_dlogits, base_weights;
    uint32_t ld, scale_index;
} vkt_pc_xent_rows;
_Static_assert(sizeof(vkt_pc_xent_rows) == 48, "keep in sync with shaders/common/xent.glsl");
#define NO_SCALE 0xffffffffu /* VKT_XENT_NO_SCALE */

typedef struct {
    uint32_t n, V;
    int32_t ignore_index;
    uint32_t base_targets;
} vkt_pc_xent_count;
_Static_assert(sizeof(vkt_pc_xent_count) == 16, "keep in sync with shaders/xent_count.comp");

typedef struct {
    uint32_t n, base_losses;
} vkt_pc_xent_mean;
_Static_assert(sizeof(vkt_pc_xent_mean) == 8, "keep in sync with shaders/xent_fwd_mean.comp");

#define WG_REDUCE 256 /* xent_count, xent_fwd_mean: one workgroup */
#define WG_GROUP 256  /* GROUP_PER_ROW: invocations per row */
#define WG_SERIAL 16  /* THREAD_PER_ROW: rows per workgroup */
#define VKT_XENT_SERIAL_MAX_V 120000

vkt_xent_opts vkt_xent_opts_default(void) {
    return (vkt_xent_opts){.ignore_index = -100,
                           .dloss = 1.0f,
                           .variant = VKT_XENT_AUTO,
                           .vocab = 0,
                           .dloss_scale = NULL,
                           .dloss_scale_index = 0};
}

typedef struct {
    int64_t N, V, ld; /* rows, logits per row, elements between rows */
    bool serial;
} shape_t;

static shape_t check_shape(const vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets,
                           const vkt_xent_opts *o) {
    shape_t s;
    s.N = vkt_tensor_numel(targets);
    VKT_ASSERT(s.N > 0 && targets->dtype == VKT_DTYPE_I32);
    VKT_ASSERT(vkt_tensor_numel(logits) % s.N == 0);
    s.ld = vkt_tensor_numel(logits) / s.N;
    s.V = o->vocab > 0 ? o->vocab : s.ld;
    VKT_ASSERT(s.V >= 1 && s.V <= s.ld && s.ld <= INT32_MAX);
    /* The per-row vectors (targets, losses, rowstats) must each fit one binding: 8 M rows at 128 MiB. */
    VKT_ASSERT(2 * s.N + vkt_ops_align_elems(r, 4) <= vkt_ops_max_binding_elems(r, 4));
    vkt_xent_variant v = o->variant;
    if (v == VKT_XENT_AUTO)
        v = vkt_device_get_info(vkt_rec_device(r))->type == VKT_DEVICE_CPU ? VKT_XENT_THREAD_PER_ROW
                                                                           : VKT_XENT_GROUP_PER_ROW;
    /* lavapipe stops an invocation after 65535 loop iterations in total (gallivm's loop limiter); the
     * serial kernel takes about V/2 of them (two passes unrolled by 4), so wide rows use workgroups. */
    s.serial = v == VKT_XENT_THREAD_PER_ROW && s.V <= VKT_XENT_SERIAL_MAX_V;
    return s;
}

static void check_f32(const vkt_tensor *t, int64_t n) {
    VKT_ASSERT(t->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(t) == n);
}

/* logits and dlogits (NULL in the forward) share f32, f16 or bf16; the optional device scale is f32. */
static vkt_status check_dtypes(const char *op, const vkt_tensor *logits, const vkt_tensor *dlogits,
                               const vkt_xent_opts *o) {
    const vkt_tensor *t[] = {logits, dlogits};
    const char *names[] = {"logits", "dlogits"};
    VKT_TRY(vkt_ops_check_storage(op, 2, t, names));
    if (o->dloss_scale) {
        const vkt_tensor *st[] = {o->dloss_scale};
        const char *sn[] = {"dloss_scale"};
        VKT_TRY(vkt_ops_check_dtype(op, VKT_DTYPE_F32, 1, st, sn));
        VKT_ASSERT(o->dloss_scale_index >= 0 && o->dloss_scale_index < vkt_tensor_numel(o->dloss_scale));
    }
    return VKT_OK;
}

static vkt_status record_count(vkt_rec *r, const vkt_tensor *targets, const vkt_tensor *stats, shape_t s,
                               const vkt_xent_opts *o) {
    vkt_pipeline *p;
    const uint32_t spec[] = {WG_REDUCE};
    VKT_TRY(vkt_ops_pipeline(r, "xent_count", 2, sizeof(vkt_pc_xent_count), spec, 1, &p));
    vkt_pc_xent_count pc = {(uint32_t)s.N, (uint32_t)s.V, o->ignore_index, 0};
    vkt_binding b[2] = {{vkt_ops_aligned_slice(r, targets, 0, s.N, &pc.base_targets), VKT_READ},
                        {vkt_ops_flat_slice(stats, 0, 4), VKT_WRITE}};
    return vkt_rec_dispatch(r, "xent_count", p, b, 2, &pc, sizeof pc, 1, 1, 1);
}

static vkt_status record_mean(vkt_rec *r, const vkt_tensor *losses, const vkt_tensor *stats, shape_t s) {
    vkt_pipeline *p;
    const uint32_t spec[] = {WG_REDUCE};
    VKT_TRY(vkt_ops_pipeline(r, "xent_fwd_mean", 2, sizeof(vkt_pc_xent_mean), spec, 1, &p));
    vkt_pc_xent_mean pc = {(uint32_t)s.N, 0};
    vkt_binding b[2] = {{vkt_ops_aligned_slice(r, losses, 0, s.N, &pc.base_losses), VKT_READ},
                        {vkt_ops_flat_slice(stats, 0, 4), VKT_RW}};
    return vkt_rec_dispatch(r, "xent_fwd_mean", p, b, 2, &pc, sizeof pc, 1, 1, 1);
}

typedef enum { ROWS_FWD, ROWS_FWD_BWD, ROWS_BWD, ROWS_BWD_W } rows_kind;

/* The row kernel over chunks of rows, each chunk's logits (and dlogits) within one binding. ROWS_BWD_W
 * binds per-row weights where ROWS_BWD binds the stats (`stats` then holds the weights tensor). */
static vkt_status record_rows(vkt_rec *r, rows_kind kind, shape_t s, const vkt_xent_opts *o,
                              const vkt_tensor *logits, const vkt_tensor *targets, const vkt_tensor *losses,
                              const vkt_tensor *rowstats, const vkt_tensor *stats, const vkt_tensor *dlogits) {
    static const char *const names[2][4] = {
        {"xent_fwd", "xent_fwd_bwd", "xent_bwd", "xent_bwd_w"},
        {"xent_fwd_serial", "xent_fwd_bwd_serial", "xent_bwd_serial", "xent_bwd_w_serial"}};
    bool bwd = kind == ROWS_BWD || kind == ROWS_BWD_W;
    const char *name = names[s.serial][kind];
    char shader[48];
    vkt_ops_dtype_variant(name, logits->dtype, shader, sizeof shader);
    uint32_t wg = s.serial ? WG_SERIAL : WG_GROUP, nb = kind == ROWS_FWD ? 4 : 6;
    vkt_pipeline *p;
    VKT_TRY(vkt_ops_pipeline(r, shader, nb, sizeof(vkt_pc_xent_rows), &wg, 1, &p));
    int64_t rows_per = (vkt_ops_max_binding_elems(r, 4) - vkt_ops_align_elems(r, 4)) / s.ld;
    VKT_ASSERT(rows_per >= 1); /* one row must fit one binding */
    for (int64_t r0 = 0; r0 < s.N; r0 += rows_per) {
        int64_t nr = s.N - r0 < rows_per ? s.N - r0 : rows_per;
        vkt_pc_xent_rows pc = {.n_rows = (uint32_t)nr,
                               .V = (uint32_t)s.V,
                               .ignore_index = o->ignore_index,
                               .dloss = o->dloss,
                               .ld = (uint32_t)s.ld,
                               .scale_index = NO_SCALE};
        vkt_tensor lg = vkt_ops_aligned_slice(r, logits, r0 * s.ld, nr * s.ld, &pc.base_logits);
        vkt_tensor tg = vkt_ops_aligned_slice(r, targets, r0, nr, &pc.base_targets);
        vkt_binding b[6];
        uint32_t n = 0;
        b[n++] = (vkt_binding){lg, VKT_READ};
        b[n++] = (vkt_binding){tg, VKT_READ};
        if (bwd)
            b[n++] = (vkt_binding){vkt_ops_aligned_slice(r, rowstats, 2 * r0, 2 * nr, &pc.base_rowstats), VKT_READ};
        if (kind == ROWS_BWD_W)
            b[n++] = (vkt_binding){vkt_ops_aligned_slice(r, stats, r0, nr, &pc.base_weights), VKT_READ};
        else if (kind != ROWS_FWD)
            b[n++] = (vkt_binding){vkt_ops_flat_slice(stats, 0, 4), VKT_READ};
        if (!bwd) b[n++] = (vkt_binding){vkt_ops_aligned_slice(r, losses, r0, nr, &pc.base_losses), VKT_WRITE};
        if (kind == ROWS_FWD)
            b[n++] = (vkt_binding){vkt_ops_aligned_slice(r, rowstats, 2 * r0, 2 * nr, &pc.base_rowstats), VKT_WRITE};
        else
            b[n++] = (vkt_binding){vkt_ops_aligned_slice(r, dlogits, r0 * s.ld, nr * s.ld, &pc.base_dlogits), VKT_WRITE};
        /* Gradient kernels: the device scale of dloss, or the targets as a placeholder (never read). */
        if (kind != ROWS_FWD)
            b[n++] =
                o->dloss_scale
                    ? (vkt_binding){vkt_ops_aligned_slice(r, o->dloss_scale, o->dloss_scale_index, 1, &pc.scale_index),
                                    VKT_READ}
                    : (vkt_binding){tg, VKT_READ};
        VKT_ASSERT(n == nb);
        uint32_t gx, gy;
        vkt_ops_grid_1d(s.serial ? vkt_ceil_div((uint64_t)nr, wg) : (uint64_t)nr, &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, name, p, b, n, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}

vkt_status vkt_op_xent_fwd(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets, const vkt_tensor *losses,
                           const vkt_tensor *rowstats, const vkt_tensor *stats, const vkt_xent_opts *o) {
    VKT_TRY(check_dtypes("xent_fwd", logits, NULL, o));
    shape_t s = check_shape(r, logits, targets, o);
    check_f32(losses, s.N), check_f32(rowstats, 2 * s.N);
    VKT_ASSERT(stats->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(stats) >= 4);
    /* The count does not depend on the row kernel: the recorder lets the two overlap. */
    VKT_TRY(record_rows(r, ROWS_FWD, s, o, logits, targets, losses, rowstats, stats, NULL));
    VKT_TRY(record_count(r, targets, stats, s, o));
    return record_mean(r, losses, stats, s);
}

vkt_status vkt_op_xent_bwd(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets, const vkt_tensor *rowstats,
                           const vkt_tensor *stats, const vkt_tensor *dlogits, const vkt_xent_opts *o) {
    VKT_TRY(check_dtypes("xent_bwd", logits, dlogits, o));
    shape_t s = check_shape(r, logits, targets, o);
    check_f32(rowstats, 2 * s.N);
    VKT_ASSERT(vkt_tensor_numel(dlogits) == s.N * s.ld);
    VKT_ASSERT(stats->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(stats) >= 4);
    return record_rows(r, ROWS_BWD, s, o, logits, targets, NULL, rowstats, stats, dlogits);
}

vkt_status vkt_op_xent_bwd_weighted(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets,
                                    const vkt_tensor *rowstats, const vkt_tensor *weights, const vkt_tensor *dlogits,
                                    const vkt_xent_opts *o) {
    VKT_TRY(check_dtypes("xent_bwd_weighted", logits, dlogits, o));
    shape_t s = check_shape(r, logits, targets, o);
    check_f32(rowstats, 2 * s.N), check_f32(weights, s.N);
    VKT_ASSERT(vkt_tensor_numel(dlogits) == s.N * s.ld);
    return record_rows(r, ROWS_BWD_W, s, o, logits, targets, NULL, rowstats, weights, dlogits);
}

vkt_status vkt_op_xent_fwd_bwd(vkt_rec *r, const vkt_tensor *logits, const vkt_tensor *targets,
                               const vkt_tensor *losses, const vkt_tensor *stats, const vkt_tensor *dlogits,
                               const vkt_xent_opts *o) {
    VKT_TRY(check_dtypes("xent_fwd_bwd", logits, dlogits, o));
    shape_t s = check_shape(r, logits, targets, o);
    check_f32(losses, s.N);
    VKT_ASSERT(vkt_tensor_numel(dlogits) == s.N * s.ld);
    VKT_ASSERT(stats->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(stats) >= 4);
    VKT_TRY(record_count(r, targets, stats, s, o));
    VKT_TRY(record_rows(r, ROWS_FWD_BWD, s, o, logits, targets, losses, NULL, stats, dlogits));
    return record_mean(r, losses, stats, s);
}
