/* safetensors writer (see safetensors.h): header built with cJSON, tensors packed in the given order,
 * 16-bit conversion streamed in chunks, the whole file written atomically (io/file.h). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"
#include "io/safetensors.h"

#define CONVERT_CHUNK 65536 /* elements converted per write when narrowing from f32 */

static vkt_status check_args(const char *path, const vkt_st_write_tensor *ts, int n, const char *const *meta_kv,
                             int n_meta) {
    for (int i = 0; i < n; i++) {
        const vkt_st_write_tensor *t = &ts[i];
        if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0) {
            vkt_log_error("%s: tensor %d: empty or reserved name", path, i);
            return VKT_ERR_ARG;
        }
        if ((unsigned)t->dtype >= VKT_ST_DTYPE_COUNT || t->ndim < 0 || t->ndim > VKT_ST_MAX_DIMS) {
            vkt_log_error("%s: tensor \"%s\": bad dtype or ndim %d", path, t->name, t->ndim);
            return VKT_ERR_ARG;
        }
        if (t->from_f32 && t->dtype != VKT_ST_F32 && t->dtype != VKT_ST_F16 && t->dtype != VKT_ST_BF16) {
            vkt_log_error("%s: tensor \"%s\": f32 data can only be written as F32, F16 or BF16", path, t->name);
            return VKT_ERR_ARG;
        }
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0) {
                vkt_log_error("%s: tensor \"%s\": negative dim %d", path, t->name, d);
                return VKT_ERR_ARG;
            }
        for (int j = 0; j < i; j++)
            if (strcmp(ts[j].name, t->name) == 0) {
                vkt_log_error("%s: tensor \"%s\" given twice", path, t->name);
                return VKT_ERR_ARG;
            }
    }
    for (int i = 0; i < 2 * n_meta; i++)
        if (!meta_kv[i]) {
            vkt_log_error("%s: metadata entry %d is NULL", path, i / 2);
            return VKT_ERR_ARG;
        }
    return VKT_OK;
}

static int64_t numel_of(const vkt_st_write_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* Header JSON text (caller frees with cJSON_free), or NULL when out of memory. */
static char *build_header(const vkt_st_write_tensor *ts, int n, const char *const *meta_kv, int n_meta) {
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < n_meta; i++) ok = cJSON_AddStringToObject(m, meta_kv[2 * i], meta_kv[2 * i + 1]);
    }
    uint64_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        const vkt_st_write_tensor *t = &ts[i];
        uint64_t bytes = (uint64_t)numel_of(t) * vkt_st_dtype_size(t->dtype);
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON *sh = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
        cJSON *of = o ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
        ok = o && sh && of && cJSON_AddStringToObject(o, "dtype", vkt_st_dtype_name(t->dtype));
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off)) &&
             cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static vkt_status write_data(vkt_atomic_file *a, const vkt_st_write_tensor *t, uint16_t *scratch) {
    int64_t n = numel_of(t);
    if (n == 0) return VKT_OK;
    if (!t->from_f32 || t->dtype == VKT_ST_F32)
        return vkt_atomic_write(a, t->data, (size_t)n * vkt_st_dtype_size(t->dtype));
    const float *x = t->data;
    for (int64_t i = 0; i < n; i += CONVERT_CHUNK) {
        int64_t m = n - i < CONVERT_CHUNK ? n - i : CONVERT_CHUNK;
        for (int64_t j = 0; j < m; j++)
            scratch[j] = t->dtype == VKT_ST_F16 ? vkt_f32_to_f16(x[i + j]) : vkt_f32_to_bf16(x[i + j]);
        VKT_TRY(vkt_atomic_write(a, scratch, (size_t)m * 2));
    }
    return VKT_OK;
}

vkt_status vkt_st_write(const char *path, const vkt_st_write_tensor *ts, int n, const char *const *meta_kv,
                        int n_meta) {
    VKT_TRY(check_args(path, ts, n, meta_kv, n_meta));
    char *header = build_header(ts, n, meta_kv, n_meta);
    uint16_t *scratch = malloc(CONVERT_CHUNK * sizeof *scratch);
    if (!header || !scratch) {
        cJSON_free(header);
        free(scratch);
        return VKT_ERR_OOM;
    }
    /* Pad with spaces so the byte buffer starts 8-byte aligned, as the reference writer does. */
    size_t len = strlen(header), padded = (len + 7) / 8 * 8;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    vkt_atomic_file a;
    vkt_status s = vkt_atomic_open(path, &a);
    if (s == VKT_OK) {
        s = vkt_atomic_write(&a, le, 8);
        if (s == VKT_OK) s = vkt_atomic_write(&a, header, len);
        if (s == VKT_OK) s = vkt_atomic_write(&a, "        ", padded - len);
        for (int i = 0; i < n && s == VKT_OK; i++) s = write_data(&a, &ts[i], scratch);
        if (s == VKT_OK)
            s = vkt_atomic_commit(&a);
        else
            vkt_atomic_abort(&a);
    }
    cJSON_free(header);
    free(scratch);
    return s;
}

vkt_status vkt_st_write_params(const char *path, const vkt_host_params *p, vkt_st_dtype dtype,
                               const char *const *meta_kv, int n_meta) {
    vkt_st_write_tensor *ts = calloc((size_t)p->count + 1, sizeof *ts);
    if (!ts) return VKT_ERR_OOM;
    for (int i = 0; i < p->count; i++) {
        const vkt_host_param *e = &p->items[i];
        ts[i] =
            (vkt_st_write_tensor){.name = e->name, .dtype = dtype, .ndim = e->ndim, .data = e->data, .from_f32 = true};
        for (int d = 0; d < e->ndim; d++) ts[i].shape[d] = e->shape[d];
    }
    vkt_status s = vkt_st_write(path, ts, p->count, meta_kv, n_meta);
    free(ts);
    return s;
}
