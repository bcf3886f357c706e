/* Hugging Face config.json <-> vkt_model_config. One key table per architecture keeps the mapping
 * in one place: name, JSON type, and where the value goes. */
#include "model/model_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/json_file.h"
#include "ops/rope.h"

typedef enum { K_INT, K_FLOAT, K_BOOL, K_IGNORE } key_kind;

typedef struct {
    const char *name;
    key_kind kind;
    size_t offset; /* into vkt_model_config */
    bool nullable; /* JSON null means "use the default" */
} key_spec;

#define F(field) offsetof(vkt_model_config, field)

static const key_spec gpt2_keys[] = {
    {"vocab_size", K_INT, F(vocab_size), false},
    {"n_positions", K_INT, F(max_seq_len), false},
    {"n_ctx", K_INT, F(max_seq_len), false},
    {"n_embd", K_INT, F(n_embd), false},
    {"n_layer", K_INT, F(n_layer), false},
    {"n_head", K_INT, F(n_head), false},
    {"n_inner", K_INT, F(n_inner), true},
    {"layer_norm_epsilon", K_FLOAT, F(norm_eps), false},
    {"initializer_range", K_FLOAT, F(init_std), false},
    {"tie_word_embeddings", K_BOOL, F(tie_word_embeddings), false},
    {"bos_token_id", K_INT, F(bos_token_id), true},
    {"eos_token_id", K_INT, F(eos_token_id), true},
    {"num_labels", K_INT, F(num_labels), true},
};

static const key_spec llama_keys[] = {
    {"vocab_size", K_INT, F(vocab_size), false},
    {"max_position_embeddings", K_INT, F(max_seq_len), false},
    {"hidden_size", K_INT, F(n_embd), false},
    {"num_hidden_layers", K_INT, F(n_layer), false},
    {"num_attention_heads", K_INT, F(n_head), false},
    {"num_key_value_heads", K_INT, F(n_kv_head), true},
    {"head_dim", K_INT, F(head_dim), true},
    {"intermediate_size", K_INT, F(n_inner), false},
    {"rms_norm_eps", K_FLOAT, F(norm_eps), false},
    {"rope_theta", K_FLOAT, F(rope_theta), false},
    {"initializer_range", K_FLOAT, F(init_std), false},
    {"tie_word_embeddings", K_BOOL, F(tie_word_embeddings), false},
    {"attention_bias", K_BOOL, F(qkv_bias), false},
    {"mlp_bias", K_BOOL, F(mlp_bias), false},
    {"bos_token_id", K_INT, F(bos_token_id), true},
    {"eos_token_id", K_INT, F(eos_token_id), true},
    {"num_labels", K_INT, F(num_labels), true},
};

/* Present in real config.json files; none changes the computation of a training step here. */
static const char *ignored_keys[] = {
    "architectures", "model_type", "torch_dtype", "transformers_version", "use_cache", "pad_token_id",
    "resid_pdrop", "embd_pdrop", "attn_pdrop", "attention_dropout", "summary_type", "summary_use_proj",
    "summary_activation", "summary_proj_to_labels", "summary_first_dropout", "task_specific_params",
    "scale_attn_weights", "reorder_and_upcast_attn", "scale_attn_by_inverse_layer_idx", "pretraining_tp",
    "_name_or_path", "id2label", "label2id", "tokenizer_class", "prefix", "max_window_layers",
    "bos_token", "eos_token", "is_decoder", "output_past",
    "gradient_checkpointing", "dtype", "auto_map", "n_special", "predict_special_tokens",
};

static bool is_ignored(const char *name) {
    for (size_t i = 0; i < sizeof ignored_keys / sizeof ignored_keys[0]; i++)
        if (strcmp(name, ignored_keys[i]) == 0) return true;
    return false;
}

static const vkt_model_config gpt2_defaults = {
    .arch = VKT_ARCH_GPT2, .model_type = "gpt2", .vocab_size = 50257, .max_seq_len = 1024, .n_embd = 768,
    .n_layer = 12, .n_head = 12, .norm_eps = 1e-5, .init_std = 0.02, .tie_word_embeddings = true,
    .qkv_bias = true, .o_bias = true, .mlp_bias = true, .bos_token_id = 50256, .eos_token_id = 50256};

static const vkt_model_config llama_defaults = {
    .arch = VKT_ARCH_LLAMA, .model_type = "llama", .vocab_size = 32000, .max_seq_len = 2048, .n_embd = 4096,
    .n_layer = 32, .n_head = 32, .n_inner = 11008, .norm_eps = 1e-6, .rope_theta = 10000.0, .init_std = 0.02,
    .bos_token_id = 1, .eos_token_id = 2};

/* Fills the values that follow from others when a config leaves them out. */
static void derive(vkt_model_config *c) {
    if (c->arch == VKT_ARCH_GPT2) {
        c->n_kv_head = c->n_head;
        if (!c->n_inner) c->n_inner = 4 * c->n_embd;
    } else if (!c->n_kv_head) {
        c->n_kv_head = c->n_head;
    }
    if (!c->head_dim && c->n_head > 0) c->head_dim = c->n_embd / c->n_head;
}

typedef struct {
    const char *name;
    vkt_model_config c;
} preset;

/* Shapes only; a preset is a starting point that config keys override. */
static preset presets[8];
static int n_presets;

static void init_presets(void) {
    if (n_presets) return;
    vkt_model_config g = gpt2_defaults;
    presets[n_presets++] = (preset){"gpt2", g};
    g.n_embd = 1024, g.n_layer = 24, g.n_head = 16;
    presets[n_presets++] = (preset){"gpt2-medium", g};
    g = gpt2_defaults;
    g.n_embd = 128, g.n_layer = 4, g.n_head = 4, g.vocab_size = 256, g.max_seq_len = 256;
    g.bos_token_id = g.eos_token_id = -1;
    presets[n_presets++] = (preset){"gpt2-tiny", g};
    vkt_model_config l = llama_defaults;
    l.vocab_size = 512, l.max_seq_len = 512, l.n_embd = 64, l.n_layer = 5, l.n_head = 8, l.n_kv_head = 4;
    l.n_inner = 172, l.norm_eps = 1e-5, l.tie_word_embeddings = true;
    presets[n_presets++] = (preset){"llama-tiny", l}; /* the stories260K shape */
    l = llama_defaults;
    l.vocab_size = 49152, l.max_seq_len = 2048, l.n_embd = 576, l.n_layer = 30, l.n_head = 9, l.n_kv_head = 3;
    l.n_inner = 1536, l.norm_eps = 1e-5, l.tie_word_embeddings = true;
    presets[n_presets++] = (preset){"smollm-135m", l};
    for (int i = 0; i < n_presets; i++) derive(&presets[i].c);
}

const vkt_model_config *vkt_model_preset(const char *name) {
    init_presets();
    for (int i = 0; i < n_presets; i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i].c;
    return NULL;
}

static vkt_status set_key(const key_spec *k, const cJSON *item, const char *where, vkt_model_config *c) {
    char *field = (char *)c + k->offset;
    if (cJSON_IsNull(item)) {
        if (k->nullable) return VKT_OK;
        vkt_log_error("%s: \"%s\" is null; give a value", where, k->name);
        return VKT_ERR_FORMAT;
    }
    switch (k->kind) {
    case K_INT:
        /* Within +-2^53 before the cast: converting a double outside int64 (1e300, or inf from 1e999)
         * is undefined, and the bound keeps derived sizes (4 * n_embd) far from int64 overflow. */
        if (!cJSON_IsNumber(item) || !(fabs(item->valuedouble) <= 9007199254740992.0) ||
            item->valuedouble != floor(item->valuedouble)) {
            vkt_log_error("%s: \"%s\" must be an integer (at most 2^53 in magnitude)", where, k->name);
            return VKT_ERR_FORMAT;
        }
        *(int64_t *)field = (int64_t)item->valuedouble;
        return VKT_OK;
    case K_FLOAT:
        if (!cJSON_IsNumber(item)) {
            vkt_log_error("%s: \"%s\" must be a number", where, k->name);
            return VKT_ERR_FORMAT;
        }
        *(double *)field = item->valuedouble;
        return VKT_OK;
    case K_BOOL:
        if (!cJSON_IsBool(item)) {
            vkt_log_error("%s: \"%s\" must be true or false", where, k->name);
            return VKT_ERR_FORMAT;
        }
        *(bool *)field = cJSON_IsTrue(item);
        return VKT_OK;
    case K_IGNORE: return VKT_OK;
    }
    return VKT_OK;
}

/* Keys whose non-default values would change the math in ways not implemented. */
static vkt_status check_unsupported(const cJSON *obj, const char *where, vkt_arch arch) {
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(obj, arch == VKT_ARCH_GPT2 ? "activation_function"
                                                                                   : "hidden_act");
    if (act) {
        const char *ok = arch == VKT_ARCH_GPT2 ? "gelu_new" : "silu";
        if (!cJSON_IsString(act) || (strcmp(act->valuestring, ok) != 0 &&
                                     !(arch == VKT_ARCH_GPT2 && strcmp(act->valuestring, "gelu_pytorch_tanh") == 0))) {
            vkt_log_error("%s: \"%s\": activation \"%s\" is not supported; vktrain implements %s for this "
                          "architecture", where, act->string, cJSON_IsString(act) ? act->valuestring : "?", ok);
            return VKT_ERR_UNSUPPORTED;
        }
    }
    return VKT_OK;
}

/* A number in rope_scaling: at least 1 (at_least_one) or positive. */
static vkt_status rope_number(const cJSON *sc, const char *key, const char *where, bool at_least_one, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sc, key);
    if (!cJSON_IsNumber(v) || !(at_least_one ? v->valuedouble >= 1 : v->valuedouble > 0)) {
        vkt_log_error("%s: \"rope_scaling\".\"%s\" is missing or not a number %s", where, key,
                      at_least_one ? ">= 1" : "> 0");
        return VKT_ERR_FORMAT;
    }
    *out = v->valuedouble;
    return VKT_OK;
}

/* "rope_scaling": null, {"rope_type"|"type": "default" | "linear" | "llama3", ...}. Other types change the
 * frequencies with the sequence length (dynamic), or scale attention too (yarn, longrope): refused. Keys
 * the type does not use are refused as well, since a key we skip might be one that changes the math. */
static vkt_status parse_rope_scaling(const cJSON *sc, const char *where, vkt_model_config *c) {
    c->rope_scaling = VKT_ROPE_SCALING_NONE;
    if (!sc || cJSON_IsNull(sc)) return VKT_OK;
    if (!cJSON_IsObject(sc)) {
        vkt_log_error("%s: \"rope_scaling\" must be null or an object with \"rope_type\"", where);
        return VKT_ERR_FORMAT;
    }
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(sc, "rope_type"), *ty = cJSON_GetObjectItemCaseSensitive(sc, "type");
    if ((rt && !cJSON_IsString(rt)) || (ty && !cJSON_IsString(ty)) || (!rt && !ty) ||
        (rt && ty && strcmp(rt->valuestring, ty->valuestring) != 0)) {
        vkt_log_error("%s: \"rope_scaling\" needs one string \"rope_type\" (or its older name \"type\"; both must "
                      "agree when both are given)", where);
        return VKT_ERR_FORMAT;
    }
    const char *type = rt ? rt->valuestring : ty->valuestring;
    static const char *const linear_keys[] = {"rope_type", "type", "factor", NULL};
    static const char *const llama3_keys[] = {"rope_type", "type", "factor", "low_freq_factor", "high_freq_factor",
                                              "original_max_position_embeddings", NULL};
    static const char *const default_keys[] = {"rope_type", "type", NULL};
    const char *const *allowed;
    if (strcmp(type, "default") == 0) {
        allowed = default_keys;
    } else if (strcmp(type, "linear") == 0) {
        allowed = linear_keys, c->rope_scaling = VKT_ROPE_SCALING_LINEAR;
    } else if (strcmp(type, "llama3") == 0) {
        allowed = llama3_keys, c->rope_scaling = VKT_ROPE_SCALING_LLAMA3;
    } else {
        vkt_log_error("%s: \"rope_scaling\".\"rope_type\" \"%s\" is not supported: vktrain implements \"default\", "
                      "\"linear\" and \"llama3\" (\"dynamic\", \"yarn\", \"longrope\" are not implemented); set "
                      "\"rope_scaling\" to null to use the unscaled frequencies at the original context length",
                      where, type);
        return VKT_ERR_UNSUPPORTED;
    }
    for (const cJSON *k = sc->child; k; k = k->next) {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = strcmp(k->string, allowed[i]) == 0;
        if (!ok) {
            vkt_log_error("%s: \"rope_scaling\".\"%s\" is not supported with rope_type \"%s\" (it would change the "
                          "frequencies in a way vktrain does not implement)", where, k->string, type);
            return VKT_ERR_UNSUPPORTED;
        }
    }
    if (c->rope_scaling == VKT_ROPE_SCALING_NONE) return VKT_OK;
    VKT_TRY(rope_number(sc, "factor", where, true, &c->rope_factor));
    if (c->rope_scaling == VKT_ROPE_SCALING_LINEAR) return VKT_OK;
    double orig;
    VKT_TRY(rope_number(sc, "low_freq_factor", where, false, &c->rope_low_freq_factor));
    VKT_TRY(rope_number(sc, "high_freq_factor", where, false, &c->rope_high_freq_factor));
    VKT_TRY(rope_number(sc, "original_max_position_embeddings", where, true, &orig));
    if (orig != (double)(int64_t)orig) {
        vkt_log_error("%s: \"rope_scaling\".\"original_max_position_embeddings\" must be an integer", where);
        return VKT_ERR_FORMAT;
    }
    c->rope_orig_max_pos = (int64_t)orig;
    if (!(c->rope_high_freq_factor > c->rope_low_freq_factor)) {
        vkt_log_error("%s: \"rope_scaling\".\"high_freq_factor\" (%g) must be above \"low_freq_factor\" (%g)", where,
                      c->rope_high_freq_factor, c->rope_low_freq_factor);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

/* Mistral: "sliding_window" (null or positions), kept and checked per model instance. Qwen2:
 * "use_sliding_window": true is refused (which layers slide depends on max_window_layers, whose meaning
 * changed between transformers versions); its "sliding_window" is unused otherwise. "layer_types" (newer
 * transformers) must name full attention only. */
static vkt_status parse_sliding(const cJSON *obj, const char *where, const char *mt, vkt_model_config *c) {
    c->sliding_window = 0;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(obj, "sliding_window");
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(obj, "use_sliding_window");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(obj, "layer_types");
    if (use && !cJSON_IsBool(use) && !cJSON_IsNull(use)) {
        vkt_log_error("%s: \"use_sliding_window\" must be true or false", where);
        return VKT_ERR_FORMAT;
    }
    if (cJSON_IsTrue(use)) {
        vkt_log_error("%s: \"use_sliding_window\": true is not supported (vktrain's attention is full causal); set "
                      "it to false to attend over the whole sequence, which changes the model's outputs only past "
                      "\"sliding_window\" positions", where);
        return VKT_ERR_UNSUPPORTED;
    }
    for (const cJSON *t = cJSON_IsArray(types) ? types->child : NULL; t; t = t->next)
        if (!cJSON_IsString(t) || strcmp(t->valuestring, "full_attention") != 0) {
            vkt_log_error("%s: \"layer_types\" has \"%s\": vktrain implements \"full_attention\" layers only", where,
                          cJSON_IsString(t) ? t->valuestring : "?");
            return VKT_ERR_UNSUPPORTED;
        }
    if (strcmp(mt, "mistral") != 0 || !sw || cJSON_IsNull(sw)) return VKT_OK;
    /* Range first: the cast of a double beyond int64 is undefined (found by fuzz_model_config). */
    if (!cJSON_IsNumber(sw) || !(sw->valuedouble >= 1 && sw->valuedouble <= 9007199254740992.0) ||
        sw->valuedouble != floor(sw->valuedouble)) {
        vkt_log_error("%s: \"sliding_window\" must be null or a positive integer", where);
        return VKT_ERR_FORMAT;
    }
    c->sliding_window = (int64_t)sw->valuedouble;
    return VKT_OK;
}

vkt_status vkt_model_config_check_positions(const vkt_model_config *c, int64_t n_pos, const char *where) {
    /* transformers' sliding mask keeps key k for query q when q - k < sliding_window: over n_pos positions
     * the largest q - k is n_pos - 1, so the window never binds while n_pos <= sliding_window. */
    if (c->sliding_window <= 0 || n_pos <= c->sliding_window) return VKT_OK;
    vkt_log_error("%s: \"sliding_window\" is %lld but this model would attend over %lld positions: vktrain's attention "
                  "is full causal, exact only up to the window; use a sequence length (optim.seq_len, sample "
                  "--context) of at most %lld", where, (long long)c->sliding_window, (long long)n_pos,
                  (long long)c->sliding_window);
    return VKT_ERR_UNSUPPORTED;
}

void vkt_model_config_rope_freqs(const vkt_model_config *c, double *inv_freq) {
    int64_t n = c->head_dim / 2;
    vkt_rope_inv_freq(inv_freq, c->head_dim, c->rope_theta);
    if (c->rope_scaling == VKT_ROPE_SCALING_LINEAR)
        for (int64_t i = 0; i < n; i++) inv_freq[i] /= c->rope_factor;
    else if (c->rope_scaling == VKT_ROPE_SCALING_LLAMA3)
        vkt_rope_scale_llama3(inv_freq, n, c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor,
                              (double)c->rope_orig_max_pos);
}

vkt_status vkt_model_config_from_json(const cJSON *obj, const char *where, bool strict, vkt_model_config *out) {
    if (!cJSON_IsObject(obj)) {
        vkt_log_error("%s: expected a JSON object with the model's config.json keys", where);
        return VKT_ERR_FORMAT;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "model_type");
    const char *mt = cJSON_IsString(type) ? type->valuestring : NULL;
    if (!mt) {
        vkt_log_error("%s: \"model_type\" is missing; use \"gpt2\", \"llama\", \"mistral\", \"qwen2\"", where);
        return VKT_ERR_FORMAT;
    }
    const key_spec *keys;
    size_t n_keys;
    if (strcmp(mt, "gpt2") == 0) {
        *out = gpt2_defaults;
        keys = gpt2_keys, n_keys = sizeof gpt2_keys / sizeof gpt2_keys[0];
    } else if (strcmp(mt, "llama") == 0 || strcmp(mt, "mistral") == 0 || strcmp(mt, "qwen2") == 0) {
        *out = llama_defaults;
        if (strcmp(mt, "qwen2") == 0) out->qkv_bias = true; /* Qwen2 always has q/k/v biases */
        keys = llama_keys, n_keys = sizeof llama_keys / sizeof llama_keys[0];
    } else {
        vkt_log_error("%s: model_type \"%s\" is not supported; use gpt2, llama, mistral or qwen2", where, mt);
        return VKT_ERR_UNSUPPORTED;
    }
    snprintf(out->model_type, sizeof out->model_type, "%s", mt);
    out->n_inner = 0, out->n_kv_head = 0, out->head_dim = 0;
    VKT_TRY(check_unsupported(obj, where, out->arch));
    if (out->arch == VKT_ARCH_LLAMA) {
        VKT_TRY(parse_rope_scaling(cJSON_GetObjectItemCaseSensitive(obj, "rope_scaling"), where, out));
        VKT_TRY(parse_sliding(obj, where, mt, out));
    }
    bool qwen = strcmp(mt, "qwen2") == 0;
    for (const cJSON *item = obj->child; item; item = item->next) {
        const key_spec *k = NULL;
        for (size_t i = 0; i < n_keys && !k; i++)
            if (strcmp(keys[i].name, item->string) == 0) k = &keys[i];
        if (k) {
            VKT_TRY(set_key(k, item, where, out));
        } else if (strcmp(item->string, "activation_function") == 0 || strcmp(item->string, "hidden_act") == 0 ||
                   is_ignored(item->string) ||
                   (out->arch == VKT_ARCH_LLAMA &&
                    (strcmp(item->string, "rope_scaling") == 0 || strcmp(item->string, "sliding_window") == 0 ||
                     strcmp(item->string, "use_sliding_window") == 0 || strcmp(item->string, "layer_types") == 0))) {
            continue;
        } else if (strict) {
            vkt_log_error("%s: unknown model key \"%s\" for model_type %s (check the spelling)", where,
                          item->string, mt);
            return VKT_ERR_FORMAT;
        } else {
            vkt_log_warn("%s: ignoring key \"%s\"", where, item->string);
        }
    }
    if (out->arch == VKT_ARCH_LLAMA && !qwen) out->o_bias = out->qkv_bias;
    if (qwen) {
        /* transformers' Qwen2Attention always builds q/k/v with bias and o_proj without, and Qwen2MLP has
         * none, whatever attention_bias / mlp_bias say: so does vktrain, or the biases would be dropped. */
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(obj, "attention_bias")))
            vkt_log_warn("%s: qwen2 ignores \"attention_bias\": false (Qwen2 always has q/k/v biases, as in "
                         "Hugging Face)", where);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "mlp_bias")))
            vkt_log_warn("%s: qwen2 ignores \"mlp_bias\": true (Qwen2's MLP has no biases, as in Hugging Face)",
                         where);
        out->qkv_bias = true, out->o_bias = false, out->mlp_bias = false;
    }
    if (out->head_dim == 0 && out->n_head > 0 && out->n_embd % out->n_head != 0) {
        bool gpt2 = out->arch == VKT_ARCH_GPT2;
        vkt_log_error("%s: %s (%lld) is not divisible by %s (%lld)%s", where, gpt2 ? "n_embd" : "hidden_size",
                      (long long)out->n_embd, gpt2 ? "n_head" : "num_attention_heads", (long long)out->n_head,
                      gpt2 ? "" : "; give head_dim explicitly if the heads are not hidden_size / heads wide");
        return VKT_ERR_FORMAT;
    }
    derive(out);
    return vkt_model_config_validate(out, where);
}

vkt_status vkt_model_config_validate(const vkt_model_config *c, const char *where) {
#define NEED(cond, ...)                                                                                            \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            vkt_log_error(__VA_ARGS__);                                                                            \
            return VKT_ERR_FORMAT;                                                                                 \
        }                                                                                                          \
    } while (0)
    NEED(c->vocab_size > 0, "%s: vocab_size must be positive", where);
    NEED(c->n_embd > 0 && c->n_layer > 0 && c->n_head > 0, "%s: width, layers and heads must be positive", where);
    NEED(c->max_seq_len > 0, "%s: the maximum sequence length must be positive", where);
    NEED(c->n_inner > 0, "%s: the MLP width (n_inner / intermediate_size) must be positive", where);
    NEED(c->num_labels >= 0 && c->num_labels <= 1024, "%s: num_labels %lld: 0 (a causal LM) to 1024", where,
         (long long)c->num_labels);
    NEED(c->n_kv_head > 0 && c->n_head % c->n_kv_head == 0,
         "%s: num_attention_heads (%lld) must be a multiple of num_key_value_heads (%lld)", where,
         (long long)c->n_head, (long long)c->n_kv_head);
    NEED(c->head_dim > 0 && (c->arch == VKT_ARCH_LLAMA || c->head_dim * c->n_head == c->n_embd),
         "%s: n_embd (%lld) is not divisible by n_head (%lld)", where, (long long)c->n_embd, (long long)c->n_head);
    NEED(c->arch == VKT_ARCH_GPT2 || c->head_dim % 2 == 0, "%s: head_dim must be even for RoPE", where);
    NEED(c->head_dim <= 256, "%s: head_dim %lld is over the supported 256", where, (long long)c->head_dim);
    NEED(c->norm_eps > 0, "%s: the norm epsilon must be positive", where);
    NEED(c->arch == VKT_ARCH_GPT2 || c->rope_theta > 0, "%s: rope_theta must be positive", where);
    NEED(c->rope_scaling == VKT_ROPE_SCALING_NONE || c->rope_factor >= 1, "%s: rope_scaling.factor must be >= 1",
         where);
    NEED(c->rope_scaling != VKT_ROPE_SCALING_LLAMA3 ||
             (c->rope_low_freq_factor > 0 && c->rope_high_freq_factor > c->rope_low_freq_factor &&
              c->rope_orig_max_pos > 0),
         "%s: llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings "
         "> 0", where);
    /* Sizes multiply into parameter and activation counts held in int64: bound an upper estimate of
     * the parameter count in double first (1e15 is far beyond any model, and far below 2^63). */
    double C = (double)c->n_embd, F = (double)c->n_inner, q = (double)c->n_head * (double)c->head_dim,
           kv = (double)c->n_kv_head * (double)c->head_dim;
    double approx = (double)c->n_layer * (C * (2 * q + 2 * kv) + 3 * C * F + 4 * C + 3 * F + q + 2 * kv) +
                    2 * (double)c->vocab_size * C + (double)c->max_seq_len * C;
    NEED(approx < 1e15, "%s: the shape implies about %.3g parameters; check the sizes", where, approx);
#undef NEED
    return VKT_OK;
}

vkt_status vkt_model_config_load(const char *path, vkt_model_config *out) {
    cJSON *obj;
    VKT_TRY(vkt_json_read(path, &obj));
    vkt_status s = vkt_model_config_from_json(obj, path, false, out);
    cJSON_Delete(obj);
    return s;
}

cJSON *vkt_model_config_to_json(const vkt_model_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model_type", c->model_type);
    if (c->arch == VKT_ARCH_GPT2) {
        cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
        cJSON_AddItemToArray(arch, cJSON_CreateString(c->num_labels ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel"));
        cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab_size);
        cJSON_AddNumberToObject(o, "n_positions", (double)c->max_seq_len);
        cJSON_AddNumberToObject(o, "n_ctx", (double)c->max_seq_len);
        cJSON_AddNumberToObject(o, "n_embd", (double)c->n_embd);
        cJSON_AddNumberToObject(o, "n_layer", (double)c->n_layer);
        cJSON_AddNumberToObject(o, "n_head", (double)c->n_head);
        cJSON_AddNumberToObject(o, "n_inner", (double)c->n_inner);
        cJSON_AddStringToObject(o, "activation_function", "gelu_new");
        cJSON_AddNumberToObject(o, "layer_norm_epsilon", c->norm_eps);
    } else {
        cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
        bool qwen = strcmp(c->model_type, "qwen2") == 0, mistral = strcmp(c->model_type, "mistral") == 0;
        char name[64];
        snprintf(name, sizeof name, "%sFor%s", qwen ? "Qwen2" : mistral ? "Mistral" : "Llama",
                 c->num_labels ? "SequenceClassification" : "CausalLM");
        cJSON_AddItemToArray(arch, cJSON_CreateString(name));
        cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab_size);
        cJSON_AddNumberToObject(o, "max_position_embeddings", (double)c->max_seq_len);
        cJSON_AddNumberToObject(o, "hidden_size", (double)c->n_embd);
        cJSON_AddNumberToObject(o, "intermediate_size", (double)c->n_inner);
        cJSON_AddNumberToObject(o, "num_hidden_layers", (double)c->n_layer);
        cJSON_AddNumberToObject(o, "num_attention_heads", (double)c->n_head);
        cJSON_AddNumberToObject(o, "num_key_value_heads", (double)c->n_kv_head);
        cJSON_AddNumberToObject(o, "head_dim", (double)c->head_dim);
        cJSON_AddStringToObject(o, "hidden_act", "silu");
        cJSON_AddNumberToObject(o, "rms_norm_eps", c->norm_eps);
        cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
        if (c->rope_scaling != VKT_ROPE_SCALING_NONE) {
            bool l3 = c->rope_scaling == VKT_ROPE_SCALING_LLAMA3;
            cJSON *sc = cJSON_AddObjectToObject(o, "rope_scaling");
            cJSON_AddStringToObject(sc, "rope_type", l3 ? "llama3" : "linear");
            cJSON_AddNumberToObject(sc, "factor", c->rope_factor);
            if (l3) {
                cJSON_AddNumberToObject(sc, "low_freq_factor", c->rope_low_freq_factor);
                cJSON_AddNumberToObject(sc, "high_freq_factor", c->rope_high_freq_factor);
                cJSON_AddNumberToObject(sc, "original_max_position_embeddings", (double)c->rope_orig_max_pos);
            }
        }
        if (mistral && c->sliding_window > 0) cJSON_AddNumberToObject(o, "sliding_window", (double)c->sliding_window);
        if (!qwen) cJSON_AddBoolToObject(o, "attention_bias", c->qkv_bias);
        if (!qwen) cJSON_AddBoolToObject(o, "mlp_bias", c->mlp_bias);
    }
    cJSON_AddNumberToObject(o, "initializer_range", c->init_std);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_word_embeddings);
    /* Only ids the vocabulary has: a preset's GPT-2 ids (50256) on a 256-id byte model would make
     * transformers index past the embedding. */
    if (c->bos_token_id >= 0 && c->bos_token_id < c->vocab_size)
        cJSON_AddNumberToObject(o, "bos_token_id", (double)c->bos_token_id);
    if (c->eos_token_id >= 0 && c->eos_token_id < c->vocab_size)
        cJSON_AddNumberToObject(o, "eos_token_id", (double)c->eos_token_id);
    /* transformers makes id2label / label2id from num_labels (PretrainedConfig). */
    if (c->num_labels > 0) cJSON_AddNumberToObject(o, "num_labels", (double)c->num_labels);
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    return o;
}

int64_t vkt_model_config_n_params(const vkt_model_config *c) {
    int64_t C = c->n_embd, HS = c->head_dim, q = c->n_head * HS, kv = c->n_kv_head * HS, F = c->n_inner;
    int64_t per_layer;
    if (c->arch == VKT_ARCH_GPT2) {
        per_layer = 2 * 2 * C + C * 3 * C + 3 * C + C * C + C + C * F + F + F * C + C;
    } else {
        per_layer = 2 * C + C * (q + 2 * kv) + q * C + 3 * C * F;
        if (c->qkv_bias) per_layer += q + 2 * kv;
        if (c->o_bias) per_layer += C;
        if (c->mlp_bias) per_layer += 2 * F + C;
    }
    int64_t n = c->n_layer * per_layer + c->vocab_size * C + (c->arch == VKT_ARCH_GPT2 ? 2 * C : C);
    if (c->arch == VKT_ARCH_GPT2) n += c->max_seq_len * C;
    if (!c->tie_word_embeddings) n += c->vocab_size * C;
    return n + c->num_labels * C;
}
