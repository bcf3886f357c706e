/* GGUF writer (see gguf_write.h). Key/values are serialized as they are added, so the file is the
 * header, that buffer, the tensor infos, padding and the data. */
#include "io/gguf_write.h"

#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"
#include "io/file.h"

#define MAX_TENSOR_NAME 64 /* GGML_MAX_NAME, terminator included */

void vkt_gguf_writer_init(vkt_gguf_writer *w) {
    memset(w, 0, sizeof *w);
    w->alignment = VKT_GGUF_DEFAULT_ALIGNMENT;
}

void vkt_gguf_writer_free(vkt_gguf_writer *w) {
    for (int64_t i = 0; w->keys && i < w->n_kv; i++) free(w->keys[i]);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name), free(w->tensors[i].data);
    free(w->kv), free(w->keys), free(w->tensors);
    memset(w, 0, sizeof *w);
    w->alignment = VKT_GGUF_DEFAULT_ALIGNMENT;
}

static vkt_status put(vkt_gguf_writer *w, const void *p, size_t n) {
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *kv = realloc(w->kv, cap);
        if (!kv) return w->failed = true, VKT_ERR_OOM;
        w->kv = kv, w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return VKT_OK;
}

static vkt_status put_u32(vkt_gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static vkt_status put_u64(vkt_gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static vkt_status put_str(vkt_gguf_writer *w, const char *s) {
    size_t n = strlen(s);
    VKT_TRY(put_u64(w, n));
    return put(w, s, n);
}

/* Checks the key is new, records it and writes key + type. */
static vkt_status begin(vkt_gguf_writer *w, const char *key, vkt_gguf_type type) {
    if (!key[0]) {
        vkt_log_error("GGUF writer: empty key");
        return w->failed = true, VKT_ERR_ARG;
    }
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            vkt_log_error("GGUF writer: key \"%s\" added twice", key);
            return w->failed = true, VKT_ERR_ARG;
        }
    char **keys = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *keys);
    if (!keys) return w->failed = true, VKT_ERR_OOM;
    w->keys = keys;
    if (!(w->keys[w->n_kv] = strdup(key))) return w->failed = true, VKT_ERR_OOM;
    w->n_kv++;
    VKT_TRY(put_str(w, key));
    return put_u32(w, (uint32_t)type);
}

vkt_status vkt_gguf_add_u32(vkt_gguf_writer *w, const char *key, uint32_t v) {
    if (strcmp(key, "general.alignment") == 0) {
        if (v == 0 || v > 256 || (v & (v - 1)) != 0) {
            vkt_log_error("GGUF writer: general.alignment %u is not a power of two up to 256", v);
            return w->failed = true, VKT_ERR_ARG;
        }
        w->alignment = v;
    }
    VKT_TRY(begin(w, key, VKT_GGUF_UINT32));
    return put_u32(w, v);
}
vkt_status vkt_gguf_add_i32(vkt_gguf_writer *w, const char *key, int32_t v) {
    VKT_TRY(begin(w, key, VKT_GGUF_INT32));
    return put(w, &v, 4);
}
vkt_status vkt_gguf_add_u64(vkt_gguf_writer *w, const char *key, uint64_t v) {
    VKT_TRY(begin(w, key, VKT_GGUF_UINT64));
    return put_u64(w, v);
}
vkt_status vkt_gguf_add_f32(vkt_gguf_writer *w, const char *key, float v) {
    VKT_TRY(begin(w, key, VKT_GGUF_FLOAT32));
    return put(w, &v, 4);
}
vkt_status vkt_gguf_add_bool(vkt_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    VKT_TRY(begin(w, key, VKT_GGUF_BOOL));
    return put(w, &b, 1);
}
vkt_status vkt_gguf_add_str(vkt_gguf_writer *w, const char *key, const char *v) {
    VKT_TRY(begin(w, key, VKT_GGUF_STRING));
    return put_str(w, v);
}

static vkt_status begin_array(vkt_gguf_writer *w, const char *key, vkt_gguf_type elem, int64_t n) {
    if (n < 0) return w->failed = true, VKT_ERR_ARG;
    VKT_TRY(begin(w, key, VKT_GGUF_ARRAY));
    VKT_TRY(put_u32(w, (uint32_t)elem));
    return put_u64(w, (uint64_t)n);
}

vkt_status vkt_gguf_add_arr_str(vkt_gguf_writer *w, const char *key, const char *const *v, int64_t n) {
    VKT_TRY(begin_array(w, key, VKT_GGUF_STRING, n));
    for (int64_t i = 0; i < n; i++) VKT_TRY(put_str(w, v[i]));
    return VKT_OK;
}
vkt_status vkt_gguf_add_arr_f32(vkt_gguf_writer *w, const char *key, const float *v, int64_t n) {
    VKT_TRY(begin_array(w, key, VKT_GGUF_FLOAT32, n));
    return put(w, v, (size_t)n * 4);
}
vkt_status vkt_gguf_add_arr_i32(vkt_gguf_writer *w, const char *key, const int32_t *v, int64_t n) {
    VKT_TRY(begin_array(w, key, VKT_GGUF_INT32, n));
    return put(w, v, (size_t)n * 4);
}

vkt_status vkt_gguf_add_tensor_f32(vkt_gguf_writer *w, const char *name, int ndim, const int64_t *ne,
                                   vkt_ggml_type type, const float *x) {
    vkt_gguf_out_tensor t = {.ndim = ndim, .ne = {1, 1, 1, 1}, .type = (uint32_t)type};
    if (strlen(name) == 0 || strlen(name) >= MAX_TENSOR_NAME) {
        vkt_log_error("GGUF writer: tensor name \"%s\" must be 1..%d bytes", name, MAX_TENSOR_NAME - 1);
        return w->failed = true, VKT_ERR_ARG;
    }
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) {
            vkt_log_error("GGUF writer: tensor \"%s\" added twice", name);
            return w->failed = true, VKT_ERR_ARG;
        }
    if (ndim < 1 || ndim > 4) {
        vkt_log_error("GGUF writer: tensor \"%s\" has %d dims (1..4)", name, ndim);
        return w->failed = true, VKT_ERR_ARG;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (ne[i] <= 0) {
            vkt_log_error("GGUF writer: tensor \"%s\" has ne[%d] = %lld", name, i, (long long)ne[i]);
            return w->failed = true, VKT_ERR_ARG;
        }
        t.ne[i] = ne[i], n *= ne[i];
    }
    size_t row = vkt_ggml_row_bytes(type, ne[0]);
    if (row == 0) {
        vkt_log_error("GGUF writer: tensor \"%s\": rows of %lld values cannot be stored as %s (Q8_0 needs a "
                      "multiple of %d)",
                      name, (long long)ne[0], vkt_ggml_type_name(type) ? vkt_ggml_type_name(type) : "?",
                      VKT_GGUF_QK8_0);
        return w->failed = true, VKT_ERR_ARG;
    }
    t.bytes = row * (size_t)(n / ne[0]);
    t.data = malloc(t.bytes ? t.bytes : 1);
    t.name = strdup(name);
    if (!t.data || !t.name) {
        free(t.data), free(t.name);
        return w->failed = true, VKT_ERR_OOM;
    }
    if (type == VKT_GGML_F32) {
        memcpy(t.data, x, t.bytes);
    } else if (type == VKT_GGML_F16 || type == VKT_GGML_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = type == VKT_GGML_F16 ? vkt_f32_to_f16(x[i]) : vkt_f32_to_bf16(x[i]);
            memcpy(t.data + 2 * i, &h, 2);
        }
    } else {
        vkt_gguf_quantize_q8_0(x, n, t.data);
    }
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        vkt_gguf_out_tensor *ts = realloc(w->tensors, (size_t)cap * sizeof *ts);
        if (!ts) {
            free(t.data), free(t.name);
            return w->failed = true, VKT_ERR_OOM;
        }
        w->tensors = ts, w->cap_tensors = cap;
    }
    w->tensors[w->n_tensors++] = t;
    return VKT_OK;
}

static size_t pad_to(size_t x, size_t a) { return (x + a - 1) / a * a; }

vkt_status vkt_gguf_write(const vkt_gguf_writer *w, const char *path) {
    if (w->failed) {
        vkt_log_error("%s: not written: an earlier key or tensor could not be added (see above)", path);
        return VKT_ERR_ARG;
    }
    /* Header and tensor infos in one buffer, reusing the key/value serializer. */
    vkt_gguf_writer h = {0};
    uint32_t magic = VKT_GGUF_MAGIC, version = VKT_GGUF_VERSION;
    put(&h, &magic, 4), put(&h, &version, 4);
    put_u64(&h, (uint64_t)w->n_tensors), put_u64(&h, (uint64_t)w->n_kv);
    put(&h, w->kv, w->kv_len);
    size_t off = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const vkt_gguf_out_tensor *t = &w->tensors[i];
        put_str(&h, t->name);
        put_u32(&h, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) put_u64(&h, (uint64_t)t->ne[d]);
        put_u32(&h, t->type);
        put_u64(&h, off);
        off = pad_to(off + t->bytes, w->alignment);
    }
    static const uint8_t zeros[256];
    size_t head = h.kv_len;
    if (!h.failed) put(&h, zeros, pad_to(head, w->alignment) - head);
    if (h.failed) {
        free(h.kv);
        return VKT_ERR_OOM;
    }
    vkt_atomic_file a = {0};
    vkt_status s = vkt_atomic_open(path, &a);
    if (s == VKT_OK) s = vkt_atomic_write(&a, h.kv, h.kv_len);
    off = 0;
    for (int i = 0; i < w->n_tensors && s == VKT_OK; i++) {
        const vkt_gguf_out_tensor *t = &w->tensors[i];
        s = vkt_atomic_write(&a, t->data, t->bytes);
        size_t pad = pad_to(t->bytes, w->alignment) - t->bytes;
        if (s == VKT_OK && pad) s = vkt_atomic_write(&a, zeros, pad);
    }
    if (s == VKT_OK)
        s = vkt_atomic_commit(&a);
    else
        vkt_atomic_abort(&a);
    free(h.kv);
    return s;
}
