/* Shared helpers for the tokenizer tests (header-only; pure CPU, no device). */
#ifndef VKT_TOK_TEST_UTIL_H
#define VKT_TOK_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/tok_util.h"
#include "data/tokenizer.h"
#include "harness.h"

static int g_fail; /* failures so far; CHECK prints to stdout so a muted stderr never hides one */

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                                \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
            g_fail++;                                                                                                  \
        }                                                                                                              \
    } while (0)

static inline double tt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Path under shared data, copied (vkt_test_data returns a static buffer). Caller frees. */
static inline char *tt_data(const char *rel) { return strdup(vkt_test_data(rel)); }

/* Whole file or exit(1). Caller frees. */
static inline char *tt_read(const char *path, size_t *len) {
    char *d;
    if (vkt_tok_read_file(path, "test input", &d, len) != VKT_OK) {
        fprintf(stderr, "FAIL: cannot read %s (the repository ships it under data/)\n", path);
        exit(1);
    }
    return d;
}

/* FNV-1a 64 over the little-endian bytes of the ids. */
static inline uint64_t tt_hash_ids(const int32_t *ids, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)ids[i] >> (8 * k)) & 0xFF)) * 1099511628211ull;
    return h;
}

/* Encodes text and compares with want[0..n); prints the first difference. */
static inline void tt_expect_ids(vkt_tokenizer *t, const char *text, size_t len, bool special, const int32_t *want,
                                 size_t n, const char *what) {
    vkt_tok_ids ids = {0};
    vkt_status s = vkt_tok_encode(t, text, len, special, &ids);
    CHECK(s == VKT_OK, "%s: encode -> %s", what, vkt_status_name(s));
    size_t i = 0;
    while (i < n && i < ids.len && ids.data[i] == want[i]) i++;
    CHECK(i == n && ids.len == n, "%s: %zu ids (want %zu), first difference at %zu: got %d want %d", what, ids.len, n,
          i, i < ids.len ? ids.data[i] : -1, i < n ? want[i] : -1);
    vkt_tok_ids_free(&ids);
}

/* decode(encode(text)) == text, byte for byte. Returns the token count. */
static inline size_t tt_round_trip(vkt_tokenizer *t, const char *text, size_t len, bool special, const char *what) {
    vkt_tok_ids ids = {0};
    vkt_tok_bytes out = {0};
    CHECK(vkt_tok_encode(t, text, len, special, &ids) == VKT_OK, "%s: encode failed", what);
    CHECK(vkt_tok_decode(t, ids.data, ids.len, false, &out) == VKT_OK, "%s: decode failed", what);
    size_t i = 0;
    while (i < len && i < out.len && out.data[i] == text[i]) i++;
    CHECK(out.len == len && i == len, "%s: round trip differs at byte %zu (lengths %zu vs %zu)", what, i, out.len, len);
    size_t n = ids.len;
    vkt_tok_ids_free(&ids);
    vkt_tok_bytes_free(&out);
    return n;
}

/* A reference.json tokenizer entry as a file: dir/<entry.base> with the entry's "normalizer",
 * "pre_tokenizer" and "model" keys replaced, written to a temporary file. Returns its path (caller
 * unlinks and frees) or NULL. */
static inline char *tt_hf_variant(const cJSON *entry, const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetObjectItem(entry, "base")->valuestring);
    size_t len;
    char *text = tt_read(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return NULL;
    const char *keys[] = {"normalizer", "pre_tokenizer"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItem(entry, keys[i]);
        if (v) cJSON_ReplaceItemInObjectCaseSensitive(root, keys[i], cJSON_Duplicate(v, 1));
    }
    const cJSON *m = cJSON_GetObjectItem(entry, "model"), *e;
    cJSON *model = cJSON_GetObjectItem(root, "model");
    cJSON_ArrayForEach(e, m) cJSON_ReplaceItemInObjectCaseSensitive(model, e->string, cJSON_Duplicate(e, 1));
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char *tmp = strdup("/tmp/vkt_hf_ref_XXXXXX.json");
    int fd = mkstemps(tmp, 5);
    bool ok = fd >= 0 && write(fd, js, strlen(js)) == (ssize_t)strlen(js);
    if (fd >= 0) close(fd);
    free(js);
    if (!ok) {
        free(tmp);
        return NULL;
    }
    return tmp;
}

static inline int tt_finish(const char *name) {
    printf("%s: %s (%d failures)\n", name, g_fail ? "FAIL" : "PASS", g_fail);
    return g_fail ? 1 : 0;
}

#endif
