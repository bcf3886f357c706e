/* Host models (see host_model.h). Loading goes through vkt_import_flat, so every source is checked
 * name by name and shape by shape exactly as for a device model. */
#include "io/host_model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/llmc_gpt2.h"

/* The storage dtype of the source: one float dtype shared by every tensor of a safetensors model, bf16
 * for an llm.c version-5 file, else f32. */
static vkt_st_dtype source_dtype(const char *from) {
    char ck[1024];
    struct stat st;
    const char *path = vkt_checkpoint_resolve_quiet(from, ck, sizeof ck) ? ck : from;
    if (stat(path, &st) != 0) return VKT_ST_F32;
    if (S_ISDIR(st.st_mode)) {
        vkt_st_model m;
        if (vkt_st_model_open(path, &m) != VKT_OK) return VKT_ST_F32;
        vkt_st_dtype d = m.n_entries ? m.entries[0].t->dtype : VKT_ST_F32;
        for (int i = 1; i < m.n_entries; i++)
            if (m.entries[i].t->dtype != d) d = VKT_ST_F32;
        vkt_st_model_close(&m);
        return d == VKT_ST_F16 || d == VKT_ST_BF16 ? d : VKT_ST_F32;
    }
    FILE *f = fopen(path, "rb");
    int32_t h[2] = {0, 0};
    if (f) {
        if (fread(h, 4, 2, f) != 2) h[0] = 0;
        fclose(f);
    }
    return h[0] == VKT_LLMC_GPT2_MAGIC && h[1] == VKT_LLMC_GPT2_VERSION_BF16 ? VKT_ST_BF16 : VKT_ST_F32;
}

vkt_status vkt_host_model_load(const char *from, vkt_host_model *out) {
    char ck[1024];
    if (vkt_checkpoint_resolve_quiet(from, ck, sizeof ck))
        VKT_TRY(vkt_checkpoint_read_config(ck, &out->cfg));
    else
        VKT_TRY(vkt_import_config(from, &out->cfg));
    vkt_status s = vkt_params_build(&out->cfg, 1, &out->table);
    if (s == VKT_OK) {
        out->flat = calloc((size_t)out->table.total, sizeof *out->flat);
        if (!out->flat) {
            vkt_log_error("%s: out of host memory for %lld parameters", from, (long long)out->table.total);
            s = VKT_ERR_OOM;
        }
    }
    if (s == VKT_OK) s = vkt_import_flat(from, &out->table, out->flat);
    if (s == VKT_OK) out->dtype = source_dtype(from);
    if (s != VKT_OK) vkt_host_model_free(out);
    return s;
}

void vkt_host_model_free(vkt_host_model *m) {
    vkt_params_free(&m->table);
    free(m->flat);
    memset(m, 0, sizeof *m);
}

bool vkt_host_dtype_parse(const char *s, vkt_st_dtype *out) {
    if (!strcmp(s, "f32") || !strcmp(s, "float32")) return *out = VKT_ST_F32, true;
    if (!strcmp(s, "f16") || !strcmp(s, "float16")) return *out = VKT_ST_F16, true;
    if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16")) return *out = VKT_ST_BF16, true;
    return false;
}

static const char *torch_dtype(vkt_st_dtype d) {
    return d == VKT_ST_F16 ? "float16" : d == VKT_ST_BF16 ? "bfloat16" : "float32";
}

vkt_status vkt_host_model_save_hf(const vkt_host_model *m, const char *dir, vkt_st_dtype dtype) {
    if (dtype != VKT_ST_F32 && dtype != VKT_ST_F16 && dtype != VKT_ST_BF16) {
        vkt_log_error("%s: model dtype %s cannot be written (f32, f16 or bf16)", dir, vkt_st_dtype_name(dtype));
        return VKT_ERR_ARG;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("%s: cannot create the folder (%s)", dir, strerror(errno));
        return VKT_ERR_IO;
    }
    char path[1200];
    cJSON *conf = vkt_model_config_to_json(&m->cfg);
    if (!conf) return VKT_ERR_OOM;
    cJSON_DeleteItemFromObjectCaseSensitive(conf, "torch_dtype");
    cJSON_AddStringToObject(conf, "torch_dtype", torch_dtype(dtype));
    snprintf(path, sizeof path, "%s/config.json", dir);
    vkt_status s = vkt_json_write(path, conf);
    cJSON_Delete(conf);
    if (s != VKT_OK) return s;

    const vkt_param_table *t = &m->table;
    vkt_st_write_tensor *ws = calloc((size_t)t->n, sizeof *ws);
    float **bufs = calloc((size_t)t->n, sizeof *bufs);
    s = ws && bufs ? VKT_OK : VKT_ERR_OOM;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        vkt_st_write_tensor *w = &ws[i];
        *w = (vkt_st_write_tensor){.name = e->name, .dtype = dtype, .from_f32 = true, .data = m->flat + e->offset};
        if (e->rows == 1) {
            w->ndim = 1, w->shape[0] = e->cols;
        } else if (e->hf_transposed) { /* GPT-2 Conv1D: Hugging Face stores (in, out) */
            w->ndim = 2, w->shape[0] = e->cols, w->shape[1] = e->rows;
            if (!(bufs[i] = malloc((size_t)e->numel * sizeof(float))))
                s = VKT_ERR_OOM;
            else
                vkt_transpose_f32(bufs[i], m->flat + e->offset, e->rows, e->cols), w->data = bufs[i];
        } else {
            w->ndim = 2, w->shape[0] = e->rows, w->shape[1] = e->cols;
        }
    }
    const char *meta[] = {"format", "pt"};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (s == VKT_OK) s = vkt_st_write(path, ws, t->n, meta, 1);
    for (int i = 0; bufs && i < t->n; i++) free(bufs[i]);
    free(bufs), free(ws);
    return s;
}
