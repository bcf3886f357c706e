/* Run configuration: a key table maps "section.key" to a typed field, so JSON files and command-line
 * overrides share one parser and one set of error messages. */
#include "io/run_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/json_file.h"

typedef enum { T_INT, T_UINT64, T_FLOAT, T_BOOL, T_STRING, T_OBJECTIVE, T_JSON, T_ENUM } field_type;

typedef struct {
    const char *section, *key;
    field_type type;
    size_t offset, size; /* size: string capacity */
    double min, max;     /* numeric range, inclusive */
} field;

#define R(f) offsetof(vkt_run_config, f)
#define S(f) offsetof(vkt_run_config, f), sizeof(((vkt_run_config *)0)->f)
static const field fields[] = {
    {"model", "from", T_STRING, S(model_from), 0, 0},
    {"model", "path", T_STRING, S(model_from), 0, 0},
    {"model", "preset", T_STRING, S(model_preset), 0, 0},
    {"tokenizer", "type", T_STRING, S(tokenizer_type), 0, 0},
    {"tokenizer", "path", T_STRING, S(tokenizer_path), 0, 0},
    {"data", "train", T_STRING, S(data_train), 0, 0},
    {"data", "val", T_STRING, S(data_val), 0, 0},
    {"data", "val_fraction", T_FLOAT, R(val_fraction), 0, 0, 0.9},
    {"data", "shuffle", T_BOOL, R(shuffle), 0, 0, 0},
    {"data", "objective", T_OBJECTIVE, R(objective), 0, 0, 0},
    {"data", "mask_prob", T_FLOAT, R(mask_prob), 0, 0, 1},
    {"data", "fim_rate", T_FLOAT, R(fim_rate), 0, 0, 1},
    {"data", "format", T_STRING, S(data_format), 0, 0},
    {"data", "chat_template", T_STRING, S(chat_template), 0, 0},
    {"data", "loss_on", T_STRING, S(loss_on), 0, 0},
    {"data", "packing", T_BOOL, R(packing), 0, 0, 0},
    {"data", "truncation", T_STRING, S(truncation), 0, 0},
    {"data", "bad_records", T_STRING, S(bad_records), 0, 0},
    {"data", "parse_special", T_BOOL, R(parse_special), 0, 0, 0},
    {"data", "retrieve", T_STRING, S(retrieve), 0, 0},
    {"data", "retrieve_k", T_INT, R(retrieve_k), 0, 1, 64},
    {"data", "retrieve_p_no_gold", T_FLOAT, R(retrieve_p_no_gold), 0, 0, 1},
    {"data", "retrieve_into", T_STRING, S(retrieve_into), 0, 0},
    {"data", "retrieve_hard", T_BOOL, R(retrieve_hard), 0, 0, 0},
    {"data", "max_prompt_tokens", T_INT, R(max_prompt_tokens), 0, 0, 1 << 20},
    {"data", "max_completion_tokens", T_INT, R(max_completion_tokens), 0, 0, 1 << 20},
    {"optim", "batch_size", T_INT, R(batch_size), 0, 1, 1 << 20},
    {"optim", "seq_len", T_INT, R(seq_len), 0, 1, 1 << 20},
    {"optim", "grad_accum", T_INT, R(grad_accum), 0, 1, 1 << 16},
    {"optim", "steps", T_INT, R(steps), 0, 0, 1e12},
    {"optim", "warmup_steps", T_INT, R(warmup_steps), 0, 0, 1e12},
    {"optim", "lr", T_FLOAT, R(lr), 0, 0, 10},
    {"optim", "lr_min", T_FLOAT, R(lr_min), 0, 0, 10},
    {"optim", "weight_decay", T_FLOAT, R(weight_decay), 0, 0, 10},
    {"optim", "beta1", T_FLOAT, R(beta1), 0, 0, 0.999999},
    {"optim", "beta2", T_FLOAT, R(beta2), 0, 0, 0.999999},
    {"optim", "eps", T_FLOAT, R(eps), 0, 1e-30, 1},
    {"optim", "grad_clip", T_FLOAT, R(grad_clip), 0, 0, 1e30},
    {"optim", "seed", T_UINT64, R(seed), 0, 0, 1.8e19},
    {"optim", "recompute", T_BOOL, R(recompute), 0, 0, 0},
    {"optim", "zero_stage", T_INT, R(zero_stage), 0, 0, 1},
    {"optim", "bucket_mb", T_FLOAT, R(bucket_mb), 0, 0, 1 << 20},
    {"optim", "deterministic_reduce", T_BOOL, R(deterministic_reduce), 0, 0, 0},
    {"optim", "max_bad_steps", T_INT, R(max_bad_steps), 0, 1, 1e9},
    {"optim", "precision", T_ENUM, R(precision), 0, 0, 0},
    {"optim", "loss_scale_init", T_FLOAT, R(loss_scale_init), 0, 1, 1099511627776.0},
    {"optim", "loss_scale_growth_interval", T_INT, R(loss_scale_growth_interval), 0, 1, 1e9},
    {"optim", "loss_scale_factor", T_FLOAT, R(loss_scale_factor), 0, 1.0001, 1024},
    {"eval", "interval", T_INT, R(eval_interval), 0, 0, 1e12},
    {"eval", "steps", T_INT, R(eval_steps), 0, 0, 1e12},
    {"eval", "generations", T_INT, R(eval_generations), 0, 0, 1000},
    {"eval", "gen_tokens", T_INT, R(eval_gen_tokens), 0, 1, 1e6},
    {"log", "interval", T_INT, R(log_interval), 0, 1, 1e12},
    {"output", "dir", T_STRING, S(out_dir), 0, 0},
    {"output", "checkpoint_interval", T_INT, R(checkpoint_interval), 0, 0, 1e12},
    {"output", "keep", T_INT, R(keep), 0, 1, 1000},
    {"sample", "tokens", T_INT, R(sample_tokens), 0, 0, 1e9},
    {"sample", "temperature", T_FLOAT, R(temperature), 0, 0, 100},
    {"sample", "top_k", T_INT, R(top_k), 0, 0, 1e9},
    {"sample", "top_p", T_FLOAT, R(top_p), 0, 0, 1},
    {"sample", "prompt", T_STRING, S(sample_prompt), 0, 0},
    {"finetune", "method", T_STRING, S(ft_method), 0, 0},
    {"finetune", "r", T_INT, R(ft_r), 0, 0, 1 << 20},
    {"finetune", "lora_alpha", T_FLOAT, R(ft_lora_alpha), 0, -1e9, 1e9},
    {"finetune", "use_rslora", T_BOOL, R(ft_use_rslora), 0, 0, 0},
    {"finetune", "lora_dropout", T_FLOAT, R(ft_lora_dropout), 0, 0, 1},
    {"finetune", "target_modules", T_JSON, S(ft_target_modules), 0, 0},
    {"finetune", "modules_to_save", T_JSON, S(ft_modules_to_save), 0, 0},
    {"finetune", "init_lora_weights", T_JSON, S(ft_init), 0, 0},
    {"finetune", "freeze_embeddings", T_BOOL, R(ft_freeze_embeddings), 0, 0, 0},
    {"finetune", "freeze_layers", T_INT, R(ft_freeze_layers), 0, 0, 1e6},
    {"finetune", "base_format", T_STRING, S(ft_base_format), 0, 0},
    {"finetune", "objective", T_ENUM, R(ft_objective), 0, 0, 0},
    {"finetune", "beta", T_FLOAT, R(ft_beta), 0, 0, 1e6},
    {"finetune", "label_smoothing", T_FLOAT, R(ft_label_smoothing), 0, 0, 0.5},
    {"finetune", "loss_type", T_ENUM, R(ft_loss_type), 0, 0, 0},
    {"finetune", "precompute_ref_log_probs", T_BOOL, R(ft_precompute_ref_log_probs), 0, 0, 0},
    {"finetune", "num_generations", T_INT, R(ft_num_generations), 0, 1, 1 << 16},
    {"finetune", "prompts_per_step", T_INT, R(ft_prompts_per_step), 0, 0, 1 << 20},
    {"finetune", "max_prompt_length", T_INT, R(ft_max_prompt_length), 0, 0, 1 << 20},
    {"finetune", "max_completion_length", T_INT, R(ft_max_completion_length), 0, 1, 1 << 20},
    {"finetune", "temperature", T_FLOAT, R(ft_temperature), 0, 0, 100},
    {"finetune", "top_p", T_FLOAT, R(ft_top_p), 0, 0, 1},
    {"finetune", "top_k", T_INT, R(ft_top_k), 0, 0, 1e9},
    {"finetune", "epsilon", T_FLOAT, R(ft_epsilon), 0, 0, 0.999},
    {"finetune", "epsilon_high", T_FLOAT, R(ft_epsilon_high), 0, 0, 1e6},
    {"finetune", "scale_rewards", T_ENUM, R(ft_scale_rewards), 0, 0, 0},
    {"finetune", "rewards", T_JSON, S(ft_rewards), 0, 0},
    {"finetune", "answer_key", T_STRING, S(ft_answer_key), 0, 0},
    {"finetune", "eval_temperature", T_FLOAT, R(ft_eval_temperature), 0, 0, 100},
    {"finetune", "center_rewards_coefficient", T_FLOAT, R(ft_center_rewards_coef), 0, 0, 1e6},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

/* The names of a T_ENUM field's values (stored as the int index), NULL-terminated, in the order of their C
 * enums (run_config.h). */
static const char *const objective[] = {"sft", "dpo", "ipo", "orpo", "grpo", "reward", NULL};
static const char *const precision[] = {"f32", "bf16", "f16", NULL}; /* vkt_precision */

const char *vkt_run_config_ft_objective_name(const vkt_run_config *c) { return objective[c->ft_objective]; }

static const char *const *enum_names(const field *f) {
    static const char *const loss_type[] = {"sigmoid", "robust", "dapo", "grpo", "bnpo", "dr_grpo", NULL};
    static const char *const scale[] = {"group", "batch", "none", NULL};
    if (f->offset == offsetof(vkt_run_config, ft_scale_rewards)) return scale;
    if (f->offset == offsetof(vkt_run_config, precision)) return precision;
    return f->offset == offsetof(vkt_run_config, ft_objective) ? objective : loss_type;
}

void vkt_run_config_defaults(vkt_run_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model_preset, sizeof c->model_preset, "gpt2-tiny");
    snprintf(c->tokenizer_type, sizeof c->tokenizer_type, "byte");
    c->val_fraction = 0.1;
    c->shuffle = true;
    c->mask_prob = 0.15;
    c->fim_rate = 0.5;
    snprintf(c->data_format, sizeof c->data_format, "auto");
    snprintf(c->loss_on, sizeof c->loss_on, "assistant");
    c->packing = true;
    snprintf(c->truncation, sizeof c->truncation, "right");
    snprintf(c->bad_records, sizeof c->bad_records, "fail");
    c->retrieve_k = 3, c->retrieve_p_no_gold = 0.2;
    snprintf(c->retrieve_into, sizeof c->retrieve_into, "user");
    c->eval_generations = 3, c->eval_gen_tokens = 64;
    c->batch_size = 12, c->seq_len = 64, c->grad_accum = 1, c->steps = 2000, c->warmup_steps = 100;
    c->lr = 1e-3, c->lr_min = 1e-4, c->weight_decay = 0.1, c->beta1 = 0.9, c->beta2 = 0.99, c->eps = 1e-8;
    c->grad_clip = 1.0;
    c->max_bad_steps = 20;
    c->bucket_mb = 25; /* PyTorch DDP's bucket_cap_mb */
    c->seed = 1337;
    c->eval_interval = 250, c->eval_steps = 20, c->log_interval = 10;
    snprintf(c->out_dir, sizeof c->out_dir, "runs/default");
    c->checkpoint_interval = 500, c->keep = 3;
    c->sample_tokens = 200, c->temperature = 0.8, c->top_k = 40, c->top_p = 1.0;
    c->ft_r = 8, c->ft_lora_alpha = 8; /* PEFT's LoraConfig defaults */
    c->ft_beta = -1;                   /* the objective's default (vkt_run_config_ft_beta) */
    c->ft_loss_type = VKT_FT_LOSS_DEFAULT;
    snprintf(c->ft_init, sizeof c->ft_init, "true");
    c->ft_num_generations = 8, c->ft_max_completion_length = 256; /* TRL's GRPOConfig */
    c->ft_temperature = 1, c->ft_top_p = 1, c->ft_epsilon = 0.2, c->ft_epsilon_high = -1;
    snprintf(c->ft_answer_key, sizeof c->ft_answer_key, "answer");
    c->precision = VKT_PRECISION_F32;
    c->loss_scale_init = 65536, c->loss_scale_growth_interval = 2000, c->loss_scale_factor = 2; /* GradScaler's */
}

vkt_dtype vkt_run_config_precision(const vkt_run_config *c) {
    static const vkt_dtype dt[] = {VKT_DTYPE_F32, VKT_DTYPE_BF16, VKT_DTYPE_F16};
    return dt[c->precision];
}

const char *vkt_run_config_precision_name(const vkt_run_config *c) { return precision[c->precision]; }

double vkt_run_config_ft_beta(const vkt_run_config *c) {
    if (c->ft_beta >= 0) return c->ft_beta;
    return c->ft_objective == VKT_FT_GRPO ? 0.0 : 0.1; /* TRL's GRPOConfig.beta; DPOConfig and ORPOConfig.beta */
}

int vkt_run_config_ft_loss_type(const vkt_run_config *c) {
    if (c->ft_loss_type != VKT_FT_LOSS_DEFAULT) return c->ft_loss_type;
    return c->ft_objective == VKT_FT_GRPO ? VKT_FT_LOSS_DAPO : VKT_FT_LOSS_SIGMOID;
}

void vkt_run_config_free(vkt_run_config *c) {
    cJSON_Delete(c->model_keys);
    c->model_keys = NULL;
}

static const field *find_field(const char *section, const char *key) {
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(fields[i].section, section) == 0 && strcmp(fields[i].key, key) == 0) return &fields[i];
    return NULL;
}

static bool section_known(const char *section) {
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(fields[i].section, section) == 0) return true;
    return false;
}

static vkt_status set_field(vkt_run_config *c, const field *f, const cJSON *v, const char *where) {
    char *dst = (char *)c + f->offset;
    switch (f->type) {
    case T_STRING:
        if (!cJSON_IsString(v)) break;
        if (strlen(v->valuestring) >= f->size) {
            vkt_log_error("%s: %s.%s is longer than %zu characters", where, f->section, f->key, f->size - 1);
            return VKT_ERR_FORMAT;
        }
        snprintf(dst, f->size, "%s", v->valuestring);
        return VKT_OK;
    case T_BOOL:
        if (!cJSON_IsBool(v)) break;
        *(bool *)dst = cJSON_IsTrue(v);
        return VKT_OK;
    case T_JSON: {
        /* Kept as JSON text; an override's '["q_proj","v_proj"]' arrives as a string holding JSON. */
        cJSON *parsed = cJSON_IsString(v) ? cJSON_Parse(v->valuestring) : NULL;
        const cJSON *use =
            parsed && (cJSON_IsArray(parsed) || cJSON_IsObject(parsed) || cJSON_IsBool(parsed)) ? parsed : v;
        char *text = cJSON_PrintUnformatted(use);
        cJSON_Delete(parsed);
        if (!text || strlen(text) >= f->size) {
            vkt_log_error("%s: %s.%s is longer than %zu characters", where, f->section, f->key, f->size - 1);
            free(text);
            return VKT_ERR_FORMAT;
        }
        snprintf(dst, f->size, "%s", text);
        free(text);
        return VKT_OK;
    }
    case T_ENUM: {
        if (!cJSON_IsString(v)) break;
        char list[256] = "";
        const char *const *names = enum_names(f);
        for (int i = 0; names[i]; i++) {
            if (strcmp(v->valuestring, names[i]) == 0) return *(int *)dst = i, VKT_OK;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        }
        vkt_log_error("%s: %s.%s \"%s\" is not one of %s", where, f->section, f->key, v->valuestring, list);
        return VKT_ERR_FORMAT;
    }
    case T_OBJECTIVE:
        if (!cJSON_IsString(v)) break;
        if (strcmp(v->valuestring, "clm") == 0)
            *(vkt_objective *)dst = VKT_OBJ_CLM;
        else if (strcmp(v->valuestring, "mlm") == 0)
            *(vkt_objective *)dst = VKT_OBJ_MLM;
        else if (strcmp(v->valuestring, "fim") == 0)
            *(vkt_objective *)dst = VKT_OBJ_FIM;
        else {
            vkt_log_error("%s: data.objective \"%s\" is not one of clm (next token), mlm (masked tokens), "
                          "fim (fill in the middle)",
                          where, v->valuestring);
            return VKT_ERR_FORMAT;
        }
        return VKT_OK;
    case T_INT:
    case T_UINT64:
    case T_FLOAT: {
        if (!cJSON_IsNumber(v)) break;
        double x = v->valuedouble;
        if (f->type != T_FLOAT && x != floor(x)) {
            vkt_log_error("%s: %s.%s must be an integer, got %g", where, f->section, f->key, x);
            return VKT_ERR_FORMAT;
        }
        if (x < f->min || x > f->max) {
            vkt_log_error("%s: %s.%s = %g is outside [%g, %g]", where, f->section, f->key, x, f->min, f->max);
            return VKT_ERR_FORMAT;
        }
        if (f->type == T_INT)
            *(int64_t *)dst = (int64_t)x;
        else if (f->type == T_UINT64)
            *(uint64_t *)dst = (uint64_t)x;
        else
            *(double *)dst = x;
        return VKT_OK;
    }
    }
    static const char *type_names[] = {"an integer", "an integer", "a number", "true or false",
                                       "a string",   "a string",   "JSON",     "a string"};
    vkt_log_error("%s: %s.%s must be %s", where, f->section, f->key, type_names[f->type]);
    return VKT_ERR_FORMAT;
}

/* A model key that is not a vktrain field ("from", "preset") is a Hugging Face config key, checked when
 * the model is resolved. */
static vkt_status set_model_key(vkt_run_config *c, const char *key, const cJSON *v) {
    if (!c->model_keys) c->model_keys = cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(c->model_keys, key);
    cJSON_AddItemToObject(c->model_keys, key, cJSON_Duplicate(v, true));
    return VKT_OK;
}

vkt_status vkt_run_config_apply(vkt_run_config *c, const cJSON *root, const char *where) {
    if (!cJSON_IsObject(root)) {
        vkt_log_error("%s: the top level must be a JSON object of sections", where);
        return VKT_ERR_FORMAT;
    }
    for (const cJSON *sec = root->child; sec; sec = sec->next) {
        if (!section_known(sec->string)) {
            vkt_log_error(
                "%s: unknown section \"%s\" (sections: model tokenizer data optim eval log output sample finetune)",
                where, sec->string);
            return VKT_ERR_FORMAT;
        }
        if (!cJSON_IsObject(sec)) {
            vkt_log_error("%s: section \"%s\" must be an object", where, sec->string);
            return VKT_ERR_FORMAT;
        }
        for (const cJSON *item = sec->child; item; item = item->next) {
            const field *f = find_field(sec->string, item->string);
            if (f)
                VKT_TRY(set_field(c, f, item, where));
            else if (strcmp(sec->string, "model") == 0)
                VKT_TRY(set_model_key(c, item->string, item));
            else {
                vkt_log_error("%s: unknown key \"%s.%s\" (check the spelling)", where, sec->string, item->string);
                return VKT_ERR_FORMAT;
            }
        }
    }
    return VKT_OK;
}

vkt_status vkt_run_config_load(const char *path, vkt_run_config *c) {
    cJSON *root;
    VKT_TRY(vkt_json_read(path, &root));
    vkt_status s = vkt_run_config_apply(c, root, path);
    cJSON_Delete(root);
    return s;
}

vkt_status vkt_run_config_set(vkt_run_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '='), *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq) {
        vkt_log_error("override \"%s\": expected section.key=value (e.g. optim.lr=3e-4)", assignment);
        return VKT_ERR_ARG;
    }
    char section[64], key[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - assignment), assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    const char *value = eq + 1;
    /* Numbers, true/false and null are JSON; anything else is taken as a string. */
    cJSON *v = cJSON_Parse(value);
    if (!v || cJSON_IsObject(v) || cJSON_IsArray(v)) {
        cJSON_Delete(v);
        v = cJSON_CreateString(value);
    }
    cJSON *root = cJSON_CreateObject(), *sec = cJSON_AddObjectToObject(root, section);
    cJSON_AddItemToObject(sec, key, v);
    vkt_status s = vkt_run_config_apply(c, root, "command line");
    cJSON_Delete(root);
    return s;
}

vkt_status vkt_run_config_validate(vkt_run_config *c) {
    const char *where = "config";
    if (c->precision != VKT_PRECISION_F16 &&
        (c->loss_scale_init != 65536 || c->loss_scale_growth_interval != 2000 || c->loss_scale_factor != 2)) {
        vkt_log_error("%s: optim.loss_scale_init, loss_scale_growth_interval and loss_scale_factor apply to "
                      "optim.precision f16 only (f32 and bf16 need no loss scaling); this run's precision is %s",
                      where, precision[c->precision]);
        return VKT_ERR_FORMAT;
    }
    if (!c->model_from[0]) {
        const vkt_model_config *preset = vkt_model_preset(c->model_preset);
        if (!preset) {
            vkt_log_error("%s: model.preset \"%s\" is unknown (gpt2, gpt2-medium, gpt2-tiny, llama-tiny, "
                          "smollm-135m), or give model.from",
                          where, c->model_preset);
            return VKT_ERR_FORMAT;
        }
        cJSON *merged = vkt_model_config_to_json(preset);
        for (const cJSON *k = c->model_keys ? c->model_keys->child : NULL; k; k = k->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(merged, k->string);
            cJSON_AddItemToObject(merged, k->string, cJSON_Duplicate(k, true));
        }
        /* Derived sizes follow the overridden ones unless given explicitly. */
        if (c->model_keys && !cJSON_GetObjectItemCaseSensitive(c->model_keys, "head_dim"))
            cJSON_DeleteItemFromObjectCaseSensitive(merged, "head_dim");
        if (preset->arch == VKT_ARCH_GPT2 && c->model_keys &&
            !cJSON_GetObjectItemCaseSensitive(c->model_keys, "n_inner"))
            cJSON_DeleteItemFromObjectCaseSensitive(merged, "n_inner");
        vkt_status s = vkt_model_config_from_json(merged, "config model section", true, &c->model);
        cJSON_Delete(merged);
        VKT_TRY(s);
    }
    if (c->lr_min > c->lr) {
        vkt_log_error("%s: optim.lr_min (%g) is above optim.lr (%g)", where, c->lr_min, c->lr);
        return VKT_ERR_FORMAT;
    }
    if (!c->model_from[0] && c->seq_len > c->model.max_seq_len) {
        vkt_log_error("%s: optim.seq_len (%lld) is over the model's maximum (%lld); raise model.n_positions / "
                      "max_position_embeddings or lower seq_len",
                      where, (long long)c->seq_len, (long long)c->model.max_seq_len);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

vkt_status vkt_run_config_check_precision(const vkt_run_config *c) {
    if (c->precision == VKT_PRECISION_F32 || c->ft_objective != VKT_FT_REWARD) return VKT_OK;
    vkt_log_error("optim.precision %s with finetune.objective reward: the score head does not run on 16-bit "
                  "activations yet (mixed precision covers pre-training and the objectives sft, dpo, ipo, orpo and "
                  "grpo); use optim.precision f32",
                  precision[c->precision]);
    return VKT_ERR_ARG;
}

void vkt_run_config_print(const vkt_run_config *c) {
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const char *p = (const char *)c + f->offset;
        if (!c->ft_method[0] && strcmp(f->section, "finetune") == 0) continue;
        if (strcmp(f->section, "model") == 0 && strcmp(f->key, "path") == 0) continue; /* = model.from */
        char value[600];
        switch (f->type) {
        case T_STRING: snprintf(value, sizeof value, "\"%s\"", p); break;
        case T_JSON: snprintf(value, sizeof value, "%s", *p ? p : "null"); break;
        case T_BOOL: snprintf(value, sizeof value, "%s", *(const bool *)p ? "true" : "false"); break;
        case T_INT: snprintf(value, sizeof value, "%lld", (long long)*(const int64_t *)p); break;
        case T_UINT64: snprintf(value, sizeof value, "%llu", (unsigned long long)*(const uint64_t *)p); break;
        case T_FLOAT:
            snprintf(value, sizeof value, "%g",
                     f->offset == offsetof(vkt_run_config, ft_beta) ? vkt_run_config_ft_beta(c) : *(const double *)p);
            break;
        case T_ENUM: {
            int v =
                f->offset == offsetof(vkt_run_config, ft_loss_type) ? vkt_run_config_ft_loss_type(c) : *(const int *)p;
            snprintf(value, sizeof value, "\"%s\"", enum_names(f)[v]);
            break;
        }
        case T_OBJECTIVE: {
            static const char *names[] = {"clm", "mlm", "fim"};
            snprintf(value, sizeof value, "\"%s\"", names[*(const vkt_objective *)p]);
            break;
        }
        }
        vkt_log_info("  %s.%s = %s", f->section, f->key, value);
    }
}
