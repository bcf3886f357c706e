/* Exporting a model (optionally with a PEFT LoRA adapter merged in) as a GGUF v3 file that llama.cpp
 * loads and runs: general.architecture "llama" (Llama, Mistral, SmolLM shapes) or "gpt2".
 *
 * Tensors, by parameter role (model/params.h; ne = {in, out} for an (out, in) matrix):
 *   token_embd, position_embd (GPT-2), output_norm(.bias), output (omitted for a tied Llama, which
 *   llama.cpp then reads from token_embd; always written for GPT-2, a copy of token_embd);
 *   per layer blk.N.: attn_norm(.bias), attn_qkv (GPT-2) or attn_q / attn_k / attn_v, attn_output,
 *   ffn_norm(.bias), ffn_gate, ffn_up, ffn_down, each with .bias where the model has one.
 * Llama's q and k rows (and biases) are permuted within each head from Hugging Face's rotate_half
 * order back to the interleaved pairs llama.cpp's RoPE rotates, as llama.cpp's convert_hf_to_gguf.py
 * does: new row h*HS + 2i + j = old row h*HS + j*HS/2 + i (k uses the KV head count).
 * Types: vectors are always F32; matrices the requested F32 / F16 / Q8_0 (a Q8_0 matrix whose rows are
 * not a multiple of 32 is written F16, and said so). Hyper-parameters: <arch>.context_length,
 * embedding_length, block_count, feed_forward_length, attention.head_count(_kv), the norm epsilon,
 * llama.rope.freq_base and rope.dimension_count; the tokenizer as data/tok_export.h gives it.
 * Not here: other architectures (Qwen2 is refused), other quantizations, GGUF LoRA adapters. */
#ifndef VKT_TRAIN_EXPORT_GGUF_H
#define VKT_TRAIN_EXPORT_GGUF_H

#include "data/tok_export.h"
#include "io/gguf_write.h"
#include "io/host_model.h"

typedef struct {
    const char *type;      /* "f32", "f16" or "q8_0"; NULL: f32 */
    const char *adapter;   /* PEFT LoRA folder merged before export, or NULL */
    const char *tokenizer; /* tokenizer spec, or NULL for the model's own (vkt_import_tokenizer_spec) */
    const char *name;      /* general.name, or NULL for the model path's last component */
} vkt_export_opts;

/* Adds m's hyper-parameters, tokenizer and tensors to w. VKT_ERR_UNSUPPORTED for an architecture
 * llama.cpp would not run as written (logged), VKT_ERR_OOM. */
vkt_status vkt_export_gguf_add(vkt_gguf_writer *w, const vkt_host_model *m, vkt_ggml_type type,
                               const vkt_tok_vocab *vocab, const char *name);
/* Loads model (any source vkt_host_model_load takes), merges o->adapter if given and writes out_path. */
vkt_status vkt_export_gguf(const char *model, const char *out_path, const vkt_export_opts *o);
/* "f32" / "f16" / "q8_0" to a type; false if none. */
bool vkt_export_type_parse(const char *s, vkt_ggml_type *out);

#endif
