/* Chunked elementwise dispatch (see op_eltwise.h). */
#include "ops/op_eltwise.h"

#include <stdio.h>

#include "ops/op_util.h"

_Static_assert(sizeof(vkt_pc_eltwise) == 8, "keep in sync with the elementwise shaders' Pc blocks");

#define WG  256
#define VEC 8 /* elements per invocation in the _vec8 variants */

bool vkt_ops_wide8(const vkt_rec *r, const vkt_binding *b, uint32_t nb) {
    if (vkt_device_get_info(vkt_rec_device(r))->type != VKT_DEVICE_CPU) return false;
    for (uint32_t i = 0; i < nb; i++)
        if (b[i].t.offset % (VEC * vkt_dtype_size(b[i].t.dtype))) return false;
    return true;
}

vkt_status vkt_ops_eltwise(vkt_rec *r, const char *name, const char *shader, bool has_vec8, const vkt_binding *b,
                           uint32_t nb, uint32_t flags) {
    VKT_ASSERT(nb >= 1 && nb <= VKT_MAX_BINDINGS);
    int64_t n = vkt_tensor_numel(&b[0].t);
    for (uint32_t i = 1; i < nb; i++) VKT_ASSERT(vkt_tensor_numel(&b[i].t) == n);
    /* Chunks start on 4 KiB boundaries (sized for 4-byte elements, so for 2-byte ones too), which keeps
     * every chunk as aligned as the first. */
    bool vec8 = has_vec8 && vkt_ops_wide8(r, b, nb);
    char variant[64];
    snprintf(variant, sizeof variant, "%s%s", shader, vec8 ? "_vec8" : "");
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    VKT_TRY(vkt_ops_pipeline(r, variant, nb, sizeof(vkt_pc_eltwise), spec, 1, &p));
    int64_t chunk = vkt_ops_max_binding_elems(r, 4);
    for (int64_t e0 = 0; e0 < n; e0 += chunk) {
        int64_t m = n - e0 < chunk ? n - e0 : chunk;
        vkt_pc_eltwise pc = {(uint32_t)m, flags};
        vkt_binding bind[VKT_MAX_BINDINGS];
        for (uint32_t i = 0; i < nb; i++) bind[i] = (vkt_binding){vkt_ops_flat_slice(&b[i].t, e0, m), b[i].access};
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div(vkt_ceil_div((uint64_t)m, vec8 ? VEC : 1), WG), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, name, p, bind, nb, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", variant); /* which variant ran (tests check the choice) */
    }
    return VKT_OK;
}
