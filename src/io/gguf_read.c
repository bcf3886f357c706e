/* GGUF reader (see gguf_read.h). A cursor walks the mapped bytes; every read checks the bytes left. */
#include "io/gguf_read.h"

#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"

typedef struct {
    const uint8_t *p;
    size_t off, size;
    const char *path;
    bool bad;
} cursor;

static bool take(cursor *c, void *dst, size_t n, const char *what) {
    if (c->bad) return false;
    if (n > c->size - c->off) {
        vkt_log_error("%s: byte %zu: %s needs %zu bytes but the file ends at %zu (truncated?)", c->path, c->off, what,
                      n, c->size);
        c->bad = true;
        return false;
    }
    if (dst) memcpy(dst, c->p + c->off, n);
    c->off += n;
    return true;
}

static uint64_t take_u64(cursor *c, const char *what) {
    uint64_t v = 0;
    take(c, &v, 8, what);
    return v;
}
static uint32_t take_u32(cursor *c, const char *what) {
    uint32_t v = 0;
    take(c, &v, 4, what);
    return v;
}

/* A string: returns its bytes (borrowed) and length. */
static const char *take_str(cursor *c, size_t *len, const char *what) {
    uint64_t n = take_u64(c, what);
    if (c->bad) return NULL;
    if (n > c->size - c->off) {
        vkt_log_error("%s: byte %zu: %s has length %llu, past the end of the file", c->path, c->off - 8, what,
                      (unsigned long long)n);
        c->bad = true;
        return NULL;
    }
    const char *s = (const char *)c->p + c->off;
    c->off += n;
    *len = n;
    return s;
}

static bool skip_value(cursor *c, uint32_t type, const char *key) {
    size_t len;
    if (type == VKT_GGUF_STRING) return take_str(c, &len, key) != NULL;
    size_t n = vkt_gguf_type_size((vkt_gguf_type)type);
    if (n == 0) {
        vkt_log_error("%s: byte %zu: key \"%s\" has unknown value type %u", c->path, c->off, key, type);
        return c->bad = true, false;
    }
    return take(c, NULL, n, key);
}

static vkt_status read_kv(cursor *c, vkt_gguf_kv *kv) {
    kv->key = take_str(c, &kv->key_len, "key");
    char key[128];
    snprintf(key, sizeof key, "%.*s", kv->key ? (int)(kv->key_len < 100 ? kv->key_len : 100) : 0,
             kv->key ? kv->key : "");
    kv->type = take_u32(c, "value type");
    kv->n = 1;
    if (c->bad) return VKT_ERR_FORMAT;
    if (kv->type == VKT_GGUF_ARRAY) {
        kv->arr_type = take_u32(c, "array element type");
        kv->n = take_u64(c, "array length");
        if (c->bad) return VKT_ERR_FORMAT;
        if (kv->arr_type == VKT_GGUF_ARRAY) {
            vkt_log_error("%s: key \"%s\": arrays of arrays are not supported", c->path, key);
            return VKT_ERR_FORMAT;
        }
        kv->value = c->p + c->off;
        for (uint64_t i = 0; i < kv->n; i++)
            if (!skip_value(c, kv->arr_type, key)) return VKT_ERR_FORMAT;
        return VKT_OK;
    }
    kv->value = c->p + c->off;
    return skip_value(c, kv->type, key) ? VKT_OK : VKT_ERR_FORMAT;
}

vkt_status vkt_gguf_open(const char *path, vkt_gguf_file *out) {
    memset(out, 0, sizeof *out);
    VKT_TRY(vkt_file_map_open(path, &out->map));
    cursor c = {out->map.data, 0, out->map.size, path, false};
    vkt_status s = VKT_ERR_FORMAT;
    uint32_t magic = take_u32(&c, "magic");
    out->version = take_u32(&c, "version");
    uint64_t n_tensors = take_u64(&c, "tensor count"), n_kv = take_u64(&c, "key/value count");
    if (c.bad) goto done;
    if (magic != VKT_GGUF_MAGIC) {
        vkt_log_error("%s: magic is 0x%08x, not \"GGUF\": not a GGUF file", path, magic);
        goto done;
    }
    if (out->version != VKT_GGUF_VERSION) {
        vkt_log_error("%s: GGUF version %u; this reader knows version 3 only", path, out->version);
        goto done;
    }
    /* Each key/value takes at least 12 bytes and each tensor info at least 24: bounds the counts. */
    if (n_kv > out->map.size / 12 || n_tensors > out->map.size / 24) {
        vkt_log_error("%s: %llu keys / %llu tensors cannot fit in %zu bytes", path, (unsigned long long)n_kv,
                      (unsigned long long)n_tensors, out->map.size);
        goto done;
    }
    out->kvs = calloc(n_kv + 1, sizeof *out->kvs);
    out->tensors = calloc(n_tensors + 1, sizeof *out->tensors);
    if (!out->kvs || !out->tensors) {
        s = VKT_ERR_OOM;
        goto done;
    }
    for (uint64_t i = 0; i < n_kv; i++, out->n_kv++)
        if (read_kv(&c, &out->kvs[i]) != VKT_OK) goto done;
    out->alignment = VKT_GGUF_DEFAULT_ALIGNMENT;
    const vkt_gguf_kv *al = vkt_gguf_find(out, "general.alignment");
    if (al) {
        uint32_t a = 0;
        if (al->type == VKT_GGUF_UINT32) memcpy(&a, al->value, 4);
        if (a == 0 || (a & (a - 1)) != 0) {
            vkt_log_error("%s: general.alignment must be a uint32 power of two", path);
            goto done;
        }
        out->alignment = a;
    }
    for (uint64_t i = 0; i < n_tensors; i++, out->n_tensors++) {
        vkt_gguf_tensor_info *t = &out->tensors[i];
        size_t len;
        const char *name = take_str(&c, &len, "tensor name");
        if (c.bad) goto done;
        if (len == 0 || len >= sizeof t->name) {
            vkt_log_error("%s: byte %zu: tensor %llu has a name of %zu bytes (1..63)", path, c.off,
                          (unsigned long long)i, len);
            goto done;
        }
        memcpy(t->name, name, len);
        t->ndim = (int)take_u32(&c, "tensor n_dims");
        if (!c.bad && (t->ndim < 1 || t->ndim > 4)) {
            vkt_log_error("%s: tensor \"%s\" has %d dims (1..4)", path, t->name, t->ndim);
            goto done;
        }
        int64_t n = 1;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (int d = 0; d < t->ndim && !c.bad; d++) {
            uint64_t v = take_u64(&c, "tensor dim");
            if (v == 0 || v > (uint64_t)INT64_MAX / (uint64_t)n) {
                vkt_log_error("%s: tensor \"%s\" dim %d is %llu", path, t->name, d, (unsigned long long)v);
                goto done;
            }
            t->ne[d] = (int64_t)v, n *= (int64_t)v;
        }
        t->type = take_u32(&c, "tensor type");
        t->offset = take_u64(&c, "tensor offset");
        if (c.bad) goto done;
        size_t row = vkt_ggml_row_bytes(t->type, t->ne[0]);
        if (row == 0) {
            vkt_log_error("%s: tensor \"%s\": type %u (%s) with rows of %lld values is not readable here", path,
                          t->name, t->type, vkt_ggml_type_name(t->type) ? vkt_ggml_type_name(t->type) : "unknown",
                          (long long)t->ne[0]);
            s = VKT_ERR_UNSUPPORTED;
            goto done;
        }
        t->bytes = row * (size_t)(n / t->ne[0]);
        if (t->offset % out->alignment) {
            vkt_log_error("%s: tensor \"%s\" offset %llu is not a multiple of the alignment %u", path, t->name,
                          (unsigned long long)t->offset, out->alignment);
            goto done;
        }
    }
    out->data_start = (c.off + out->alignment - 1) / out->alignment * out->alignment;
    for (int64_t i = 0; i < out->n_tensors; i++) {
        const vkt_gguf_tensor_info *t = &out->tensors[i];
        if (out->data_start > out->map.size || t->offset > out->map.size - out->data_start ||
            t->bytes > out->map.size - out->data_start - t->offset) {
            vkt_log_error("%s: tensor \"%s\" (%zu bytes at data offset %llu) runs past the end of the file (%zu "
                          "bytes, data from %zu)",
                          path, t->name, t->bytes, (unsigned long long)t->offset, out->map.size, out->data_start);
            goto done;
        }
        for (int64_t j = 0; j < i; j++) {
            const vkt_gguf_tensor_info *u = &out->tensors[j];
            if (strcmp(u->name, t->name) == 0) {
                vkt_log_error("%s: tensor \"%s\" is listed twice", path, t->name);
                goto done;
            }
            if (t->offset < u->offset + u->bytes && u->offset < t->offset + t->bytes) {
                vkt_log_error("%s: tensors \"%s\" and \"%s\" overlap", path, u->name, t->name);
                goto done;
            }
        }
    }
    s = VKT_OK;
done:
    if (s != VKT_OK) vkt_gguf_close(out);
    return s;
}

void vkt_gguf_close(vkt_gguf_file *f) {
    vkt_file_map_close(&f->map);
    free(f->kvs);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

const vkt_gguf_kv *vkt_gguf_find(const vkt_gguf_file *f, const char *key) {
    size_t n = strlen(key);
    for (int64_t i = 0; i < f->n_kv; i++)
        if (f->kvs[i].key_len == n && memcmp(f->kvs[i].key, key, n) == 0) return &f->kvs[i];
    return NULL;
}

static const vkt_gguf_kv *find_typed(const vkt_gguf_file *f, const char *key, uint32_t type) {
    const vkt_gguf_kv *kv = vkt_gguf_find(f, key);
    return kv && kv->type == type ? kv : NULL;
}

bool vkt_gguf_get_u32(const vkt_gguf_file *f, const char *key, uint32_t *v) {
    const vkt_gguf_kv *kv = find_typed(f, key, VKT_GGUF_UINT32);
    return kv ? (memcpy(v, kv->value, 4), true) : false;
}
bool vkt_gguf_get_f32(const vkt_gguf_file *f, const char *key, float *v) {
    const vkt_gguf_kv *kv = find_typed(f, key, VKT_GGUF_FLOAT32);
    return kv ? (memcpy(v, kv->value, 4), true) : false;
}
bool vkt_gguf_get_bool(const vkt_gguf_file *f, const char *key, bool *v) {
    const vkt_gguf_kv *kv = find_typed(f, key, VKT_GGUF_BOOL);
    return kv ? (*v = kv->value[0] != 0, true) : false;
}
bool vkt_gguf_get_str(const vkt_gguf_file *f, const char *key, char *buf, size_t n) {
    const vkt_gguf_kv *kv = find_typed(f, key, VKT_GGUF_STRING);
    if (!kv || n == 0) return false;
    uint64_t len;
    memcpy(&len, kv->value, 8);
    size_t k = len < n - 1 ? (size_t)len : n - 1;
    memcpy(buf, kv->value + 8, k);
    buf[k] = 0;
    return true;
}

const char *vkt_gguf_arr_str(const vkt_gguf_kv *kv, uint64_t i, size_t *len) {
    if (kv->type != VKT_GGUF_ARRAY || kv->arr_type != VKT_GGUF_STRING || i >= kv->n) return NULL;
    const uint8_t *p = kv->value;
    uint64_t n;
    for (uint64_t k = 0;; k++) { /* bounds were checked on open */
        memcpy(&n, p, 8);
        if (k == i) break;
        p += 8 + n;
    }
    *len = (size_t)n;
    return (const char *)p + 8;
}

bool vkt_gguf_arr_u32(const vkt_gguf_kv *kv, uint64_t i, uint32_t *v) {
    if (kv->type != VKT_GGUF_ARRAY || vkt_gguf_type_size((vkt_gguf_type)kv->arr_type) != 4 || i >= kv->n) return false;
    memcpy(v, kv->value + 4 * i, 4);
    return true;
}

const vkt_gguf_tensor_info *vkt_gguf_tensor(const vkt_gguf_file *f, const char *name) {
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const uint8_t *vkt_gguf_tensor_data(const vkt_gguf_file *f, const vkt_gguf_tensor_info *t) {
    return f->map.data + f->data_start + t->offset;
}

vkt_status vkt_gguf_tensor_f32(const vkt_gguf_file *f, const vkt_gguf_tensor_info *t, float *out) {
    const uint8_t *p = vkt_gguf_tensor_data(f, t);
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    switch (t->type) {
    case VKT_GGML_F32: memcpy(out, p, (size_t)n * 4); return VKT_OK;
    case VKT_GGML_F16:
    case VKT_GGML_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = t->type == VKT_GGML_F16 ? vkt_f16_to_f32(h) : vkt_bf16_to_f32(h);
        }
        return VKT_OK;
    case VKT_GGML_Q8_0: vkt_gguf_dequantize_q8_0(p, n, out); return VKT_OK;
    default:
        vkt_log_error("%s: tensor \"%s\" has type %u, not readable as f32 here", f->map.path, t->name, t->type);
        return VKT_ERR_UNSUPPORTED;
    }
}
