/* Reading a PEFT LoRA adapter folder on the host, for merging (train/merge.h) and export. This is the
 * reader only; the LoRA training engine and its PEFT writer live in finetune/lora.c.
 *
 * Layout (PEFT, save_pretrained with safe_serialization):
 *   adapter_config.json        peft_type "LORA", r, lora_alpha, use_rslora, target_modules,
 *                              fan_in_fan_out, rank_pattern / alpha_pattern (per-module overrides)
 *   adapter_model.safetensors  per adapted module M (its path in the base model):
 *                                base_model.model.M.lora_A.weight (r, in)
 *                                base_model.model.M.lora_B.weight (out, r)
 * The update of M's weight W (out, in) is s * B A with s = lora_alpha / r, or lora_alpha / sqrt(r)
 * with use_rslora. For GPT-2's Conv1D modules (fan_in_fan_out) the factors are stored the same way and
 * the update is transposed into Conv1D's (in, out) layout; in vktrain's (out, in) tables it is B A.
 * modules_to_save (PEFT's trainable copies): base_model.model.M.weight for a module M whose path ends with a
 * name of the config's modules_to_save list (the copy as PEFT saves it, ".modules_to_save.default" dropped);
 * merging replaces the base weight (train/merge.h).
 * Refused with a message naming the key or field: another peft_type, DoRA (use_dora), ensure_weight_tying with
 * modules_to_save, adapter tensors other than lora_A / lora_B weights and modules_to_save copies (embedding
 * LoRA, biases), an A without its B,
 * A and B whose ranks differ, a rank that is not the config's, rank/alpha patterns that are regexes.
 * Not thread-safe for concurrent modification. */
#ifndef VKT_FINETUNE_PEFT_READ_H
#define VKT_FINETUNE_PEFT_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "vktrain/status.h"

typedef struct {
    char module[192]; /* path in the base model, e.g. "model.layers.0.self_attn.q_proj" */
    int64_t r, in, out;
    double alpha; /* lora_alpha for this module (alpha_pattern applied) */
    double scale; /* s: alpha / r, or alpha / sqrt(r) with use_rslora */
    float *A;     /* owned: (r, in) */
    float *B;     /* owned: (out, r) */
} vkt_peft_module;

typedef struct {
    char module[192]; /* path in the base model, e.g. "lm_head", "model.embed_tokens" */
    int64_t rows, cols;
    float *w;         /* owned: (rows, cols), the whole trained weight */
} vkt_peft_saved;

typedef struct {
    int64_t r;    /* config r */
    double alpha; /* config lora_alpha */
    bool use_rslora;
    bool fan_in_fan_out;
    vkt_peft_module *mods; /* owned, n_mods, in the file's (sorted) key order */
    int n_mods;
    vkt_peft_saved *saved; /* owned, n_saved: modules_to_save copies, in the file's key order */
    int n_saved;
} vkt_peft_adapter;

/* Reads dir (adapter_config.json + adapter_model.safetensors). *out must be zeroed; on failure it is
 * freed. VKT_ERR_IO (unreadable), VKT_ERR_FORMAT / VKT_ERR_UNSUPPORTED (logged, naming file and key). */
vkt_status vkt_peft_read(const char *dir, vkt_peft_adapter *out);
/* Safe on a zeroed struct and twice. */
void vkt_peft_free(vkt_peft_adapter *a);

#endif
