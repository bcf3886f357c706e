/* PEFT's modules_to_save on a LoRA adapter: the embedding tables and the LM head trained in full as copies
 * in the adapter's own table (semantics and names in lora.h). Internal to src/finetune: lora.c calls these
 * while it builds, initialises, attaches and merges an adapter. */
#ifndef VKT_FINETUNE_LORA_SAVE_H
#define VKT_FINETUNE_LORA_SAVE_H

#include "finetune/lora.h"

/* Resolves cfg.modules_to_save against l->model's savable modules into l->saved_role / n_saved, as PEFT's
 * _set_trainable matches (module path ends with the name). A name that selects none of them is VKT_ERR_ARG,
 * logged with the model's savable module names. */
vkt_status vkt_lora_saved_select(vkt_lora *l);
/* Appends the copies' entries to l->table (base_model.model.<module>.weight, the base weight's shape) from
 * element *off on, aligned to align; sets saved_first. The table must have room for n_saved more entries. */
void vkt_lora_saved_add_entries(vkt_lora *l, int64_t *off, int64_t align);
/* Fills the copies in host (table layout) from the base model's weights (a tied head from the embedding). */
vkt_status vkt_lora_saved_init(vkt_lora *l, float *host);
/* Points l->saved at the copies the adapted model's passes read (l->params_half under mixed precision, else
 * l->params) and their f32 gradients in l->grads, and l->saved_master at the f32 copies (after they are allocated). */
void vkt_lora_saved_views(vkt_lora *l);
/* Records copying the saved weights over the model's own (VKT_ERR_UNSUPPORTED when vkt_lora_unties). */
vkt_status vkt_lora_saved_merge(vkt_lora *l, vkt_rec *r);
/* The module path of a savable role in model config mc's naming ("lm_head", "model.embed_tokens", ...). */
const char *vkt_lora_saved_module(const vkt_model_config *mc, vkt_param_role role);

#endif
