/* f16 and bf16 conversions (see half.h). Bit manipulation only; no compiler _Float16 needed. */
#include "core/half.h"

#include <string.h>

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t vkt_f32_to_bf16(float f) {
    uint32_t u = bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float vkt_bf16_to_f32(uint16_t b) { return from_bits((uint32_t)b << 16); }

uint16_t vkt_f32_to_f16(float f) {
    uint32_t u = bits(f), sign = (u >> 16) & 0x8000u, absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);              /* NaN */
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);             /* overflow -> inf */
    if (absu < 0x38800000u) {                                               /* subnormal or zero */
        if (absu < 0x33000000u) return (uint16_t)sign;
        uint32_t mant = (absu & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(absu >> 23); /* value * 2^24 = mant * 2^(E - 126) */
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((absu - 0x38000000u) >> 13);
    uint32_t rem = absu & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float vkt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    if (e == 0x1f) return from_bits(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0) return from_bits(sign);
        float v = (float)m * (1.0f / 16777216.0f); /* m * 2^-24 */
        return sign ? -v : v;
    }
    return from_bits(sign | ((e + 112) << 23) | (m << 13));
}
