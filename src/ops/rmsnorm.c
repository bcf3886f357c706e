/* RMSNorm recorders, laid out like layernorm.c: a row-per-subgroup forward; a fused backward (dx and
 * per-chunk dw partials, one workgroup per chunk of rows; a 4-wide variant in every storage dtype when rows
 * start on 16-byte boundaries) per row split, then one fixed-order partial sum. */
#include "ops/rmsnorm.h"

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_rows, C;
    float eps;
    uint32_t rows_per_group, x_off, y_off, r_off, _pad;
} vkt_pc_rmsnorm_fwd;
_Static_assert(sizeof(vkt_pc_rmsnorm_fwd) == 32, "keep in sync with rmsnorm_fwd.comp");

typedef struct {
    uint32_t n_rows, C, x_off, dy_off, dx_off, r_off, p_off, accumulate;
} vkt_pc_rmsnorm_bwd;
_Static_assert(sizeof(vkt_pc_rmsnorm_bwd) == 32, "keep in sync with rmsnorm_bwd.comp");

#define WG        256  /* fwd: WG / subgroup size rows per workgroup; bwd: one chunk of rows per workgroup */
#define MAX_CHUNK 1024 /* rows per bwd chunk: bounds the shader's shared arrays (2 floats per row) */

vkt_status vkt_op_rmsnorm_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, float eps, const vkt_tensor *y,
                              const vkt_tensor *rstd) {
    int64_t C = vkt_tensor_numel(w), N = vkt_tensor_numel(x) / C;
    VKT_ASSERT(N * C == vkt_tensor_numel(x) && vkt_tensor_numel(y) == N * C && vkt_tensor_numel(rstd) == N);
    VKT_ASSERT(w->dtype == x->dtype && y->dtype == x->dtype && rstd->dtype == VKT_DTYPE_F32);
    char shader[64];
    vkt_ops_dtype_variant("rmsnorm_fwd", x->dtype, shader, sizeof shader);
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    VKT_TRY(vkt_ops_pipeline(r, shader, 4, sizeof(vkt_pc_rmsnorm_fwd), spec, 1, &p));
    uint32_t rpg = vkt_ops_rows_per_group(r, WG);
    int64_t split = vkt_ops_max_rows(r, (size_t)C * vkt_dtype_size(x->dtype));
    for (int64_t r0 = 0; r0 < N; r0 += split) {
        int64_t n = N - r0 < split ? N - r0 : split;
        vkt_pc_rmsnorm_fwd pc = {.n_rows = (uint32_t)n, .C = (uint32_t)C, .eps = eps, .rows_per_group = rpg};
        vkt_binding bind[4] = {{vkt_ops_rows_binding(r, x, C, r0, n, &pc.x_off), VKT_READ},
                               {*w, VKT_READ},
                               {vkt_ops_rows_binding(r, y, C, r0, n, &pc.y_off), VKT_WRITE},
                               {vkt_ops_rows_binding(r, rstd, 1, r0, n, &pc.r_off), VKT_WRITE}};
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div((uint64_t)n, rpg), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "rmsnorm_fwd", p, bind, 4, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}

int64_t vkt_op_rmsnorm_bwd_scratch(const vkt_rec *r, int64_t n_rows, int64_t C) {
    vkt_colsum_plan pl = vkt_ops_colsum_plan(r, n_rows, (size_t)C * 4, C);
    return pl.n_partials * C;
}

vkt_status vkt_op_rmsnorm_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *rstd,
                              const vkt_tensor *dy, const vkt_tensor *dx, bool accumulate_dx, const vkt_tensor *dw,
                              const vkt_tensor *scratch) {
    int64_t C = vkt_tensor_numel(w), N = vkt_tensor_numel(x) / C;
    VKT_ASSERT(N * C == vkt_tensor_numel(x) && vkt_tensor_numel(dy) == N * C && vkt_tensor_numel(dx) == N * C);
    VKT_ASSERT(vkt_tensor_numel(rstd) == N && vkt_tensor_numel(dw) == C);
    const vkt_tensor *act[] = {x, w, dy, dx}, *f32[] = {rstd, dw, scratch};
    const char *act_names[] = {"x", "w", "dy", "dx"}, *f32_names[] = {"rstd", "dw", "scratch"};
    VKT_TRY(vkt_ops_check_storage("rmsnorm_bwd", 4, act, act_names));
    VKT_TRY(vkt_ops_check_dtype("rmsnorm_bwd", VKT_DTYPE_F32, 3, f32, f32_names));
    vkt_colsum_plan pl = vkt_ops_colsum_plan(r, N, (size_t)C * 4, C);
    VKT_ASSERT(vkt_tensor_numel(scratch) >= pl.n_partials * C);
    vkt_tensor partial = vkt_ops_flat_slice(scratch, 0, pl.n_partials * C);

    VKT_ASSERT(pl.rows_per_chunk <= MAX_CHUNK);
    const uint32_t spec[] = {WG, (uint32_t)pl.rows_per_chunk};
    for (int64_t r0 = 0; r0 < N; r0 += pl.split_rows) {
        int64_t n = N - r0 < pl.split_rows ? N - r0 : pl.split_rows;
        int64_t p0 = r0 / pl.rows_per_chunk, np = (n + pl.rows_per_chunk - 1) / pl.rows_per_chunk;
        vkt_pc_rmsnorm_bwd pc = {.n_rows = (uint32_t)n, .C = (uint32_t)C, .accumulate = accumulate_dx};
        vkt_binding bind[6] = {{vkt_ops_rows_binding(r, x, C, r0, n, &pc.x_off), VKT_READ},
                               {vkt_ops_rows_binding(r, dy, C, r0, n, &pc.dy_off), VKT_READ},
                               {*w, VKT_READ},
                               {vkt_ops_rows_binding(r, rstd, 1, r0, n, &pc.r_off), VKT_READ},
                               {vkt_ops_rows_binding(r, dx, C, r0, n, &pc.dx_off), accumulate_dx ? VKT_RW : VKT_WRITE},
                               {vkt_ops_rows_binding(r, &partial, C, p0, np, &pc.p_off), VKT_WRITE}};
        /* 4-wide view of x, dy, w, dx, partial when every row starts on a 16-byte boundary (any dtype). */
        const vkt_binding vb[5] = {bind[0], bind[1], bind[2], bind[4], bind[5]};
        const uint32_t voff[5] = {pc.x_off, pc.dy_off, 0, pc.dx_off, pc.p_off};
        vkt_pipeline *p;
        char shader[64];
        vkt_ops_row_variant("rmsnorm_bwd", x->dtype, vkt_ops_vec4_rows(C, vb, voff, 5), shader, sizeof shader);
        VKT_TRY(vkt_ops_pipeline(r, shader, 6, sizeof(vkt_pc_rmsnorm_bwd), spec, 2, &p));
        uint32_t gx, gy;
        vkt_ops_grid_1d((uint64_t)np, &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "rmsnorm_bwd", p, bind, 6, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the 4-wide one is taken) */
    }
    return vkt_ops_partial_sum(r, "rmsnorm_bwd_dw_sum", &partial, pl.n_partials, C, 0, C, dw);
}
