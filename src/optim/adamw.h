/* AdamW with decoupled weight decay over flat parameter arenas, driven by device-resident step scalars.
 *
 * Per element (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019; torch.optim.AdamW):
 *   g = grad * clip_scale,  m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   p -= lr * ((m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p)     (wd = 0 where decay is off)
 * The recorded step first advances the step counter t and writes lr and the bias corrections into the
 * step scalars (from an lr table the host fills once), then updates each run of segments; clip_scale comes
 * from a gradnorm pass recorded before it (or stays 1). Nothing per-step is a push constant: the command
 * buffer is recorded once and replayed. params, grads, m, v are f32 arenas with one shared layout and may
 * exceed one binding (chunks). A step whose gradient norm the gradnorm pass found non-finite is skipped on
 * the device (see optim_types.h). Mixed precision: vkt_adamw_update_half also writes the model's half
 * weight copy. Not done here: 16-bit master weights or moments. */
#ifndef VKT_ADAMW_H
#define VKT_ADAMW_H

#include "optim/optim_types.h"
#include "optim/schedule.h"
#include "vk/record.h"

typedef struct {
    float beta1, beta2, eps; /* defaults 0.9, 0.999, 1e-8 (PyTorch) */
    float weight_decay;      /* default 0.01 (PyTorch); applied only where the decay bits are set */
} vkt_adamw_cfg;

vkt_adamw_cfg vkt_adamw_cfg_default(void);

/* Fills lr_table[s] = vkt_lr_at(sched, s) for s in [0, n) (host memory; upload it once). Steps past the
 * table use its last entry. */
void vkt_adamw_lr_table(const vkt_lr_schedule *sched, float *lr_table, int64_t n);

/* Decay bits: bit i % 32 of word i / 32 is set when element i decays, from the segments' flags (one
 * dispatch then updates a contiguous run of segments of both kinds). n_words = vkt_adamw_decay_words(number
 * of elements), which includes a word of padding the 8-wide kernel may read. Upload them once as an I32
 * tensor of n_words. */
int64_t vkt_adamw_decay_words(int64_t n_elems);
void vkt_adamw_decay_bits(const vkt_optim_segment *segs, int n_segs, uint32_t *bits, int64_t n_words);

/* Records one optimizer step.
 *   params, grads, m, v  flat f32 arenas of equal size; segments index their elements. params, m, v are
 *                        updated in place; grads is read only (zeroing it for the next step is the caller's)
 *   lr_table             (n_lr) f32, see vkt_adamw_lr_table
 *   scalars              (16) f32 holding a vkt_step_scalars: step, lr, bc1, bc2, n_skipped written;
 *                        clip_scale and nonfinite read (nonfinite != 0: params, m, v are left as they are)
 *   segs                 n_segs parameter runs (elements outside them are not touched)
 *   decay                the decay bits of params' elements (vkt_adamw_decay_bits), from the same segments
 * Returns a Vulkan status; bad shapes abort (VKT_ASSERT). Not thread-safe (records into r). */
vkt_status vkt_adamw_update(vkt_rec *r, const vkt_adamw_cfg *cfg, const vkt_tensor *params, const vkt_tensor *grads,
                            const vkt_tensor *m, const vkt_tensor *v, const vkt_tensor *lr_table,
                            const vkt_tensor *scalars, const vkt_optim_segment *segs, int n_segs,
                            const vkt_tensor *decay);
/* The same, and with half (NULL: none) an f16 or bf16 tensor of params' size: mixed precision's half copy,
 * where each updated parameter is also stored rounded to nearest even (in the same pass; a skipped step
 * leaves it too as it was). */
vkt_status vkt_adamw_update_half(vkt_rec *r, const vkt_adamw_cfg *cfg, const vkt_tensor *params, const vkt_tensor *half,
                                 const vkt_tensor *grads, const vkt_tensor *m, const vkt_tensor *v,
                                 const vkt_tensor *lr_table, const vkt_tensor *scalars, const vkt_optim_segment *segs,
                                 int n_segs, const vkt_tensor *decay);

#endif
