/* Tensor views over arenas: allocation, sizes and row slices. */
#include "vk/memory.h"

size_t vkt_dtype_size(vkt_dtype t) {
    static const size_t sizes[] = {4, 2, 2, 4, 1};
    return sizes[t];
}

const char *vkt_dtype_name(vkt_dtype t) {
    static const char *names[] = {"f32", "f16", "bf16", "i32", "u8"};
    return names[t];
}

int64_t vkt_tensor_numel(const vkt_tensor *t) { return t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3]; }

size_t vkt_tensor_bytes(const vkt_tensor *t) { return (size_t)vkt_tensor_numel(t) * vkt_dtype_size(t->dtype); }

vkt_status vkt_tensor_alloc(vkt_arena *a, vkt_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                            vkt_tensor *out) {
    VKT_ASSERT(d0 > 0 && d1 > 0 && d2 > 0 && d3 > 0);
    vkt_tensor t = {.arena = a, .shape = {d0, d1, d2, d3}, .dtype = dtype};
    size_t offset = (a->used + a->align - 1) / a->align * a->align;
    size_t bytes = vkt_tensor_bytes(&t);
    if (offset + bytes > a->capacity) {
        vkt_log_error("arena \"%s\" is full: %zu of %zu bytes used, %zu more wanted (plan a larger arena)", a->name,
                      a->used, a->capacity, bytes);
        return VKT_ERR_OOM;
    }
    t.offset = offset;
    a->used = offset + bytes;
    *out = t;
    return VKT_OK;
}

vkt_tensor vkt_tensor_rows(const vkt_tensor *t, int64_t row0, int64_t n_rows) {
    VKT_ASSERT(row0 >= 0 && n_rows > 0 && row0 + n_rows <= t->shape[0]);
    vkt_tensor v = *t;
    size_t row_bytes = (size_t)(t->shape[1] * t->shape[2] * t->shape[3]) * vkt_dtype_size(t->dtype);
    v.offset += (size_t)row0 * row_bytes;
    v.shape[0] = n_rows;
    return v;
}
