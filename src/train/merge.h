/* Folding a PEFT LoRA adapter into its base model on the host: W' = W + s * B A for every adapted
 * module, computed in double and rounded once to f32, then (vkt_merge_to_hf) written as a complete
 * Hugging Face folder that transformers and every vktrain command load.
 *
 * Module paths are the base model's Hugging Face module names: Llama model.layers.N.self_attn.
 * {q,k,v,o}_proj and model.layers.N.mlp.{gate,up,down}_proj; GPT-2 transformer.h.N.attn.c_attn,
 * attn.c_proj, mlp.c_fc, mlp.c_proj (Conv1D: see finetune/peft_read.h for the layout). Parameters the
 * adapter does not touch are copied bit for bit. modules_to_save copies (embeddings, lm_head) replace the base
 * weight; when they untie a tied model (PEFT trains a copy of the tied module alone) the model gets its own
 * lm_head.weight (a copy of the embedding unless the head is saved) and tie_word_embeddings false. Not here: reading the adapter (finetune/peft_read.h),
 * GGUF (train/export_gguf.h). */
#ifndef VKT_TRAIN_MERGE_H
#define VKT_TRAIN_MERGE_H

#include "finetune/peft_read.h"
#include "io/host_model.h"
#include "model/model.h"

/* Applies every module of a to m in place (m's table and config change when it unties). `adapter` names the
 * folder in messages. Errors, before anything is changed: VKT_ERR_FORMAT for a module the base has no weight for,
 * or whose weight is not (out, in) = (B rows, A columns), or a saved module of another shape. */
vkt_status vkt_merge_lora(vkt_host_model *m, const vkt_peft_adapter *a, const char *adapter);

/* Options of vkt_merge_to_hf. */
typedef struct {
    const char *dtype;     /* "f32" / "f16" / "bf16", or NULL for the base's storage dtype */
    const char *tokenizer; /* tokenizer spec, or NULL for the base's (see vkt_import_tokenizer_spec) */
} vkt_merge_opts;

/* Loads model (any source vkt_host_model_load takes), merges adapter_dir into it and writes out_dir:
 * config.json, model.safetensors, and the tokenizer (a Hugging Face base's tokenizer files copied
 * byte for byte, else tokenizer.json written from the tokenizer). A base with no tokenizer and no
 * opts->tokenizer is an error naming --tokenizer. */
vkt_status vkt_merge_to_hf(const char *model, const char *adapter_dir, const char *out_dir, const vkt_merge_opts *opts);

/* Loads model, merges adapter_dir into it on the host (vkt_merge_lora) and uploads the result as an inference
 * device model for (B, T) batches (T <= 0: the model's maximum). For adapters a device model cannot take in place
 * (modules_to_save that untie tied embeddings). The caller owns *out. */
vkt_status vkt_merge_load_model(vkt_device *dev, const char *model, const char *adapter_dir, int64_t B, int64_t T,
                                vkt_model **out);

#endif
