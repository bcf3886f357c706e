#version 450
// LoRA dropout (src/ops/lora.h): the adapter's input x is dropped elementwise with probability p and the
// kept elements scaled by 1 / (1 - p), as torch.nn.Dropout in PEFT's lora_dropout. The mask is a pure
// function of (seed, stream, pass counter, element), recomputed wherever it is needed rather than stored:
// the forward writes xd = mask * x, the backward adds mask * t into dx. The pass counter lives in device
// memory (the tick variant adds 1 after each training backward), so a replayed recording draws a fresh
// mask every micro-batch without the host. The hash is mirrored in src/ref/ref_lora.c.
//! variant lora_dropout_fwd
//! variant lora_dropout_bwd -DVKT_DROPOUT_BWD=1
//! variant lora_dropout_tick -DVKT_DROPOUT_TICK=1
//! variant lora_dropout_fwd_f16 -DVKT_F16=1
//! variant lora_dropout_bwd_f16 -DVKT_DROPOUT_BWD=1 -DVKT_F16=1
//! variant lora_dropout_fwd_bf16 -DVKT_BF16=1
//! variant lora_dropout_bwd_bf16 -DVKT_DROPOUT_BWD=1 -DVKT_BF16=1
// x and y are f32, or f16 / bf16 in the _f16 / _bf16 variants (mixed precision activations; f32 math).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#ifdef VKT_DROPOUT_TICK
layout(binding = 0) buffer Ctr { uint ctr[]; };
void main() {
    if (gl_GlobalInvocationID.x == 0u) ctr[0] += 1u;
}
#else
layout(binding = 0) readonly buffer X { VKT_T x[]; }; // forward: x; backward: t = s g A
layout(binding = 1) readonly buffer Ctr { uint ctr[]; };
#ifdef VKT_DROPOUT_BWD
layout(binding = 2) buffer Y { VKT_T y[]; };          // dx, accumulated
#else
layout(binding = 2) writeonly buffer Y { VKT_T y[]; }; // xd, overwritten
#endif

layout(push_constant) uniform Pc {
    uint n;         // elements in this chunk
    uint base;      // global index of the chunk's first element
    uint seed;      // the adapter's seed
    uint stream;    // the module's index: every module draws its own mask
    uint threshold; // dropped when hash < threshold = p * 2^32
    float inv_keep; // 1 / (1 - p)
} pc;

// PCG output permutation (O'Neill 2014, pcg32 "RXS M XS"), chained over the four inputs.
uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

void main() {
    uint i = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    uint h = pcg(pcg(pcg(pc.seed) ^ pc.stream) ^ ctr[0]);
    h = pcg(h ^ (pc.base + i));
    float v = h >= pc.threshold ? VKT_LOAD(x[i]) * pc.inv_keep : 0.0;
#ifdef VKT_DROPOUT_BWD
    y[i] = VKT_STORE(VKT_LOAD(y[i]) + v);
#else
    y[i] = VKT_STORE(v);
#endif
}
#endif
