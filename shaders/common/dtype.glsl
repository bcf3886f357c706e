// Storage type of tensors a shader reads or writes: f32 by default, -DVKT_F16 or -DVKT_BF16 for 16-bit
// storage. Arithmetic and accumulation are always f32. Needs only storageBuffer16BitAccess (no fp16 math).
//   VKT_T          element type to declare buffers with: `buffer X { VKT_T x[]; };`
//   VKT_LOAD(e)    VKT_T -> float
//   VKT_STORE(f)   float -> VKT_T (bf16: round to nearest even; NaN stays NaN)
#ifndef VKT_DTYPE_GLSL
#define VKT_DTYPE_GLSL

#if defined(VKT_F16) || defined(VKT_BF16)
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

#if defined(VKT_F16)
#define VKT_T float16_t
#define VKT_LOAD(e) float(e)
#define VKT_STORE(f) float16_t(f)
#elif defined(VKT_BF16)
#define VKT_T uint16_t
#define VKT_LOAD(e) uintBitsToFloat(uint(e) << 16)
uint16_t vkt_bf16_from_float(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}
#define VKT_STORE(f) vkt_bf16_from_float(f)
#else
#define VKT_T float
#define VKT_LOAD(e) (e)
#define VKT_STORE(f) (f)
#endif

#endif
