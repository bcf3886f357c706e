/* Residual add, forward and backward: the chunked elementwise dispatch (8 elements per invocation on CPU
 * drivers when aligned, see op_eltwise.h). */
#include "ops/residual.h"

#include "ops/op_eltwise.h"
#include "ops/op_rows.h"
#include "ops/op_util.h"

vkt_status vkt_op_residual_fwd(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *out) {
    int64_t n = vkt_tensor_numel(out);
    VKT_ASSERT(vkt_tensor_numel(a) == n && vkt_tensor_numel(b) == n);
    const vkt_tensor *ts[] = {a, b, out};
    const char *names[] = {"a", "b", "out"};
    VKT_TRY(vkt_ops_check_storage("residual", 3, ts, names));
    char shader[48];
    vkt_ops_dtype_variant("residual_fwd", out->dtype, shader, sizeof shader);
    /* An aliased output is bound once as read and once as write; the shader reads before it writes the
     * same elements in the same invocation, so no other invocation sees a stale value. */
    vkt_binding bind[3] = {{*a, VKT_READ}, {*b, VKT_READ}, {*out, VKT_WRITE}};
    return vkt_ops_eltwise(r, "residual_fwd", shader, true, bind, 3, 0);
}

vkt_status vkt_op_residual_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *da, const vkt_tensor *db) {
    VKT_TRY(vkt_op_residual_fwd(r, da, dout, da));
    return vkt_op_residual_fwd(r, db, dout, db);
}
