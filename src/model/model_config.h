/* Model hyper-parameters, read from a Hugging Face config.json (keys as Hugging Face names them) or a
 * vktrain run config's "model" section.
 *
 * Two architectures cover the supported families:
 *   GPT-2: LayerNorm, learned positions, GELU (tanh), biases everywhere, tied embeddings.
 *   LLaMA: RMSNorm, RoPE (base rope_theta), SwiGLU MLP, grouped-query attention, optional q/k/v biases
 *          (Qwen2), tied or untied embeddings. Llama 2/3, Mistral, Qwen2 and SmolLM use it. */
#ifndef VKT_MODEL_CONFIG_H
#define VKT_MODEL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vktrain/status.h"

typedef struct cJSON cJSON;

typedef enum { VKT_ARCH_GPT2 = 0, VKT_ARCH_LLAMA = 1 } vkt_arch;

/* config.json "rope_scaling": absent, null or {"rope_type": "default"} is NONE. LINEAR divides every
 * frequency by factor (transformers' "linear"); LLAMA3 is Llama 3.1's band-wise scaling (ops/rope.h). */
typedef enum { VKT_ROPE_SCALING_NONE = 0, VKT_ROPE_SCALING_LINEAR = 1, VKT_ROPE_SCALING_LLAMA3 = 2 } vkt_rope_scaling;

typedef struct {
    vkt_arch arch;
    char model_type[32];        /* "gpt2", "llama", "mistral", "qwen2" */
    int64_t vocab_size;         /* V */
    int64_t max_seq_len;        /* n_positions / max_position_embeddings */
    int64_t n_embd;             /* C: n_embd / hidden_size */
    int64_t n_layer;            /* L */
    int64_t n_head;             /* NH */
    int64_t n_kv_head;          /* KVH (== NH for GPT-2) */
    int64_t head_dim;           /* HS (n_embd / n_head unless head_dim is given) */
    int64_t n_inner;            /* MLP width: 4C for GPT-2, intermediate_size for LLaMA */
    double norm_eps;            /* layer_norm_epsilon / rms_norm_eps */
    double rope_theta;          /* LLaMA only */
    vkt_rope_scaling rope_scaling; /* rope_scaling.rope_type (or its older name "type") */
    double rope_factor;         /* rope_scaling.factor (LINEAR, LLAMA3), >= 1 */
    double rope_low_freq_factor, rope_high_freq_factor; /* LLAMA3 */
    int64_t rope_orig_max_pos;  /* LLAMA3: rope_scaling.original_max_position_embeddings */
    int64_t sliding_window;     /* Mistral's attention window in positions, 0 for none: a model over more
                                 * positions than this is refused (vkt_model_config_check_positions) */
    double init_std;            /* initializer_range */
    bool tie_word_embeddings;
    int64_t num_labels;         /* rows of a sequence-classification head score.weight (num_labels, C) after
                                 * every other parameter (a reward model: 1); 0: none, a causal LM */
    bool qkv_bias;              /* GPT-2: true; Qwen2: true; Llama: attention_bias */
    bool o_bias;                /* GPT-2: true; Llama: attention_bias */
    bool mlp_bias;              /* GPT-2: true; Llama: mlp_bias */
    int64_t bos_token_id, eos_token_id; /* -1 when absent */
} vkt_model_config;

/* The built-in shape presets ("gpt2", "gpt2-medium", "llama-tiny"...); NULL if unknown. */
const vkt_model_config *vkt_model_preset(const char *name);

/* Reads a Hugging Face config.json object. `where` names the file for messages. Keys that do not
 * change the computation (dropout, dtype, architectures...) are accepted; keys that would change it in
 * ways vktrain does not implement (rope_scaling other than linear/llama3, Qwen2's use_sliding_window, an
 * activation other than GELU/SiLU...) are errors that name the key and the fix; other unknown keys are warned about when `strict` is false, errors when
 * true (vktrain's own configs). */
vkt_status vkt_model_config_from_json(const cJSON *obj, const char *where, bool strict, vkt_model_config *out);
vkt_status vkt_model_config_load(const char *path, vkt_model_config *out);
/* Writes the Hugging Face config.json keys for this model (caller frees with cJSON_Delete); bos/eos ids
 * outside [0, vocab_size) are left out. */
cJSON *vkt_model_config_to_json(const vkt_model_config *c);
/* Checks shapes are possible (C divisible by NH, NH by KVH, head_dim even for RoPE...). */
vkt_status vkt_model_config_validate(const vkt_model_config *c, const char *where);
/* The HS/2 RoPE frequencies of a LLaMA-architecture model: theta^(-2i/HS), then rope_scaling applied. */
void vkt_model_config_rope_freqs(const vkt_model_config *c, double *inv_freq);
/* VKT_OK when a model instance over n_pos positions (sequence length, plus the KV cache's past) computes
 * exactly what the config describes: today that fails only when n_pos is over sliding_window (the window
 * would bind and vktrain's attention is full causal). Logs the key and the fix; VKT_ERR_UNSUPPORTED. */
vkt_status vkt_model_config_check_positions(const vkt_model_config *c, int64_t n_pos, const char *where);
/* Parameter count (embedding tables included once when tied). */
int64_t vkt_model_config_n_params(const vkt_model_config *c);

#endif
