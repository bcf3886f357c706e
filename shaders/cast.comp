#version 450
// y = x converted between storage types, elementwise: f32 -> f16 / bf16 (round to nearest even, as every
// half store in vktrain: common/dtype.glsl) and back (exact). Fills a model's half weight copy from its
// f32 master weights.
//! variant cast_f32_f16 -DVKT_DST_F16=1
//! variant cast_f32_bf16 -DVKT_DST_BF16=1
//! variant cast_f16_f32 -DVKT_F16=1 -DVKT_SRC_HALF=1
//! variant cast_bf16_f32 -DVKT_BF16=1 -DVKT_SRC_HALF=1
#extension GL_GOOGLE_include_directive : require
#if defined(VKT_DST_F16)
#define VKT_F16 1
#elif defined(VKT_DST_BF16)
#define VKT_BF16 1
#endif
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#if defined(VKT_SRC_HALF)
layout(binding = 0) readonly buffer X { VKT_T x[]; };
layout(binding = 1) writeonly buffer Y { float y[]; };
#define CONVERT(v) VKT_LOAD(v)
#else
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer Y { VKT_T y[]; };
#define CONVERT(v) VKT_STORE(v)
#endif

layout(push_constant) uniform Pc { uint n; uint flags; } pc;

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i < pc.n) y[i] = CONVERT(x[i]);
}
