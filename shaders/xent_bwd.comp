#version 450
// Softmax cross-entropy backward from the row statistics xent_fwd saved:
//   dlogits_r[j] = (exp(x_r[j] - m_r) / s_r - [j == t_r]) * dloss / n_valid   (zero rows for ignored targets)
// The probabilities are recomputed on the fly, never stored. dlogits may be the logits buffer (in place):
// each element is read and then written by the same invocation, and no invocation reads another's element.
// One workgroup per row with a strided loop and no barriers; *_serial runs one invocation per row (CPU
// drivers: contiguous per-invocation streams).
// xent_bwd_w* take per-row weights in place of the uniform 1/n_valid (sequence-level objectives: DPO,
// ORPO, GRPO; see src/ops/seq_scatter.h):  dlogits_r[j] = (p_r[j] - [j == t_r]) * dloss * weights[r].
//! variant xent_bwd
//! variant xent_bwd_serial -DVKT_XENT_SERIAL=1
//! variant xent_bwd_w -DVKT_XENT_WEIGHTS=1
//! variant xent_bwd_w_serial -DVKT_XENT_WEIGHTS=1 -DVKT_XENT_SERIAL=1
//! variant xent_bwd_f16 -DVKT_F16=1
//! variant xent_bwd_serial_f16 -DVKT_XENT_SERIAL=1 -DVKT_F16=1
//! variant xent_bwd_w_f16 -DVKT_XENT_WEIGHTS=1 -DVKT_F16=1
//! variant xent_bwd_w_serial_f16 -DVKT_XENT_WEIGHTS=1 -DVKT_XENT_SERIAL=1 -DVKT_F16=1
//! variant xent_bwd_bf16 -DVKT_BF16=1
//! variant xent_bwd_serial_bf16 -DVKT_XENT_SERIAL=1 -DVKT_BF16=1
//! variant xent_bwd_w_bf16 -DVKT_XENT_WEIGHTS=1 -DVKT_BF16=1
//! variant xent_bwd_w_serial_bf16 -DVKT_XENT_WEIGHTS=1 -DVKT_XENT_SERIAL=1 -DVKT_BF16=1
// Logits and dlogits are f32, or f16 / bf16 in the _f16 / _bf16 variants; everything else is f32.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "dtype.glsl"
#define VKT_XENT_SCALE_BINDING 5
#include "xent.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Logits { VKT_T logits[]; };
layout(binding = 1) readonly buffer Targets { int targets[]; };
layout(binding = 2) readonly buffer RowStats { float rowstats[]; };
#ifdef VKT_XENT_WEIGHTS
layout(binding = 3) readonly buffer Weights { float weights[]; };
#else
layout(binding = 3) readonly buffer Stats { float loss; uint n_valid; uint n_bad; float loss_sum; } st;
#endif
layout(binding = 4) writeonly buffer DLogits { VKT_T dlogits[]; };

void vkt_xent_grad(uint off, uint doff, uint j, int t, float m, float inv_s, float scale) {
    float p = exp(VKT_LOAD(logits[off + j]) - m) * inv_s;
    dlogits[doff + j] = VKT_STORE((p - (int(j) == t ? 1.0 : 0.0)) * scale);
}

void main() {
#ifdef VKT_XENT_SERIAL
    uint row = vkt_group_index() * WG + gl_LocalInvocationID.x;
    const uint j0 = 0, dj = 1;
#else
    uint row = vkt_group_index();
    uint j0 = gl_LocalInvocationID.x, dj = WG;
#endif
    if (row >= pc.n_rows) return;
    int t = targets[pc.base_targets + row];
    float m = rowstats[pc.base_rowstats + 2 * row], inv_s = rowstats[pc.base_rowstats + 2 * row + 1];
#ifdef VKT_XENT_WEIGHTS
    float scale = vkt_xent_valid(t) ? vkt_xent_dloss() * weights[pc.base_weights + row] : 0.0;
#else
    float scale = vkt_xent_valid(t) ? vkt_xent_dloss() / float(max(st.n_valid, 1u)) : 0.0;
#endif
    uint off = pc.base_logits + row * pc.ld, doff = pc.base_dlogits + row * pc.ld;
    uint j = j0;
    for (; j + 3 * dj < pc.V; j += 4 * dj) { // unrolled: see the loop limiter note in xent_fwd.comp
        vkt_xent_grad(off, doff, j, t, m, inv_s, scale);
        vkt_xent_grad(off, doff, j + dj, t, m, inv_s, scale);
        vkt_xent_grad(off, doff, j + 2 * dj, t, m, inv_s, scale);
        vkt_xent_grad(off, doff, j + 3 * dj, t, m, inv_s, scale);
    }
    for (; j < pc.V; j += dj) vkt_xent_grad(off, doff, j, t, m, inv_s, scale);
}
