/* Host-side parameter table: named f32 tensors in one contiguous buffer, in a fixed order.
 *
 * Checkpoint importers (llama2.c, llm.c GPT-2, safetensors) fill one of these; the model code then
 * matches names and shapes against its own device parameter table and uploads. Values are always f32
 * here (16-bit sources are widened on load); the device dtype is the model's business.
 *
 * Layout conventions shared by every importer:
 *  - shapes are row-major, the last dimension contiguous; unused trailing dims are 1 (ndim says how
 *    many are meaningful);
 *  - linear weights are stored (out_features, in_features), i.e. y = x W^T, as in torch nn.Linear,
 *    Hugging Face Llama and llm.c. Hugging Face GPT-2's Conv1D stores (in, out): see llmc_gpt2.h.
 * Not thread-safe for concurrent modification; concurrent reads are fine. */
#ifndef VKT_IO_HOST_PARAMS_H
#define VKT_IO_HOST_PARAMS_H

#include <stdint.h>

#include "vktrain/status.h"

#define VKT_PARAM_NAME_MAX 96

typedef struct {
    char name[VKT_PARAM_NAME_MAX]; /* e.g. "model.layers.3.self_attn.q_proj.weight" */
    int64_t shape[4];              /* row-major; unused trailing dims are 1 */
    int ndim;                      /* meaningful dims (1..4) */
    int64_t n;                     /* elements */
    int64_t offset;                /* elements from the start of the table's buffer */
    float *data;                   /* borrowed from the table's buffer; NULL until vkt_host_params_alloc */
} vkt_host_param;

typedef struct {
    vkt_host_param *items; /* owned, count entries */
    int count, cap;
    float *buf; /* owned: n_total floats, entries at their offsets */
    int64_t n_total;
} vkt_host_params;

/* Appends an entry of the given shape (ndim 1..4) named by a printf format. VKT_ERR_ARG for a bad
 * shape, a duplicate or over-long name; VKT_ERR_OOM. Must be called before vkt_host_params_alloc. */
vkt_status vkt_host_params_add(vkt_host_params *t, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Allocates the buffer (zero-filled) and points every entry's data into it. */
vkt_status vkt_host_params_alloc(vkt_host_params *t);
/* Entry by exact name, or NULL. Linear search: tables are a few hundred entries. */
vkt_host_param *vkt_host_params_find(const vkt_host_params *t, const char *name);
/* Frees everything; safe on a zeroed table and twice. */
void vkt_host_params_free(vkt_host_params *t);

/* Copies src (rows, cols) into dst transposed to (cols, rows). dst and src must not overlap. */
void vkt_transpose_f32(float *dst, const float *src, int64_t rows, int64_t cols);

#endif
