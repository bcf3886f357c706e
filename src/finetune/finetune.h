/* Fine-tuning runs: `vktrain finetune`. A pre-training run (train/trainer.h) started from a loaded base
 * model, with what trains chosen by the config's finetune section:
 *   method "full"  every weight trains (optionally not the embeddings, freeze_embeddings, or not the first
 *                  freeze_layers blocks, which keep no optimizer update); checkpoints as `vktrain train`'s.
 *   method "lora"  the base is frozen (no gradients, no moments: VKT_MODEL_FROZEN) and LoRA adapters train
 *                  (finetune/lora.h); checkpoints hold the PEFT adapter folder (adapter_config.json,
 *                  adapter_model.safetensors), its AdamW moments and trainer_state.json, and a resumed run
 *                  reloads the base from model.path.
 *   method "qlora" "lora" over a base whose linear weights are stored as NF4 (bitsandbytes' QLoRA);
 *                  finetune.base_format (f32 | f16 | bf16 | int8 | nf4) picks the storage for either
 *                  adapter method (defaults: lora f32, qlora nf4; full only f32). See model/model_base.h.
 * Without model.path, a "model" section's shape gives a randomly initialised base (seeded; benchmarks).
 * Before the model is built, the memory plan (finetune/ft_plan.h) is printed and a run that cannot fit the
 * device is refused.
 * Not here: chat templates and instruction data formats, several adapters, merging into a new model
 * folder (`vktrain merge`). */
#ifndef VKT_FINETUNE_H
#define VKT_FINETUNE_H

#include "finetune/lora.h"
#include "train/trainer.h"

/* Checks the finetune section of cfg without touching the device (method, LoRA keys): VKT_ERR_ARG or
 * VKT_ERR_UNSUPPORTED with a message naming the key. */
vkt_status vkt_finetune_check(const vkt_run_config *cfg);

/* The finetune section as a LoRA config (method lora / qlora): VKT_ERR_ARG naming the key. */
vkt_status vkt_finetune_lora_cfg(const vkt_run_config *cfg, vkt_lora_cfg *out);
/* The base storage format the section asks for (method default when base_format is unset); VKT_ERR_ARG
 * for an unknown name or a quantized base with method full. */
vkt_status vkt_finetune_base_format(const vkt_run_config *cfg, vkt_qformat *out);

/* The trainer extension for cfg's finetune section (what vkt_finetune runs with; also `bench --train`).
 * cfg and adapter are borrowed and must outlive it; free with vkt_finetune_ext_free after the run. */
vkt_status vkt_finetune_ext_create(const vkt_run_config *cfg, const char *adapter, vkt_train_ext *ext);
void vkt_finetune_ext_free(vkt_train_ext *ext);

/* Runs the fine-tuning. adapter: a PEFT folder whose adapter continues training (method lora only), or
 * NULL. opts as for vkt_train (opts->ext must be NULL: this fills it in). Returns what vkt_train does. */
vkt_status vkt_finetune(vkt_device *dev, vkt_run_config *cfg, const char *adapter, const vkt_train_opts *opts);

#endif
