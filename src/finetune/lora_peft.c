/* PEFT adapter folders (see lora_peft.h). */
#include "finetune/lora_peft.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/json_file.h"
#include "io/param_match.h"
#include "io/safetensors.h"

bool vkt_lora_is_peft_dir(const char *dir) {
    char path[1100];
    struct stat st;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    return stat(path, &st) == 0;
}

static vkt_status make_dir(const char *dir) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("%s: cannot create the adapter folder (%s)", dir, strerror(errno));
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

/* target_modules as PEFT saves it: the list given, or for "all-linear" the set of module-name tails PEFT
 * expands it to (q_proj, ...; c_attn, c_proj, c_fc), or the regex string. */
static cJSON *targets_json(const vkt_lora *l) {
    if (l->cfg.target_regex[0] && !l->cfg.all_linear) return cJSON_CreateString(l->cfg.target_regex);
    cJSON *arr = cJSON_CreateArray();
    if (!l->cfg.all_linear) {
        for (int k = 0; k < l->cfg.n_targets; k++) cJSON_AddItemToArray(arr, cJSON_CreateString(l->cfg.targets[k]));
        return arr;
    }
    for (int i = 0; i < l->n_mods; i++) {
        const char *tail = strrchr(l->mods[i].module, '.');
        tail = tail ? tail + 1 : l->mods[i].module;
        bool seen = false;
        for (int j = 0; j < cJSON_GetArraySize(arr); j++)
            seen |= !strcmp(cJSON_GetArrayItem(arr, j)->valuestring, tail);
        if (!seen) cJSON_AddItemToArray(arr, cJSON_CreateString(tail));
    }
    return arr;
}

/* modules_to_save as PEFT's LoraConfig keeps it: the names given (a SEQ_CLS adapter's "score" last, as
 * PeftModelForSequenceClassification extends the list), or null. */
static cJSON *modules_to_save_json(const vkt_lora_cfg *c) {
    if (!c->n_save && !c->score_head) return cJSON_CreateNull();
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < c->n_save; k++) cJSON_AddItemToArray(arr, cJSON_CreateString(c->modules_to_save[k]));
    if (c->score_head) cJSON_AddItemToArray(arr, cJSON_CreateString("score"));
    return arr;
}

static cJSON *config_json(const vkt_lora *l) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "auto_mapping");
    cJSON_AddStringToObject(o, "base_model_name_or_path", l->cfg.base_model);
    cJSON_AddStringToObject(o, "bias", "none");
    cJSON_AddBoolToObject(o, "fan_in_fan_out", l->model->cfg.arch == VKT_ARCH_GPT2);
    cJSON_AddBoolToObject(o, "inference_mode", true);
    if (l->cfg.init == VKT_LORA_INIT_GAUSSIAN)
        cJSON_AddStringToObject(o, "init_lora_weights", "gaussian");
    else
        cJSON_AddBoolToObject(o, "init_lora_weights", l->cfg.init == VKT_LORA_INIT_DEFAULT);
    cJSON_AddNullToObject(o, "layers_pattern");
    cJSON_AddNullToObject(o, "layers_to_transform");
    cJSON_AddNumberToObject(o, "lora_alpha", l->cfg.lora_alpha);
    cJSON_AddNumberToObject(o, "lora_dropout", l->cfg.lora_dropout);
    cJSON_AddItemToObject(o, "modules_to_save", modules_to_save_json(&l->cfg));
    cJSON_AddStringToObject(o, "peft_type", "LORA");
    cJSON_AddNumberToObject(o, "r", (double)l->cfg.r);
    cJSON_AddItemToObject(o, "rank_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "revision");
    cJSON_AddItemToObject(o, "target_modules", targets_json(l));
    cJSON_AddStringToObject(o, "task_type", l->cfg.score_head ? "SEQ_CLS" : "CAUSAL_LM");
    cJSON_AddBoolToObject(o, "use_dora", false);
    cJSON_AddBoolToObject(o, "use_rslora", l->cfg.use_rslora);
    return o;
}

vkt_status vkt_lora_save_peft(vkt_lora *l, const char *dir) {
    VKT_TRY(make_dir(dir));
    const vkt_param_table *t = &l->table;
    float *flat = malloc((size_t)t->total * sizeof *flat);
    vkt_st_write_tensor *ws = calloc((size_t)t->n, sizeof *ws);
    vkt_status s = flat && ws ? vkt_lora_download(l, flat) : VKT_ERR_OOM;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        for (int64_t k = 0; k < e->numel && s == VKT_OK; k++)
            if (!isfinite(flat[e->offset + k])) {
                vkt_log_error("adapter not written to %s: \"%s\" holds %s at element %lld (the run has diverged)", dir,
                              e->name, isnan(flat[e->offset + k]) ? "NaN" : "inf", (long long)k);
                s = VKT_ERR_NONFINITE;
            }
        ws[i] = (vkt_st_write_tensor){.name = e->name,
                                      .dtype = VKT_ST_F32,
                                      .ndim = 2,
                                      .shape = {e->rows, e->cols},
                                      .data = flat + e->offset,
                                      .from_f32 = true};
    }
    char path[1100];
    const char *meta[] = {"format", "pt"};
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    if (s == VKT_OK) s = vkt_st_write(path, ws, t->n, meta, 1);
    free(flat), free(ws);
    if (s != VKT_OK) return s;
    cJSON *conf = config_json(l);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    s = vkt_json_write(path, conf);
    cJSON_Delete(conf);
    return s;
}

/* A key that must be absent, null, false, "none" or empty for this engine to reproduce PEFT. */
static bool unset(const cJSON *v) {
    return !v || cJSON_IsNull(v) || cJSON_IsFalse(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "none")) ||
           ((cJSON_IsObject(v) || cJSON_IsArray(v)) && cJSON_GetArraySize(v) == 0);
}

/* modules_to_save: a sequence-classification head ("score"; PEFT's SEQ_CLS task adds "classifier" and "score",
 * and a model has at most one of them), which sets c->score_head, and the embeddings / LM head to train in full
 * (c->modules_to_save; resolved against the model by vkt_lora_create). */
static vkt_status parse_modules_to_save(const char *path, const cJSON *o, vkt_lora_cfg *c) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "modules_to_save"), *it;
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task_type");
    bool seq_cls = cJSON_IsString(task) && !strcmp(task->valuestring, "SEQ_CLS");
    c->score_head = seq_cls;
    if (unset(m)) return VKT_OK;
    if (!cJSON_IsArray(m)) {
        vkt_log_error("%s: \"modules_to_save\" must be a list of module names or null", path);
        return VKT_ERR_FORMAT;
    }
    cJSON_ArrayForEach(it, m) {
        if (!cJSON_IsString(it)) {
            vkt_log_error("%s: \"modules_to_save\" must hold strings (module names)", path);
            return VKT_ERR_FORMAT;
        }
        if (!strcmp(it->valuestring, "score") || (seq_cls && !strcmp(it->valuestring, "classifier"))) {
            c->score_head = true;
            continue;
        }
        VKT_TRY(vkt_lora_cfg_add_save(c, it->valuestring));
    }
    if (c->n_save && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ensure_weight_tying"))) {
        vkt_log_error("%s: \"ensure_weight_tying\" is true: this engine trains modules_to_save as PEFT's default does "
                      "(a tied LM head and embedding untie into separate copies); re-save the adapter without it",
                      path);
        return VKT_ERR_UNSUPPORTED;
    }
    return VKT_OK;
}

static vkt_status parse_config(const char *path, const cJSON *o, bool for_training, vkt_lora_cfg *c) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "peft_type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "LORA") != 0) {
        vkt_log_error("%s: peft_type is %s, not \"LORA\": only LoRA adapters are supported", path,
                      cJSON_IsString(type) ? type->valuestring : "missing");
        return VKT_ERR_UNSUPPORTED;
    }
    VKT_TRY(parse_modules_to_save(path, o, c));
    static const char *refused[] = {
        "layers_to_transform", "rank_pattern", "alpha_pattern", "use_dora", "bias",
        "megatron_config", "loftq_config"};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++)
        if (!unset(cJSON_GetObjectItemCaseSensitive(o, refused[k]))) {
            vkt_log_error("%s: \"%s\" is set; this engine supports plain LoRA adapters only (no layer subsets, "
                          "per-module ranks, DoRA or bias training)",
                          path, refused[k]);
            return VKT_ERR_UNSUPPORTED;
        }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "r"),
                *alpha = cJSON_GetObjectItemCaseSensitive(o, "lora_alpha");
    if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble)) {
        vkt_log_error("%s: \"r\" must be a whole number (the LoRA rank)", path);
        return VKT_ERR_FORMAT;
    }
    c->r = (int64_t)r->valuedouble;
    if (alpha && !cJSON_IsNumber(alpha)) {
        vkt_log_error("%s: \"lora_alpha\" must be a number", path);
        return VKT_ERR_FORMAT;
    }
    if (alpha) c->lora_alpha = alpha->valuedouble;
    c->use_rslora = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "use_rslora"));
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(o, "lora_dropout");
    c->lora_dropout = cJSON_IsNumber(drop) && for_training ? drop->valuedouble : 0;
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(o, "init_lora_weights");
    if (cJSON_IsString(init) && strcmp(init->valuestring, "gaussian") != 0) {
        vkt_log_error("%s: init_lora_weights \"%s\" is not supported (true, false or \"gaussian\")", path,
                      init->valuestring);
        return VKT_ERR_UNSUPPORTED;
    }
    c->init = cJSON_IsString(init)  ? VKT_LORA_INIT_GAUSSIAN
              : cJSON_IsFalse(init) ? VKT_LORA_INIT_NONE
                                    : VKT_LORA_INIT_DEFAULT;
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(o, "base_model_name_or_path");
    if (cJSON_IsString(base)) snprintf(c->base_model, sizeof c->base_model, "%s", base->valuestring);
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(o, "target_modules"), *it;
    if (cJSON_IsString(tm)) {
        if (!strcmp(tm->valuestring, "all-linear"))
            c->all_linear = true;
        else
            snprintf(c->target_regex, sizeof c->target_regex, "%s", tm->valuestring);
    } else if (cJSON_IsArray(tm)) {
        cJSON_ArrayForEach(it, tm) {
            if (!cJSON_IsString(it)) {
                vkt_log_error("%s: target_modules must hold strings", path);
                return VKT_ERR_FORMAT;
            }
            VKT_TRY(vkt_lora_cfg_add_target(c, it->valuestring));
        }
    } else {
        vkt_log_error("%s: target_modules must be a list of module names or a string", path);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

vkt_status vkt_lora_read_peft_config(const char *dir, bool for_training, vkt_lora_cfg *cfg) {
    char path[1100];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    *cfg = vkt_lora_cfg_default();
    cJSON *o;
    VKT_TRY(vkt_json_read(path, &o));
    vkt_status s = parse_config(path, o, for_training, cfg);
    cJSON_Delete(o);
    return s;
}

vkt_status vkt_lora_load_peft_weights(vkt_lora *l, const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    vkt_st_file f;
    VKT_TRY(vkt_st_open(path, &f));
    const vkt_param_table *t = &l->table;
    float *flat = calloc((size_t)t->total, sizeof *flat);
    vkt_status s = flat ? VKT_OK : VKT_ERR_OOM;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        const vkt_st_tensor *x = vkt_st_find(&f, e->name);
        if (!x) {
            vkt_log_error("%s: tensor \"%s\" (%lld x %lld) is missing: the adapter does not target this module of the "
                          "base model (adapter_config.json and the weights disagree, or another base model)",
                          path, e->name, (long long)e->rows, (long long)e->cols);
            s = VKT_ERR_FORMAT;
        } else if (x->ndim != 2 || x->shape[0] != e->rows || x->shape[1] != e->cols) {
            char got[96], why[64];
            bool copy = i >= 2 * l->n_mods; /* the score head or a modules_to_save copy: the base weight's shape */
            snprintf(why, sizeof why, copy ? "the base model's weight" : "r %lld and the base model's layer",
                     (long long)l->cfg.r);
            vkt_log_error("%s: tensor \"%s\" has shape %s, expected [%lld, %lld] (%s): is this adapter for another "
                          "base model?",
                          path, e->name, vkt_shape_str(x->ndim, x->shape, got, sizeof got), (long long)e->rows,
                          (long long)e->cols, why);
            s = VKT_ERR_FORMAT;
        } else {
            s = vkt_st_read_f32(&f, x, flat + e->offset, e->numel);
        }
    }
    for (int i = 0; i < f.n_tensors && s == VKT_OK; i++) {
        bool ours = false;
        for (int k = 0; k < t->n && !ours; k++) ours = !strcmp(t->p[k].name, f.tensors[i].name);
        if (!ours) {
            vkt_log_error("%s: unexpected tensor \"%s\": adapter_config.json's target_modules select no such module of "
                          "this base model (another base model, or an adapter kind this engine does not train)",
                          path, f.tensors[i].name);
            s = VKT_ERR_FORMAT;
        }
    }
    if (s == VKT_OK) s = vkt_lora_upload(l, flat);
    free(flat);
    vkt_st_close(&f);
    return s;
}

vkt_status vkt_lora_load_peft(vkt_model *m, const char *dir, bool for_training, vkt_lora **out) {
    vkt_lora_cfg cfg;
    VKT_TRY(vkt_lora_read_peft_config(dir, for_training, &cfg));
    VKT_TRY(vkt_lora_create(m, &cfg, out));
    vkt_status s = vkt_lora_load_peft_weights(*out, dir);
    if (s != VKT_OK) {
        vkt_lora_destroy(*out);
        *out = NULL;
    }
    return s;
}
