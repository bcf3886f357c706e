/* safetensors: reading (single files and sharded models) and atomic writing.
 *
 * Format (https://github.com/huggingface/safetensors, README "Format"): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON, then the byte buffer. The JSON maps each tensor name to
 * {"dtype": "F32"|..., "shape": [..], "data_offsets": [begin, end]} with offsets relative to the
 * start of the byte buffer, plus an optional "__metadata__" object of string to string. Data are
 * little-endian and row-major. A sharded model is a folder with model.safetensors.index.json whose
 * "weight_map" maps each tensor name to the shard file (relative to the index) that holds it.
 *
 * Reading memory-maps the file and validates everything before returning: header length against
 * the file size, JSON types, known dtypes, shape products against the byte range, ranges against the
 * buffer, overlaps and duplicate names. Every error names the file, the tensor and the field.
 * Values are converted to f32 only on request, and only from the dtypes that convert exactly (F32, F16
 * with its subnormals, BF16); F64 would round and integer or 8-bit float types would need a scale, so
 * they are readable as raw bytes only. Not here: big-endian hosts, writing sharded models. */
#ifndef VKT_IO_SAFETENSORS_H
#define VKT_IO_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/file.h"
#include "io/host_params.h"
#include "vktrain/status.h"

#define VKT_ST_MAX_DIMS 8

typedef enum {
    VKT_ST_BOOL,
    VKT_ST_U8,
    VKT_ST_I8,
    VKT_ST_F8_E4M3,
    VKT_ST_F8_E5M2,
    VKT_ST_I16,
    VKT_ST_U16,
    VKT_ST_F16,
    VKT_ST_BF16,
    VKT_ST_I32,
    VKT_ST_U32,
    VKT_ST_F32,
    VKT_ST_I64,
    VKT_ST_U64,
    VKT_ST_F64,
    VKT_ST_DTYPE_COUNT
} vkt_st_dtype;

/* "F32" etc.; size in bytes per element. */
const char *vkt_st_dtype_name(vkt_st_dtype d);
size_t vkt_st_dtype_size(vkt_st_dtype d);
/* True for F32, F16 and BF16: every value has an exact f32 equal. */
bool vkt_st_dtype_exact_f32(vkt_st_dtype d);

typedef struct {
    char *name; /* owned */
    vkt_st_dtype dtype;
    int ndim;                       /* 0 for a scalar */
    int64_t shape[VKT_ST_MAX_DIMS]; /* row-major */
    int64_t numel;
    size_t begin, end; /* bytes, relative to the start of the byte buffer */
} vkt_st_tensor;

typedef struct {
    vkt_file_map map;       /* owned */
    size_t data_start;      /* 8 + header length */
    vkt_st_tensor *tensors; /* owned, n_tensors entries, sorted by name */
    int n_tensors;
    char **meta; /* owned: n_meta key/value pairs, meta[2i] key, meta[2i+1] value */
    int n_meta;
} vkt_st_file;

/* Opens and validates one .safetensors file. VKT_ERR_IO if unreadable, VKT_ERR_FORMAT with a logged
 * message naming file/tensor/field for any bad content. Close with vkt_st_close (safe when zeroed). */
vkt_status vkt_st_open(const char *path, vkt_st_file *out);
/* The same for a file's bytes in memory (copied; `name` stands for the path in messages). */
vkt_status vkt_st_open_mem(const void *data, size_t size, const char *name, vkt_st_file *out);
void vkt_st_close(vkt_st_file *f);
/* Tensor by name (binary search), or NULL. */
const vkt_st_tensor *vkt_st_find(const vkt_st_file *f, const char *name);
/* Value of a __metadata__ key, or NULL. Borrowed from f. */
const char *vkt_st_meta(const vkt_st_file *f, const char *key);
/* Raw little-endian bytes of a tensor (t->end - t->begin of them; not necessarily aligned). */
const void *vkt_st_bytes(const vkt_st_file *f, const vkt_st_tensor *t);
/* Converts a tensor to f32 into out (n must equal t->numel), exactly. VKT_ERR_UNSUPPORTED for dtypes other
 * than F32/F16/BF16 (logged naming file, tensor and dtype), VKT_ERR_ARG for a size mismatch. */
vkt_status vkt_st_read_f32(const vkt_st_file *f, const vkt_st_tensor *t, float *out, int64_t n);

/* A whole model: one file or several shards. */
typedef struct {
    vkt_st_file *shards; /* owned, n_shards entries */
    int n_shards;
    struct vkt_st_entry {
        const char *name;       /* borrowed from the shard's tensor */
        int shard;              /* index into shards */
        const vkt_st_tensor *t; /* borrowed */
    } * entries;                /* owned, sorted by name */
    int n_entries;
} vkt_st_model;

/* path: a .safetensors file, a model.safetensors.index.json, or a folder holding either
 * model.safetensors.index.json or model.safetensors. Shard file names in the index must be plain
 * names or relative paths without "..". Every weight_map tensor must exist in its shard. */
vkt_status vkt_st_model_open(const char *path, vkt_st_model *out);
void vkt_st_model_close(vkt_st_model *m);
/* Tensor by name; *file (if not NULL) gets the shard that holds it. NULL if absent. */
const vkt_st_tensor *vkt_st_model_find(const vkt_st_model *m, const char *name, const vkt_st_file **file);

/* One tensor to write. Data are borrowed for the duration of the call. */
typedef struct {
    const char *name;
    vkt_st_dtype dtype; /* dtype stored in the file */
    int ndim;
    int64_t shape[VKT_ST_MAX_DIMS];
    const void *data; /* numel elements: of `dtype`, or f32 when from_f32 */
    bool from_f32;    /* convert f32 data to dtype (F32, F16, BF16 only) while writing */
} vkt_st_write_tensor;

/* Writes tensors (in the given order, packed, header padded with spaces to 8 bytes) and optional
 * metadata (meta_kv[2i] key, meta_kv[2i+1] value; n_meta pairs) atomically: a temporary file in the
 * same folder, fsync, rename. VKT_ERR_ARG for duplicate/empty names or "__metadata__" as a name. */
vkt_status vkt_st_write(const char *path, const vkt_st_write_tensor *ts, int n, const char *const *meta_kv, int n_meta);
/* Writes a host parameter table (names and shapes as in the table) in dtype F32, F16 or BF16. */
vkt_status vkt_st_write_params(const char *path, const vkt_host_params *p, vkt_st_dtype dtype,
                               const char *const *meta_kv, int n_meta);

#endif
