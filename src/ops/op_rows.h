/* Helpers for row ops (norms, gated MLP activations) over row-major (N, C) tensors:
 *  - splitting a dispatch by rows so each binding stays under the device's binding limit, binding each
 *    piece from the nearest aligned offset at or below its first row (the shader adds an element offset,
 *    so any C works, not only those whose row bytes are a multiple of the offset alignment);
 *  - the second stage of a deterministic column reduction (parameter gradients summed over rows):
 *    out[c] += sum_p partial[p][c] in a fixed order, no atomics.
 * Nothing here knows about a particular op. */
#ifndef VKT_OP_ROWS_H
#define VKT_OP_ROWS_H

#include "vk/record.h"

/* Most rows of row_bytes bytes one dispatch may bind, leaving room for the alignment slack. */
int64_t vkt_ops_max_rows(const vkt_rec *r, size_t row_bytes);

/* A flat binding covering rows [row0, row0 + n) of t viewed as (rows, row_elems), starting at the nearest
 * offset aligned for binding at or below row0; *elem_off gets row0's first element index inside it. */
vkt_tensor vkt_ops_rows_binding(const vkt_rec *r, const vkt_tensor *t, int64_t row_elems, int64_t row0, int64_t n,
                                uint32_t *elem_off);

/* Workgroups' worth of rows for one-subgroup-per-row shaders: wg / the device's reported subgroup size
 * (at least 1). Shaders loop over the rows of their group, so a different actual subgroup size stays
 * correct and only changes occupancy. */
uint32_t vkt_ops_rows_per_group(const vkt_rec *r, uint32_t wg);

/* Rows per partial sum for a column reduction over n_rows rows of k columns: 16 (a chunk small enough
 * that a workgroup re-reads its rows from cache, and N / 16 workgroups keep a large GPU busy at
 * N = 8192), doubled until n_partials * k floats fit one binding. */
int64_t vkt_ops_partial_rows(const vkt_rec *r, int64_t n_rows, int64_t k);

/* How a row op's column reduction is cut up: rows_per_chunk rows per partial, n_partials partials in all,
 * and dispatches of split_rows rows (a multiple of rows_per_chunk) so each row binding fits. row_bytes: the
 * widest per-row binding; k: partial columns per chunk. */
typedef struct {
    int64_t rows_per_chunk, n_partials, split_rows;
} vkt_colsum_plan;
vkt_colsum_plan vkt_ops_colsum_plan(const vkt_rec *r, int64_t n_rows, size_t row_bytes, int64_t k);

/* out[c] += sum over p < n_partials of partial[p * stride + col0 + c], c < n_cols, summed in order p = 0, 1, ...
 * partial: f32 flat; out: (n_cols) f32. Records one dispatch named `name`. */
vkt_status vkt_ops_partial_sum(vkt_rec *r, const char *name, const vkt_tensor *partial, int64_t n_partials,
                               int64_t stride, int64_t col0, int64_t n_cols, const vkt_tensor *out);

/* Whether a row shader may view n f32 bindings as vec4: rows of C floats (C % 4 == 0), each binding
 * starting on a 16-byte boundary, and each elem_off[i] (first row inside binding i) a multiple of 4. */
int vkt_ops_vec4_rows(int64_t C, const vkt_binding *b, const uint32_t *elem_off, int n);
/* The variant of a row shader that has 4-wide forms for every storage dtype: base[_f16|_bf16][_vec4] into buf.
 * For 16 bits the same vkt_ops_vec4_rows test applies (4 elements are then 8 bytes; 16-byte binding starts
 * are more than they need). */
const char *vkt_ops_row_variant(const char *base, vkt_dtype dt, int vec4, char *buf, size_t n);

/* Whether a row shader may take its rows in words of 8 elements (the _vec8 variants, common/eltwise.glsl):
 * vkt_ops_wide8 (a CPU driver, every binding on an 8-element boundary), C % 8 == 0 and each elem_off[i] a
 * multiple of 8. */
bool vkt_ops_wide8_rows(const vkt_rec *r, int64_t C, const vkt_binding *b, const uint32_t *elem_off, int n);
/* base[_f16|_bf16][_vec8] into buf: the variant of a shader with 8-wide forms for every storage dtype. */
const char *vkt_ops_vec8_variant(const char *base, vkt_dtype dt, bool vec8, char *buf, size_t n);

/* Shader variant for a storage dtype: base, base_f16 or base_bf16 (writes into buf of size n). */
const char *vkt_ops_dtype_variant(const char *base, vkt_dtype dt, char *buf, size_t n);

#endif
