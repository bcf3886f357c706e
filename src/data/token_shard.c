/* llm.c token shard read/write (see token_shard.h). Little-endian hosts only. */
#include "data/token_shard.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/file.h"

vkt_status vkt_tokens_reserve(vkt_tokens *t, int64_t extra) {
    if (t->n + extra <= t->cap) return VKT_OK;
    int64_t cap = t->cap ? t->cap : 1024;
    while (cap < t->n + extra) cap *= 2;
    int32_t *ids = realloc(t->ids, (size_t)cap * sizeof *ids);
    if (!ids) {
        vkt_log_error("out of memory growing a token array to %lld ids", (long long)cap);
        return VKT_ERR_OOM;
    }
    t->ids = ids;
    t->cap = cap;
    return VKT_OK;
}

vkt_status vkt_tokens_push(vkt_tokens *t, int32_t id) {
    VKT_TRY(vkt_tokens_reserve(t, 1));
    t->ids[t->n++] = id;
    return VKT_OK;
}

void vkt_tokens_free(vkt_tokens *t) {
    free(t->ids);
    memset(t, 0, sizeof *t);
}

vkt_shard_kind vkt_shard_kind_for_vocab(int64_t vocab_size) {
    return vocab_size <= 65536 ? VKT_SHARD_U16 : VKT_SHARD_U32;
}

vkt_status vkt_shard_write(const char *path, const int32_t *ids, int64_t n, vkt_shard_kind kind) {
    if (kind != VKT_SHARD_U16 && kind != VKT_SHARD_U32) return VKT_ERR_ARG;
    if (n < 0 || n > INT32_MAX) {
        vkt_log_error("%s: %lld tokens do not fit the int32 count field of the header", path, (long long)n);
        return VKT_ERR_ARG;
    }
    int64_t max_id = kind == VKT_SHARD_U16 ? 65535 : INT32_MAX;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] > max_id) {
            vkt_log_error("%s: token %lld has id %d, outside [0, %lld] for a %s shard", path, (long long)i, ids[i],
                          (long long)max_id, kind == VKT_SHARD_U16 ? "uint16" : "uint32");
            return VKT_ERR_ARG;
        }
    int32_t header[VKT_SHARD_HEADER_INTS] = {0};
    header[0] = kind == VKT_SHARD_U16 ? VKT_SHARD_MAGIC_U16 : VKT_SHARD_MAGIC_U32;
    header[1] = kind == VKT_SHARD_U16 ? VKT_SHARD_VERSION_U16 : VKT_SHARD_VERSION_U32;
    header[2] = (int32_t)n;
    vkt_atomic_file a;
    VKT_TRY(vkt_atomic_open(path, &a));
    vkt_status s = vkt_atomic_write(&a, header, sizeof header);
    if (kind == VKT_SHARD_U32) {
        if (s == VKT_OK) s = vkt_atomic_write(&a, ids, (size_t)n * 4);
    } else {
        uint16_t buf[4096];
        for (int64_t i = 0; i < n && s == VKT_OK; i += 4096) {
            int64_t m = n - i < 4096 ? n - i : 4096;
            for (int64_t j = 0; j < m; j++) buf[j] = (uint16_t)ids[i + j];
            s = vkt_atomic_write(&a, buf, (size_t)m * 2);
        }
    }
    if (s != VKT_OK) {
        vkt_atomic_abort(&a);
        return s;
    }
    return vkt_atomic_commit(&a);
}

vkt_status vkt_shard_read(const char *path, vkt_tokens *out, vkt_shard_kind *kind) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    vkt_status s = vkt_shard_read_mem(f.data, f.size, path, out, kind);
    vkt_file_map_close(&f);
    return s;
}

vkt_status vkt_shard_read_mem(const void *data, size_t size, const char *path, vkt_tokens *out, vkt_shard_kind *kind) {
    vkt_status s = VKT_ERR_FORMAT;
    int32_t h[3];
    if (size < VKT_SHARD_HEADER_INTS * 4) {
        vkt_log_error("%s: truncated header: %zu bytes, an llm.c token shard starts with 1024", path, size);
        goto cleanup;
    }
    memcpy(h, (const uint8_t *)data, sizeof h);
    vkt_shard_kind k;
    if (h[0] == VKT_SHARD_MAGIC_U16 && h[1] == VKT_SHARD_VERSION_U16) {
        k = VKT_SHARD_U16;
    } else if (h[0] == VKT_SHARD_MAGIC_U32 && h[1] == VKT_SHARD_VERSION_U32) {
        k = VKT_SHARD_U32;
    } else if (h[0] != VKT_SHARD_MAGIC_U16 && h[0] != VKT_SHARD_MAGIC_U32) {
        vkt_log_error("%s: bad magic %d (expected %d for uint16 or %d for uint32 tokens): not an llm.c token shard",
                      path, h[0], VKT_SHARD_MAGIC_U16, VKT_SHARD_MAGIC_U32);
        goto cleanup;
    } else {
        vkt_log_error("%s: magic %d with unsupported version %d (expected %d)", path, h[0], h[1],
                      h[0] == VKT_SHARD_MAGIC_U16 ? VKT_SHARD_VERSION_U16 : VKT_SHARD_VERSION_U32);
        goto cleanup;
    }
    if (h[2] < 0) {
        vkt_log_error("%s: negative token count %d in header[2]", path, h[2]);
        goto cleanup;
    }
    size_t want = VKT_SHARD_HEADER_INTS * 4 + (size_t)h[2] * (size_t)k;
    if (size != want) {
        vkt_log_error("%s: header[2] says %d tokens (%zu bytes with the header) but the file has %zu bytes%s", path,
                      h[2], want, size, size < want ? " (truncated?)" : "");
        goto cleanup;
    }
    s = vkt_tokens_reserve(out, h[2]);
    if (s != VKT_OK) goto cleanup;
    /* An empty shard leaves out->ids NULL when nothing was read before: no arithmetic on it. */
    if (h[2] > 0) {
        const uint8_t *p = (const uint8_t *)data + VKT_SHARD_HEADER_INTS * 4;
        int32_t *dst = out->ids + out->n;
        if (k == VKT_SHARD_U16) {
            for (int32_t i = 0; i < h[2]; i++) {
                uint16_t v;
                memcpy(&v, p + 2 * (size_t)i, 2);
                dst[i] = v;
            }
        } else {
            memcpy(dst, p, (size_t)h[2] * 4);
            for (int32_t i = 0; i < h[2]; i++)
                if (dst[i] < 0) {
                    vkt_log_error("%s: token %d has id %u, above the supported maximum %d", path, i, (uint32_t)dst[i],
                                  INT32_MAX);
                    s = VKT_ERR_FORMAT;
                    goto cleanup;
                }
        }
    }
    out->n += h[2];
    if (kind) *kind = k;
cleanup:
    return s;
}
