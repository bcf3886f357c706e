/* Types shared by the optimizer recorders (gradnorm.c, adamw.c): the per-step scalars that live in
 * device memory, and the parameter segments they operate on.
 *
 * Command buffers are recorded once and replayed every step, so nothing that changes per step may be a
 * push constant. The step scalars are a 64-byte struct in a device buffer: the optimizer's first dispatch
 * advances the step and writes the learning rate and bias corrections, the gradient-norm pass writes the
 * norm, the clip scale and the non-finite flag, and AdamW reads them all. A step whose gradient norm is
 * not finite (a NaN or inf anywhere in the gradients, which any non-finite loss of a counted row
 * produces) is skipped on the device: no host round trip, and the host learns of it from the flag when it
 * reads the step's loss. The host only initialises it (and may read it for
 * logging or checkpoints at any time after a step completes). */
#ifndef VKT_OPTIM_TYPES_H
#define VKT_OPTIM_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "model/params.h"

/* Device layout (std430), mirrored by shaders/common/step_scalars.glsl. Store it in a tensor of 16 f32. */
typedef struct {
    uint32_t step;    /* optimizer steps run, skipped ones included (the lr table's position); adamw_prep
                       * increments it first, so step t uses t >= 1 */
    float lr;         /* learning rate of the current step (adamw_prep, from the lr table) */
    float bc1, bc2;   /* bias corrections 1 - beta1^t, 1 - beta2^t with t = step - n_skipped, the updates
                       * applied (adamw_prep) */
    float grad_norm;  /* global L2 norm of the gradients before clipping (gradnorm) */
    float clip_scale; /* min(1, max_norm / (grad_norm + 1e-6)), or 1 without clipping (gradnorm); AdamW
                       * multiplies every gradient by it */
    uint32_t n_skipped; /* steps whose update was skipped so far; AdamW's t = step - n_skipped (adamw_prep) */
    uint32_t nonfinite; /* 1 when this step's gradient norm is NaN or inf (gradnorm): adamw_prep counts the
                         * step as skipped and adamw_update leaves params, m and v untouched */
    float loss_scale;   /* f16 dynamic loss scaling: the factor the loss gradient is multiplied by; gradnorm
                         * divides it out and updates it after each step (1 and untouched without scaling) */
    uint32_t good_steps; /* finite steps in a row since the loss scale last changed (gradnorm) */
    float _reserved[6];
} vkt_step_scalars;
_Static_assert(sizeof(vkt_step_scalars) == 64, "keep in sync with shaders/common/step_scalars.glsl");

#define VKT_STEP_SCALARS_ELEMS 16 /* f32 elements of the tensor that holds a vkt_step_scalars */

/* Initial values: step 0, clip scale and loss scale 1 (no clipping until a gradnorm pass runs), the rest 0. */
static inline vkt_step_scalars vkt_step_scalars_init(void) {
    vkt_step_scalars s = {0};
    s.clip_scale = 1.0f;
    s.loss_scale = 1.0f;
    return s;
}

/* A run of elements [offset, offset + n) of the flat parameter/gradient/moment arenas (which share one
 * layout), e.g. one entry of the parameter table. decay: AdamW applies weight decay (matrices and
 * embeddings; not norm weights or biases). Adjacent segments with equal decay are merged into one
 * dispatch, so ordering the table by decay class saves dispatches. */
typedef struct {
    int64_t offset, n;
    bool decay;
} vkt_optim_segment;

/* One segment per parameter-table entry, in table order (segs holds t->n entries); returns t->n. Fused
 * groups are adjacent with equal decay, so they merge into one dispatch. Padding between entries is
 * never touched. */
static inline int vkt_optim_segments_from_params(const vkt_param_table *t, vkt_optim_segment *segs) {
    for (int i = 0; i < t->n; i++) segs[i] = (vkt_optim_segment){t->p[i].offset, t->p[i].numel, t->p[i].decay};
    return t->n;
}

/* The segments from segs[i] on that form one contiguous range (and, if by_decay, share the decay flag):
 * returns the index after the last of them and sets *e0, *e1 to the range. Empty segments are skipped. */
static inline int vkt_optim_next_range(const vkt_optim_segment *segs, int n_segs, int i, bool by_decay,
                                       int64_t *e0, int64_t *e1) {
    while (i < n_segs && segs[i].n == 0) i++;
    if (i == n_segs) return i;
    *e0 = segs[i].offset, *e1 = segs[i].offset + segs[i].n;
    int j = i + 1;
    for (; j < n_segs; j++) {
        if (segs[j].n == 0) continue;
        if (segs[j].offset != *e1 || (by_decay && segs[j].decay != segs[i].decay)) break;
        *e1 += segs[j].n;
    }
    return j;
}

#endif
