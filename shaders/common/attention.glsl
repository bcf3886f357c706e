// Shared by the attention shaders (attention_fwd, attention_bwd_dq, attention_bwd_dkv): push constants,
// operand addressing and the row/tile work split. Mirrored by vkt_pc_attention in src/ops/attention.c.
//
// Addressing: element (b, t, head, d) of operand X is X_off + (b*T + t)*X_stride + head*HS + d, with b
// counted inside the dispatched batch chunk. Offsets absorb the column of a fused qkv buffer and the
// distance from the aligned binding start. o and do are packed (stride NH*HS); lse and D are (b, NH, T).
#ifndef VKT_ATTENTION_GLSL
#define VKT_ATTENTION_GLSL

layout(push_constant) uniform Pc {
    uint T, NH, KVH, n_batch;
    uint causal;       // 1: key j is visible to query i only when j <= i
    float scale_log2;  // softmax scale * log2(e): scores are kept in base-2 units
    float scale;       // softmax scale (natural units), for the gradients
    uint _pad0;
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

uint att_row(uint off, uint stride, uint b, uint t, uint head, uint hs) {
    return off + (b * pc.T + t) * stride + head * hs;
}

#endif
