/* Rotary position embedding (RoPE, Su et al. 2021, "RoFormer", eq. 34), in place on q and/or k.
 *
 * Angles come from a (positions, rot_dim/2) table of (cos, sin) pairs built once on the host in double
 * and rounded to f32 (vkt_rope_table), not from sin/cos in the shader. Why: at position 32k the fastest
 * angle is ~32768 rad, where an f32 angle is only good to 2^-9 rad and Vulkan only bounds GLSL sin/cos
 * (2^-11 absolute) inside [-pi, pi]; the table is exact to half an f32 ulp at every position, makes the
 * kernel a pure load/FMA pass, and leaves frequency schemes (Llama 3 scaling, NTK, YaRN) to host code
 * that fills inv_freq. Cost: positions x rot_dim x 4 bytes (32k x 128: 16 MiB), shared by all layers.
 * Not here: computing q/k (matmul), attention itself. */
#ifndef VKT_OP_ROPE_H
#define VKT_OP_ROPE_H

#include <stdbool.h>

#include "vk/record.h"

/* Which part of a buffer to rotate. The buffer is (B*T, row_stride) elements, row b*T + t holding
 * position pos0 + t (less its document's start when seg_start is given); head h (h < n_heads) occupies columns [col0 + h*head_size, col0 + (h+1)*head_size)
 * and its first rot_dim columns rotate. For q (B, T, NH, HS): col0 = 0, n_heads = NH, row_stride = NH*HS.
 * For a fused qkv (B, T, (NH + 2 KVH) HS): q and k are adjacent, so one call with col0 = 0 and
 * n_heads = NH + KVH rotates both (or two calls, col0 = 0 / NH*HS). */
typedef struct {
    int64_t B, T;
    int64_t n_heads;    /* heads to rotate, contiguous */
    int64_t head_size;  /* HS */
    int64_t rot_dim;    /* even, 2 <= rot_dim <= HS (partial rotary below HS); 0 means HS */
    int64_t row_stride; /* elements between consecutive rows; 0 means n_heads * head_size */
    int64_t col0;       /* column of the first rotated head */
    int64_t pos0;       /* position of t = 0 (KV-cache sampling) */
    bool interleaved;   /* pairs (2i, 2i+1) (Meta, llama2.c) instead of HF rotate_half (i, i + rot_dim/2) */
    const vkt_tensor *seg_start; /* borrowed, NULL: none. Packed rows: (B*T) i32, the first position of
                                  * each row's document (ops/seg_start.h); row b*T + t then holds position
                                  * pos0 + t - seg_start[b*T + t], so every document starts at pos0 */
} vkt_rope_desc;

/* Standard frequencies: inv_freq[i] = theta^(-2i / rot_dim), i < rot_dim/2, in double (theta 1e4 GPT-NeoX
 * and Llama 2, 5e5 Llama 3, 1e6 Qwen2). Scaled variants adjust the array before vkt_rope_table. */
void vkt_rope_inv_freq(double *inv_freq, int64_t rot_dim, double theta);

/* Llama 3.1 frequency scaling (Hugging Face rope_scaling {"rope_type": "llama3", "factor",
 * "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}), in place on n_freq
 * frequencies: wavelengths 2 pi / f shorter than orig_max_pos / high_freq_factor keep f, those longer than
 * orig_max_pos / low_freq_factor become f / factor, and in between f blends linearly in
 * s = (orig_max_pos / wavelength - low) / (high - low): f ((1 - s) / factor + s). Continuous at both ends. */
void vkt_rope_scale_llama3(double *inv_freq, int64_t n_freq, double factor, double low_freq_factor,
                           double high_freq_factor, double orig_max_pos);

/* table[(p * n_freq + i) * 2 + 0 / 1] = cos / sin of p * inv_freq[i], for p < n_pos, i < n_freq, rounded
 * once to f32 from double. fp32_angles: form the angle the way Hugging Face transformers and Meta's
 * reference do (inv_freq rounded to f32, f32 product), to reproduce their activations; its angle error is
 * up to 2^-23 * angle (4e-3 rad at angle 32768). Otherwise the angle is exact. Host-only; thread-safe. */
void vkt_rope_table(float *table, int64_t n_pos, int64_t n_freq, const double *inv_freq, bool fp32_angles);

/* x: the buffer described by d (f32, f16 or bf16; >= B*T*row_stride elements), rotated in place.
 * table: (P, rot_dim/2, 2) f32 from vkt_rope_table with P >= pos0 + T. */
vkt_status vkt_op_rope_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *table, const vkt_rope_desc *d);
/* The forward with pos0 read on the device from pos[0] (i32; d->pos0 must be 0, no seg_start), so that one recording
 * serves every position (KV-cache sampling: the host writes pos between submits). The whole table is
 * bound (it must fit one binding); rows whose position pos[0] + t is past the table stay unrotated. */
vkt_status vkt_op_rope_fwd_at(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *table, const vkt_rope_desc *d,
                              const vkt_tensor *pos);
/* The forward is y = R x with R orthogonal, so dx = R^T dy = R(-angle) dy: rotates dx in place (on entry
 * the gradient of the rotated values, on exit the gradient of the unrotated ones; an overwrite, not an
 * accumulation). Same arguments as the forward. */
vkt_status vkt_op_rope_bwd(vkt_rec *r, const vkt_tensor *dx, const vkt_tensor *table, const vkt_rope_desc *d);

#endif
