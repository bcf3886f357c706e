/* Row-op helpers (see op_rows.h). */
#include "ops/op_rows.h"

#include <stdio.h>

#include "ops/op_eltwise.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_partials, n_cols, stride, col0;
} vkt_pc_partial_sum;
_Static_assert(sizeof(vkt_pc_partial_sum) == 16, "keep in sync with norm_bwd_sum.comp");

#define SUM_WG 64

static size_t binding_align(const vkt_rec *r) {
    size_t a = vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
    return a ? a : 1;
}

int64_t vkt_ops_max_rows(const vkt_rec *r, size_t row_bytes) {
    size_t cap = vkt_rec_max_binding_bytes(r), slack = binding_align(r);
    VKT_ASSERT(row_bytes > 0 && cap > slack + row_bytes);
    int64_t rows = (int64_t)((cap - slack) / row_bytes);
    /* Shaders index with 32-bit element offsets. */
    int64_t lim = (int64_t)(UINT32_MAX / 2) / (int64_t)row_bytes;
    return rows < lim ? rows : lim;
}

vkt_tensor vkt_ops_rows_binding(const vkt_rec *r, const vkt_tensor *t, int64_t row_elems, int64_t row0, int64_t n,
                                uint32_t *elem_off) {
    size_t es = vkt_dtype_size(t->dtype), align = binding_align(r);
    VKT_ASSERT(row0 >= 0 && n > 0 && (row0 + n) * row_elems <= vkt_tensor_numel(t));
    size_t begin = t->offset + (size_t)(row0 * row_elems) * es;
    size_t base = begin / align * align;
    VKT_ASSERT((begin - base) % es == 0);
    vkt_tensor v = *t;
    v.offset = base;
    *elem_off = (uint32_t)((begin - base) / es);
    v.shape[0] = *elem_off + n * row_elems, v.shape[1] = v.shape[2] = v.shape[3] = 1;
    return v;
}

uint32_t vkt_ops_rows_per_group(const vkt_rec *r, uint32_t wg) {
    uint32_t sg = vkt_device_get_info(vkt_rec_device(r))->subgroup_size;
    uint32_t rows = sg ? wg / sg : 1;
    return rows ? rows : 1;
}

int64_t vkt_ops_partial_rows(const vkt_rec *r, int64_t n_rows, int64_t k) {
    int64_t rows = 16;
    int64_t max_partials = (int64_t)(vkt_rec_max_binding_bytes(r) / 4) / k;
    VKT_ASSERT(max_partials >= 1);
    while ((n_rows + rows - 1) / rows > max_partials) rows *= 2;
    return rows;
}

vkt_colsum_plan vkt_ops_colsum_plan(const vkt_rec *r, int64_t n_rows, size_t row_bytes, int64_t k) {
    vkt_colsum_plan pl;
    int64_t max_rows = vkt_ops_max_rows(r, row_bytes);
    pl.rows_per_chunk = vkt_ops_partial_rows(r, n_rows, k);
    if (pl.rows_per_chunk > max_rows) pl.rows_per_chunk = max_rows;
    pl.n_partials = (n_rows + pl.rows_per_chunk - 1) / pl.rows_per_chunk;
    pl.split_rows = max_rows / pl.rows_per_chunk * pl.rows_per_chunk;
    /* Narrow rows (C <= 16) fit millions in one binding: cap a dispatch at 65535 chunks all the same. */
    if (pl.split_rows / pl.rows_per_chunk > 65535) pl.split_rows = 65535 * pl.rows_per_chunk;
    VKT_ASSERT(pl.n_partials * k <= (int64_t)(vkt_rec_max_binding_bytes(r) / 4));
    VKT_ASSERT(pl.split_rows / pl.rows_per_chunk <= 65535);
    return pl;
}

vkt_status vkt_ops_partial_sum(vkt_rec *r, const char *name, const vkt_tensor *partial, int64_t n_partials,
                               int64_t stride, int64_t col0, int64_t n_cols, const vkt_tensor *out) {
    VKT_ASSERT(partial->dtype == VKT_DTYPE_F32 && out->dtype == VKT_DTYPE_F32);
    VKT_ASSERT(vkt_tensor_numel(out) == n_cols && col0 + n_cols <= stride);
    VKT_ASSERT(n_partials * stride <= vkt_tensor_numel(partial));
    vkt_pipeline *p;
    const uint32_t spec[] = {SUM_WG};
    VKT_TRY(vkt_ops_pipeline(r, "norm_bwd_sum", 2, sizeof(vkt_pc_partial_sum), spec, 1, &p));
    vkt_pc_partial_sum pc = {(uint32_t)n_partials, (uint32_t)n_cols, (uint32_t)stride, (uint32_t)col0};
    vkt_binding b[2] = {{vkt_ops_flat_slice(partial, 0, n_partials * stride), VKT_READ}, {*out, VKT_RW}};
    uint32_t gx, gy;
    vkt_ops_grid_1d(vkt_ceil_div((uint64_t)n_cols, SUM_WG), &gx, &gy);
    return vkt_rec_dispatch(r, name, p, b, 2, &pc, sizeof pc, gx, gy, 1);
}

int vkt_ops_vec4_rows(int64_t C, const vkt_binding *b, const uint32_t *elem_off, int n) {
    if (C % 4) return 0;
    for (int i = 0; i < n; i++)
        if (b[i].t.offset % 16 || elem_off[i] % 4) return 0;
    return 1;
}

const char *vkt_ops_row_variant(const char *base, vkt_dtype dt, int vec4, char *buf, size_t n) {
    char b[64];
    vkt_ops_dtype_variant(base, dt, b, sizeof b);
    snprintf(buf, n, "%s%s", b, vec4 ? "_vec4" : "");
    return buf;
}

bool vkt_ops_wide8_rows(const vkt_rec *r, int64_t C, const vkt_binding *b, const uint32_t *elem_off, int n) {
    if (C % 8 || !vkt_ops_wide8(r, b, (uint32_t)n)) return false;
    for (int i = 0; i < n; i++)
        if (elem_off[i] % 8) return false;
    return true;
}

const char *vkt_ops_vec8_variant(const char *base, vkt_dtype dt, bool vec8, char *buf, size_t n) {
    char b[64];
    vkt_ops_dtype_variant(base, dt, b, sizeof b);
    snprintf(buf, n, "%s%s", b, vec8 ? "_vec8" : "");
    return buf;
}

const char *vkt_ops_dtype_variant(const char *base, vkt_dtype dt, char *buf, size_t n) {
    VKT_ASSERT(dt == VKT_DTYPE_F32 || dt == VKT_DTYPE_F16 || dt == VKT_DTYPE_BF16);
    snprintf(buf, n, "%s%s", base, dt == VKT_DTYPE_F16 ? "_f16" : dt == VKT_DTYPE_BF16 ? "_bf16" : "");
    return buf;
}
