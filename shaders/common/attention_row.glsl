// Operand access for the row (CPU-driver) attention kernels: head rows move in words of 8 elements.
//
// Why (lavapipe, Mesa 22.3): inside any loop every buffer load, whatever its address, is compiled to a
// loop over the 8 lanes of the SIMD vector with a bounds-checked scalar fetch per component, so a load
// costs about the same for 4 or 32 bytes and far more than an FMA. The row kernels therefore load 8
// elements per instruction and feed every loaded element to R rows' FMAs, and keep everything else in
// private arrays indexed only by constants (unrolled loops): a private array with a dynamic index is
// addressed lane by lane too.
//
// `void name_ld8(uint e, uint w, out float f[8])` reads elements 8w .. 8w + 7 of the head row starting
// at element e, zero past HS; `void name_st8(uint e, uint w, float f[8])` writes those below HS.
//   -DVKT_VEC8  f32, HS % 8 == 0, every row start a multiple of 8 elements (32 bytes): one u64vec4
//   -DVKT_VEC4  f32, HS % 4 == 0, row starts multiples of 4 (16 bytes): two vec4
//   otherwise   element by element (f32, or f16 / bf16 storage: dtype.glsl)
#ifndef VKT_ATTENTION_ROW_GLSL
#define VKT_ATTENTION_ROW_GLSL

const uint HS8 = (HS + 7) / 8;

#if defined(VKT_VEC8)
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#define ATT_IN8(bnd, Blk, name)                                                                    \
    layout(binding = bnd) readonly buffer Blk { u64vec4 name[]; };                                 \
    void name##_ld8(uint e, uint w, out float f[8]) {                                              \
        u64vec4 x = name[(e >> 3) + w];                                                            \
        [[unroll]] for (uint c = 0; c < 4; c++) {                                                  \
            uvec2 u = unpackUint2x32(x[c]);                                                        \
            f[2 * c] = uintBitsToFloat(u.x);                                                       \
            f[2 * c + 1] = uintBitsToFloat(u.y);                                                   \
        }                                                                                          \
    }
#define ATT_OUT8(bnd, Blk, name)                                                                   \
    layout(binding = bnd) writeonly buffer Blk { u64vec4 name[]; };                                \
    void name##_st8(uint e, uint w, float f[8]) {                                                  \
        u64vec4 x;                                                                                 \
        [[unroll]] for (uint c = 0; c < 4; c++)                                                    \
            x[c] = packUint2x32(uvec2(floatBitsToUint(f[2 * c]), floatBitsToUint(f[2 * c + 1])));  \
        name[(e >> 3) + w] = x;                                                                    \
    }
#elif defined(VKT_VEC4)
#define ATT_IN8(bnd, Blk, name)                                                                    \
    layout(binding = bnd) readonly buffer Blk { vec4 name[]; };                                    \
    void name##_ld8(uint e, uint w, out float f[8]) {                                              \
        [[unroll]] for (uint h = 0; h < 2; h++) {                                                  \
            vec4 x = 8 * w + 4 * h < HS ? name[(e >> 2) + 2 * w + h] : vec4(0.0);                  \
            [[unroll]] for (uint t = 0; t < 4; t++) f[4 * h + t] = x[t];                           \
        }                                                                                          \
    }
#define ATT_OUT8(bnd, Blk, name)                                                                   \
    layout(binding = bnd) writeonly buffer Blk { vec4 name[]; };                                   \
    void name##_st8(uint e, uint w, float f[8]) {                                                  \
        [[unroll]] for (uint h = 0; h < 2; h++)                                                    \
            if (8 * w + 4 * h < HS)                                                                \
                name[(e >> 2) + 2 * w + h] = vec4(f[4 * h], f[4 * h + 1], f[4 * h + 2], f[4 * h + 3]); \
    }
#else
#define ATT_IN8(bnd, Blk, name)                                                                    \
    layout(binding = bnd) readonly buffer Blk { VKT_T name[]; };                                   \
    void name##_ld8(uint e, uint w, out float f[8]) {                                              \
        [[unroll]] for (uint t = 0; t < 8; t++)                                                    \
            f[t] = 8 * w + t < HS ? VKT_LOAD(name[e + 8 * w + t]) : 0.0;                           \
    }
#define ATT_OUT8(bnd, Blk, name)                                                                   \
    layout(binding = bnd) writeonly buffer Blk { VKT_T name[]; };                                  \
    void name##_st8(uint e, uint w, float f[8]) {                                                  \
        [[unroll]] for (uint t = 0; t < 8; t++)                                                    \
            if (8 * w + t < HS) name[e + 8 * w + t] = VKT_STORE(f[t]);                             \
    }
#endif

#endif
