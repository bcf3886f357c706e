/* Helpers shared by op recorders: pipeline lookup with the usual conventions, dispatch grids, and
 * chunking of tensors larger than one storage-buffer binding allows. */
#ifndef VKT_OP_UTIL_H
#define VKT_OP_UTIL_H

#include "vk/record.h"

/* Pipeline for `shader` with n_bindings buffers, pc_size bytes of push constants and the given
 * specialization constants (ids 0..n_spec-1). */
vkt_status vkt_ops_pipeline(vkt_rec *r, const char *shader, uint32_t n_bindings, uint32_t pc_size,
                            const uint32_t *spec, uint32_t n_spec, vkt_pipeline **out);

/* Splits n_groups workgroups over x (<= 65535) and y; shaders use vkt_group_index(). */
void vkt_ops_grid_1d(uint64_t n_groups, uint32_t *gx, uint32_t *gy);

/* Most elements of elem_size bytes one binding may hold, rounded down to keep chunk offsets aligned. */
int64_t vkt_ops_max_binding_elems(const vkt_rec *r, size_t elem_size);

/* Rows per dispatch when a tensor made of rows of row_bytes each is split over bindings: the most rows
 * that fit in one binding, rounded down so every chunk starts at a byte offset that keeps the device's
 * minStorageBufferOffsetAlignment (given the tensor itself is aligned). Works for any row size, odd
 * ones included. Always >= 1 (asserts otherwise). */
int64_t vkt_ops_chunk_rows(const vkt_rec *r, size_t row_bytes);

/* A flat view of elements [e0, e0 + n) of t (requires e0 * dtype size to keep binding alignment). */
vkt_tensor vkt_ops_flat_slice(const vkt_tensor *t, int64_t e0, int64_t n);

/* A flat view that starts at the nearest element at or below e0 whose byte offset keeps binding alignment
 * and ends at e0 + n; *base gets e0 minus that start, for the shader to add to its indices. For ops whose
 * chunks begin at arbitrary elements (rows of an odd width, parameter tensors inside an arena). */
vkt_tensor vkt_ops_aligned_slice(const vkt_rec *r, const vkt_tensor *t, int64_t e0, int64_t n, uint32_t *base);
/* Elements the same binding alignment may add in front of a chunk (see vkt_ops_aligned_slice). */
int64_t vkt_ops_align_elems(const vkt_rec *r, size_t elem_size);

/* A whole tensor as one binding: checks its dtype and element count (n) and that it fits one binding. For
 * the small per-row / per-sequence vectors of loss ops, which are never split. */
vkt_tensor vkt_ops_whole(const vkt_rec *r, const vkt_tensor *t, vkt_dtype dtype, int64_t n);

/* Mixed precision storage convention (issue 10): activations, activation gradients and the weights an op
 * reads share the run's storage dtype (f32, f16 or bf16); parameter gradients and statistics are f32.
 * vkt_ops_check_dtype: every non-NULL t[i] has dtype `want`; vkt_ops_check_storage: every non-NULL t[i]
 * has t[0]'s dtype, which is f32, f16 or bf16. Otherwise both log "<op>: <name> is <dtype> ..." naming
 * the first offender and return VKT_ERR_ARG. names[i] labels t[i]. */
vkt_status vkt_ops_check_dtype(const char *op, vkt_dtype want, int n, const vkt_tensor *const *t,
                               const char *const *names);
vkt_status vkt_ops_check_storage(const char *op, int n, const vkt_tensor *const *t, const char *const *names);

static inline uint32_t vkt_ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

#endif
