/* LoRA merge (see merge.h). */
#include "train/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "data/tok_save.h"
#include "data/tokenizer.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io/param_match.h"

/* The table entry of module M: its weight "M.weight" (GPT-2 hub names may omit "transformer."). */
static const vkt_param *module_weight(const vkt_param_table *t, const char *module) {
    char name[256];
    snprintf(name, sizeof name, "%s.weight", module);
    return vkt_param_for_file_name(t, name);
}

/* The weight a saved module replaces: its own entry, or for a tied model's lm_head the embedding it shares
 * (the copy unties it: see untie). */
static const vkt_param *saved_target(const vkt_host_model *m, const char *module) {
    if (!strcmp(module, "lm_head") && m->cfg.tie_word_embeddings) return vkt_params_get(&m->table, -1, VKT_ROLE_WTE);
    return module_weight(&m->table, module);
}

/* Gives a tied model its own lm_head.weight, a copy of the embedding, and tie_word_embeddings false: PEFT's
 * modules_to_save train a copy of the tied module alone, so the merged model has two tables. */
static vkt_status untie(vkt_host_model *m) {
    vkt_model_config c = m->cfg;
    c.tie_word_embeddings = false;
    vkt_param_table t;
    VKT_TRY(vkt_params_build(&c, 1, &t));
    float *flat = calloc((size_t)t.total, sizeof *flat);
    if (!flat) return vkt_params_free(&t), VKT_ERR_OOM;
    for (int i = 0; i < t.n; i++) {
        const vkt_param *e = &t.p[i];
        const vkt_param *src = e->role == VKT_ROLE_LM_HEAD ? vkt_params_get(&m->table, -1, VKT_ROLE_WTE)
                                                            : vkt_params_find(&m->table, e->name);
        VKT_ASSERT(src && src->numel == e->numel);
        memcpy(flat + e->offset, m->flat + src->offset, (size_t)e->numel * sizeof *flat);
    }
    vkt_params_free(&m->table);
    free(m->flat);
    m->cfg = c, m->table = t, m->flat = flat;
    return VKT_OK;
}

/* Checks the adapter's modules_to_save copies against m; sets *unties when one unties m's embeddings. */
static vkt_status check_saved(const vkt_host_model *m, const vkt_peft_adapter *a, const char *adapter, bool *unties) {
    *unties = false;
    for (int i = 0; i < a->n_saved; i++) {
        const vkt_peft_saved *sv = &a->saved[i];
        const vkt_param *e = saved_target(m, sv->module);
        if (!e || e->rows == 1) {
            vkt_log_error("%s: adapter key \"base_model.model.%s.weight\" (modules_to_save): the base model has no "
                          "module \"%s\" to replace; was the adapter trained on another model?",
                          adapter, sv->module, sv->module);
            return VKT_ERR_FORMAT;
        }
        if (e->rows != sv->rows || e->cols != sv->cols) {
            vkt_log_error("%s: saved module \"%s\" is [%lld, %lld] but the base weight \"%s\" is [%lld, %lld]", adapter,
                          sv->module, (long long)sv->rows, (long long)sv->cols, e->name, (long long)e->rows,
                          (long long)e->cols);
            return VKT_ERR_FORMAT;
        }
        *unties |= m->cfg.tie_word_embeddings && (e->role == VKT_ROLE_WTE || !strcmp(sv->module, "lm_head"));
    }
    return VKT_OK;
}

vkt_status vkt_merge_lora(vkt_host_model *m, const vkt_peft_adapter *a, const char *adapter) {
    bool unties;
    VKT_TRY(check_saved(m, a, adapter, &unties));
    for (int i = 0; i < a->n_mods; i++) { /* all checks first: a failed merge changes nothing */
        const vkt_peft_module *md = &a->mods[i];
        const vkt_param *e = module_weight(&m->table, md->module);
        if (!e || e->rows == 1) {
            vkt_log_error("%s: adapter key \"base_model.model.%s.lora_A.weight\": the base model has no module "
                          "\"%s\" (no weight \"%s.weight\"); was the adapter trained on another model?",
                          adapter, md->module, md->module, md->module);
            return VKT_ERR_FORMAT;
        }
        if (e->rows != md->out || e->cols != md->in) {
            vkt_log_error("%s: module \"%s\": lora_B [%lld, %lld] x lora_A [%lld, %lld] gives a [%lld, %lld] "
                          "update, but the base weight \"%s\" is [%lld, %lld] (out, in)",
                          adapter, md->module, (long long)md->out, (long long)md->r, (long long)md->r,
                          (long long)md->in, (long long)md->out, (long long)md->in, e->name, (long long)e->rows,
                          (long long)e->cols);
            return VKT_ERR_FORMAT;
        }
        if (e->hf_transposed != a->fan_in_fan_out)
            vkt_log_warn("%s: fan_in_fan_out is %s but \"%s\" is a %s module; merged as PEFT does (the module type "
                         "decides)",
                         adapter, a->fan_in_fan_out ? "true" : "false", md->module,
                         e->hf_transposed ? "Conv1D" : "Linear");
    }
    for (int i = 0; i < a->n_mods; i++) {
        const vkt_peft_module *md = &a->mods[i];
        const vkt_param *e = module_weight(&m->table, md->module);
        float *w = m->flat + e->offset;
        for (int64_t o = 0; o < md->out; o++)
            for (int64_t c = 0; c < md->in; c++) {
                double acc = 0;
                for (int64_t k = 0; k < md->r; k++) acc += (double)md->B[o * md->r + k] * (double)md->A[k * md->in + c];
                w[o * md->in + c] = (float)((double)w[o * md->in + c] + md->scale * acc);
            }
        vkt_log_info("merged %s (r %lld, scale %g) into %s", md->module, (long long)md->r, md->scale, e->name);
    }
    if (unties) {
        VKT_TRY(untie(m));
        vkt_log_info("%s: modules_to_save untie the embeddings (PEFT trains a copy of the tied module): the merged "
                     "model has lm_head.weight and tie_word_embeddings false",
                     adapter);
    }
    for (int i = 0; i < a->n_saved; i++) {
        const vkt_peft_saved *sv = &a->saved[i];
        const vkt_param *e = saved_target(m, sv->module);
        memcpy(m->flat + e->offset, sv->w, (size_t)(sv->rows * sv->cols) * sizeof *sv->w);
        vkt_log_info("replaced %s by the adapter's trained copy (modules_to_save)", e->name);
    }
    return VKT_OK;
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Tokenizer files a Hugging Face model folder may hold; copied as they are. */
static const char *const hf_tokenizer_files[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
    "merges.txt",     "generation_config.json"};

static vkt_status write_tokenizer(const vkt_host_model *m, const char *model, const char *out_dir,
                                  const char *spec_opt) {
    char path[1200], to[1200], found[1024] = "";
    struct stat st;
    if (!spec_opt && stat(model, &st) == 0 && S_ISDIR(st.st_mode)) {
        int copied = 0;
        for (size_t i = 0; i < sizeof hf_tokenizer_files / sizeof *hf_tokenizer_files; i++) {
            snprintf(path, sizeof path, "%s/%s", model, hf_tokenizer_files[i]);
            if (stat(path, &st) != 0) continue;
            snprintf(to, sizeof to, "%s/%s", out_dir, hf_tokenizer_files[i]);
            VKT_TRY(vkt_file_copy(path, to));
            copied++;
        }
        if (copied) return VKT_OK;
    }
    vkt_import_tokenizer_spec(model, found, sizeof found);
    const char *spec = spec_opt ? spec_opt : found[0] ? found : NULL;
    if (!spec) {
        vkt_log_error("%s names no tokenizer and none lies beside it: give one with --tokenizer (a tokenizer.json, "
                      "a llama2.c tok*.bin or a GPT-2 folder) so the merged folder is complete",
                      model);
        return VKT_ERR_ARG;
    }
    if (strcmp(spec, "bytes") == 0) {
        vkt_log_warn("%s: vktrain's byte tokenizer has no Hugging Face file; the merged folder holds none", model);
        return VKT_OK;
    }
    snprintf(to, sizeof to, "%s/tokenizer.json", out_dir);
    if (has_suffix(spec, "tokenizer.json")) return vkt_file_copy(spec, to);
    vkt_tokenizer *tok = NULL;
    vkt_status s = vkt_tok_load_for_model(spec, m->cfg.vocab_size, model, &tok);
    if (s == VKT_OK) s = vkt_tok_save_hf(tok, to);
    vkt_tok_free(tok);
    return s;
}

vkt_status vkt_merge_to_hf(const char *model, const char *adapter_dir, const char *out_dir,
                           const vkt_merge_opts *opts) {
    vkt_host_model m = {0};
    vkt_peft_adapter a = {0};
    vkt_st_dtype dtype = VKT_ST_F32;
    if (opts->dtype && !vkt_host_dtype_parse(opts->dtype, &dtype)) {
        vkt_log_error("--dtype %s: expected f32, f16 or bf16", opts->dtype);
        return VKT_ERR_ARG;
    }
    VKT_TRY(vkt_host_model_load(model, &m));
    vkt_status s = vkt_peft_read(adapter_dir, &a);
    if (s == VKT_OK) s = vkt_merge_lora(&m, &a, adapter_dir);
    if (s == VKT_OK) s = vkt_host_model_save_hf(&m, out_dir, opts->dtype ? dtype : m.dtype);
    if (s == VKT_OK) s = write_tokenizer(&m, model, out_dir, opts->tokenizer);
    vkt_peft_free(&a);
    vkt_host_model_free(&m);
    return s;
}

vkt_status vkt_merge_load_model(vkt_device *dev, const char *model, const char *adapter_dir, int64_t B, int64_t T,
                                vkt_model **out) {
    *out = NULL;
    vkt_host_model hm = {0};
    vkt_peft_adapter a = {0};
    VKT_TRY(vkt_host_model_load(model, &hm));
    vkt_status s = vkt_peft_read(adapter_dir, &a);
    if (s == VKT_OK) s = vkt_merge_lora(&hm, &a, adapter_dir);
    if (s == VKT_OK) s = vkt_model_create(dev, &hm.cfg, B, T <= 0 || T > hm.cfg.max_seq_len ? hm.cfg.max_seq_len : T,
                                          false, out);
    float *flat = s == VKT_OK ? calloc((size_t)(*out)->table.total, sizeof *flat) : NULL;
    if (s == VKT_OK && !flat) s = VKT_ERR_OOM;
    for (int i = 0; s == VKT_OK && i < (*out)->table.n; i++) { /* the host table is unpadded, the device's aligned */
        const vkt_param *e = &(*out)->table.p[i], *h = vkt_params_find(&hm.table, e->name);
        VKT_ASSERT(h && h->numel == e->numel);
        memcpy(flat + e->offset, hm.flat + h->offset, (size_t)e->numel * sizeof *flat);
    }
    if (s == VKT_OK) s = vkt_model_upload_params(*out, flat);
    free(flat);
    if (s != VKT_OK) {
        vkt_model_destroy(*out);
        *out = NULL;
    }
    vkt_peft_free(&a);
    vkt_host_model_free(&hm);
    return s;
}
