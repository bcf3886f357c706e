/* Residual add, forward and backward, chunked so any size fits the binding limit. */
#include "ops/residual.h"

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct { uint32_t n; } vkt_pc_residual;
_Static_assert(sizeof(vkt_pc_residual) == 4, "keep in sync with residual_fwd.comp");

#define WG 256

vkt_status vkt_op_residual_fwd(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *out) {
    int64_t n = vkt_tensor_numel(out);
    VKT_ASSERT(vkt_tensor_numel(a) == n && vkt_tensor_numel(b) == n);
    const vkt_tensor *ts[] = {a, b, out};
    const char *names[] = {"a", "b", "out"};
    VKT_TRY(vkt_ops_check_storage("residual", 3, ts, names));
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    char shader[48];
    vkt_ops_dtype_variant("residual_fwd", out->dtype, shader, sizeof shader);
    VKT_TRY(vkt_ops_pipeline(r, shader, 3, sizeof(vkt_pc_residual), spec, 1, &p));
    /* Chunks sized for 4-byte elements start on 4 KiB boundaries for 2-byte ones too. */
    int64_t chunk = vkt_ops_max_binding_elems(r, 4);
    for (int64_t e0 = 0; e0 < n; e0 += chunk) {
        int64_t m = n - e0 < chunk ? n - e0 : chunk;
        vkt_pc_residual pc = {(uint32_t)m};
        /* An aliased output is bound once as read and once as write; the shader reads before it writes
         * the same element, so no other invocation sees a stale value. */
        vkt_binding bind[3] = {{vkt_ops_flat_slice(a, e0, m), VKT_READ},
                               {vkt_ops_flat_slice(b, e0, m), VKT_READ},
                               {vkt_ops_flat_slice(out, e0, m), VKT_WRITE}};
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div((uint64_t)m, WG), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "residual_fwd", p, bind, 3, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}

vkt_status vkt_op_residual_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *da, const vkt_tensor *db) {
    VKT_TRY(vkt_op_residual_fwd(r, da, dout, da));
    return vkt_op_residual_fwd(r, db, dout, db);
}
