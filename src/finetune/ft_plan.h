/* The fine-tuning memory plan: what a run will put on the device, by role, computed on the host before
 * anything is allocated (model/model.h vkt_model_plan_bytes, finetune/lora.h vkt_lora_plan_bytes), printed
 * at the start of `vktrain finetune` and checked against the device's memory heap, so a run that cannot
 * fit stops with an error naming what to change instead of failing half-way through allocation.
 * Not here: fragmentation or driver overhead (the plan is the sum of the arenas vktrain creates). */
#ifndef VKT_FT_PLAN_H
#define VKT_FT_PLAN_H

#include "io/run_config.h"
#include "model/model.h"

typedef struct {
    vkt_qformat base_format;
    bool lora;             /* adapters on a frozen base (else full fine-tuning) */
    size_t base_linear;    /* the block linear weights in base_format */
    size_t base_other;     /* f32 embeddings, norms, biases, LM head */
    vkt_dtype precision;   /* optim.precision: F32, or F16 / BF16 (mixed precision, full fine-tuning) */
    size_t half_copy;      /* mixed precision: the 16-bit copy of every weight the passes read */
    size_t grads;          /* full fine-tuning: a gradient per parameter */
    size_t adapters;       /* LoRA parameters and their gradients */
    size_t optimizer;      /* AdamW's two moments per trained parameter */
    size_t activations;    /* kept for the backward (model and adapter), plus backward scratch */
    size_t workspace;      /* batch slots, learning-rate table, gradient-norm partials, adapter scratch */
    size_t total, heap;    /* heap: the device's memory (device-local heaps, else host-visible) */
    int64_t trainable;     /* parameters that train */
} vkt_ft_plan;

/* Plans a run of cfg (method, base_format, LoRA keys, batch_size, seq_len, recompute, precision) on the
 * model mc. */
vkt_status vkt_ft_plan_make(vkt_device *dev, const vkt_run_config *cfg, const vkt_model_config *mc,
                            vkt_qformat base_format, vkt_ft_plan *out);
/* Logs the plan (one line per role, then the total against the heap). */
void vkt_ft_plan_print(const vkt_ft_plan *p);
/* VKT_ERR_OOM, logged with the settings that would shrink it, when total > heap; else VKT_OK. */
vkt_status vkt_ft_plan_check(const vkt_ft_plan *p, const vkt_run_config *cfg);

#endif
