/* llm.c token shards: uint16 and uint32 round trips (header fields and bytes checked directly),
 * concatenating reads, and bad files (every truncation, wrong magic/version, count mismatch, ids out of
 * range) failing with messages. Pure CPU. */
#include <stdint.h>

#include "core/rng.h"
#include "data/token_shard.h"
#include "io_testutil.h"

static void test_round_trip(const char *dir) {
    vkt_rng rng;
    vkt_rng_init(&rng, 7);
    int64_t n = 10007;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)vkt_rng_below(&rng, 65536);
    ids[0] = 0, ids[1] = 65535;
    const char *p16 = tu_path(dir, "a16.bin"), *p32 = tu_path(dir, "a32.bin");
    CHECK(vkt_shard_write(p16, ids, n, VKT_SHARD_U16) == VKT_OK, "write u16");
    ids[2] = INT32_MAX, ids[3] = 70000;
    CHECK(vkt_shard_write(p32, ids, n, VKT_SHARD_U32) == VKT_OK, "write u32");

    size_t sz;
    unsigned char *b = tu_read(p16, &sz);
    int32_t h[3];
    memcpy(h, b, sizeof h);
    CHECK(sz == 1024 + 2 * (size_t)n && h[0] == 20240520 && h[1] == 1 && h[2] == n, "u16 header %d %d %d, %zu B", h[0],
          h[1], h[2], sz);
    uint16_t t5;
    memcpy(&t5, b + 1024 + 10, 2);
    CHECK(t5 == (uint16_t)ids[5], "u16 token 5 stored %u", t5);
    free(b);
    b = tu_read(p32, &sz);
    memcpy(h, b, sizeof h);
    CHECK(sz == 1024 + 4 * (size_t)n && h[0] == 20240801 && h[1] == 7 && h[2] == n, "u32 header");
    CHECK(memcmp(b + 1024, ids, (size_t)n * 4) == 0, "u32 payload bytes");
    free(b);

    vkt_tokens t = {0};
    vkt_shard_kind k;
    CHECK(vkt_shard_read(p16, &t, &k) == VKT_OK && k == VKT_SHARD_U16 && t.n == n, "read u16");
    CHECK(t.n == n && t.ids[1] == 65535 && t.ids[2] != INT32_MAX, "u16 values");
    CHECK(vkt_shard_read(p32, &t, &k) == VKT_OK && k == VKT_SHARD_U32 && t.n == 2 * n, "read u32 (appended)");
    CHECK(t.n == 2 * n && memcmp(t.ids + n, ids, (size_t)n * 4) == 0, "u32 values");
    for (int64_t i = 4; i < n && t.n == 2 * n; i++)
        if (t.ids[i] != ids[i]) {
            CHECK(t.ids[i] == ids[i], "u16 id %lld", (long long)i);
            break;
        }
    vkt_tokens_free(&t);
    vkt_tokens_free(&t);
    CHECK(vkt_shard_kind_for_vocab(50257) == VKT_SHARD_U16 && vkt_shard_kind_for_vocab(128256) == VKT_SHARD_U32,
          "kind for vocab");

    /* Empty shard. */
    CHECK(vkt_shard_write(tu_path(dir, "empty.bin"), ids, 0, VKT_SHARD_U16) == VKT_OK, "write empty");
    CHECK(vkt_shard_read(tu_path(dir, "empty.bin"), &t, NULL) == VKT_OK && t.n == 0, "read empty");
    vkt_tokens_free(&t);

    /* Ids that do not fit. */
    tu_capture_begin();
    vkt_status s = vkt_shard_write(tu_path(dir, "big.bin"), ids, n, VKT_SHARD_U16);
    tu_expect_fail("u16 write of id 2147483647", s, VKT_ERR_ARG, tu_capture_end(), "big.bin", "token 2",
                   (const char *)NULL);
    ids[7] = -1;
    tu_capture_begin();
    s = vkt_shard_write(tu_path(dir, "neg.bin"), ids + 4, 10, VKT_SHARD_U32);
    tu_expect_fail("u32 write of id -1", s, VKT_ERR_ARG, tu_capture_end(), "neg.bin", "token 3", (const char *)NULL);
    CHECK(access(tu_path(dir, "big.bin"), F_OK) != 0, "a refused write must leave no file");
    free(ids);
    printf("ok   round trips: %lld tokens as uint16 and uint32, headers and payload bytes as llm.c writes them\n",
           (long long)n);
}

static void expect_bad(const char *dir, const char *what, const int32_t *header, const void *payload, size_t pbytes,
                       const char *word) {
    unsigned char buf[1024 + 64];
    memcpy(buf, header, 1024);
    memcpy(buf + 1024, payload, pbytes);
    const char *p = tu_path(dir, "bad.bin");
    tu_write(p, buf, 1024 + pbytes);
    vkt_tokens t = {0};
    tu_capture_begin();
    vkt_status s = vkt_shard_read(p, &t, NULL);
    tu_expect_fail(what, s, VKT_ERR_FORMAT, tu_capture_end(), "bad.bin", word, (const char *)NULL);
    CHECK(t.n == 0, "%s: nothing appended", what);
    vkt_tokens_free(&t);
}

static void test_bad(const char *dir) {
    int32_t h[256] = {20240520, 1, 4};
    uint32_t pay[8] = {1, 2, 3, 4, 0x80000000u, 6, 7, 8};
    expect_bad(dir, "wrong magic", (int32_t[256]){20240326, 1, 4}, pay, 8, "magic");
    expect_bad(dir, "wrong version", (int32_t[256]){20240520, 2, 4}, pay, 8, "version");
    expect_bad(dir, "uint32 magic, uint16 version", (int32_t[256]){20240801, 1, 4}, pay, 16, "version");
    expect_bad(dir, "count beyond payload", (int32_t[256]){20240520, 1, 5}, pay, 8, "header[2]");
    expect_bad(dir, "payload beyond count", (int32_t[256]){20240520, 1, 3}, pay, 8, "header[2]");
    expect_bad(dir, "negative count", (int32_t[256]){20240520, 1, -4}, pay, 8, "negative");
    expect_bad(dir, "uint32 id above INT32_MAX", (int32_t[256]){20240801, 7, 8}, pay, 32, "token 4");

    /* Every truncation of a good file fails. */
    unsigned char buf[1024 + 8];
    memcpy(buf, h, 1024);
    memcpy(buf + 1024, pay, 8);
    const char *p = tu_path(dir, "cut.bin");
    int rejected = 0;
    tu_capture_begin();
    for (size_t len = 0; len < sizeof buf; len++) {
        tu_write(p, buf, len);
        vkt_tokens t = {0};
        rejected += vkt_shard_read(p, &t, NULL) != VKT_OK;
        vkt_tokens_free(&t);
    }
    tu_capture_end();
    CHECK(rejected == (int)sizeof buf, "only %d of %zu truncations rejected", rejected, sizeof buf);
    tu_write(p, buf, 100);
    vkt_tokens t = {0};
    tu_capture_begin();
    vkt_status s = vkt_shard_read(p, &t, NULL);
    tu_expect_fail("truncated header", s, VKT_ERR_FORMAT, tu_capture_end(), "cut.bin", "truncated", (const char *)NULL);
    printf("ok   %zu truncations rejected\n", sizeof buf);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_token_shard (pure CPU)\n");
    const char *dir = tu_mkdir();
    test_round_trip(dir);
    test_bad(dir);
    tu_rmdir(dir);
    if (g_failures) fprintf(stderr, "test_token_shard: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
