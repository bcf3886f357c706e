/* Reading GGUF v3 files (layout in gguf.h): a small validating reader for tests and for checking what
 * vktrain wrote. The file is memory-mapped; every length, count, type, offset and size is checked
 * against the file before use, and errors name the file, the byte offset and the field.
 * Not here: loading a model from GGUF, quantized types other than Q8_0. */
#ifndef VKT_IO_GGUF_READ_H
#define VKT_IO_GGUF_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/file.h"
#include "io/gguf.h"
#include "vktrain/status.h"

typedef struct {
    const char *key; /* borrowed from the map, key_len bytes, not NUL-terminated */
    size_t key_len;
    uint32_t type;        /* vkt_gguf_type */
    uint32_t arr_type;    /* element type when type is ARRAY */
    uint64_t n;           /* array length (1 for a scalar) */
    const uint8_t *value; /* borrowed: the scalar, the string (u64 length first) or the first element */
} vkt_gguf_kv;

typedef struct {
    char name[64];
    int ndim;
    int64_t ne[4];   /* ggml order; unused = 1 */
    uint32_t type;   /* ggml type */
    uint64_t offset; /* relative to the data section */
    size_t bytes;    /* the type's size of ne */
} vkt_gguf_tensor_info;

typedef struct {
    vkt_file_map map; /* owned */
    uint32_t version;
    vkt_gguf_kv *kvs; /* owned, n_kv */
    int64_t n_kv;
    vkt_gguf_tensor_info *tensors; /* owned, n_tensors */
    int64_t n_tensors;
    uint32_t alignment; /* general.alignment or 32 */
    size_t data_start;  /* byte offset of the data section (a multiple of alignment) */
} vkt_gguf_file;

/* Opens and validates path. VKT_ERR_IO / VKT_ERR_FORMAT (logged). Close with vkt_gguf_close. */
vkt_status vkt_gguf_open(const char *path, vkt_gguf_file *out);
void vkt_gguf_close(vkt_gguf_file *f);

/* Key/value by key, or NULL. */
const vkt_gguf_kv *vkt_gguf_find(const vkt_gguf_file *f, const char *key);
/* Typed getters: false when absent or of another type. Strings are copied NUL-terminated into buf
 * (truncated to n - 1 bytes). */
bool vkt_gguf_get_u32(const vkt_gguf_file *f, const char *key, uint32_t *v);
bool vkt_gguf_get_f32(const vkt_gguf_file *f, const char *key, float *v);
bool vkt_gguf_get_bool(const vkt_gguf_file *f, const char *key, bool *v);
bool vkt_gguf_get_str(const vkt_gguf_file *f, const char *key, char *buf, size_t n);
/* Element i of an array of strings (borrowed bytes, *len gets the length), or NULL. */
const char *vkt_gguf_arr_str(const vkt_gguf_kv *kv, uint64_t i, size_t *len);
/* Element i of an array of 4-byte scalars (float32, int32, uint32), as raw bits into *v. */
bool vkt_gguf_arr_u32(const vkt_gguf_kv *kv, uint64_t i, uint32_t *v);

const vkt_gguf_tensor_info *vkt_gguf_tensor(const vkt_gguf_file *f, const char *name);
/* The tensor's bytes in the map. */
const uint8_t *vkt_gguf_tensor_data(const vkt_gguf_file *f, const vkt_gguf_tensor_info *t);
/* The tensor as f32 values (F32, F16, BF16, Q8_0) into out (its element count). VKT_ERR_UNSUPPORTED. */
vkt_status vkt_gguf_tensor_f32(const vkt_gguf_file *f, const vkt_gguf_tensor_info *t, float *out);

#endif
