/* Checkpoint save and load (see checkpoint.h). */
#include "io/checkpoint.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "io/json_file.h"
#include "io/safetensors.h"

/* Copies a parameter out of the flat host buffer in Hugging Face layout (transposed where HF stores
 * (in, out)). Returns a malloc'ed buffer. */
static float *to_hf(const vkt_param *e, const float *flat) {
    float *out = malloc((size_t)e->numel * sizeof *out);
    if (!out) return NULL;
    const float *src = flat + e->offset;
    if (!e->hf_transposed) return memcpy(out, src, (size_t)e->numel * sizeof *out);
    for (int64_t r = 0; r < e->rows; r++)
        for (int64_t c = 0; c < e->cols; c++) out[c * e->rows + r] = src[r * e->cols + c];
    return out;
}

static void from_hf(const vkt_param *e, const float *hf, float *flat) {
    float *dst = flat + e->offset;
    if (!e->hf_transposed) {
        memcpy(dst, hf, (size_t)e->numel * sizeof *dst);
        return;
    }
    for (int64_t r = 0; r < e->rows; r++)
        for (int64_t c = 0; c < e->cols; c++) dst[r * e->cols + c] = hf[c * e->rows + r];
}

static void hf_shape(const vkt_param *e, vkt_st_write_tensor *w) {
    if (e->rows == 1) w->ndim = 1, w->shape[0] = e->cols;
    else if (e->hf_transposed) w->ndim = 2, w->shape[0] = e->cols, w->shape[1] = e->rows;
    else w->ndim = 2, w->shape[0] = e->rows, w->shape[1] = e->cols;
}

/* Writes one safetensors file with a tensor per parameter from `flat`, names prefixed by `prefix`. */
static vkt_status write_tensors(const char *path, const vkt_param_table *t, const float *flat, const char *prefix,
                                bool hf_layout) {
    vkt_st_write_tensor *ws = calloc((size_t)t->n, sizeof *ws);
    float **bufs = calloc((size_t)t->n, sizeof *bufs);
    char (*names)[128] = calloc((size_t)t->n, sizeof *names);
    vkt_status s = ws && bufs && names ? VKT_OK : VKT_ERR_OOM;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        snprintf(names[i], sizeof names[i], "%s%s", prefix, e->name);
        ws[i] = (vkt_st_write_tensor){.name = names[i], .dtype = VKT_ST_F32, .from_f32 = true};
        if (hf_layout) {
            bufs[i] = to_hf(e, flat);
            if (!bufs[i]) s = VKT_ERR_OOM;
            hf_shape(e, &ws[i]);
            ws[i].data = bufs[i];
        } else {
            ws[i].ndim = 2, ws[i].shape[0] = e->rows, ws[i].shape[1] = e->cols;
            ws[i].data = flat + e->offset;
        }
    }
    const char *meta[] = {"format", "pt"};
    if (s == VKT_OK) s = vkt_st_write(path, ws, t->n, meta, 1);
    for (int i = 0; bufs && i < t->n; i++) free(bufs[i]);
    free(bufs), free(ws), free(names);
    return s;
}

static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) fsync(fd), close(fd);
}

static vkt_status mkdirs(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') *p = 0, mkdir(path, 0755), *p = '/';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("%s: cannot create folder (%s)", dir, strerror(errno));
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    closedir(d);
    rmdir(dir);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Deletes all but the newest `keep` step folders. Zero-padded names sort by step. */
static void prune(const char *out_dir, int64_t keep) {
    DIR *d = opendir(out_dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, "step-", 5) == 0) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i + (size_t)keep < n; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", out_dir, names[i]);
        remove_tree(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

vkt_status vkt_checkpoint_save(const char *out_dir, int64_t keep, vkt_model *m, vkt_step *s,
                               const vkt_checkpoint_state *st, const vkt_run_config *cfg, char *saved,
                               size_t saved_size) {
    char tmp[1100], final[1100], path[1200];
    VKT_TRY(mkdirs(out_dir));
    snprintf(tmp, sizeof tmp, "%s/.step-%06lld.tmp", out_dir, (long long)st->step);
    snprintf(final, sizeof final, "%s/step-%06lld", out_dir, (long long)st->step);
    remove_tree(tmp);
    VKT_TRY(mkdirs(tmp));
    int64_t total = m->table.total;
    float *flat = malloc((size_t)total * sizeof *flat), *m1 = NULL, *m2 = NULL;
    vkt_status rc = flat ? vkt_model_download_params(m, flat) : VKT_ERR_OOM;
    cJSON *conf = vkt_model_config_to_json(&m->cfg);
    snprintf(path, sizeof path, "%s/config.json", tmp);
    if (rc == VKT_OK) rc = vkt_json_write(path, conf);
    cJSON_Delete(conf);
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    if (rc == VKT_OK) rc = write_tensors(path, &m->table, flat, "", true);
    int64_t opt_step = 0;
    if (rc == VKT_OK && s) {
        m1 = malloc((size_t)total * sizeof *m1), m2 = malloc((size_t)total * sizeof *m2);
        rc = m1 && m2 ? vkt_step_download_state(s, m1, m2, &opt_step) : VKT_ERR_OOM;
        snprintf(path, sizeof path, "%s/optimizer_m.safetensors", tmp);
        if (rc == VKT_OK) rc = write_tensors(path, &m->table, m1, "exp_avg.", false);
        snprintf(path, sizeof path, "%s/optimizer_v.safetensors", tmp);
        if (rc == VKT_OK) rc = write_tensors(path, &m->table, m2, "exp_avg_sq.", false);
    }
    cJSON *state = cJSON_CreateObject();
    cJSON_AddStringToObject(state, "format", "vktrain-checkpoint");
    cJSON_AddNumberToObject(state, "version", 1);
    cJSON_AddNumberToObject(state, "step", (double)st->step);
    cJSON_AddNumberToObject(state, "optimizer_step", (double)opt_step);
    char rng[64];
    snprintf(rng, sizeof rng, "%016llx%016llx", (unsigned long long)st->data_rng[0],
             (unsigned long long)st->data_rng[1]);
    cJSON_AddStringToObject(state, "data_rng", rng);
    cJSON_AddNumberToObject(state, "data_epoch", (double)st->data_epoch);
    cJSON_AddNumberToObject(state, "data_batch", (double)st->data_batch);
    if (cfg) {
        cJSON_AddStringToObject(state, "tokenizer_type", cfg->tokenizer_type);
        cJSON_AddStringToObject(state, "tokenizer_path", cfg->tokenizer_path);
    }
    snprintf(path, sizeof path, "%s/trainer_state.json", tmp);
    if (rc == VKT_OK) rc = vkt_json_write(path, state);
    cJSON_Delete(state);
    free(flat), free(m1), free(m2);
    if (rc == VKT_OK) {
        fsync_dir(tmp);
        remove_tree(final); /* a re-save of the same step replaces it */
        if (rename(tmp, final) != 0) {
            vkt_log_error("%s: rename to %s failed (%s)", tmp, final, strerror(errno));
            rc = VKT_ERR_IO;
        }
    }
    if (rc != VKT_OK) {
        remove_tree(tmp);
        return rc;
    }
    fsync_dir(out_dir);
    cJSON *latest = cJSON_CreateObject();
    cJSON_AddStringToObject(latest, "latest", final + strlen(out_dir) + 1);
    snprintf(path, sizeof path, "%s/latest.json", out_dir);
    rc = vkt_json_write(path, latest);
    cJSON_Delete(latest);
    if (keep > 0) prune(out_dir, keep);
    if (saved) snprintf(saved, saved_size, "%s", final);
    return rc;
}

/* NULL when missing or malformed (callers say which fields they needed). */
static cJSON *read_json(const char *path) {
    cJSON *o = NULL;
    struct stat st;
    if (stat(path, &st) == 0) vkt_json_read(path, &o);
    return o;
}

bool vkt_checkpoint_resolve_quiet(const char *dir, char *out, size_t out_size) {
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat st;
    if (stat(path, &st) == 0) return snprintf(out, out_size, "%s", dir), true;
    snprintf(path, sizeof path, "%s/latest.json", dir);
    cJSON *latest = read_json(path);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(latest, "latest");
    bool ok = cJSON_IsString(name);
    if (ok) snprintf(out, out_size, "%s/%s", dir, name->valuestring);
    cJSON_Delete(latest);
    return ok;
}

vkt_status vkt_checkpoint_resolve(const char *dir, char *out, size_t out_size) {
    if (vkt_checkpoint_resolve_quiet(dir, out, out_size)) return VKT_OK;
    vkt_log_error("%s: neither a checkpoint (no config.json) nor a run folder (no latest.json)", dir);
    return VKT_ERR_IO;
}

bool vkt_checkpoint_tokenizer(const char *ck, char *spec, size_t n) {
    char path[1100];
    snprintf(path, sizeof path, "%s/trainer_state.json", ck);
    cJSON *state = read_json(path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(state, "tokenizer_type");
    const cJSON *tpath = cJSON_GetObjectItemCaseSensitive(state, "tokenizer_path");
    bool ok = cJSON_IsString(type);
    if (ok) {
        bool bytes = strcmp(type->valuestring, "byte") == 0 || strcmp(type->valuestring, "bytes") == 0;
        snprintf(spec, n, "%s", bytes ? "bytes" : cJSON_IsString(tpath) ? tpath->valuestring : "");
        ok = spec[0] != 0;
    }
    cJSON_Delete(state);
    return ok;
}

vkt_status vkt_checkpoint_read_config(const char *dir, vkt_model_config *cfg) {
    char ck[1024], path[1100];
    VKT_TRY(vkt_checkpoint_resolve(dir, ck, sizeof ck));
    snprintf(path, sizeof path, "%s/config.json", ck);
    return vkt_model_config_load(path, cfg);
}

/* Fills flat (table layout) from a safetensors file's tensors named prefix + entry name. */
static vkt_status read_tensors(const char *path, const vkt_param_table *t, float *flat, const char *prefix,
                               bool hf_layout) {
    vkt_st_model f;
    VKT_TRY(vkt_st_model_open(path, &f));
    vkt_status s = VKT_OK;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        const vkt_st_file *file;
        const vkt_st_tensor *x = vkt_st_model_find(&f, name, &file);
        /* GPT-2 files from the hub name tensors without the "transformer." prefix. */
        if (!x && strncmp(e->name, "transformer.", 12) == 0) {
            snprintf(name, sizeof name, "%s%s", prefix, e->name + 12);
            x = vkt_st_model_find(&f, name, &file);
        }
        if (!x) {
            vkt_log_error("%s: tensor \"%s%s\" is missing (is this checkpoint of the same model?)", path, prefix,
                          e->name);
            s = VKT_ERR_FORMAT;
            break;
        }
        if (x->numel != e->numel) {
            vkt_log_error("%s: tensor \"%s\" has %lld elements, the model needs %lld (%lld x %lld)", path, name,
                          (long long)x->numel, (long long)e->numel, (long long)e->rows, (long long)e->cols);
            s = VKT_ERR_FORMAT;
            break;
        }
        float *buf = malloc((size_t)e->numel * sizeof *buf);
        if (!buf) s = VKT_ERR_OOM;
        if (s == VKT_OK) s = vkt_st_read_f32(file, x, buf, e->numel);
        if (s == VKT_OK) {
            if (hf_layout) from_hf(e, buf, flat);
            else memcpy(flat + e->offset, buf, (size_t)e->numel * sizeof *buf);
        }
        free(buf);
    }
    vkt_st_model_close(&f);
    return s;
}

vkt_status vkt_checkpoint_load_hf(const char *path, vkt_model *m) {
    float *flat = calloc((size_t)m->table.total, sizeof *flat);
    if (!flat) return VKT_ERR_OOM;
    vkt_status s = read_tensors(path, &m->table, flat, "", true);
    if (s == VKT_OK) s = vkt_model_upload_params(m, flat);
    free(flat);
    return s;
}

/* A JSON integer in [0, 2^53]. Checked before the cast: a double outside int64 (a corrupt
 * "step": 1e300) converts with undefined behaviour. */
static bool json_count(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

vkt_status vkt_checkpoint_load_params(const char *dir, vkt_model *m, vkt_checkpoint_state *st) {
    char ck[1024], path[1100];
    VKT_TRY(vkt_checkpoint_resolve(dir, ck, sizeof ck));
    VKT_TRY(vkt_checkpoint_load_hf(ck, m));
    snprintf(path, sizeof path, "%s/trainer_state.json", ck);
    cJSON *state = read_json(path);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(state, "step");
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(state, "data_rng");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(state, "data_epoch");
    const cJSON *ba = cJSON_GetObjectItemCaseSensitive(state, "data_batch");
    int64_t n_step, n_epoch, n_batch;
    if (!json_count(step, &n_step) || !cJSON_IsString(rng) || strlen(rng->valuestring) != 32 ||
        !json_count(ep, &n_epoch) || !json_count(ba, &n_batch)) {
        cJSON_Delete(state);
        vkt_log_error("%s: missing or malformed (needs step, data_rng, data_epoch, data_batch: non-negative "
                      "integers and 32 hex digits)",
                      path);
        return VKT_ERR_FORMAT;
    }
    char hi[17] = {0};
    memcpy(hi, rng->valuestring, 16);
    st->step = n_step;
    st->data_rng[0] = strtoull(hi, NULL, 16);
    st->data_rng[1] = strtoull(rng->valuestring + 16, NULL, 16);
    st->data_epoch = n_epoch;
    st->data_batch = n_batch;
    cJSON_Delete(state);
    return VKT_OK;
}

vkt_status vkt_checkpoint_load_optimizer(const char *dir, vkt_model *m, vkt_step *s, int64_t step) {
    char ck[1024], path[1100];
    VKT_TRY(vkt_checkpoint_resolve(dir, ck, sizeof ck));
    int64_t total = m->table.total;
    float *m1 = calloc((size_t)total, sizeof *m1), *m2 = calloc((size_t)total, sizeof *m2);
    vkt_status rc = m1 && m2 ? VKT_OK : VKT_ERR_OOM;
    snprintf(path, sizeof path, "%s/optimizer_m.safetensors", ck);
    if (rc == VKT_OK) rc = read_tensors(path, &m->table, m1, "exp_avg.", false);
    snprintf(path, sizeof path, "%s/optimizer_v.safetensors", ck);
    if (rc == VKT_OK) rc = read_tensors(path, &m->table, m2, "exp_avg_sq.", false);
    if (rc == VKT_OK) rc = vkt_step_upload_state(s, m1, m2, step);
    free(m1), free(m2);
    return rc;
}
