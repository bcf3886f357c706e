/* Global gradient L2 norm over all gradient tensors, and the clip scale AdamW consumes.
 *
 * grad_norm = sqrt(sum over segments of g^2); clip_scale = min(1, max_norm / (grad_norm + 1e-6)), both
 * written into the step scalars on the device, so a replayed step never waits for the host. The sum is a
 * deterministic two-stage reduction (fixed blocks -> partials in a scratch tensor -> one workgroup), with
 * no float atomics: the same gradients give the same bits on every replay. Works over flat gradient
 * arenas bigger than one binding (split into chunks). Not done here: a fp64 accumulator (fp32 partials
 * of at most 4096 elements keep the relative error near 1e-7). A NaN or inf gradient (or a sum of
 * squares that overflows) sets the step scalars' nonfinite flag, which makes AdamW skip the step. */
#ifndef VKT_GRADNORM_H
#define VKT_GRADNORM_H

#include "optim/optim_types.h"
#include "vk/record.h"

typedef enum {
    VKT_GRADNORM_AUTO = 0,          /* SERIAL on CPU drivers, GROUP elsewhere */
    VKT_GRADNORM_GROUP = 1,         /* a shared-memory tree per block of 4096: one partial per block */
    VKT_GRADNORM_SERIAL = 2,        /* one partial per invocation (per 256 elements), no barriers; on CPU drivers
                                     * 8 partials per invocation, loaded as 8-element words, where a chunk starts
                                     * on a word (the same sums in the same order: the same bits) */
    VKT_GRADNORM_SERIAL_SCALAR = 3, /* SERIAL element by element everywhere (tests compare the bits) */
} vkt_gradnorm_variant;

typedef struct {
    float max_norm;               /* clip threshold; <= 0: compute the norm only, clip_scale = 1 */
    vkt_gradnorm_variant variant; /* default AUTO */
    /* Dynamic loss scaling (f16 mixed precision; sched/step.h): the gradients are the loss scale S times the
     * true ones, so grad_norm = norm / S and clip_scale carries 1 / S; then S is divided by growth_factor
     * after a non-finite step (good_steps reset), or multiplied by it after growth_interval finite steps in
     * a row. */
    bool loss_scaling;
    int64_t growth_interval;
    float growth_factor;
} vkt_gradnorm_opts;

/* f32 elements the `partials` scratch tensor needs for these segments on r's device. */
int64_t vkt_gradnorm_partials(const vkt_rec *r, const vkt_optim_segment *segs, int n_segs, const vkt_gradnorm_opts *o);

/* Records the norm of grads over segs and the clip scale into scalars.
 *   grads    flat f32 arena (any size; segments index its elements)
 *   segs     n_segs runs of elements (decay flags ignored); their total must be > 0
 *   partials f32 scratch of >= vkt_gradnorm_partials(...) elements, overwritten
 *   scalars  (16) f32 holding a vkt_step_scalars: grad_norm, clip_scale and nonfinite are written (and
 *            with loss scaling loss_scale and good_steps updated), the rest kept
 * Returns a Vulkan status; bad shapes abort (VKT_ASSERT). Not thread-safe (records into r). */
vkt_status vkt_gradnorm_record(vkt_rec *r, const vkt_tensor *grads, const vkt_optim_segment *segs, int n_segs,
                               const vkt_gradnorm_opts *o, const vkt_tensor *partials, const vkt_tensor *scalars);

#endif
