/* llama2.c checkpoint reader (the "legacy" export of karpathy/llama2.c, read by its run.c), returning
 * a host parameter table with Hugging Face Llama names and layouts.
 *
 * File layout: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
 * negative vocab_size means the classifier is NOT shared with the embedding), then f32 arrays:
 * token_embedding (V, C), rms_att (L, C), wq (L, NH*HS, C), wk (L, KVH*HS, C), wv (L, KVH*HS, C),
 * wo (L, C, NH*HS), rms_ffn (L, C), w1 (L, H, C), w2 (L, C, H), w3 (L, H, C), rms_final (C),
 * freq_cis_real and freq_cis_imag (seq_len * HS / 2 each; skipped: RoPE is recomputed), then wcls
 * (V, C) only when unshared. Matrices are (out, in), like torch nn.Linear. The file size must match.
 *
 * Output table (all f32, (out, in) matrices), names and order as in model/params.c:
 *   model.embed_tokens.weight (V, C)
 *   per layer N, prefix model.layers.N.: input_layernorm.weight (C), self_attn.q_proj.weight (NH*HS, C),
 *   self_attn.k_proj.weight and v_proj.weight (KVH*HS, C), self_attn.o_proj.weight (C, NH*HS),
 *   post_attention_layernorm.weight (C), mlp.gate_proj.weight (H, C) = w1, mlp.up_proj.weight (H, C) = w3,
 *   mlp.down_proj.weight (C, H) = w2
 *   model.norm.weight (C)
 *   lm_head.weight (V, C) ONLY when the classifier is unshared; a shared one is tied to the embedding
 *   (config.shared_classifier, the HF tie_word_embeddings).
 *
 * RoPE convention: llama2.c rotates interleaved pairs (2i, 2i+1) of each head; HF Llama's rotate_half
 * rotates (i, i + HS/2), with the same frequency theta_i = 10000^(-2i/HS) for pair i. As in HF's
 * convert_llama_weights_to_hf, the rows of q_proj and k_proj are permuted within every head so that
 * new row i = old row 2i and new row i + HS/2 = old row 2i + 1. After this, running the model with
 * rotate_half gives the same q, k (up to that permutation, applied to both, so attention scores are
 * unchanged) as llama2.c with interleaved pairs. v_proj and o_proj are untouched.
 * Not here: the version 1/2 ("ak42") exports, int8 checkpoints, the tokenizer (tok*.bin). */
#ifndef VKT_IO_LLAMA2C_H
#define VKT_IO_LLAMA2C_H

#include <stdbool.h>
#include <stddef.h>

#include "io/host_params.h"

typedef struct {
    int dim;                /* C */
    int hidden_dim;         /* H: SwiGLU hidden width */
    int n_layers;           /* L */
    int n_heads;            /* NH */
    int n_kv_heads;         /* KVH */
    int vocab_size;         /* V (absolute value of the header field) */
    int seq_len;            /* max T the model was trained with */
    int head_size;          /* HS = C / NH */
    bool shared_classifier; /* header vocab_size > 0: lm_head is the embedding */
} vkt_llama2c_config;

/* Reads just the header (validated: positive sizes, C % NH == 0, NH % KVH == 0, HS even). */
vkt_status vkt_llama2c_read_config(const char *path, vkt_llama2c_config *cfg);
/* Reads config and weights into *out (which must be zeroed; free with vkt_host_params_free).
 * VKT_ERR_FORMAT names the file and field on a bad header or a size mismatch; VKT_ERR_IO. */
vkt_status vkt_llama2c_load(const char *path, vkt_llama2c_config *cfg, vkt_host_params *out);
/* The same for a file's bytes in memory (borrowed for the call; `name` stands for the path). */
vkt_status vkt_llama2c_load_mem(const void *data, size_t size, const char *name, vkt_llama2c_config *cfg,
                                vkt_host_params *out);

/* The q/k row permutation, exposed for tests and other importers: w has n_heads * head_size rows of
 * `cols`; dst row h*HS + j*HS/2 + i = src row h*HS + 2i + j (j in {0, 1}). dst != src. */
void vkt_rope_interleaved_to_half(float *dst, const float *src, int n_heads, int head_size, int64_t cols);

#endif
