/* LoRA adapters as Hugging Face PEFT folders, read and written exactly as PEFT does
 * (peft.PeftModel.save_pretrained / from_pretrained, safetensors serialization):
 *   adapter_config.json          peft_type "LORA", task_type "CAUSAL_LM", r, lora_alpha, target_modules,
 *                                use_rslora, lora_dropout, fan_in_fan_out (true for GPT-2's Conv1D), bias
 *                                "none", base_model_name_or_path, init_lora_weights, modules_to_save null, ...
 *                                A reward model's adapter: task_type "SEQ_CLS", modules_to_save ["score"].
 *   adapter_model.safetensors    F32 tensors base_model.model.<module>.lora_A.weight (r, in) and
 *                                .lora_B.weight (out, r); PEFT keeps these shapes for Conv1D too. With a
 *                                score head also base_model.model.score.weight (1, C), the whole trained
 *                                copy, as PEFT saves modules_to_save. The same for modules_to_save copies of
 *                                the embeddings and the LM head: base_model.model.lm_head.weight (V, C),
 *                                base_model.model.model.embed_tokens.weight, base_model.model.transformer.wte.weight
 *                                (PEFT's get_peft_model_state_dict drops ".modules_to_save.default"; its
 *                                set_peft_model_state_dict reads these keys back).
 * Reading accepts F32, F16 and BF16 tensors and refuses what this engine would silently get wrong: another
 * peft_type, bias other than "none", modules_to_save other than the score head, embeddings and LM head
 * (or with ensure_weight_tying), layers_to_transform, rank or alpha patterns, DoRA,
 * a missing, extra or misshapen tensor (the error names it, with the shape found and expected). */
#ifndef VKT_FINETUNE_LORA_PEFT_H
#define VKT_FINETUNE_LORA_PEFT_H

#include "finetune/lora.h"

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors (each atomically; dir is created).
 * VKT_ERR_NONFINITE (nothing written) when a weight is NaN or inf. */
vkt_status vkt_lora_save_peft(vkt_lora *l, const char *dir);

/* Reads dir/adapter_config.json into *cfg (defaults first). for_training: lora_dropout is kept (and then
 * refused by vkt_lora_create when > 0); otherwise it is set to 0, dropout being a training-time op.
 * VKT_ERR_IO / VKT_ERR_FORMAT / VKT_ERR_UNSUPPORTED, naming the file and key. */
vkt_status vkt_lora_read_peft_config(const char *dir, bool for_training, vkt_lora_cfg *cfg);

/* Loads dir/adapter_model.safetensors into l (every tensor of l's table, nothing else). */
vkt_status vkt_lora_load_peft_weights(vkt_lora *l, const char *dir);

/* Both: an adapter for m from a PEFT folder. The caller owns *out; it is not attached. */
vkt_status vkt_lora_load_peft(vkt_model *m, const char *dir, bool for_training, vkt_lora **out);

/* True when dir holds an adapter_config.json. */
bool vkt_lora_is_peft_dir(const char *dir);

#endif
