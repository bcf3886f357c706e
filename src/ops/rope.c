/* RoPE recording and host table (see rope.h). The buffer is split into row chunks when it exceeds one
 * binding; the table is bound from the nearest aligned offset below the first position it needs. */
#include "ops/rope.h"

#include <math.h>

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_rows, T, r0, row_stride, col0, n_heads, head_size, half_rot, cs_off, flags, n_pos;
} vkt_pc_rope;
_Static_assert(sizeof(vkt_pc_rope) == 44, "keep in sync with rope_fwd.comp");

#define WG 256

#define FLAG_INTERLEAVED 1u
#define FLAG_INVERSE     2u
#define FLAG_SEG         4u

static vkt_status record(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *table, const vkt_rope_desc *d,
                         uint32_t inverse, const vkt_tensor *pos) {
    const int64_t rot = d->rot_dim ? d->rot_dim : d->head_size;
    const int64_t stride = d->row_stride ? d->row_stride : d->n_heads * d->head_size;
    const int64_t N = d->B * d->T, half = rot / 2;
    VKT_ASSERT(d->B > 0 && d->T > 0 && d->n_heads > 0 && d->pos0 >= 0 && d->col0 >= 0);
    VKT_ASSERT(rot >= 2 && rot % 2 == 0 && rot <= d->head_size);
    VKT_ASSERT(d->col0 + d->n_heads * d->head_size <= stride && vkt_tensor_numel(x) >= N * stride);
    VKT_ASSERT(table->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(table) >= (d->pos0 + d->T) * rot);
    VKT_ASSERT((uint64_t)(d->pos0 + d->T) * (uint64_t)rot < UINT32_MAX / 2);
    VKT_ASSERT(!d->seg_start || (d->seg_start->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(d->seg_start) == N));
    VKT_ASSERT(!(pos && d->seg_start)); /* decoding (device position) has one document */
    char name[32];
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    const uint32_t nb = 3;
    VKT_TRY(vkt_ops_pipeline(r, vkt_ops_dtype_variant(pos ? "rope_fwd_pos" : "rope_fwd", x->dtype, name, sizeof name),
                             nb, sizeof(vkt_pc_rope), spec, 1, &p));
    /* Table rows [pos0, pos0 + T) serve every chunk; bound from an aligned offset at or below pos0. With
     * a device-side position the whole table is bound. */
    uint32_t cs_off;
    const int64_t n_pos = vkt_tensor_numel(table) / rot;
    const vkt_tensor tab = pos ? vkt_ops_rows_binding(r, table, rot, 0, n_pos, &cs_off)
                               : vkt_ops_rows_binding(r, table, rot, d->pos0, d->T, &cs_off);
    /* Binding 2: the device position (pos), else the document starts, else any buffer (unread). */
    const vkt_tensor *third = pos ? pos : d->seg_start ? d->seg_start : &tab;
    const int64_t chunk = vkt_ops_chunk_rows(r, (size_t)stride * vkt_dtype_size(x->dtype));
    VKT_ASSERT((uint64_t)chunk * (uint64_t)stride < UINT32_MAX);
    for (int64_t r0 = 0; r0 < N; r0 += chunk) {
        const int64_t nr = N - r0 < chunk ? N - r0 : chunk;
        vkt_pc_rope pc = {(uint32_t)nr,
                          (uint32_t)d->T,
                          (uint32_t)r0,
                          (uint32_t)stride,
                          (uint32_t)d->col0,
                          (uint32_t)d->n_heads,
                          (uint32_t)d->head_size,
                          (uint32_t)half,
                          cs_off,
                          (d->interleaved ? FLAG_INTERLEAVED : 0u) | inverse | (d->seg_start ? FLAG_SEG : 0u),
                          (uint32_t)n_pos};
        vkt_binding bind[3] = {{tab, VKT_READ}, {vkt_ops_flat_slice(x, r0 * stride, nr * stride), VKT_RW},
                               {*third, VKT_READ}};
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div((uint64_t)(nr * d->n_heads * half), WG), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, inverse ? "rope_bwd" : "rope_fwd", p, bind, nb, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}

vkt_status vkt_op_rope_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *table, const vkt_rope_desc *d) {
    return record(r, x, table, d, 0u, NULL);
}

vkt_status vkt_op_rope_fwd_at(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *table, const vkt_rope_desc *d,
                              const vkt_tensor *pos) {
    VKT_ASSERT(d->pos0 == 0 && pos->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(pos) >= 1);
    return record(r, x, table, d, 0u, pos);
}

vkt_status vkt_op_rope_bwd(vkt_rec *r, const vkt_tensor *dx, const vkt_tensor *table, const vkt_rope_desc *d) {
    return record(r, dx, table, d, FLAG_INVERSE, NULL);
}
