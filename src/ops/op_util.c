/* Shared op-recording helpers (see op_util.h). */
#include "ops/op_util.h"

#include <string.h>

vkt_status vkt_ops_pipeline(vkt_rec *r, const char *shader, uint32_t n_bindings, uint32_t pc_size,
                            const uint32_t *spec, uint32_t n_spec, vkt_pipeline **out) {
    vkt_pipeline_desc d = {.shader = shader, .n_bindings = n_bindings, .pc_size = pc_size, .n_spec = n_spec};
    if (n_spec) memcpy(d.spec, spec, n_spec * sizeof *spec);
    return vkt_pipeline_get(vkt_rec_device(r), &d, out);
}

void vkt_ops_grid_1d(uint64_t n_groups, uint32_t *gx, uint32_t *gy) {
    if (n_groups == 0) n_groups = 1;
    /* Balance x and y so gx * gy exceeds n_groups by less than gy: 65536 groups as 32768 x 2, not
     * 65535 x 2 (half the grid idle, which CPU drivers pay for in full). */
    *gy = vkt_ceil_div(n_groups, 65535);
    *gx = vkt_ceil_div(n_groups, *gy);
}

int64_t vkt_ops_max_binding_elems(const vkt_rec *r, size_t elem_size) {
    size_t bytes = vkt_rec_max_binding_bytes(r) & ~(size_t)4095;
    return (int64_t)(bytes / elem_size);
}

int64_t vkt_ops_chunk_rows(const vkt_rec *r, size_t row_bytes) {
    size_t align = vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
    size_t a = align, b = row_bytes;
    while (b) {
        size_t t = a % b;
        a = b, b = t;
    }
    int64_t step = (int64_t)(align / a); /* rows whose total bytes are a multiple of align */
    int64_t rows = (int64_t)(vkt_rec_max_binding_bytes(r) / row_bytes) / step * step;
    VKT_ASSERT(rows >= 1);
    return rows;
}

vkt_tensor vkt_ops_flat_slice(const vkt_tensor *t, int64_t e0, int64_t n) {
    VKT_ASSERT(e0 >= 0 && n > 0 && e0 + n <= vkt_tensor_numel(t));
    vkt_tensor v = *t;
    v.offset += (size_t)e0 * vkt_dtype_size(t->dtype);
    v.shape[0] = n, v.shape[1] = v.shape[2] = v.shape[3] = 1;
    return v;
}

int64_t vkt_ops_align_elems(const vkt_rec *r, size_t elem_size) {
    size_t align = vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
    if (align < elem_size) align = elem_size;
    VKT_ASSERT(align % elem_size == 0);
    return (int64_t)(align / elem_size);
}

vkt_tensor vkt_ops_aligned_slice(const vkt_rec *r, const vkt_tensor *t, int64_t e0, int64_t n, uint32_t *base) {
    size_t es = vkt_dtype_size(t->dtype);
    int64_t a = vkt_ops_align_elems(r, es);
    VKT_ASSERT(t->offset % (size_t)(a * (int64_t)es) == 0);
    int64_t start = e0 - e0 % a;
    *base = (uint32_t)(e0 - start);
    return vkt_ops_flat_slice(t, start, n + (e0 - start));
}

vkt_tensor vkt_ops_whole(const vkt_rec *r, const vkt_tensor *t, vkt_dtype dtype, int64_t n) {
    VKT_ASSERT(t->dtype == dtype && vkt_tensor_numel(t) == n);
    VKT_ASSERT(n <= vkt_ops_max_binding_elems(r, vkt_dtype_size(dtype)));
    uint32_t base;
    vkt_tensor v = vkt_ops_aligned_slice(r, t, 0, n, &base); /* asserts the binding alignment */
    VKT_ASSERT(base == 0);
    return v;
}

vkt_status vkt_ops_check_dtype(const char *op, vkt_dtype want, int n, const vkt_tensor *const *t,
                               const char *const *names) {
    for (int i = 0; i < n; i++) {
        if (t[i] && t[i]->dtype != want) {
            vkt_log_error("%s: %s is %s, must be %s (activations and their gradients share one storage dtype; "
                          "parameter gradients and statistics are f32: src/ops/op_util.h)",
                          op, names[i], vkt_dtype_name(t[i]->dtype), vkt_dtype_name(want));
            return VKT_ERR_ARG;
        }
    }
    return VKT_OK;
}

vkt_status vkt_ops_check_storage(const char *op, int n, const vkt_tensor *const *t, const char *const *names) {
    vkt_dtype dt = t[0]->dtype;
    if (dt != VKT_DTYPE_F32 && dt != VKT_DTYPE_F16 && dt != VKT_DTYPE_BF16) {
        vkt_log_error("%s: %s is %s; storage must be f32, f16 or bf16", op, names[0], vkt_dtype_name(dt));
        return VKT_ERR_ARG;
    }
    return vkt_ops_check_dtype(op, dt, n, t, names);
}
