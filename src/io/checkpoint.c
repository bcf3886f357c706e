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
#include "io/param_match.h"
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

/* Deletes all but the newest `keep` step folders, counting `current` (the folder just written, which
 * latest.json names) as one of them whatever its step: a resumed run that saves step 30 next to an older
 * timeline's step 40 keeps its own checkpoint. Zero-padded names sort by step. */
static void prune(const char *out_dir, int64_t keep, const char *current) {
    DIR *d = opendir(out_dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, "step-", 5) == 0 && strcmp(e->d_name, current) != 0) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i + (size_t)keep - 1 < n; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", out_dir, names[i]);
        remove_tree(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* VKT_OK when every element of flat is finite, else logs the first bad one by tensor name. */
static vkt_status check_finite(const vkt_param_table *t, const float *flat, const char *what, int64_t step,
                               const char *out_dir) {
    for (int i = 0; i < t->n; i++) {
        const vkt_param *e = &t->p[i];
        for (int64_t k = 0; k < e->numel; k++) {
            float x = flat[e->offset + k];
            if (isfinite(x)) continue;
            char prev[1100] = "none yet";
            vkt_checkpoint_resolve_quiet(out_dir, prev, sizeof prev);
            vkt_log_error("checkpoint of step %lld not written: %s \"%s\" holds %s at element %lld (the run has "
                          "diverged). The previous checkpoint is kept: %s", (long long)step, what, e->name,
                          isnan(x) ? "NaN" : "inf", (long long)k, prev);
            return VKT_ERR_NONFINITE;
        }
    }
    return VKT_OK;
}

vkt_status vkt_checkpoint_save(const char *out_dir, int64_t keep, vkt_model *m, vkt_step *s,
                               const vkt_checkpoint_state *st, const vkt_run_config *cfg, char *saved,
                               size_t saved_size) {
    return vkt_checkpoint_save_with(out_dir, keep, m, s, st, cfg, NULL, saved, saved_size);
}

vkt_status vkt_checkpoint_save_with(const char *out_dir, int64_t keep, vkt_model *m, vkt_step *s,
                                    const vkt_checkpoint_state *st, const vkt_run_config *cfg,
                                    const vkt_checkpoint_weights *w, char *saved, size_t saved_size) {
    char tmp[1100], final[1100], path[1200];
    VKT_TRY(mkdirs(out_dir));
    snprintf(tmp, sizeof tmp, "%s/.step-%06lld.tmp", out_dir, (long long)st->step);
    snprintf(final, sizeof final, "%s/step-%06lld", out_dir, (long long)st->step);
    remove_tree(tmp);
    VKT_TRY(mkdirs(tmp));
    float *flat = NULL, *m1 = NULL, *m2 = NULL;
    vkt_status rc = VKT_OK;
    if (!w) {
        flat = malloc((size_t)m->table.total * sizeof *flat);
        rc = flat ? vkt_model_download_params(m, flat) : VKT_ERR_OOM;
        if (rc == VKT_OK) rc = check_finite(&m->table, flat, "weight", st->step, out_dir);
    }
    int64_t opt_step = st->optimizer_step, run_step = st->step, good_steps = 0;
    double loss_scale = 0;
    const vkt_param_table *ot = s ? vkt_step_table(s) : NULL;
    if (rc == VKT_OK && s) {
        m1 = malloc((size_t)ot->total * sizeof *m1), m2 = malloc((size_t)ot->total * sizeof *m2);
        rc = m1 && m2 ? vkt_step_download_state(s, m1, m2, &run_step, &opt_step) : VKT_ERR_OOM;
        if (rc == VKT_OK && run_step != st->step) {
            vkt_log_error("checkpoint of step %lld not written: the optimizer has run %lld steps (the caller "
                          "saved before the queue drained?)", (long long)st->step, (long long)run_step);
            rc = VKT_ERR_ARG;
        }
        if (rc == VKT_OK && !vkt_step_get_loss_scale(s, &loss_scale, &good_steps)) loss_scale = 0;
        if (rc == VKT_OK) rc = check_finite(ot, m1, "AdamW first moment of", st->step, out_dir);
        if (rc == VKT_OK) rc = check_finite(ot, m2, "AdamW second moment of", st->step, out_dir);
    }
    if (rc != VKT_OK) {
        free(flat), free(m1), free(m2);
        remove_tree(tmp);
        return rc;
    }
    if (w) {
        rc = w->write(w->ctx, tmp);
    } else {
        cJSON *conf = vkt_model_config_to_json(&m->cfg);
        snprintf(path, sizeof path, "%s/config.json", tmp);
        if (rc == VKT_OK) rc = vkt_json_write(path, conf);
        cJSON_Delete(conf);
        snprintf(path, sizeof path, "%s/model.safetensors", tmp);
        if (rc == VKT_OK) rc = write_tensors(path, &m->table, flat, "", true);
    }
    if (rc == VKT_OK && s) {
        snprintf(path, sizeof path, "%s/optimizer_m.safetensors", tmp);
        if (rc == VKT_OK) rc = write_tensors(path, ot, m1, "exp_avg.", false);
        snprintf(path, sizeof path, "%s/optimizer_v.safetensors", tmp);
        if (rc == VKT_OK) rc = write_tensors(path, ot, m2, "exp_avg_sq.", false);
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
    if (loss_scale > 0) { /* f16: resuming keeps the scale the run had reached */
        cJSON_AddNumberToObject(state, "loss_scale", loss_scale);
        cJSON_AddNumberToObject(state, "loss_scale_good_steps", (double)good_steps);
    }
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
    if (keep > 0) prune(out_dir, keep, final + strlen(out_dir) + 1);
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
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
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

/* The dtype check every loaded tensor passes before any value is read: only dtypes with an exact f32 equal. */
static vkt_status check_dtype(const vkt_st_file *file, const char *name, const vkt_st_tensor *x) {
    if (vkt_st_dtype_exact_f32(x->dtype)) return VKT_OK;
    vkt_log_error("%s: tensor \"%s\" has dtype %s; vktrain loads F32, F16 and BF16 (exact in f32): convert the "
                  "model to one of them (e.g. torch_dtype=torch.bfloat16 and save_pretrained)", file->map.path, name,
                  vkt_st_dtype_name(x->dtype));
    return VKT_ERR_UNSUPPORTED;
}

/* A tied model's file may still carry lm_head.weight (some exporters write it): accepted only when it is
 * the embedding, since the model will use the embedding in its place. Shape and dtype here, values in
 * check_tied_head_values once the embedding is read. */
static vkt_status check_tied_head(const vkt_st_file *file, const vkt_st_tensor *x, const vkt_param_table *t) {
    const vkt_param *wte = vkt_params_get(t, -1, VKT_ROLE_WTE);
    int64_t want[2] = {wte->rows, wte->cols};
    char got_s[96], want_s[64];
    if (x->ndim != 2 || x->shape[0] != want[0] || x->shape[1] != want[1]) {
        vkt_log_error("%s: tensor \"lm_head.weight\" has shape %s, expected %s (the embedding's: config.json says "
                      "tie_word_embeddings=true)", file->map.path, vkt_shape_str(x->ndim, x->shape, got_s, sizeof got_s),
                      vkt_shape_str(2, want, want_s, sizeof want_s));
        return VKT_ERR_FORMAT;
    }
    return check_dtype(file, "lm_head.weight", x);
}

static vkt_status check_tied_head_values(const vkt_st_file *file, const vkt_st_tensor *x, const vkt_param_table *t,
                                         const float *flat) {
    const vkt_param *wte = vkt_params_get(t, -1, VKT_ROLE_WTE);
    float *buf = malloc((size_t)wte->numel * sizeof *buf);
    vkt_status s = buf ? vkt_st_read_f32(file, x, buf, wte->numel) : VKT_ERR_OOM;
    if (s == VKT_OK && memcmp(buf, flat + wte->offset, (size_t)wte->numel * sizeof *buf) != 0) {
        vkt_log_error("%s: tensor \"lm_head.weight\" differs from the embedding, but config.json says "
                      "tie_word_embeddings=true; set it to false to use the separate output head", file->map.path);
        s = VKT_ERR_FORMAT;
    }
    free(buf);
    return s;
}

/* Every file tensor must be a parameter (or an ignorable buffer, or a tied head: *tied_head gets it). */
static vkt_status check_leftovers(const vkt_st_model *f, const vkt_param_table *t, const char *prefix,
                                  vkt_param_layout layout, int *tied_head) {
    size_t np = strlen(prefix);
    *tied_head = -1;
    for (int i = 0; i < f->n_entries; i++) {
        const char *name = f->entries[i].name;
        const vkt_st_file *file = &f->shards[f->entries[i].shard];
        bool ours = strncmp(name, prefix, np) == 0 && vkt_param_for_file_name(t, name + np);
        if (ours || (layout == VKT_LAYOUT_HF && vkt_param_ignorable(name))) continue;
        if (layout == VKT_LAYOUT_HF && strcmp(name, "lm_head.weight") == 0 && !vkt_params_get(t, -1, VKT_ROLE_LM_HEAD)) {
            VKT_TRY(check_tied_head(file, f->entries[i].t, t));
            *tied_head = i;
            continue;
        }
        char shape[96];
        vkt_log_error("%s: unexpected tensor \"%s\" %s: the model (config.json) has no such parameter (a different "
                      "architecture or config.json?)", file->map.path, name,
                      vkt_shape_str(f->entries[i].t->ndim, f->entries[i].t->shape, shape, sizeof shape));
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

/* The file tensor standing for table entry e (prefix + name, or without GPT-2's "transformer."); NULL and
 * a logged message when it is missing. */
static const vkt_st_tensor *find_param(const char *path, const vkt_st_model *f, const vkt_param *e, const char *prefix,
                                       vkt_param_layout layout, const vkt_st_file **file, char *name, size_t n) {
    snprintf(name, n, "%s%s", prefix, e->name);
    const vkt_st_tensor *x = vkt_st_model_find(f, name, file);
    /* GPT-2 files from the hub name tensors without the "transformer." prefix. */
    if (!x && strncmp(e->name, "transformer.", 12) == 0) {
        snprintf(name, n, "%s%s", prefix, e->name + 12);
        x = vkt_st_model_find(f, name, file);
    }
    if (x) return x;
    int64_t want[2];
    char want_s[64];
    int wn = vkt_param_file_shape(e, layout, want);
    vkt_shape_str(wn, want, want_s, sizeof want_s);
    if (layout == VKT_LAYOUT_HF && e->role == VKT_ROLE_LM_HEAD && vkt_st_model_find(f, "model.embed_tokens.weight", NULL))
        vkt_log_error("%s: tensor \"lm_head.weight\" %s is missing, but config.json says tie_word_embeddings=false: "
                      "if the model shares its embedding with the output head, set \"tie_word_embeddings\": true",
                      path, want_s);
    else
        vkt_log_error("%s: tensor \"%s%s\" %s is missing (is this checkpoint of the same model?)", path, prefix,
                      e->name, want_s);
    return NULL;
}

/* Fills flat (table layout) from a safetensors model's tensors named prefix + entry name. Every name,
 * shape (param_match.h) and dtype is checked before any value is read, so a refused file costs no
 * conversion, and flat is only complete when VKT_OK is returned: callers upload nothing otherwise. */
static vkt_status read_tensors(const char *path, const vkt_param_table *t, float *flat, const char *prefix,
                               vkt_param_layout layout) {
    vkt_st_model f;
    VKT_TRY(vkt_st_model_open(path, &f));
    const vkt_st_tensor **found = calloc((size_t)t->n + 1, sizeof *found);
    const vkt_st_file **files = calloc((size_t)t->n + 1, sizeof *files);
    vkt_status s = found && files ? VKT_OK : VKT_ERR_OOM;
    char name[160];
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        found[i] = find_param(path, &f, e, prefix, layout, &files[i], name, sizeof name);
        if (!found[i]) s = VKT_ERR_FORMAT;
        if (s == VKT_OK) s = vkt_param_check_shape(files[i]->map.path, name, found[i]->ndim, found[i]->shape, e, layout);
        if (s == VKT_OK) s = check_dtype(files[i], name, found[i]);
    }
    int tied_head = -1;
    if (s == VKT_OK) s = check_leftovers(&f, t, prefix, layout, &tied_head);
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        float *buf = malloc((size_t)e->numel * sizeof *buf);
        s = buf ? vkt_st_read_f32(files[i], found[i], buf, e->numel) : VKT_ERR_OOM;
        if (s == VKT_OK) {
            if (layout == VKT_LAYOUT_HF) from_hf(e, buf, flat);
            else memcpy(flat + e->offset, buf, (size_t)e->numel * sizeof *buf);
        }
        free(buf);
    }
    if (s == VKT_OK && tied_head >= 0)
        s = check_tied_head_values(&f.shards[f.entries[tied_head].shard], f.entries[tied_head].t, t, flat);
    free(found);
    free(files);
    vkt_st_model_close(&f);
    return s;
}

vkt_status vkt_checkpoint_read_hf_flat(const char *path, const vkt_param_table *t, float *flat) {
    return read_tensors(path, t, flat, "", VKT_LAYOUT_HF);
}

vkt_status vkt_checkpoint_load_hf(const char *path, vkt_model *m) {
    float *flat = calloc((size_t)m->table.total, sizeof *flat);
    if (!flat) return VKT_ERR_OOM;
    vkt_status s = read_tensors(path, &m->table, flat, "", VKT_LAYOUT_HF);
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

vkt_status vkt_checkpoint_read_state(const char *dir, vkt_checkpoint_state *st) {
    char ck[1024], path[1100];
    VKT_TRY(vkt_checkpoint_resolve(dir, ck, sizeof ck));
    snprintf(path, sizeof path, "%s/trainer_state.json", ck);
    cJSON *state = read_json(path);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(state, "step");
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(state, "optimizer_step");
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(state, "data_rng");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(state, "data_epoch");
    const cJSON *ba = cJSON_GetObjectItemCaseSensitive(state, "data_batch");
    int64_t n_step, n_opt, n_epoch, n_batch;
    if (!json_count(step, &n_step) || !json_count(opt, &n_opt) || !cJSON_IsString(rng) ||
        strlen(rng->valuestring) != 32 || !json_count(ep, &n_epoch) || !json_count(ba, &n_batch)) {
        cJSON_Delete(state);
        vkt_log_error("%s: missing or malformed (needs step, optimizer_step, data_rng, data_epoch, data_batch: "
                      "non-negative integers and 32 hex digits)",
                      path);
        return VKT_ERR_FORMAT;
    }
    if (n_opt > n_step) {
        cJSON_Delete(state);
        vkt_log_error("%s: optimizer_step %lld is above step %lld (optimizer_step counts the AdamW updates applied, "
                      "step the steps run); the file is damaged, resume from another checkpoint",
                      path, (long long)n_opt, (long long)n_step);
        return VKT_ERR_FORMAT;
    }
    char hi[17] = {0};
    memcpy(hi, rng->valuestring, 16);
    st->step = n_step;
    st->optimizer_step = n_opt;
    st->data_rng[0] = strtoull(hi, NULL, 16);
    st->data_rng[1] = strtoull(rng->valuestring + 16, NULL, 16);
    st->data_epoch = n_epoch;
    st->data_batch = n_batch;
    /* Optional (f16 runs only). */
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(state, "loss_scale");
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(state, "loss_scale_good_steps");
    st->loss_scale = 0, st->loss_scale_good_steps = 0;
    if (ls && (!cJSON_IsNumber(ls) || !(ls->valuedouble > 0 && ls->valuedouble < 3e38) ||
               !json_count(lg, &st->loss_scale_good_steps))) {
        cJSON_Delete(state);
        vkt_log_error("%s: loss_scale must be a positive number with loss_scale_good_steps a non-negative integer",
                      path);
        return VKT_ERR_FORMAT;
    }
    if (ls) st->loss_scale = ls->valuedouble;
    cJSON_Delete(state);
    return VKT_OK;
}

vkt_status vkt_checkpoint_load_params(const char *dir, vkt_model *m, vkt_checkpoint_state *st) {
    char ck[1024];
    VKT_TRY(vkt_checkpoint_resolve(dir, ck, sizeof ck));
    VKT_TRY(vkt_checkpoint_read_state(ck, st));
    return vkt_checkpoint_load_hf(ck, m);
}

vkt_status vkt_checkpoint_load_optimizer(const char *dir, vkt_model *m, vkt_step *s,
                                         const vkt_checkpoint_state *st) {
    char ck[1024], path[1100];
    VKT_TRY(vkt_checkpoint_resolve(dir, ck, sizeof ck));
    (void)m;
    const vkt_param_table *t = vkt_step_table(s);
    float *m1 = calloc((size_t)t->total, sizeof *m1), *m2 = calloc((size_t)t->total, sizeof *m2);
    vkt_status rc = m1 && m2 ? VKT_OK : VKT_ERR_OOM;
    snprintf(path, sizeof path, "%s/optimizer_m.safetensors", ck);
    if (rc == VKT_OK) rc = read_tensors(path, t, m1, "exp_avg.", VKT_LAYOUT_TABLE);
    snprintf(path, sizeof path, "%s/optimizer_v.safetensors", ck);
    if (rc == VKT_OK) rc = read_tensors(path, t, m2, "exp_avg_sq.", VKT_LAYOUT_TABLE);
    if (rc == VKT_OK) rc = vkt_step_upload_state(s, m1, m2, st->step, st->optimizer_step);
    double scale;
    int64_t good;
    if (rc == VKT_OK && st->loss_scale > 0 && vkt_step_get_loss_scale(s, &scale, &good))
        vkt_step_set_loss_scale(s, st->loss_scale, st->loss_scale_good_steps);
    free(m1), free(m2);
    return rc;
}
