#version 450
// Softmax cross-entropy forward over rows of logits (one row per target):
//   loss_r = logsumexp(x_r) - x_r[t_r]   (0 where t_r is the ignore index or out of range)
// xent_fwd* also save the row statistics (max, 1/sum) for xent_bwd. The fused xent_fwd_bwd* instead write
// dlogits_r = (softmax(x_r) - onehot(t_r)) * dloss / n_valid in a second pass over the row, which may be
// the logits buffer itself (in place): every logit an invocation reads before the row's first barrier,
// and the gradient pass reads each element only in the invocation that then overwrites it.
// Two layouts: one workgroup per row (GPUs: coalesced strided loop, log2(WG) + 1 barriers per row), or
// *_serial with one invocation per row and no barriers at all (CPU drivers such as lavapipe, where a
// barrier splits the shader into coroutines and costs more than the whole reduction).
//! variant xent_fwd
//! variant xent_fwd_bwd -DVKT_XENT_GRAD=1
//! variant xent_fwd_serial -DVKT_XENT_SERIAL=1
//! variant xent_fwd_bwd_serial -DVKT_XENT_GRAD=1 -DVKT_XENT_SERIAL=1
//! variant xent_fwd_f16 -DVKT_F16=1
//! variant xent_fwd_bwd_f16 -DVKT_XENT_GRAD=1 -DVKT_F16=1
//! variant xent_fwd_serial_f16 -DVKT_XENT_SERIAL=1 -DVKT_F16=1
//! variant xent_fwd_bwd_serial_f16 -DVKT_XENT_GRAD=1 -DVKT_XENT_SERIAL=1 -DVKT_F16=1
//! variant xent_fwd_bf16 -DVKT_BF16=1
//! variant xent_fwd_bwd_bf16 -DVKT_XENT_GRAD=1 -DVKT_BF16=1
//! variant xent_fwd_serial_bf16 -DVKT_XENT_SERIAL=1 -DVKT_BF16=1
//! variant xent_fwd_bwd_serial_bf16 -DVKT_XENT_GRAD=1 -DVKT_XENT_SERIAL=1 -DVKT_BF16=1
// Logits and dlogits are f32, or f16 / bf16 in the _f16 / _bf16 variants (VKT_T: widened on load, the
// gradient rounded once on store); the statistics, losses and all arithmetic are f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#ifdef VKT_XENT_GRAD
#define VKT_XENT_SCALE_BINDING 5
#endif
#include "xent.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Logits { VKT_T logits[]; };
layout(binding = 1) readonly buffer Targets { int targets[]; };
#ifdef VKT_XENT_GRAD
layout(binding = 2) readonly buffer Stats { float loss; uint n_valid; uint n_bad; float loss_sum; } st;
layout(binding = 3) writeonly buffer Losses { float losses[]; };
layout(binding = 4) writeonly buffer DLogits { VKT_T dlogits[]; };
#else
layout(binding = 2) writeonly buffer Losses { float losses[]; };
layout(binding = 3) writeonly buffer RowStats { float rowstats[]; };
#endif

#ifdef VKT_XENT_GRAD
void vkt_xent_grad(uint off, uint doff, uint j, int t, float m, float inv_s, float scale) {
    float p = exp(VKT_LOAD(logits[off + j]) - m) * inv_s;
    dlogits[doff + j] = VKT_STORE((p - (int(j) == t ? 1.0 : 0.0)) * scale);
}
#endif

#ifndef VKT_XENT_SERIAL
shared float sh_m[WG];
shared float sh_s[WG];
#endif

void main() {
#ifdef VKT_XENT_SERIAL
    uint row = vkt_group_index() * WG + gl_LocalInvocationID.x;
    if (row >= pc.n_rows) return;
    const uint j0 = 0, dj = 1;
    const bool leader = true;
#else
    uint row = vkt_group_index();
    if (row >= pc.n_rows) return; // uniform over the workgroup: safe before barriers
    uint tid = gl_LocalInvocationID.x;
    uint j0 = tid, dj = WG;
    bool leader = tid == 0;
#endif
    uint off = pc.base_logits + row * pc.ld;
    // Four independent running states: more instruction-level parallelism for the serial variant, and a
    // quarter of the loop iterations (lavapipe's loop limiter stops a shader invocation after 65535 loop
    // iterations in total -- Mesa 22-24 gallivm -- so a 50k-wide row must not take one iteration per
    // element in each of two passes).
    float m = VKT_XENT_NEG_BIG, s = 0.0, c = 0.0;
    float m1 = m, s1 = 0.0, c1 = 0.0, m2 = m, s2 = 0.0, c2 = 0.0, m3 = m, s3 = 0.0, c3 = 0.0;
    uint j = j0;
    for (; j + 3 * dj < pc.V; j += 4 * dj) {
        vkt_xent_push(VKT_LOAD(logits[off + j]), m, s, c);
        vkt_xent_push(VKT_LOAD(logits[off + j + dj]), m1, s1, c1);
        vkt_xent_push(VKT_LOAD(logits[off + j + 2 * dj]), m2, s2, c2);
        vkt_xent_push(VKT_LOAD(logits[off + j + 3 * dj]), m3, s3, c3);
    }
    for (; j < pc.V; j += dj) vkt_xent_push(VKT_LOAD(logits[off + j]), m, s, c);
    s -= c;
    vkt_xent_merge(m, s, m1, s1 - c1);
    vkt_xent_merge(m, s, m2, s2 - c2);
    vkt_xent_merge(m, s, m3, s3 - c3);
    int t = targets[pc.base_targets + row];
    bool valid = vkt_xent_valid(t);
    float xt = leader && valid ? VKT_LOAD(logits[off + uint(t)]) : 0.0; // read before any write of this row
#ifndef VKT_XENT_SERIAL
    sh_m[tid] = m;
    sh_s[tid] = s;
    barrier();
    for (uint h = WG / 2; h > 0; h >>= 1) {
        if (tid < h) {
            float mm = sh_m[tid], ss = sh_s[tid];
            vkt_xent_merge(mm, ss, sh_m[tid + h], sh_s[tid + h]);
            sh_m[tid] = mm;
            sh_s[tid] = ss;
        }
        barrier();
    }
    m = sh_m[0];
    s = sh_s[0];
#endif
    // m - xt first: exact for nearby values (Sterbenz), so huge logits lose nothing to cancellation.
    if (leader) losses[pc.base_losses + row] = valid ? (m - xt) + log(s) : 0.0;
    float inv_s = 1.0 / s;
#ifdef VKT_XENT_GRAD
    float scale = valid ? vkt_xent_dloss() / float(max(st.n_valid, 1u)) : 0.0;
    uint doff = pc.base_dlogits + row * pc.ld;
    j = j0;
    for (; j + 3 * dj < pc.V; j += 4 * dj) {
        vkt_xent_grad(off, doff, j, t, m, inv_s, scale);
        vkt_xent_grad(off, doff, j + dj, t, m, inv_s, scale);
        vkt_xent_grad(off, doff, j + 2 * dj, t, m, inv_s, scale);
        vkt_xent_grad(off, doff, j + 3 * dj, t, m, inv_s, scale);
    }
    for (; j < pc.V; j += dj) vkt_xent_grad(off, doff, j, t, m, inv_s, scale);
#else
    if (leader) {
        rowstats[pc.base_rowstats + 2 * row] = m;
        rowstats[pc.base_rowstats + 2 * row + 1] = inv_s;
    }
#endif
}
