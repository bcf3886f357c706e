/* Hash maps and file reading for the tokenizers (see tok_util.h). Linear probing, load <= 1/2. */
#include "data/tok_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

uint64_t vkt_tok_hash(const char *s, size_t n) {
    uint64_t h = VKT_TOK_HASH_SEED;
    for (size_t i = 0; i < n; i++) h = vkt_tok_hash_add(h, (uint8_t)s[i]);
    return vkt_tok_hash_end(h);
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

vkt_status vkt_strmap_init(vkt_strmap *m, size_t expect, bool owns_keys) {
    memset(m, 0, sizeof *m);
    m->owns_keys = owns_keys;
    m->cap = pow2_at_least(expect * 2 + 1);
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->lens = calloc(m->cap, sizeof *m->lens);
    m->vals = malloc(m->cap * sizeof *m->vals);
    if (!m->keys || !m->lens || !m->vals) {
        vkt_strmap_free(m);
        vkt_log_error("tokenizer: out of memory for a %zu-entry map", expect);
        return VKT_ERR_OOM;
    }
    for (size_t i = 0; i < m->cap; i++) m->vals[i] = -1;
    return VKT_OK;
}

void vkt_strmap_free(vkt_strmap *m) {
    if (m->owns_keys && m->keys)
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i] >= 0) free((void *)m->keys[i]);
    free(m->keys);
    free(m->lens);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t strmap_find_hashed(const vkt_strmap *m, const char *key, size_t len, uint64_t hash) {
    size_t i = (size_t)hash & (m->cap - 1);
    while (m->vals[i] >= 0 && !(m->lens[i] == len && memcmp(m->keys[i], key, len) == 0)) i = (i + 1) & (m->cap - 1);
    return i;
}

static size_t strmap_find(const vkt_strmap *m, const char *key, size_t len) {
    return strmap_find_hashed(m, key, len, vkt_tok_hash(key, len));
}

int32_t vkt_strmap_get(const vkt_strmap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    return m->vals[strmap_find(m, key, len)];
}

int32_t vkt_strmap_get_hashed(const vkt_strmap *m, const char *key, size_t len, uint64_t hash) {
    if (!m->cap) return -1;
    return m->vals[strmap_find_hashed(m, key, len, hash)];
}

static vkt_status strmap_grow(vkt_strmap *m) {
    vkt_strmap g;
    vkt_status s = vkt_strmap_init(&g, m->cap, m->owns_keys);
    if (s != VKT_OK) return s;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->vals[i] < 0) continue;
        size_t j = strmap_find(&g, m->keys[i], m->lens[i]);
        g.keys[j] = m->keys[i], g.lens[j] = m->lens[i], g.vals[j] = m->vals[i];
        g.n++;
    }
    free(m->keys);
    free(m->lens);
    free(m->vals);
    *m = g;
    return VKT_OK;
}

vkt_status vkt_strmap_put(vkt_strmap *m, const char *key, size_t len, int32_t val, bool *existed) {
    if (existed) *existed = false;
    if ((m->n + 1) * 2 > m->cap) {
        vkt_status s = strmap_grow(m);
        if (s != VKT_OK) return s;
    }
    size_t i = strmap_find(m, key, len);
    if (m->vals[i] >= 0) {
        if (existed) *existed = true;
        return VKT_OK;
    }
    if (m->owns_keys) {
        char *k = malloc(len ? len : 1);
        if (!k) return VKT_ERR_OOM;
        memcpy(k, key, len);
        key = k;
    }
    m->keys[i] = key, m->lens[i] = (uint32_t)len, m->vals[i] = val;
    m->n++;
    return VKT_OK;
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

vkt_status vkt_pairmap_init(vkt_pairmap *m, size_t expect) {
    m->n = 0;
    m->cap = pow2_at_least(expect * 2 + 1);
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots) {
        vkt_log_error("tokenizer: out of memory for a %zu-entry merge table", expect);
        return VKT_ERR_OOM;
    }
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key = UINT64_MAX;
    return VKT_OK;
}

void vkt_pairmap_free(vkt_pairmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t pair_find(const vkt_pairmap *m, uint64_t k) {
    size_t i = pair_hash(k) & (m->cap - 1);
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != k) i = (i + 1) & (m->cap - 1);
    return i;
}

const vkt_pair_slot *vkt_pairmap_get(const vkt_pairmap *m, int32_t a, int32_t b) {
    if (!m->cap) return NULL;
    const vkt_pair_slot *s = &m->slots[pair_find(m, pair_key(a, b))];
    return s->key == UINT64_MAX ? NULL : s;
}

vkt_status vkt_pairmap_put(vkt_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id, bool *existed) {
    if (existed) *existed = false;
    if ((m->n + 1) * 2 > m->cap) {
        vkt_pairmap g;
        vkt_status s = vkt_pairmap_init(&g, m->cap);
        if (s != VKT_OK) return s;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key != UINT64_MAX) g.slots[pair_find(&g, m->slots[i].key)] = m->slots[i];
        g.n = m->n;
        free(m->slots);
        *m = g;
    }
    uint64_t k = pair_key(a, b);
    vkt_pair_slot *s = &m->slots[pair_find(m, k)];
    if (s->key != UINT64_MAX) {
        if (existed) *existed = true;
        return VKT_OK;
    }
    s->key = k, s->rank = rank, s->id = id;
    m->n++;
    return VKT_OK;
}

vkt_status vkt_tok_read_file(const char *path, const char *what, char **data, size_t *len) {
    *data = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        vkt_log_error("%s '%s': cannot open (%s); check the path", what, path, strerror(errno));
        return VKT_ERR_IO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) free(buf);
        buf = nb;
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        vkt_log_error("%s '%s': %s", what, path, buf ? "read error" : "out of memory");
        return buf ? VKT_ERR_IO : VKT_ERR_OOM;
    }
    buf[n] = 0;
    *data = buf, *len = n;
    return VKT_OK;
}
