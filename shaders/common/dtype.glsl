// Storage type of tensors a shader reads or writes: f32 by default, -DVKT_F16 or -DVKT_BF16 for 16-bit
// storage. Arithmetic and accumulation are always f32. Needs only storageBuffer16BitAccess (no fp16 math).
//   VKT_T          element type to declare buffers with: `buffer X { VKT_T x[]; };`
//   VKT_LOAD(e)    VKT_T -> float
//   VKT_STORE(f)   float -> VKT_T (bf16: round to nearest even; NaN stays NaN)
// Four consecutive elements as one word, for kernels that move 4 at a time (the host checks alignment):
//   VKT_T4         vec4 for f32, f16vec4 for f16, uvec2 of bf16 pairs for bf16 (8 bytes: one access)
//   VKT_LOAD4(e)   VKT_T4 -> vec4 (element 0 in .x: the low half of the first word, little-endian)
//   VKT_STORE4(v)  vec4 -> VKT_T4, each element rounded as VKT_STORE does
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
#define VKT_T4 f16vec4
// The scalar path's conversions, four at a time (16-bit storage and conversions only, no 16-bit arithmetic).
#define VKT_LOAD4(e) vec4(e)
#define VKT_STORE4(v) f16vec4(v)
#elif defined(VKT_BF16)
#define VKT_T uint16_t
#define VKT_LOAD(e) uintBitsToFloat(uint(e) << 16)
// Without a branch: a kernel that rounds hundreds of values (matmul_wide's 16-bit C) otherwise carries as
// many branches, which lavapipe's LLVM 15 took minutes to compile (shaders/LAVAPIPE.md).
uint16_t vkt_bf16_from_float(float f) {
    uint u = floatBitsToUint(f);
    uint rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return uint16_t((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded); // NaN: quieted
}
#define VKT_STORE(f) vkt_bf16_from_float(f)
#define VKT_T4 uvec2
vec2 vkt_bf16x2_load(uint u) { return vec2(uintBitsToFloat(u << 16), uintBitsToFloat(u & 0xffff0000u)); }
uint vkt_bf16x2_store(vec2 v) { return uint(vkt_bf16_from_float(v.x)) | (uint(vkt_bf16_from_float(v.y)) << 16); }
#define VKT_LOAD4(e) vec4(vkt_bf16x2_load((e).x), vkt_bf16x2_load((e).y))
#define VKT_STORE4(v) uvec2(vkt_bf16x2_store((v).xy), vkt_bf16x2_store((v).zw))
#else
#define VKT_T float
#define VKT_LOAD(e) (e)
#define VKT_STORE(f) (f)
#define VKT_T4 vec4
#define VKT_LOAD4(e) (e)
#define VKT_STORE4(v) (v)
#endif

#endif
