/* Small containers for the tokenizers: a byte-string -> int32 hash map, an (id, id) -> merge hash
 * map, and whole-file reading with error messages. Host-only; not thread-safe. */
#ifndef VKT_TOK_UTIL_H
#define VKT_TOK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

/* Open-addressing map from byte strings to int32 values. Keys are borrowed unless owns_keys, in
 * which case put() copies them and free() releases the copies. */
typedef struct {
    const char **keys; /* owned array (cap); each key borrowed or owned per owns_keys */
    uint32_t *lens;    /* owned (cap) */
    int32_t *vals;     /* owned (cap); -1 marks an empty slot */
    size_t cap, n;
    bool owns_keys;
} vkt_strmap;

vkt_status vkt_strmap_init(vkt_strmap *m, size_t expect, bool owns_keys);
void vkt_strmap_free(vkt_strmap *m);
/* Value for key, or -1. */
int32_t vkt_strmap_get(const vkt_strmap *m, const char *key, size_t len);
/* Inserts key -> val (val >= 0). An existing key keeps its old value and *existed is set. */
vkt_status vkt_strmap_put(vkt_strmap *m, const char *key, size_t len, int32_t val, bool *existed);

/* A merge: the pair (a, b) becomes token id with priority rank (lower merges first). */
typedef struct {
    uint64_t key; /* (a << 32) | b; UINT64_MAX marks an empty slot */
    int32_t rank, id;
} vkt_pair_slot;

typedef struct {
    vkt_pair_slot *slots; /* owned (cap) */
    size_t cap, n;
} vkt_pairmap;

vkt_status vkt_pairmap_init(vkt_pairmap *m, size_t expect);
void vkt_pairmap_free(vkt_pairmap *m);
/* The merge for (a, b), or NULL. */
const vkt_pair_slot *vkt_pairmap_get(const vkt_pairmap *m, int32_t a, int32_t b);
/* Inserts (a, b) -> (rank, id); an existing pair keeps its first entry and *existed is set. */
vkt_status vkt_pairmap_put(vkt_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id, bool *existed);

/* Reads a whole file into a NUL-terminated malloc'd buffer (caller frees). On failure logs
 * "<what> '<path>': <reason>" and returns VKT_ERR_IO. */
vkt_status vkt_tok_read_file(const char *path, const char *what, char **data, size_t *len);

/* The key hash: FNV-1a over the bytes, then a final mix. vkt_tok_hash(s, n) ==
 * vkt_tok_hash_end(h) with h = VKT_TOK_HASH_SEED extended by vkt_tok_hash_add for each byte, so
 * every prefix of a string can be hashed in one pass. */
#define VKT_TOK_HASH_SEED 1469598103934665603ull
static inline uint64_t vkt_tok_hash_add(uint64_t h, uint8_t c) { return (h ^ c) * 1099511628211ull; }
static inline uint64_t vkt_tok_hash_end(uint64_t h) { return h ^ (h >> 29); }
uint64_t vkt_tok_hash(const char *s, size_t n);
/* vkt_strmap_get with the key's hash already computed (hash == vkt_tok_hash(key, len)). */
int32_t vkt_strmap_get_hashed(const vkt_strmap *m, const char *key, size_t len, uint64_t hash);

#endif
