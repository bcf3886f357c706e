/* LayerNorm recorders. Forward: one dispatch per row split (on CPU drivers, rows read and written in words of
 * 8 elements when C % 8 == 0 and the split's rows start on 8-element boundaries: layernorm_fwd_*vec8). Backward: per
 * row split, one fused layernorm_bwd dispatch (a workgroup per chunk of 16 rows: row statistics, one barrier, then dx
 * and the chunk's dw/db column partials, so x and dy come from memory once); then two fixed-order partial sums into dw
 * and db. The fused kernel has 4-wide variants (vec4 f32; uvec2 of four f16 / bf16), used for a split whose rows all
 * start on 16-byte boundaries (about 2x faster on lavapipe, where an access costs the same at any width). CPU drivers
 * with rows in 8-element words run two barrier-free passes instead (layernorm_bwd_rows.comp: the rows' statistics into
 * the scratch, then dx and the partials). No atomics: results are bit-identical run to run. */
#include "ops/layernorm.h"

#include <string.h>

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_rows, C;
    float eps;
    uint32_t rows_per_group, x_off, y_off, m_off, r_off;
} vkt_pc_layernorm_fwd;
_Static_assert(sizeof(vkt_pc_layernorm_fwd) == 32, "keep in sync with layernorm_fwd.comp");

typedef struct {
    uint32_t n_rows, C, x_off, dy_off, dx_off, m_off, r_off, p_off, accumulate;
    uint32_t s_off, rows_per_group; /* layernorm_bwd_rows.comp only: the stats' offset, rows per group */
} vkt_pc_layernorm_bwd;
_Static_assert(sizeof(vkt_pc_layernorm_bwd) == 44, "keep in sync with layernorm_bwd.comp, layernorm_bwd_rows.comp");

#define WG        256  /* fwd: WG / subgroup size rows per workgroup; bwd: one chunk of rows per workgroup */
#define MAX_CHUNK 1024 /* rows per bwd chunk: bounds the shader's shared arrays (5 floats per row) */

vkt_status vkt_op_layernorm_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *b, float eps,
                                const vkt_tensor *y, const vkt_tensor *mean, const vkt_tensor *rstd) {
    int64_t C = vkt_tensor_numel(w), N = vkt_tensor_numel(x) / C;
    VKT_ASSERT(N * C == vkt_tensor_numel(x) && vkt_tensor_numel(y) == N * C && vkt_tensor_numel(b) == C);
    VKT_ASSERT(vkt_tensor_numel(mean) == N && vkt_tensor_numel(rstd) == N);
    VKT_ASSERT(w->dtype == x->dtype && b->dtype == x->dtype && y->dtype == x->dtype);
    VKT_ASSERT(mean->dtype == VKT_DTYPE_F32 && rstd->dtype == VKT_DTYPE_F32);
    const uint32_t spec[] = {WG};
    uint32_t rpg = vkt_ops_rows_per_group(r, WG);
    int64_t split = vkt_ops_max_rows(r, (size_t)C * vkt_dtype_size(x->dtype));
    for (int64_t r0 = 0; r0 < N; r0 += split) {
        int64_t n = N - r0 < split ? N - r0 : split;
        vkt_pc_layernorm_fwd pc = {(uint32_t)n, (uint32_t)C, eps, rpg, 0, 0, 0, 0};
        vkt_binding bind[6] = {{vkt_ops_rows_binding(r, x, C, r0, n, &pc.x_off), VKT_READ},
                               {*w, VKT_READ},
                               {*b, VKT_READ},
                               {vkt_ops_rows_binding(r, y, C, r0, n, &pc.y_off), VKT_WRITE},
                               {vkt_ops_rows_binding(r, mean, 1, r0, n, &pc.m_off), VKT_WRITE},
                               {vkt_ops_rows_binding(r, rstd, 1, r0, n, &pc.r_off), VKT_WRITE}};
        /* Rows in words of 8 elements on CPU drivers when x, w, b, y all allow it. */
        const uint32_t woff[4] = {pc.x_off, 0, 0, pc.y_off};
        char shader[64];
        vkt_ops_vec8_variant("layernorm_fwd", x->dtype, vkt_ops_wide8_rows(r, C, bind, woff, 4), shader, sizeof shader);
        vkt_pipeline *p;
        VKT_TRY(vkt_ops_pipeline(r, shader, 6, sizeof(vkt_pc_layernorm_fwd), spec, 1, &p));
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div((uint64_t)n, rpg), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "layernorm_fwd", p, bind, 6, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the choice) */
    }
    return VKT_OK;
}

/* The scratch holds the dw/db partials, then (for the two-pass CPU kernels) 8 floats of statistics per row. */
int64_t vkt_op_layernorm_bwd_scratch(const vkt_rec *r, int64_t n_rows, int64_t C) {
    vkt_colsum_plan pl = vkt_ops_colsum_plan(r, n_rows, (size_t)C * 4, 2 * C);
    return pl.n_partials * 2 * C + 8 * n_rows;
}

#define WG_ROWS_STATS 64 /* layernorm_bwd_rows.comp: one subgroup per row; dx: 8 column words per workgroup */
#define WG_ROWS_DX    8

/* CPU drivers, rows in 8-element words (layernorm_bwd_rows.comp): the rows' statistics, then dx and the
 * chunks' partials, with no barrier. bind: the fused kernel's 7 bindings and the statistics. */
static vkt_status bwd_rows8(vkt_rec *r, vkt_dtype dt, const vkt_binding bind[8], vkt_pc_layernorm_bwd pc,
                            int64_t rows_per_chunk, int64_t n_chunks) {
    char shader[64];
    vkt_pipeline *p;
    pc.rows_per_group = vkt_ops_rows_per_group(r, WG_ROWS_STATS);
    const uint32_t spec_stats[] = {WG_ROWS_STATS, (uint32_t)rows_per_chunk};
    vkt_ops_vec8_variant("layernorm_bwd_stats", dt, true, shader, sizeof shader);
    VKT_TRY(vkt_ops_pipeline(r, shader, 8, sizeof pc, spec_stats, 2, &p));
    vkt_binding b[8];
    memcpy(b, bind, sizeof b);
    b[5].access = VKT_READ, b[6].access = VKT_READ, b[7].access = VKT_WRITE; /* dx, partials: not touched */
    uint32_t gx, gy;
    vkt_ops_grid_1d(vkt_ceil_div((uint64_t)pc.n_rows, pc.rows_per_group), &gx, &gy);
    VKT_TRY(vkt_rec_dispatch(r, "layernorm_bwd_stats", p, b, 8, &pc, sizeof pc, gx, gy, 1));
    vkt_rec_profile_note(r, 0, "%s", shader);

    const uint32_t spec_dx[] = {WG_ROWS_DX, (uint32_t)rows_per_chunk};
    vkt_ops_vec8_variant("layernorm_bwd_dx", dt, true, shader, sizeof shader);
    VKT_TRY(vkt_ops_pipeline(r, shader, 8, sizeof pc, spec_dx, 2, &p));
    memcpy(b, bind, sizeof b);
    b[3].access = VKT_READ, b[4].access = VKT_READ, b[7].access = VKT_READ;
    vkt_ops_grid_1d(vkt_ceil_div((uint64_t)n_chunks * (pc.C / 8), WG_ROWS_DX), &gx, &gy);
    VKT_TRY(vkt_rec_dispatch(r, "layernorm_bwd", p, b, 8, &pc, sizeof pc, gx, gy, 1));
    vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the choice) */
    return VKT_OK;
}

vkt_status vkt_op_layernorm_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *mean,
                                const vkt_tensor *rstd, const vkt_tensor *dy, const vkt_tensor *dx, bool accumulate_dx,
                                const vkt_tensor *dw, const vkt_tensor *db, const vkt_tensor *scratch) {
    int64_t C = vkt_tensor_numel(w), N = vkt_tensor_numel(x) / C;
    VKT_ASSERT(N * C == vkt_tensor_numel(x) && vkt_tensor_numel(dy) == N * C && vkt_tensor_numel(dx) == N * C);
    VKT_ASSERT(vkt_tensor_numel(mean) == N && vkt_tensor_numel(rstd) == N);
    VKT_ASSERT(vkt_tensor_numel(dw) == C && vkt_tensor_numel(db) == C);
    const vkt_tensor *act[] = {x, w, dy, dx}, *f32[] = {mean, rstd, dw, db, scratch};
    const char *act_names[] = {"x", "w", "dy", "dx"}, *f32_names[] = {"mean", "rstd", "dw", "db", "scratch"};
    VKT_TRY(vkt_ops_check_storage("layernorm_bwd", 4, act, act_names));
    VKT_TRY(vkt_ops_check_dtype("layernorm_bwd", VKT_DTYPE_F32, 5, f32, f32_names));
    vkt_colsum_plan pl = vkt_ops_colsum_plan(r, N, (size_t)C * 4, 2 * C);
    VKT_ASSERT(pl.rows_per_chunk <= MAX_CHUNK && vkt_tensor_numel(scratch) >= vkt_op_layernorm_bwd_scratch(r, N, C));
    vkt_tensor partial = vkt_ops_flat_slice(scratch, 0, pl.n_partials * 2 * C);
    vkt_tensor stats = vkt_ops_flat_slice(scratch, pl.n_partials * 2 * C, 8 * N);

    const uint32_t spec[] = {WG, (uint32_t)pl.rows_per_chunk};
    for (int64_t r0 = 0; r0 < N; r0 += pl.split_rows) {
        int64_t n = N - r0 < pl.split_rows ? N - r0 : pl.split_rows;
        int64_t p0 = r0 / pl.rows_per_chunk, np = (n + pl.rows_per_chunk - 1) / pl.rows_per_chunk;
        vkt_pc_layernorm_bwd pc = {.n_rows = (uint32_t)n, .C = (uint32_t)C, .accumulate = accumulate_dx};
        vkt_binding bind[7] = {{vkt_ops_rows_binding(r, x, C, r0, n, &pc.x_off), VKT_READ},
                               {vkt_ops_rows_binding(r, dy, C, r0, n, &pc.dy_off), VKT_READ},
                               {*w, VKT_READ},
                               {vkt_ops_rows_binding(r, mean, 1, r0, n, &pc.m_off), VKT_READ},
                               {vkt_ops_rows_binding(r, rstd, 1, r0, n, &pc.r_off), VKT_READ},
                               {vkt_ops_rows_binding(r, dx, C, r0, n, &pc.dx_off), accumulate_dx ? VKT_RW : VKT_WRITE},
                               {vkt_ops_rows_binding(r, &partial, 2 * C, p0, np, &pc.p_off), VKT_WRITE}};
        /* CPU drivers: the two-pass kernels when x, dy, w, dx, the partials and the statistics all lie in
         * 8-element words. */
        uint32_t s_off = 0;
        vkt_binding sb = {vkt_ops_rows_binding(r, &stats, 8, r0, n, &s_off), VKT_RW};
        const vkt_binding wb[6] = {bind[0], bind[1], bind[2], bind[5], bind[6], sb};
        const uint32_t woff[6] = {pc.x_off, pc.dy_off, 0, pc.dx_off, pc.p_off, s_off};
        if (vkt_ops_wide8_rows(r, C, wb, woff, 6)) {
            vkt_binding b8[8];
            memcpy(b8, bind, sizeof bind);
            b8[7] = sb, pc.s_off = s_off;
            VKT_TRY(bwd_rows8(r, x->dtype, b8, pc, pl.rows_per_chunk, np));
            continue;
        }
        /* 4-wide view of x, dy, w, dx, partial when every row starts on a 16-byte boundary (any dtype). */
        const vkt_binding vb[5] = {bind[0], bind[1], bind[2], bind[5], bind[6]};
        const uint32_t voff[5] = {pc.x_off, pc.dy_off, 0, pc.dx_off, pc.p_off};
        char shader[64];
        vkt_ops_row_variant("layernorm_bwd", x->dtype, vkt_ops_vec4_rows(C, vb, voff, 5), shader, sizeof shader);
        vkt_pipeline *p;
        VKT_TRY(vkt_ops_pipeline(r, shader, 7, sizeof(vkt_pc_layernorm_bwd), spec, 2, &p));
        uint32_t gx, gy;
        vkt_ops_grid_1d((uint64_t)np, &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "layernorm_bwd", p, bind, 7, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the 4-wide one is taken) */
    }
    VKT_TRY(vkt_ops_partial_sum(r, "layernorm_bwd_dw_sum", &partial, pl.n_partials, 2 * C, 0, C, dw));
    return vkt_ops_partial_sum(r, "layernorm_bwd_db_sum", &partial, pl.n_partials, 2 * C, C, C, db);
}
