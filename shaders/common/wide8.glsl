// Eight consecutive elements per buffer access, for CPU drivers (-DVKT_VEC8 variants; the host checks that
// every binding so viewed starts on an 8-element boundary and picks these variants on CPU devices only).
//
// Why (lavapipe, Mesa 22.3): a subgroup of 8 invocations is one 256-bit SIMD vector and every buffer
// access with a per-lane address is a loop over the 8 lanes with a bounds-checked fetch per lane, so an
// access costs about the same at 4 or 32 bytes. Moving 8 elements per access cuts the accesses 8-fold.
//   VKT_W8                       one word of 8 elements: u64vec4 for f32 (32 bytes), uvec4 for f16 / bf16
//   void vkt_unpack8(w, f)       VKT_W8 -> float f[8], element t in f[t]; the same conversion as VKT_LOAD
//   VKT_W8 vkt_pack8(f)          float f[8] -> VKT_W8, each element rounded exactly as VKT_STORE does
// Element 0 is the low half of the first 32-bit piece (little-endian), as the scalar view sees it.
// Include after dtype.glsl.
#ifndef VKT_WIDE8_GLSL
#define VKT_WIDE8_GLSL

#extension GL_EXT_control_flow_attributes : require

#if defined(VKT_F16) || defined(VKT_BF16)
#define VKT_W8 uvec4

void vkt_unpack8(uvec4 w, out float f[8]) {
    [[unroll]] for (uint c = 0; c < 4; c++) {
#ifdef VKT_F16
        vec2 h = vec2(unpackFloat2x16(w[c]));
        f[2 * c] = h.x;
        f[2 * c + 1] = h.y;
#else
        f[2 * c] = uintBitsToFloat(w[c] << 16);
        f[2 * c + 1] = uintBitsToFloat(w[c] & 0xffff0000u);
#endif
    }
}

uvec4 vkt_pack8(float f[8]) {
    uvec4 w;
    [[unroll]] for (uint c = 0; c < 4; c++) {
#ifdef VKT_F16
        w[c] = packFloat2x16(f16vec2(float16_t(f[2 * c]), float16_t(f[2 * c + 1])));
#else
        w[c] = uint(vkt_bf16_from_float(f[2 * c])) | (uint(vkt_bf16_from_float(f[2 * c + 1])) << 16);
#endif
    }
    return w;
}
#else
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#define VKT_W8 u64vec4

void vkt_unpack8(u64vec4 w, out float f[8]) {
    [[unroll]] for (uint c = 0; c < 4; c++) {
        uvec2 u = unpackUint2x32(w[c]);
        f[2 * c] = uintBitsToFloat(u.x);
        f[2 * c + 1] = uintBitsToFloat(u.y);
    }
}

u64vec4 vkt_pack8(float f[8]) {
    u64vec4 w;
    [[unroll]] for (uint c = 0; c < 4; c++)
        w[c] = packUint2x32(uvec2(floatBitsToUint(f[2 * c]), floatBitsToUint(f[2 * c + 1])));
    return w;
}
#endif

#endif
