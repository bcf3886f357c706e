/* GGUF type tables and the Q8_0 encoding (see gguf.h). The rounding matches ggml's reference
 * quantizer, which llama-quantize and gguf-py use: the scale is computed and inverted in float,
 * the codes are roundf (half away from zero) of x * (1/d), and d is stored as f16 rounded to nearest
 * even. An f16 d that differs from the float d is deliberate: ggml quantizes with the float one. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "io/gguf.h"

size_t vkt_gguf_type_size(vkt_gguf_type t) {
    switch (t) {
    case VKT_GGUF_UINT8:
    case VKT_GGUF_INT8:
    case VKT_GGUF_BOOL: return 1;
    case VKT_GGUF_UINT16:
    case VKT_GGUF_INT16: return 2;
    case VKT_GGUF_UINT32:
    case VKT_GGUF_INT32:
    case VKT_GGUF_FLOAT32: return 4;
    case VKT_GGUF_UINT64:
    case VKT_GGUF_INT64:
    case VKT_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *vkt_gguf_type_name(vkt_gguf_type t) {
    static const char *names[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
                                  "bool",  "string", "array",  "uint64", "int64",  "float64"};
    return (unsigned)t < VKT_GGUF_TYPE_COUNT ? names[t] : "unknown";
}

const char *vkt_ggml_type_name(uint32_t t) {
    switch (t) {
    case VKT_GGML_F32: return "F32";
    case VKT_GGML_F16: return "F16";
    case VKT_GGML_Q8_0: return "Q8_0";
    case VKT_GGML_BF16: return "BF16";
    default: return NULL;
    }
}

size_t vkt_ggml_row_bytes(uint32_t t, int64_t n) {
    if (n < 0) return 0;
    switch (t) {
    case VKT_GGML_F32: return (size_t)n * 4;
    case VKT_GGML_F16:
    case VKT_GGML_BF16: return (size_t)n * 2;
    case VKT_GGML_Q8_0: return n % VKT_GGUF_QK8_0 ? 0 : (size_t)(n / VKT_GGUF_QK8_0) * VKT_GGUF_Q8_0_BLOCK_BYTES;
    default: return 0;
    }
}

void vkt_gguf_quantize_q8_0(const float *x, int64_t n, uint8_t *out) {
    for (int64_t b = 0; b < n / VKT_GGUF_QK8_0; b++) {
        const float *xb = x + b * VKT_GGUF_QK8_0;
        uint8_t *ob = out + b * VKT_GGUF_Q8_0_BLOCK_BYTES;
        float amax = 0.0f;
        for (int j = 0; j < VKT_GGUF_QK8_0; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = vkt_f32_to_f16(d);
        memcpy(ob, &dh, 2);
        for (int j = 0; j < VKT_GGUF_QK8_0; j++) ob[2 + j] = (uint8_t)(int8_t)roundf(xb[j] * id);
    }
}

void vkt_gguf_dequantize_q8_0(const uint8_t *blocks, int64_t n, float *out) {
    for (int64_t b = 0; b < n / VKT_GGUF_QK8_0; b++) {
        const uint8_t *ob = blocks + b * VKT_GGUF_Q8_0_BLOCK_BYTES;
        uint16_t dh;
        memcpy(&dh, ob, 2);
        float d = vkt_f16_to_f32(dh);
        for (int j = 0; j < VKT_GGUF_QK8_0; j++) out[b * VKT_GGUF_QK8_0 + j] = d * (float)(int8_t)ob[2 + j];
    }
}
