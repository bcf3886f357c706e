/* Shared pieces of the sequence-level step programs (see seq_step.h). */
#include "sched/seq_step.h"

#include "ops/seq_scatter.h"
#include "ops/xent.h"

vkt_status vkt_seq_step_forward_base(vkt_model *m, vkt_rec *r) {
    /* The base without the adapter: no hook and none of its saved copies (PEFT's disable_adapter). */
    const vkt_linear_hook *hook = m->hook;
    const vkt_model_saved *saved = m->saved;
    m->hook = NULL, m->saved = NULL;
    vkt_status st = vkt_model_record_forward(m, r, VKT_FWD_LOSS);
    m->hook = hook, m->saved = saved;
    return st;
}

vkt_status vkt_seq_step_backward(vkt_model *m, vkt_rec *r, const vkt_tensor *coef, const vkt_tensor *seq_id,
                                 const vkt_tensor *tok, const vkt_tensor *weights) {
    VKT_TRY(vkt_op_seq_scatter(r, coef, seq_id, tok, weights));
    vkt_xent_opts xo = vkt_xent_opts_default(); /* the weights carry dloss */
    /* f16 mixed precision: the loss scale multiplies these gradients as it does the language-model loss's
     * (vkt_step points m->dloss_scale at it; the optimizer divides it back out). */
    if (m->dloss_scale.arena) xo.dloss_scale = &m->dloss_scale, xo.dloss_scale_index = m->dloss_scale_index;
    VKT_TRY(vkt_op_xent_bwd_weighted(r, &m->logits, &m->targets, &m->xent_rowstats, weights, &m->logits, &xo));
    return vkt_model_record_backward(m, r);
}

vkt_status vkt_seq_step_alloc(vkt_device *dev, const char *name, bool host, const vkt_seq_step_tensor *list, int n,
                              vkt_arena **arena) {
    const size_t slack = 1024; /* per tensor: offset alignment */
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += (size_t)list[i].n * vkt_dtype_size(list[i].dtype) + slack;
    VKT_TRY(host ? vkt_arena_create_host(dev, name, bytes, arena) : vkt_arena_create(dev, name, bytes, arena));
    for (int i = 0; i < n; i++) VKT_TRY(vkt_tensor_alloc(*arena, list[i].dtype, list[i].n, 1, 1, 1, list[i].t));
    return VKT_OK;
}
