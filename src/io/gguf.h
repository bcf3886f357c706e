/* GGUF (llama.cpp / ggml model files): the constants both the writer and the reader use, and the
 * tensor encodings vktrain writes (F32, F16, BF16, Q8_0).
 *
 * File layout, version 3 (ggml docs/gguf.md, ggml/include/gguf.h), all little-endian:
 *   "GGUF" magic, uint32 version, uint64 tensor count, uint64 key/value count;
 *   key/values: string key, uint32 value type, value (arrays: uint32 element type, uint64 count, values);
 *   tensor infos: string name, uint32 n_dims, uint64 ne[n_dims] (ne[0] is the contiguous dimension,
 *     so a row-major (rows, cols) matrix has ne = {cols, rows}), uint32 ggml type, uint64 offset
 *     relative to the start of the data section (a multiple of the alignment);
 *   zero padding up to the alignment ("general.alignment", uint32, default 32), then the data section.
 * Strings are uint64 length + bytes, no terminator.
 *
 * Q8_0 (ggml-quants.c quantize_row_q8_0_ref): blocks of 32 values; d = absmax / 127 (float), stored
 * as f16 (round to nearest even); q[j] = roundf(x[j] * (1/d)) (half away from zero), 0 when d == 0.
 * A block is 34 bytes: d then 32 int8. Not here: the other quantized types, big-endian files. */
#ifndef VKT_IO_GGUF_H
#define VKT_IO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#define VKT_GGUF_MAGIC             0x46554747u /* "GGUF" read as a little-endian uint32 */
#define VKT_GGUF_VERSION           3
#define VKT_GGUF_DEFAULT_ALIGNMENT 32
#define VKT_GGUF_QK8_0             32
#define VKT_GGUF_Q8_0_BLOCK_BYTES  34

typedef enum {
    VKT_GGUF_UINT8 = 0,
    VKT_GGUF_INT8 = 1,
    VKT_GGUF_UINT16 = 2,
    VKT_GGUF_INT16 = 3,
    VKT_GGUF_UINT32 = 4,
    VKT_GGUF_INT32 = 5,
    VKT_GGUF_FLOAT32 = 6,
    VKT_GGUF_BOOL = 7,
    VKT_GGUF_STRING = 8,
    VKT_GGUF_ARRAY = 9,
    VKT_GGUF_UINT64 = 10,
    VKT_GGUF_INT64 = 11,
    VKT_GGUF_FLOAT64 = 12,
    VKT_GGUF_TYPE_COUNT
} vkt_gguf_type;

/* ggml tensor types vktrain writes (numbering as ggml.h's enum ggml_type). */
typedef enum { VKT_GGML_F32 = 0, VKT_GGML_F16 = 1, VKT_GGML_Q8_0 = 8, VKT_GGML_BF16 = 30 } vkt_ggml_type;

/* llama.cpp's llama_ftype values for general.file_type. */
enum {
    VKT_GGUF_FTYPE_ALL_F32 = 0,
    VKT_GGUF_FTYPE_MOSTLY_F16 = 1,
    VKT_GGUF_FTYPE_MOSTLY_Q8_0 = 7,
    VKT_GGUF_FTYPE_MOSTLY_BF16 = 32
};

/* Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type). */
enum {
    VKT_GGUF_TOKEN_NORMAL = 1,
    VKT_GGUF_TOKEN_UNKNOWN = 2,
    VKT_GGUF_TOKEN_CONTROL = 3,
    VKT_GGUF_TOKEN_USER_DEFINED = 4,
    VKT_GGUF_TOKEN_UNUSED = 5,
    VKT_GGUF_TOKEN_BYTE = 6
};

/* Bytes of one scalar value of type t (0 for STRING and ARRAY, which have variable size). */
size_t vkt_gguf_type_size(vkt_gguf_type t);
const char *vkt_gguf_type_name(vkt_gguf_type t);
/* "F32", "F16", "Q8_0", "BF16" or NULL for a type vktrain does not know. */
const char *vkt_ggml_type_name(uint32_t t);
/* Bytes of a row of n values of type t; 0 when n is not a multiple of the type's block size or t is
 * unknown. */
size_t vkt_ggml_row_bytes(uint32_t t, int64_t n);

/* Quantizes n values (a multiple of 32) of x into n / 32 Q8_0 blocks at out, exactly as ggml's
 * quantize_row_q8_0_ref. */
void vkt_gguf_quantize_q8_0(const float *x, int64_t n, uint8_t *out);
/* Dequantizes n values of Q8_0 blocks (d * q). */
void vkt_gguf_dequantize_q8_0(const uint8_t *blocks, int64_t n, float *out);

#endif
