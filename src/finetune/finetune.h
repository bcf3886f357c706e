/* Fine-tuning runs: `vktrain finetune`. A pre-training run (train/trainer.h) started from a loaded base
 * model, with what trains chosen by the config's finetune section:
 *   method "full"  every weight trains (optionally not the embeddings, freeze_embeddings, or not the first
 *                  freeze_layers blocks, which keep no optimizer update); checkpoints as `vktrain train`'s.
 *   method "lora"  the base is frozen (no gradients, no moments: VKT_MODEL_FROZEN) and LoRA adapters train
 *                  (finetune/lora.h); checkpoints hold the PEFT adapter folder (adapter_config.json,
 *                  adapter_model.safetensors), its AdamW moments and trainer_state.json, and a resumed run
 *                  reloads the base from model.path.
 *   method "qlora" refused for now (quantized base weights are not available yet).
 * Not here: chat templates and instruction data formats, several adapters, merging into a new model
 * folder (`vktrain merge`). */
#ifndef VKT_FINETUNE_H
#define VKT_FINETUNE_H

#include "train/trainer.h"

/* Checks the finetune section of cfg without touching the device (method, LoRA keys): VKT_ERR_ARG or
 * VKT_ERR_UNSUPPORTED with a message naming the key. */
vkt_status vkt_finetune_check(const vkt_run_config *cfg);

/* Runs the fine-tuning. adapter: a PEFT folder whose adapter continues training (method lora only), or
 * NULL. opts as for vkt_train (opts->ext must be NULL: this fills it in). Returns what vkt_train does. */
vkt_status vkt_finetune(vkt_device *dev, vkt_run_config *cfg, const char *adapter, const vkt_train_opts *opts);

#endif
