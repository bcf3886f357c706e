/* PEFT LoRA adapter reader (see peft_read.h). */
#include "finetune/peft_read.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/json_file.h"
#include "io/safetensors.h"

#define PREFIX "base_model.model."

/* rank_pattern / alpha_pattern: PEFT matches each key as a regex against the module path's end. Keys
 * made only of name characters and dots are matched as that literal suffix (what PEFT's regex does
 * for them); anything else is refused rather than guessed. */
static bool literal_key(const char *k) {
    for (; *k; k++)
        if (!(*k == '.' || *k == '_' || *k == '-' || (*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'z') ||
              (*k >= 'A' && *k <= 'Z')))
            return false;
    return true;
}

static bool suffix_match(const char *module, const char *key) {
    size_t n = strlen(module), k = strlen(key);
    return n == k ? strcmp(module, key) == 0 : n > k && module[n - k - 1] == '.' && strcmp(module + n - k, key) == 0;
}

/* The pattern value for module, else def. */
static double pattern_value(const cJSON *pat, const char *module, double def) {
    for (const cJSON *c = pat ? pat->child : NULL; c; c = c->next)
        if (cJSON_IsNumber(c) && suffix_match(module, c->string)) return c->valuedouble;
    return def;
}

static vkt_status check_pattern(const char *path, const cJSON *root, const char *field, const cJSON **out) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, field);
    *out = NULL;
    if (!p || cJSON_IsNull(p)) return VKT_OK;
    if (!cJSON_IsObject(p)) {
        vkt_log_error("%s: field \"%s\" must be an object of module pattern -> number", path, field);
        return VKT_ERR_FORMAT;
    }
    for (const cJSON *c = p->child; c; c = c->next)
        if (!literal_key(c->string) || !cJSON_IsNumber(c)) {
            vkt_log_error("%s: %s key \"%s\": only plain module-name suffixes with numbers are supported (no "
                          "regular expressions); rewrite it as the module name",
                          path, field, c->string);
            return VKT_ERR_UNSUPPORTED;
        }
    *out = p;
    return VKT_OK;
}

static vkt_status read_config(const char *dir, vkt_peft_adapter *a, cJSON **root) {
    char path[1200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        vkt_log_error("%s: missing: --adapter takes a PEFT adapter folder (adapter_config.json + "
                      "adapter_model.safetensors, as peft's save_pretrained writes)",
                      path);
        return VKT_ERR_IO;
    }
    VKT_TRY(vkt_json_read(path, root));
    const cJSON *o = *root;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(o, "peft_type");
    if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "LORA") != 0) {
        vkt_log_error("%s: peft_type is %s%s%s; only \"LORA\" adapters can be merged", path,
                      cJSON_IsString(pt) ? "\"" : "", cJSON_IsString(pt) ? pt->valuestring : "missing",
                      cJSON_IsString(pt) ? "\"" : "");
        return VKT_ERR_UNSUPPORTED;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "r"), *al = cJSON_GetObjectItemCaseSensitive(o, "lora_alpha");
    if (!cJSON_IsNumber(r) || r->valuedouble < 1 || r->valuedouble != floor(r->valuedouble)) {
        vkt_log_error("%s: field \"r\" must be a positive integer", path);
        return VKT_ERR_FORMAT;
    }
    if (!cJSON_IsNumber(al)) {
        vkt_log_error("%s: field \"lora_alpha\" must be a number", path);
        return VKT_ERR_FORMAT;
    }
    a->r = (int64_t)r->valuedouble, a->alpha = al->valuedouble;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "use_rslora");
    a->use_rslora = cJSON_IsTrue(b);
    b = cJSON_GetObjectItemCaseSensitive(o, "fan_in_fan_out");
    a->fan_in_fan_out = cJSON_IsTrue(b);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "modules_to_save");
    if (cJSON_GetArraySize(ms) > 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ensure_weight_tying"))) {
        vkt_log_error("%s: ensure_weight_tying with modules_to_save: only PEFT's default (tied modules untie into "
                      "separate copies) is supported",
                      path);
        return VKT_ERR_UNSUPPORTED;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "use_dora"))) {
        vkt_log_error("%s: use_dora is true: DoRA adapters (magnitude vectors) are not supported; merge it "
                      "with peft's merge_and_unload",
                      path);
        return VKT_ERR_UNSUPPORTED;
    }
    return VKT_OK;
}

/* A modules_to_save copy: "base_model.model.M.weight" with M ending in a name of the config's modules_to_save
 * (PEFT's _set_trainable: key.endswith(name)); M into module. */
static bool parse_saved_key(const char *key, const cJSON *to_save, char *module, size_t n) {
    size_t len = strlen(key), np = strlen(PREFIX), ns = strlen(".weight");
    if (len <= np + ns || strncmp(key, PREFIX, np) != 0 || strcmp(key + len - ns, ".weight") != 0) return false;
    if (len - np - ns >= n) return false;
    memcpy(module, key + np, len - np - ns);
    module[len - np - ns] = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, to_save) {
        if (!cJSON_IsString(it)) continue;
        size_t lm = strlen(module), lt = strlen(it->valuestring);
        if (lm >= lt && strcmp(module + lm - lt, it->valuestring) == 0) return true;
    }
    return false;
}

static vkt_status read_saved(const vkt_st_file *f, const vkt_st_tensor *t, const char *module, vkt_peft_adapter *a) {
    if (t->ndim != 2) {
        vkt_log_error("%s: tensor \"%s\" has %d dims; a saved module's weight is a matrix", f->map.path, t->name,
                      t->ndim);
        return VKT_ERR_FORMAT;
    }
    vkt_peft_saved *sv = realloc(a->saved, (size_t)(a->n_saved + 1) * sizeof *sv);
    if (!sv) return VKT_ERR_OOM;
    a->saved = sv;
    sv = &a->saved[a->n_saved];
    memset(sv, 0, sizeof *sv);
    snprintf(sv->module, sizeof sv->module, "%s", module);
    sv->rows = t->shape[0], sv->cols = t->shape[1];
    sv->w = malloc((size_t)t->numel * sizeof *sv->w);
    if (!sv->w) return VKT_ERR_OOM;
    a->n_saved++;
    return vkt_st_read_f32(f, t, sv->w, t->numel);
}

/* Splits "base_model.model.M.lora_X.weight" into M and X ('A' or 'B'); false for any other key. */
static bool parse_key(const char *key, char *module, size_t n, char *which) {
    size_t len = strlen(key), np = strlen(PREFIX), ns = strlen(".lora_A.weight");
    if (len <= np + ns || strncmp(key, PREFIX, np) != 0) return false;
    const char *suf = key + len - ns;
    if (strcmp(suf, ".lora_A.weight") != 0 && strcmp(suf, ".lora_B.weight") != 0) return false;
    if (len - np - ns >= n) return false;
    memcpy(module, key + np, len - np - ns);
    module[len - np - ns] = 0;
    *which = suf[6];
    return true;
}

static vkt_peft_module *find_or_add(vkt_peft_adapter *a, const char *module) {
    for (int i = 0; i < a->n_mods; i++)
        if (strcmp(a->mods[i].module, module) == 0) return &a->mods[i];
    vkt_peft_module *m = realloc(a->mods, (size_t)(a->n_mods + 1) * sizeof *m);
    if (!m) return NULL;
    a->mods = m;
    m = &a->mods[a->n_mods++];
    memset(m, 0, sizeof *m);
    snprintf(m->module, sizeof m->module, "%s", module);
    return m;
}

static vkt_status read_factor(const vkt_st_file *f, const vkt_st_tensor *t, vkt_peft_module *m, char which) {
    if (t->ndim != 2) {
        vkt_log_error("%s: tensor \"%s\" has %d dims; LoRA factors are matrices (lora_A (r, in), lora_B (out, r))",
                      f->map.path, t->name, t->ndim);
        return VKT_ERR_FORMAT;
    }
    float *x = malloc((size_t)t->numel * sizeof *x);
    if (!x) return VKT_ERR_OOM;
    vkt_status s = vkt_st_read_f32(f, t, x, t->numel);
    if (s != VKT_OK) return free(x), s;
    if (which == 'A')
        m->A = x, m->r = t->shape[0], m->in = t->shape[1];
    else
        m->B = x, m->out = t->shape[0];
    return VKT_OK;
}

vkt_status vkt_peft_read(const char *dir, vkt_peft_adapter *out) {
    cJSON *root = NULL;
    vkt_st_file f = {0};
    char path[1200];
    const cJSON *rank_pat = NULL, *alpha_pat = NULL;
    vkt_status s = read_config(dir, out, &root);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    if (s == VKT_OK) s = check_pattern(path, root, "rank_pattern", &rank_pat);
    if (s == VKT_OK) s = check_pattern(path, root, "alpha_pattern", &alpha_pat);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    struct stat st;
    if (s == VKT_OK && stat(path, &st) != 0) {
        vkt_log_error("%s: missing (an adapter_model.bin must first be re-saved with safe_serialization=True)", path);
        s = VKT_ERR_IO;
    }
    if (s == VKT_OK) s = vkt_st_open(path, &f);
    for (int i = 0; i < f.n_tensors && s == VKT_OK; i++) {
        const vkt_st_tensor *t = &f.tensors[i];
        char module[192], which;
        const cJSON *to_save = cJSON_GetObjectItemCaseSensitive(root, "modules_to_save");
        if (!parse_key(t->name, module, sizeof module, &which)) {
            if (parse_saved_key(t->name, cJSON_IsArray(to_save) ? to_save : NULL, module, sizeof module)) {
                s = read_saved(&f, t, module, out);
                continue;
            }
            vkt_log_error("%s: tensor \"%s\" is not a LoRA factor (base_model.model.<module>.lora_A.weight / "
                          ".lora_B.weight) nor the weight of a module adapter_config.json's modules_to_save names; "
                          "embedding LoRA and LoRA biases cannot be merged here",
                          path, t->name);
            s = VKT_ERR_UNSUPPORTED;
            break;
        }
        vkt_peft_module *m = find_or_add(out, module);
        s = m ? read_factor(&f, t, m, which) : VKT_ERR_OOM;
    }
    for (int i = 0; i < out->n_mods && s == VKT_OK; i++) {
        vkt_peft_module *m = &out->mods[i];
        if (!m->A || !m->B) {
            vkt_log_error("%s: module \"%s\" has %s but no %s", path, m->module, m->A ? "lora_A" : "lora_B",
                          m->A ? "lora_B" : "lora_A");
            s = VKT_ERR_FORMAT;
            break;
        }
        const vkt_st_tensor *tb = NULL;
        char key[256];
        snprintf(key, sizeof key, PREFIX "%s.lora_B.weight", m->module);
        tb = vkt_st_find(&f, key);
        int64_t rb = tb->shape[1];
        if (rb != m->r) {
            vkt_log_error("%s: module \"%s\": lora_A has rank %lld (shape [%lld, %lld]) but lora_B has rank %lld "
                          "(shape [%lld, %lld]); they must agree",
                          path, m->module, (long long)m->r, (long long)m->r, (long long)m->in, (long long)rb,
                          (long long)tb->shape[0], (long long)rb);
            s = VKT_ERR_FORMAT;
            break;
        }
        int64_t want_r = (int64_t)pattern_value(rank_pat, m->module, (double)out->r);
        if (m->r != want_r) {
            vkt_log_error("%s: module \"%s\" has rank %lld but adapter_config.json says r = %lld%s", path, m->module,
                          (long long)m->r, (long long)want_r, rank_pat ? " (after rank_pattern)" : "");
            s = VKT_ERR_FORMAT;
            break;
        }
        m->alpha = pattern_value(alpha_pat, m->module, out->alpha);
        m->scale = out->use_rslora ? m->alpha / sqrt((double)m->r) : m->alpha / (double)m->r;
    }
    if (s == VKT_OK && out->n_mods == 0) {
        vkt_log_error("%s: holds no LoRA factors", path);
        s = VKT_ERR_FORMAT;
    }
    vkt_st_close(&f);
    cJSON_Delete(root);
    if (s != VKT_OK) vkt_peft_free(out);
    return s;
}

void vkt_peft_free(vkt_peft_adapter *a) {
    for (int i = 0; i < a->n_mods; i++) free(a->mods[i].A), free(a->mods[i].B);
    for (int i = 0; i < a->n_saved; i++) free(a->saved[i].w);
    free(a->mods);
    free(a->saved);
    memset(a, 0, sizeof *a);
}
