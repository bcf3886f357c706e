/* Storage-type conversion (see cast.h): one elementwise shader per direction. */
#include "ops/cast.h"

#include "ops/op_eltwise.h"

vkt_status vkt_op_cast(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *y) {
    VKT_ASSERT(vkt_tensor_numel(x) == vkt_tensor_numel(y));
    if (x->dtype == y->dtype) return vkt_rec_copy(r, x, y);
    bool half_in = x->dtype == VKT_DTYPE_F16 || x->dtype == VKT_DTYPE_BF16;
    bool half_out = y->dtype == VKT_DTYPE_F16 || y->dtype == VKT_DTYPE_BF16;
    VKT_ASSERT((half_in && y->dtype == VKT_DTYPE_F32) || (half_out && x->dtype == VKT_DTYPE_F32));
    char shader[32];
    snprintf(shader, sizeof shader, "cast_%s_%s", vkt_dtype_name(x->dtype), vkt_dtype_name(y->dtype));
    vkt_binding b[2] = {{*x, VKT_READ}, {*y, VKT_WRITE}};
    return vkt_ops_eltwise(r, "cast", shader, false, b, 2, 0);
}
