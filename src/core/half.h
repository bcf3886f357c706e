/* Host conversions between f32 and the 16-bit storage formats (IEEE half, bfloat16).
 * Rounding is to nearest even in both directions' narrowing; NaN stays NaN. */
#ifndef VKT_HALF_H
#define VKT_HALF_H

#include <stdint.h>

uint16_t vkt_f32_to_f16(float f);
float vkt_f16_to_f32(uint16_t h);
uint16_t vkt_f32_to_bf16(float f);
float vkt_bf16_to_f32(uint16_t b);

#endif
