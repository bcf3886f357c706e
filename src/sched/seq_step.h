/* What the sequence-level step programs (sched/pref_step.h, sched/grpo_step.h) share: the reference forward
 * (the model without its adapters), the backward from per-sequence coefficients to the model's gradients, and
 * the allocation of their scratch tensors in one arena. Not thread-safe (records into r). */
#ifndef VKT_SEQ_STEP_H
#define VKT_SEQ_STEP_H

#include "model/model.h"

/* The forward of m with its linear-layer hook removed for the call (for LoRA / QLoRA the frozen base with the
 * adapters detached: the reference model without a second copy of the weights), per-position losses into
 * m->losses (VKT_FWD_LOSS). */
vkt_status vkt_seq_step_forward_base(vkt_model *m, vkt_rec *r);

/* The backward of a loss over sequences, after a VKT_FWD_LOSS_TRAIN forward:
 *   weights = vkt_op_seq_scatter(coef, seq_id, tok)  (per position: -coef[s] * tok[i], ops/seq_scatter.h)
 *   dlogits = vkt_op_xent_bwd_weighted(weights), in place over m->logits (the weights carry dloss; f16 mixed
 *             precision: times the step's loss scale, m->dloss_scale, as the language-model loss)
 *   then vkt_model_record_backward (adapters through the hook).
 * coef (S), seq_id (BT) i32, tok (BT) or NULL, weights (BT) f32 scratch. */
vkt_status vkt_seq_step_backward(vkt_model *m, vkt_rec *r, const vkt_tensor *coef, const vkt_tensor *seq_id,
                                 const vkt_tensor *tok, const vkt_tensor *weights);

/* One tensor to allocate: n elements of dtype into *t. */
typedef struct {
    vkt_tensor *t;
    vkt_dtype dtype;
    int64_t n;
} vkt_seq_step_tensor;

/* Creates an arena (host-visible when host is set) sized for the n tensors of list, with room for each one's
 * offset alignment, and allocates them in order; *arena is owned by the caller (destroy it also on failure). */
vkt_status vkt_seq_step_alloc(vkt_device *dev, const char *name, bool host, const vkt_seq_step_tensor *list, int n,
                              vkt_arena **arena);

#endif
