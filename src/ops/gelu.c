/* GELU and SiLU recorders: thin wrappers over the chunked elementwise dispatch. */
#include "ops/gelu.h"

#include "ops/op_eltwise.h"
#include "ops/op_rows.h"
#include "ops/op_util.h"

static vkt_status act_fwd(vkt_rec *r, const char *base, const vkt_tensor *x, const vkt_tensor *y) {
    VKT_ASSERT(x->dtype == y->dtype && vkt_tensor_numel(x) == vkt_tensor_numel(y));
    char shader[64];
    vkt_ops_dtype_variant(base, x->dtype, shader, sizeof shader);
    vkt_binding b[2] = {{*x, VKT_READ}, {*y, VKT_WRITE}};
    return vkt_ops_eltwise(r, base, shader, true, b, 2, 0);
}

static vkt_status act_bwd(vkt_rec *r, const char *name, const vkt_tensor *x, const vkt_tensor *dy, const vkt_tensor *dx,
                          bool accumulate) {
    const vkt_tensor *ts[] = {x, dy, dx};
    const char *names[] = {"x", "dy", "dx"};
    VKT_TRY(vkt_ops_check_storage(name, 3, ts, names));
    char shader[64];
    vkt_ops_dtype_variant(name, x->dtype, shader, sizeof shader);
    vkt_binding b[3] = {{*x, VKT_READ}, {*dy, VKT_READ}, {*dx, accumulate ? VKT_RW : VKT_WRITE}};
    return vkt_ops_eltwise(r, name, shader, true, b, 3, accumulate ? 1u : 0u);
}

vkt_status vkt_op_gelu_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *y) {
    return act_fwd(r, "gelu_fwd", x, y);
}

vkt_status vkt_op_gelu_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *dy, const vkt_tensor *dx,
                           bool accumulate) {
    return act_bwd(r, "gelu_bwd", x, dy, dx, accumulate);
}

vkt_status vkt_op_silu_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *y) {
    return act_fwd(r, "silu_fwd", x, y);
}

vkt_status vkt_op_silu_bwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *dy, const vkt_tensor *dx,
                           bool accumulate) {
    return act_bwd(r, "silu_bwd", x, dy, dx, accumulate);
}
