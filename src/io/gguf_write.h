/* Writing GGUF v3 files (layout in gguf.h): key/values and tensors are collected in memory, then
 * vkt_gguf_write lays them out (tensor data at offsets aligned to general.alignment, default 32) and
 * writes the file atomically (temporary file, fsync, rename: io/file.h).
 *
 * The writer owns copies of everything added, so callers may free their buffers right after an add.
 * Keys must be unique; tensor names unique and under 64 bytes (GGML_MAX_NAME). Errors are logged with
 * the key or tensor name. Not thread-safe. Not here: reading (gguf_read.h), what the keys and tensors
 * of a model are (train/export_gguf.h). */
#ifndef VKT_IO_GGUF_WRITE_H
#define VKT_IO_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/gguf.h"
#include "vktrain/status.h"

typedef struct {
    char *name;    /* owned */
    int ndim;      /* 1..4 */
    int64_t ne[4]; /* ggml order: ne[0] contiguous; unused = 1 */
    uint32_t type; /* vkt_ggml_type */
    uint8_t *data; /* owned: bytes encoded in `type` */
    size_t bytes;
} vkt_gguf_out_tensor;

typedef struct {
    uint8_t *kv; /* owned: serialized key/values, in the order added */
    size_t kv_len, kv_cap;
    int64_t n_kv;
    char **keys;                  /* owned: each key, for the duplicate check */
    vkt_gguf_out_tensor *tensors; /* owned, n_tensors */
    int n_tensors, cap_tensors;
    uint32_t alignment; /* 32 unless general.alignment was added */
    bool failed;        /* an add failed (out of memory, bad argument); write refuses */
} vkt_gguf_writer;

void vkt_gguf_writer_init(vkt_gguf_writer *w);
/* Frees everything; safe on a zeroed writer and twice. */
void vkt_gguf_writer_free(vkt_gguf_writer *w);

/* Scalars and strings. VKT_ERR_ARG for a duplicate key. general.alignment (u32, a power of two <= 256)
 * also sets the writer's alignment. */
vkt_status vkt_gguf_add_u32(vkt_gguf_writer *w, const char *key, uint32_t v);
vkt_status vkt_gguf_add_i32(vkt_gguf_writer *w, const char *key, int32_t v);
vkt_status vkt_gguf_add_u64(vkt_gguf_writer *w, const char *key, uint64_t v);
vkt_status vkt_gguf_add_f32(vkt_gguf_writer *w, const char *key, float v);
vkt_status vkt_gguf_add_bool(vkt_gguf_writer *w, const char *key, bool v);
vkt_status vkt_gguf_add_str(vkt_gguf_writer *w, const char *key, const char *v);
/* Arrays: strings (each NUL-terminated), float32 or int32 values. */
vkt_status vkt_gguf_add_arr_str(vkt_gguf_writer *w, const char *key, const char *const *v, int64_t n);
vkt_status vkt_gguf_add_arr_f32(vkt_gguf_writer *w, const char *key, const float *v, int64_t n);
vkt_status vkt_gguf_add_arr_i32(vkt_gguf_writer *w, const char *key, const int32_t *v, int64_t n);

/* Adds a tensor of ndim dims (ne in ggml order) from f32 values (ne[0] * ... values, row-major with
 * ne[0] contiguous), encoded as `type` (F32, F16, BF16, or Q8_0 when ne[0] is a multiple of 32).
 * VKT_ERR_ARG names the tensor for a bad shape, a Q8_0 row that is not whole blocks, a duplicate or
 * too long name. */
vkt_status vkt_gguf_add_tensor_f32(vkt_gguf_writer *w, const char *name, int ndim, const int64_t *ne,
                                   vkt_ggml_type type, const float *x);

/* Writes the file. VKT_ERR_IO (logged with the path) when it cannot be written; VKT_ERR_ARG when an
 * earlier add failed. The writer stays valid (write again or free). */
vkt_status vkt_gguf_write(const vkt_gguf_writer *w, const char *path);

#endif
