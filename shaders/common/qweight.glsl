// Frozen weights in the storage formats of src/quant/quant.h, dequantized where they are read. Shared by
// qmatmul_reg.comp and qmatmul_smem.comp. One of QW_F32, QW_F16, QW_BF16, QW_INT8, QW_NF4 is defined.
//
// W (out, in) is flat: element e = row * in + col. Every section is read as 32-bit words (no 8- or 16-bit
// storage feature needed); the host binds a window of each section starting at an aligned byte and passes,
// in push constants, the global index that window element 0 has (base_data in elements, base_scale in
// rows (INT8) or NF4 blocks, base_abs2 in double-quant blocks), so local index = global - base (mod 2^32).
// NF4: element e sits in byte e / 2, high nibble when e is even (bitsandbytes' packing); its block
// maximum is code[qabsmax[e / 64]] * absmax2[e / 16384] + offset, then w = level[c] * that.
#ifndef VKT_QWEIGHT_GLSL
#define VKT_QWEIGHT_GLSL

layout(binding = 1) readonly buffer WD { uint wd[]; };
layout(binding = 1) readonly buffer WD2 { uvec2 wd2[]; };
layout(binding = 1) readonly buffer WD4 { uvec4 wd4[]; };
layout(binding = 2) readonly buffer WS { uint ws[]; };       // INT8: f32 scale bits; NF4: qabsmax bytes
layout(binding = 3) readonly buffer WA2 { float wa2[]; };    // NF4: absmax2
layout(binding = 4) readonly buffer WC { float wcode[]; };   // NF4: code[256], offset

const float QW_NF4_LEVELS[16] = float[16](
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0);

// The scale of element e: the row scale (INT8), the dequantized block maximum (NF4), else 1.
float qw_scale(uint e) {
#if defined(QW_INT8)
    return uintBitsToFloat(ws[e / pc.w_in - pc.base_scale]);
#elif defined(QW_NF4)
    uint b = e >> 6, lb = b - pc.base_scale;
    uint q = (ws[lb >> 2] >> (8u * (lb & 3u))) & 255u;
    float t = wcode[q] * wa2[(b >> 8) - pc.base_abs2];
    return t + wcode[256];
#else
    return 1.0;
#endif
}

// One dequantized element (any e).
float qw_elem(uint e) {
    uint l = e - pc.base_data;
#if defined(QW_F32)
    return uintBitsToFloat(wd[l]);
#elif defined(QW_F16)
    vec2 h = unpackHalf2x16(wd[l >> 1]);
    return (l & 1u) == 0u ? h.x : h.y;
#elif defined(QW_BF16)
    uint w = wd[l >> 1];
    return uintBitsToFloat((l & 1u) == 0u ? w << 16 : w & 0xffff0000u);
#elif defined(QW_INT8)
    return float(bitfieldExtract(int(wd[l >> 2]), int(8u * (l & 3u)), 8)) * qw_scale(e);
#else
    uint c = (wd[l >> 3] >> (8u * ((l >> 1) & 3u) + ((l & 1u) == 0u ? 4u : 0u))) & 15u;
    return QW_NF4_LEVELS[c] * qw_scale(e);
#endif
}

// Whether element e may have a different scale than e - 8 (a new NF4 block, a new INT8 row): callers
// walking a W row in groups of 8 refresh the scale only then.
bool qw_scale_changes(uint e) {
#if defined(QW_NF4)
    return (e & 63u) == 0u;
#elif defined(QW_INT8)
    return e % pc.w_in == 0u;
#else
    return false;
#endif
}

// Eight dequantized elements e .. e + 7, for e % 8 == 0 with the eight in one row (in % 8 == 0): one
// load (two for f32), times `s` = qw_scale(e) (an NF4 block holds whole groups of 8).
void qw_group8_scaled(uint e, float s, out float f[8]) {
    uint l = e - pc.base_data;
#if defined(QW_F32)
    uvec4 a = wd4[l >> 2], b = wd4[(l >> 2) + 1u];
    for (uint c = 0; c < 4; c++) f[c] = uintBitsToFloat(a[c]), f[4 + c] = uintBitsToFloat(b[c]);
#elif defined(QW_F16)
    uvec4 v = wd4[l >> 3];
    for (uint c = 0; c < 4; c++) {
        vec2 h = unpackHalf2x16(v[c]);
        f[2 * c] = h.x, f[2 * c + 1] = h.y;
    }
#elif defined(QW_BF16)
    uvec4 v = wd4[l >> 3];
    for (uint c = 0; c < 4; c++) f[2 * c] = uintBitsToFloat(v[c] << 16), f[2 * c + 1] = uintBitsToFloat(v[c] & 0xffff0000u);
#elif defined(QW_INT8)
    uvec2 v = wd2[l >> 3];
    for (uint c = 0; c < 8; c++) f[c] = float(bitfieldExtract(int(v[c >> 2]), int(8u * (c & 3u)), 8)) * s;
#else
    uint v = wd[l >> 3];
    for (uint c = 0; c < 8; c++) f[c] = QW_NF4_LEVELS[(v >> (8u * (c >> 1) + 4u * (1u - (c & 1u)))) & 15u] * s;
#endif
}

#endif
