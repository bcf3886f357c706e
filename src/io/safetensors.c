/* safetensors reader: header validation, tensor lookup and f32 conversion (see safetensors.h).
 * Little-endian hosts only (x86-64, arm64): values are copied, not byte-swapped. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"

/* The reference implementation refuses headers above 100 MB; so do we (a corrupt length would
 * otherwise ask cJSON to parse the whole file). */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

static const struct {
    const char *name;
    size_t size;
} k_dtypes[VKT_ST_DTYPE_COUNT] = {
    [VKT_ST_BOOL] = {"BOOL", 1},       [VKT_ST_U8] = {"U8", 1},           [VKT_ST_I8] = {"I8", 1},
    [VKT_ST_F8_E4M3] = {"F8_E4M3", 1}, [VKT_ST_F8_E5M2] = {"F8_E5M2", 1}, [VKT_ST_I16] = {"I16", 2},
    [VKT_ST_U16] = {"U16", 2},         [VKT_ST_F16] = {"F16", 2},         [VKT_ST_BF16] = {"BF16", 2},
    [VKT_ST_I32] = {"I32", 4},         [VKT_ST_U32] = {"U32", 4},         [VKT_ST_F32] = {"F32", 4},
    [VKT_ST_I64] = {"I64", 8},         [VKT_ST_U64] = {"U64", 8},         [VKT_ST_F64] = {"F64", 8},
};

bool vkt_st_dtype_exact_f32(vkt_st_dtype d) { return d == VKT_ST_F32 || d == VKT_ST_F16 || d == VKT_ST_BF16; }

const char *vkt_st_dtype_name(vkt_st_dtype d) { return (unsigned)d < VKT_ST_DTYPE_COUNT ? k_dtypes[d].name : "?"; }
size_t vkt_st_dtype_size(vkt_st_dtype d) { return (unsigned)d < VKT_ST_DTYPE_COUNT ? k_dtypes[d].size : 0; }

static vkt_status bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static vkt_status bad(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vkt_log_error("%s", msg);
    return VKT_ERR_FORMAT;
}

/* A JSON number that is a non-negative integer exactly representable in a double. */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double x = v->valuedouble;
    if (!(x >= 0.0) || x > 9007199254740992.0 || (double)(uint64_t)x != x) return false;
    *out = (uint64_t)x;
    return true;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const vkt_st_tensor *)a)->name, ((const vkt_st_tensor *)b)->name);
}

typedef struct {
    size_t begin;
    int idx;
} range_key;

static int cmp_range(const void *a, const void *b) {
    const range_key *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static vkt_status parse_meta(vkt_st_file *f, const char *path, const cJSON *m) {
    if (!cJSON_IsObject(m)) return bad("%s: \"__metadata__\" must be an object of strings", path);
    if (f->meta) return bad("%s: \"__metadata__\" appears twice in the header", path);
    int n = cJSON_GetArraySize(m);
    f->meta = calloc((size_t)(2 * n + 1), sizeof *f->meta);
    if (!f->meta) return VKT_ERR_OOM;
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c)) return bad("%s: __metadata__ key \"%s\": value must be a string", path, c->string);
        f->meta[2 * f->n_meta] = strdup(c->string);
        f->meta[2 * f->n_meta + 1] = strdup(c->valuestring);
        f->n_meta++;
        if (!f->meta[2 * f->n_meta - 2] || !f->meta[2 * f->n_meta - 1]) return VKT_ERR_OOM;
    }
    return VKT_OK;
}

static vkt_status parse_tensor(vkt_st_tensor *t, const char *path, const cJSON *c, size_t data_size) {
    const char *name = c->string;
    if (!cJSON_IsObject(c)) return bad("%s: tensor \"%s\": entry must be an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(c, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
    if (!cJSON_IsString(dt)) return bad("%s: tensor \"%s\": field \"dtype\" missing or not a string", path, name);
    t->dtype = VKT_ST_DTYPE_COUNT;
    for (int d = 0; d < VKT_ST_DTYPE_COUNT; d++)
        if (strcmp(dt->valuestring, k_dtypes[d].name) == 0) t->dtype = (vkt_st_dtype)d;
    if (t->dtype == VKT_ST_DTYPE_COUNT)
        return bad("%s: tensor \"%s\": field \"dtype\": unknown dtype \"%s\"", path, name, dt->valuestring);
    if (!cJSON_IsArray(sh)) return bad("%s: tensor \"%s\": field \"shape\" missing or not an array", path, name);
    t->ndim = cJSON_GetArraySize(sh);
    if (t->ndim > VKT_ST_MAX_DIMS)
        return bad("%s: tensor \"%s\": field \"shape\": %d dims (at most %d supported)", path, name, t->ndim,
                   VKT_ST_MAX_DIMS);
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *v = sh->child; v; v = v->next, i++) {
        uint64_t d;
        if (!json_uint(v, &d))
            return bad("%s: tensor \"%s\": field \"shape\"[%d] is not a non-negative integer", path, name, i);
        if (d && numel > (uint64_t)INT64_MAX / d)
            return bad("%s: tensor \"%s\": field \"shape\": element count overflows", path, name);
        numel *= d;
        t->shape[i] = (int64_t)d;
    }
    t->numel = (int64_t)numel;
    uint64_t b, e;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !json_uint(of->child, &b) ||
        !json_uint(of->child->next, &e))
        return bad("%s: tensor \"%s\": field \"data_offsets\" must be [begin, end], non-negative integers", path, name);
    if (b > e)
        return bad("%s: tensor \"%s\": field \"data_offsets\": begin %llu > end %llu", path, name,
                   (unsigned long long)b, (unsigned long long)e);
    if (e > data_size)
        return bad("%s: tensor \"%s\": field \"data_offsets\": end %llu is beyond the data buffer (%zu bytes; "
                   "file truncated?)",
                   path, name, (unsigned long long)e, data_size);
    size_t es = k_dtypes[t->dtype].size;
    if (numel > (uint64_t)SIZE_MAX / es || numel * es != e - b)
        return bad("%s: tensor \"%s\": field \"data_offsets\" spans %llu bytes but dtype %s x %llu elements "
                   "needs %llu",
                   path, name, (unsigned long long)(e - b), k_dtypes[t->dtype].name, (unsigned long long)numel,
                   (unsigned long long)(numel * es));
    t->begin = (size_t)b;
    t->end = (size_t)e;
    t->name = strdup(name);
    return t->name ? VKT_OK : VKT_ERR_OOM;
}

/* Names unique; byte ranges of non-empty tensors disjoint. */
static vkt_status validate_layout(vkt_st_file *f, const char *path) {
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_tensor_name);
    for (int i = 1; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0)
            return bad("%s: tensor \"%s\" appears twice in the header", path, f->tensors[i].name);
    range_key *order = malloc((size_t)(f->n_tensors + 1) * sizeof *order);
    int n = 0;
    if (!order) return VKT_ERR_OOM;
    for (int i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].end > f->tensors[i].begin) order[n++] = (range_key){f->tensors[i].begin, i};
    qsort(order, (size_t)n, sizeof *order, cmp_range);
    vkt_status s = VKT_OK;
    for (int i = 1; i < n && s == VKT_OK; i++) {
        const vkt_st_tensor *a = &f->tensors[order[i - 1].idx], *b = &f->tensors[order[i].idx];
        if (b->begin < a->end)
            s = bad("%s: tensors \"%s\" [%zu, %zu) and \"%s\" [%zu, %zu) overlap (field \"data_offsets\")", path,
                    a->name, a->begin, a->end, b->name, b->begin, b->end);
    }
    free(order);
    return s;
}

static vkt_status parse(vkt_st_file *f, const char *path) {
    const uint8_t *d = f->map.data;
    size_t size = f->map.size;
    if (size < 8)
        return bad("%s: truncated: %zu bytes, but a safetensors file starts with an 8-byte header length", path, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | d[i];
    if (hlen > size - 8)
        return bad("%s: header length %llu is beyond the end of the file (%zu bytes): truncated, or not a "
                   "safetensors file",
                   path, (unsigned long long)hlen, size);
    if (hlen > ST_MAX_HEADER)
        return bad("%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
    f->data_start = 8 + (size_t)hlen;
    const char *js = (const char *)d + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(js, (size_t)hlen, &end, false);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        long at = (e && e >= js && e <= js + hlen) ? (long)(e - js) : -1;
        return bad("%s: header is not valid JSON (error near header byte %ld of %llu)", path, at,
                   (unsigned long long)hlen);
    }
    vkt_status s = VKT_OK;
    for (const char *p = end; p && p < js + hlen; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            s = bad("%s: unexpected bytes after the header JSON (header byte %ld)", path, (long)(p - js));
            break;
        }
    if (s == VKT_OK && !cJSON_IsObject(root)) s = bad("%s: header JSON is not an object", path);
    if (s == VKT_OK) {
        int n = cJSON_GetArraySize(root);
        f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
        if (!f->tensors) s = VKT_ERR_OOM;
    }
    for (const cJSON *c = s == VKT_OK ? root->child : NULL; c && s == VKT_OK; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0)
            s = parse_meta(f, path, c);
        else
            s = parse_tensor(&f->tensors[f->n_tensors++], path, c, size - f->data_start);
    }
    cJSON_Delete(root);
    if (s == VKT_OK) s = validate_layout(f, path);
    return s;
}

vkt_status vkt_st_open(const char *path, vkt_st_file *out) {
    memset(out, 0, sizeof *out);
    VKT_TRY(vkt_file_map_open(path, &out->map));
    vkt_status s = parse(out, path);
    if (s != VKT_OK) vkt_st_close(out);
    return s;
}

vkt_status vkt_st_open_mem(const void *data, size_t size, const char *name, vkt_st_file *out) {
    memset(out, 0, sizeof *out);
    VKT_TRY(vkt_file_map_copy(data, size, name, &out->map));
    vkt_status s = parse(out, name);
    if (s != VKT_OK) vkt_st_close(out);
    return s;
}

void vkt_st_close(vkt_st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->meta);
    vkt_file_map_close(&f->map);
    memset(f, 0, sizeof *f);
}

const vkt_st_tensor *vkt_st_find(const vkt_st_file *f, const char *name) {
    int lo = 0, hi = f->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->tensors[mid].name, name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const char *vkt_st_meta(const vkt_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

const void *vkt_st_bytes(const vkt_st_file *f, const vkt_st_tensor *t) {
    return f->map.data + f->data_start + t->begin;
}

vkt_status vkt_st_read_f32(const vkt_st_file *f, const vkt_st_tensor *t, float *out, int64_t n) {
    if (n != t->numel) {
        vkt_log_error("%s: tensor \"%s\": caller expects %lld elements, file has %lld", f->map.path, t->name,
                      (long long)n, (long long)t->numel);
        return VKT_ERR_ARG;
    }
    const uint8_t *p = vkt_st_bytes(f, t);
    switch (t->dtype) {
    case VKT_ST_F32: memcpy(out, p, (size_t)n * 4); return VKT_OK;
    case VKT_ST_F16:
    case VKT_ST_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = t->dtype == VKT_ST_F16 ? vkt_f16_to_f32(h) : vkt_bf16_to_f32(h);
        }
        return VKT_OK;
    default:
        vkt_log_error("%s: tensor \"%s\": dtype %s cannot be loaded as f32 parameters (F32, F16 and BF16 convert "
                      "exactly; convert the file to one of them, e.g. with torch: t.to(torch.bfloat16))",
                      f->map.path, t->name, k_dtypes[t->dtype].name);
        return VKT_ERR_UNSUPPORTED;
    }
}
