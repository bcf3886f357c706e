// Shared by the attention shaders (attention_fwd, attention_bwd_dq, attention_bwd_dkv and their _row
// variants for CPU drivers, which read operands through attention_row.glsl instead): push constants,
// operand addressing and the row/tile work split. Mirrored by vkt_pc_attention in src/ops/attention.c.
//
// Addressing: element (b, t, head, d) of operand X is X_off + (b*T + t)*X_stride + head*HS + d, with b
// counted inside the dispatched batch chunk. Offsets absorb the column of a fused qkv buffer and the
// distance from the aligned binding start. o and do are packed (stride NH*HS); lse and D are (b, NH, T).
//
// Head vectors live in registers as HS4 = ceil(HS / 4) vec4s. With -DVKT_VEC4 (host: f32, HS % 4 == 0,
// every row start a multiple of 4 elements: offsets aligned to 16 bytes) the buffers are read and
// written as vec4 arrays; otherwise element by element (f32, or f16 / bf16 storage with -DVKT_F16 /
// -DVKT_BF16, see dtype.glsl), with the tail of the last vec4 zero. lse and D are always f32.
//
// Masks: query i sees key j when seg[i] <= j (same document, packing) and j <= i (causal) or seg[j] <= i
// (bidirectional: j's document started at or before i, so i and j share it). seg[t] is the first position
// of t's document (binding Seg, (B, T) i32, when ATT_PACKED is set; without it nothing is read and seg is 0).
// Tables are well formed (non-decreasing, seg[t] == t or seg[t - 1], host-checked), so seg of a block's
// first row is the lowest of the block's and of every later row's: loops start at the tile's first
// document and stop at the first block that belongs to a later document than all of the tile's rows.
//
// Control flow: loops over key (or query) blocks run to a bound that is the same for the whole workgroup
// and per-row masks select which pairs count. Loads of a shared key/query row then use one address
// across the workgroup, which GPUs serve as a broadcast (Mesa 22.3's lavapipe still loads it lane by
// lane: shaders/LAVAPIPE.md); masked pairs cost no more than the divergence they replace.
#ifndef VKT_ATTENTION_GLSL
#define VKT_ATTENTION_GLSL

#include "dtype.glsl"

layout(constant_id = 0) const uint WG = 32;  // rows per workgroup, one per invocation
layout(constant_id = 1) const uint HS = 64;  // head size (<= 128)
layout(constant_id = 2) const uint BC = 16;  // keys (queries in attention_bwd_dkv) per block / shared tile
// Rows per invocation: rows tile*WG*R + lane + r*WG, r < R. Each element loaded from a key (query) row
// then feeds R rows' FMAs. On CPU drivers every buffer or shared-memory load is a per-lane gather while
// arithmetic is SIMD, so R sets the flop-to-load ratio (row kernels: R = 8); GPUs use R = 1.
layout(constant_id = 3) const uint R = 1;
layout(local_size_x_id = 0) in;
const uint HS4 = (HS + 3) / 4;

// Buffer declarations and vec4 accessors: ATT_IN(binding, Block, name) declares a readonly f32 buffer and
// `vec4 name_ld(uint e, uint c)` (the c-th vec4 of the row starting at element e); ATT_OUT declares a
// writeonly one and `void name_st(uint e, uint c, vec4 x)`.
#ifdef VKT_VEC4
#define ATT_IN(bnd, Blk, name)                                                                     \
    layout(binding = bnd) readonly buffer Blk { vec4 name[]; };                                    \
    vec4 name##_ld(uint e, uint c) { return name[(e >> 2) + c]; }
#define ATT_OUT(bnd, Blk, name)                                                                    \
    layout(binding = bnd) writeonly buffer Blk { vec4 name[]; };                                   \
    void name##_st(uint e, uint c, vec4 x) { name[(e >> 2) + c] = x; }
#else
#define ATT_IN(bnd, Blk, name)                                                                     \
    layout(binding = bnd) readonly buffer Blk { VKT_T name[]; };                                   \
    vec4 name##_ld(uint e, uint c) {                                                               \
        vec4 r = vec4(0.0);                                                                        \
        [[unroll]] for (uint t = 0; t < 4; t++)                                                    \
            if (4 * c + t < HS) r[t] = VKT_LOAD(name[e + 4 * c + t]);                              \
        return r;                                                                                  \
    }
#define ATT_OUT(bnd, Blk, name)                                                                    \
    layout(binding = bnd) writeonly buffer Blk { VKT_T name[]; };                                  \
    void name##_st(uint e, uint c, vec4 x) {                                                       \
        [[unroll]] for (uint t = 0; t < 4; t++)                                                    \
            if (4 * c + t < HS) name[e + 4 * c + t] = VKT_STORE(x[t]);                             \
    }
#endif


layout(push_constant) uniform Pc {
    uint T, NH, KVH, n_batch;
    uint flags;        // ATT_CAUSAL | ATT_PACKED
    float scale_log2;  // softmax scale * log2(e): scores are kept in base-2 units
    float scale;       // softmax scale (natural units), for the gradients
    uint seg_off;      // element offset of batch 0's row in the Seg binding (ATT_PACKED)
    uint q_stride, q_off, k_stride, k_off;
    uint v_stride, v_off, o_off, lse_off;
    uint dq_stride, dq_off, dk_stride, dk_off;
    uint dv_stride, dv_off, do_off, d_off;
} pc;

const float VKT_LN2 = 0.69314718055994531;
const float VKT_LOG2E = 1.4426950408889634;
// Running-max start: finite so that exp2(m_old - m_new) is a plain underflow to 0 on every driver.
const float VKT_NEG_BIG = -1.0e30;

// 2^x to ~1 ulp for x <= 0 (larger x is not needed: arguments are scores minus a running max or the
// lse). Built-in exp2 may be as loose as 3 + 2|x| ulp (Vulkan's bound; lavapipe's is ~1e-6 relative),
// and softmax weights inherit that error directly. Cost: ~10 flops per score against 4 HS for the dots.
float att_exp2(float x) {
    x = max(x, -127.0);  // 2^-127 is as good as 0 next to any visible weight (the row max has weight 1)
    float n = floor(x + 0.5), f = x - n;  // f in [-0.5, 0.5]
    // Taylor series of e^(f ln 2) to degree 7: truncation < 3e-9 relative on that interval.
    float p = 1.5252733804e-5;
    p = p * f + 1.5403530393e-4;
    p = p * f + 1.3333558146e-3;
    p = p * f + 9.6181291076e-3;
    p = p * f + 5.5504108665e-2;
    p = p * f + 2.4022650696e-1;
    p = p * f + 6.9314718056e-1;
    p = p * f + 1.0;
    return ldexp(p, int(n));
}

const uint ATT_CAUSAL = 1u;  // key j is visible to query i only when j <= i
const uint ATT_PACKED = 2u;  // several documents per row: the Seg binding holds their starts

bool att_causal() { return (pc.flags & ATT_CAUSAL) != 0u; }

// Declares the Seg binding and `uint att_seg(b, t)`: the first position of the document holding
// position t of batch b (0 when not packed), clamped into [0, t] so that a bad table can only mask
// wrongly, never index out of range or stall a loop.
#define ATT_SEG(bnd)                                                                               \
    layout(binding = bnd) readonly buffer Seg { int seg[]; };                                      \
    uint att_seg(uint b, uint t) {                                                                 \
        if ((pc.flags & ATT_PACKED) == 0u) return 0u;                                              \
        return min(uint(max(seg[pc.seg_off + b * pc.T + t], 0)), t);                               \
    }

uint att_row(uint off, uint stride, uint b, uint t, uint head) {
    return off + (b * pc.T + t) * stride + head * HS;
}

float att_sum(vec4 a) { return (a.x + a.y) + (a.z + a.w); }

// acc + a . b as one FMA chain (the row kernels' scalar score accumulators).
float att_dot(vec4 a, vec4 b, float acc) { return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, acc)))); }

#endif
