/* NF4 and bitsandbytes' blockwise 8-bit dynamic quantization, element by element (used by quant.c and
 * checked against known values in tests/test_quant.c). Semantics: see src/quant/quant.h. Host only. */
#ifndef VKT_QUANT_NF4_H
#define VKT_QUANT_NF4_H

#include <stdint.h>

/* The 16 NF4 levels (bitsandbytes get_4bit_type("nf4"), as f32), ascending; level 7 is 0. */
extern const float vkt_nf4_levels[16];

/* The NF4 code of a scaled value s (NaN -> 0). */
uint8_t vkt_nf4_code(float s);

/* bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 ascending f32
 * values, code[127] = 0, code[255] = 1, as torch computes them (see nf4.c). Static, thread-safe. */
const float *vkt_quant_dynamic_map(void);

/* dQuantize<0>: the 8-bit code of s in `code` (bisection from index 127, then the midpoint test). */
uint8_t vkt_quant_dq8_code(const float *code, float s);

/* Blockwise quantization of x (n values) in blocks of `block`: absmax[b] = max |x| of the block,
 * s = x * (1.0f / absmax[b]), code = vkt_quant_dq8_code(code, s). q (n), absmax (ceil(n / block)). */
void vkt_quant_blockwise8(const float *x, int64_t n, int64_t block, const float *code, uint8_t *q, float *absmax);

/* NF4 quantization of x (n values, blocks of 64): packed (ceil(n / 2) bytes), absmax (ceil(n / 64)). */
void vkt_nf4_quantize(const float *x, int64_t n, uint8_t *packed, float *absmax);

/* Double quantization of absmax (nb values): offset = mean (double sum, rounded to f32), qabs (nb),
 * absmax2 (ceil(nb / 256)). */
void vkt_nf4_double_quant(const float *absmax, int64_t nb, uint8_t *qabs, float *absmax2, float *offset);

/* absmax' of block b from the double-quantized statistics (f32 multiply, then f32 add). */
static inline float vkt_nf4_block_absmax(const uint8_t *qabs, const float *absmax2, const float *code, float offset,
                                         int64_t b) {
    float t = code[qabs[b]] * absmax2[b / 256]; /* C11 mode: no contraction into an fma */
    return t + offset;
}

#endif
