/* Text -> token streams: tinystories_256k.txt split on <|endoftext|> with a byte-level toy encoder,
 * the token cache (hit, miss on a changed tokenizer identity or file mtime, valid llm.c shard), folders,
 * pre-tokenized shards passing through, train/validation splits (an empty corpus too), and errors (ids outside the
 * vocabulary, missing paths, bad options, encoder failure). Pure CPU. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "data/corpus.h"
#include "harness.h"
#include "io_testutil.h"

enum { EOT = 256, VOCAB = 260 };

typedef struct {
    int calls;
    int ids_per_byte; /* 2 exercises the caller's grow-and-retry path */
    bool fail;        /* returns an error */
    bool bad_z;       /* encodes 'Z' as an out-of-vocabulary id */
} toy;

static int64_t toy_encode(void *ctx, const char *text, size_t len, int32_t *out, int64_t cap) {
    toy *t = ctx;
    t->calls++;
    if (t->fail) return VKT_ERR_ARG;
    int64_t need = (int64_t)len * t->ids_per_byte;
    if (need > cap) return need;
    for (size_t i = 0; i < len; i++)
        for (int k = 0; k < t->ids_per_byte; k++)
            out[(int64_t)i * t->ids_per_byte + k] = (t->bad_z && text[i] == 'Z') ? VOCAB + 5 : (uint8_t)text[i];
    return need;
}

static vkt_encoder make_enc(toy *t, const char *identity) {
    return (vkt_encoder){.encode = toy_encode, .ctx = t, .identity = identity, .vocab_size = VOCAB, .eot_id = EOT};
}

static int64_t count_eot(const vkt_tokens *t) {
    int64_t n = 0;
    for (int64_t i = 0; i < t->n; i++) n += t->ids[i] == EOT;
    return n;
}

static void test_tinystories(const char *dir) {
    const char *path = vkt_test_data("tinystories_256k.txt");
    toy t = {.ids_per_byte = 1};
    vkt_encoder enc = make_enc(&t, "bytes-v1");
    vkt_tokens a = {0};
    bool hit = true;
    CHECK(vkt_corpus_tokenize_file(path, &enc, "<|endoftext|>", NULL, &a, &hit) == VKT_OK && !hit, "tokenize");
    /* Counted with an independent script (Python: split on the separator, strip newlines at both ends,
     * drop empty pieces): 316 stories, 256,603 bytes once separators and end newlines are dropped. */
    CHECK(count_eot(&a) == 316 && a.n == 256603 + 316, "docs %lld tokens %lld", (long long)count_eot(&a),
          (long long)a.n);
    const char *first = "One day, a little girl named Lily";
    bool same = a.n > 40 && a.ids[0] == EOT;
    for (size_t i = 0; same && i < strlen(first); i++) same = a.ids[1 + i] == first[i];
    CHECK(same, "the stream starts with eot + the first story");
    printf("ok   tinystories_256k: %lld docs, %lld tokens, %d encode calls\n", (long long)count_eot(&a),
           (long long)a.n, t.calls);

    /* Cache: miss, hit (no encode calls, same ids), miss for a new identity. */
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    vkt_tokens b = {0}, c = {0};
    CHECK(vkt_corpus_tokenize_file(path, &enc, "<|endoftext|>", cache, &b, &hit) == VKT_OK && !hit, "first, miss");
    int calls = t.calls;
    vkt_tokens_free(&b);
    CHECK(vkt_corpus_tokenize_file(path, &enc, "<|endoftext|>", cache, &b, &hit) == VKT_OK && hit, "second, hit");
    CHECK(t.calls == calls && b.n == a.n && memcmp(a.ids, b.ids, (size_t)a.n * 4) == 0, "cache hit identical");
    enc.identity = "bytes-v2";
    CHECK(vkt_corpus_tokenize_file(path, &enc, "<|endoftext|>", cache, &c, &hit) == VKT_OK && !hit,
          "new tokenizer identity must miss");
    vkt_tokens_free(&c);
    CHECK(vkt_corpus_tokenize_file(path, &enc, NULL, cache, &c, &hit) == VKT_OK && !hit && count_eot(&c) == 1,
          "no separator: one document, and a cache miss");
    vkt_tokens_free(&a);
    vkt_tokens_free(&b);
    vkt_tokens_free(&c);

    /* A changed mtime misses; a corrupt cache entry is re-tokenized, not trusted. */
    const char *txt = tu_path(dir, "small.txt");
    tu_write(txt, "hello<|endoftext|>\nworld\n", 25);
    enc.identity = "bytes-v1";
    CHECK(vkt_corpus_tokenize_file(txt, &enc, "<|endoftext|>", cache, &a, &hit) == VKT_OK && !hit, "small miss");
    CHECK(a.n == 12 && a.ids[0] == EOT && a.ids[6] == EOT && a.ids[7] == 'w', "small: eot hello eot world");
    struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000000, .tv_nsec = 0}};
    CHECK(utimensat(AT_FDCWD, txt, ts, 0) == 0, "utimensat");
    CHECK(vkt_corpus_tokenize_file(txt, &enc, "<|endoftext|>", cache, &b, &hit) == VKT_OK && !hit, "mtime miss");
    CHECK(vkt_corpus_tokenize_file(txt, &enc, "<|endoftext|>", cache, &c, &hit) == VKT_OK && hit, "then hit");
    vkt_tokens_free(&a);
    vkt_tokens_free(&b);
    vkt_tokens_free(&c);
    printf("ok   cache: hit after miss with 0 encode calls; identity, separator and mtime changes miss\n");
}

static void test_folders_and_split(const char *dir) {
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK(mkdir(data, 0755) == 0, "mkdir");
    tu_write(tu_path(data, "b.txt"), "BB", 2);
    tu_write(tu_path(data, "a.txt"), "AAA", 3);
    tu_write(tu_path(data, ".hidden"), "HH", 2);
    char sub[400];
    snprintf(sub, sizeof sub, "%s/sub", data);
    CHECK(mkdir(sub, 0755) == 0, "mkdir sub");
    tu_write(tu_path(sub, "c.txt"), "CC", 2);
    int32_t shard_ids[3] = {EOT, 'S', 'S'};
    CHECK(vkt_shard_write(tu_path(data, "c.bin"), shard_ids, 3, VKT_SHARD_U16) == VKT_OK, "shard");
    toy t = {.ids_per_byte = 2}; /* two ids per byte: the encoder's buffer must grow */
    vkt_encoder enc = make_enc(&t, "double");
    vkt_corpus_opts o = {.path = data, .cache_dir = tu_path(dir, "cache2")};
    vkt_corpus c = {0};
    CHECK(vkt_corpus_load(&o, &enc, &c) == VKT_OK && c.n_files == 3 && c.val.n == 0, "folder load");
    int32_t want[] = {EOT, 'A', 'A', 'A', 'A', 'A', 'A', EOT, 'B', 'B', 'B', 'B', EOT, 'S', 'S'};
    CHECK(c.train.n == 15 && memcmp(c.train.ids, want, sizeof want) == 0, "folder order a, b, c.bin (%lld tokens)",
          (long long)c.train.n);
    vkt_corpus_free(&c);
    /* The cache folder inside the data folder would be a sub-folder: skipped either way. */
    o.cache_dir = tu_path(data, "cache");
    CHECK(vkt_corpus_load(&o, &enc, &c) == VKT_OK && c.train.n == 15, "cache inside the data folder");
    vkt_corpus_free(&c);
    CHECK(vkt_corpus_load(&o, &enc, &c) == VKT_OK && c.train.n == 15 && c.n_cache_hits == 2, "cached folder");
    vkt_corpus_free(&c);

    /* Fraction split on tinystories: validation starts on a document. */
    toy t1 = {.ids_per_byte = 1};
    vkt_encoder e1 = make_enc(&t1, "bytes-v1");
    vkt_corpus_opts f = {.path = vkt_test_data("tinystories_256k.txt"),
                         .val_fraction = 0.1,
                         .doc_separator = "<|endoftext|>",
                         .cache_dir = tu_path(dir, "cache")};
    CHECK(vkt_corpus_load(&f, &e1, &c) == VKT_OK, "split load");
    int64_t total = c.train.n + c.val.n, n_val = (int64_t)(0.1 * (double)total + 0.5);
    CHECK(total == 256603 + 316 && c.val.n <= n_val && c.val.n >= n_val / 2 && c.val.ids[0] == EOT,
          "val %lld of %lld tokens (asked %lld), first id %d", (long long)c.val.n, (long long)total, (long long)n_val,
          c.val.n ? c.val.ids[0] : -1);
    printf("ok   split: train %lld, val %lld tokens (asked %lld), val starts with eot\n", (long long)c.train.n,
           (long long)c.val.n, (long long)n_val);
    vkt_corpus_free(&c);
    /* Separate validation file. */
    f.val_path = tu_path(data, "a.txt");
    CHECK(vkt_corpus_load(&f, &e1, &c) == VKT_OK && c.train.n == total && c.val.n == 4, "val_path");
    vkt_corpus_free(&c);
}

static void test_errors(const char *dir) {
    const char *p = tu_path(dir, "z.txt");
    tu_write(p, "abcZdef", 7);
    toy t = {.ids_per_byte = 1, .bad_z = true};
    vkt_encoder enc = make_enc(&t, "bad");
    vkt_tokens a = {0};
    tu_capture_begin();
    vkt_status s = vkt_corpus_tokenize_file(p, &enc, NULL, tu_path(dir, "cache3"), &a, NULL);
    tu_expect_fail("id outside the vocabulary", s, VKT_ERR_FORMAT, tu_capture_end(), "z.txt", "position 4", "265",
                   (const char *)NULL);
    CHECK(a.n == 0 && access(tu_path(dir, "cache3"), F_OK) != 0, "nothing kept or cached after a failure");
    t.fail = true;
    tu_capture_begin();
    s = vkt_corpus_tokenize_file(p, &enc, NULL, NULL, &a, NULL);
    tu_expect_fail("encoder failure", s, VKT_ERR_ARG, tu_capture_end(), "z.txt", "document 0", (const char *)NULL);
    vkt_corpus c = {0};
    vkt_corpus_opts o = {.path = tu_path(dir, "nope.txt")};
    tu_capture_begin();
    s = vkt_corpus_load(&o, &enc, &c);
    tu_expect_fail("missing path", s, VKT_ERR_IO, tu_capture_end(), "nope.txt", (const char *)NULL);
    o = (vkt_corpus_opts){.path = p, .val_fraction = 1.5};
    tu_capture_begin();
    s = vkt_corpus_load(&o, &enc, &c);
    tu_expect_fail("val_fraction 1.5", s, VKT_ERR_ARG, tu_capture_end(), "val_fraction", (const char *)NULL);
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    CHECK(mkdir(empty, 0755) == 0, "mkdir");
    o = (vkt_corpus_opts){.path = empty};
    tu_capture_begin();
    s = vkt_corpus_load(&o, &enc, &c);
    tu_expect_fail("empty folder", s, VKT_ERR_IO, tu_capture_end(), "empty", "no data files", (const char *)NULL);
    /* Files that look like token shards are shards: a cut header or a bad magic is an error, not text. */
    t.fail = false;
    int32_t head[8] = {20240520, 1, 3};
    const char *cut = tu_path(dir, "cut.shard");
    tu_write(cut, head, sizeof head);
    tu_capture_begin();
    s = vkt_corpus_tokenize_file(cut, &enc, NULL, NULL, &a, NULL);
    tu_expect_fail("shard magic, cut header", s, VKT_ERR_FORMAT, tu_capture_end(), "cut.shard", "truncated header",
                   "not as text", (const char *)NULL);
    const char *bin = tu_path(dir, "junk.bin");
    tu_write(bin, "this is not a shard at all, but named like one..........", 56);
    tu_capture_begin();
    s = vkt_corpus_tokenize_file(bin, &enc, NULL, NULL, &a, NULL);
    tu_expect_fail("*.bin with a bad magic", s, VKT_ERR_FORMAT, tu_capture_end(), "junk.bin", "truncated header",
                   (const char *)NULL);
    char big[2048];
    memset(big, 'x', sizeof big);
    tu_write(bin, big, sizeof big);
    tu_capture_begin();
    s = vkt_corpus_tokenize_file(bin, &enc, NULL, NULL, &a, NULL);
    tu_expect_fail("*.bin with a bad magic", s, VKT_ERR_FORMAT, tu_capture_end(), "junk.bin", "bad magic",
                   "not as text", (const char *)NULL);
    const char *vs = tu_path(dir, "vocab.shard");
    CHECK(vkt_shard_write(vs, (int32_t[]){1, 2, VOCAB, 3}, 4, VKT_SHARD_U16) == VKT_OK, "write shard");
    tu_capture_begin();
    s = vkt_corpus_tokenize_file(vs, &enc, NULL, NULL, &a, NULL);
    tu_expect_fail("shard id >= vocab", s, VKT_ERR_FORMAT, tu_capture_end(), "vocab.shard", "position 2", "id 260",
                   "[0, 260)", (const char *)NULL);
    CHECK(a.n == 0, "nothing kept after a failure (%lld ids)", (long long)a.n);
    /* A file with only newlines holds no document: both streams empty, no arrays allocated (the split
     * used to memcpy 0 bytes from the NULL training array, which UBSan reports). */
    tu_write(tu_path(dir, "blank.txt"), "\n\n", 2);
    o = (vkt_corpus_opts){.path = tu_path(dir, "blank.txt"), .val_fraction = 0.1};
    CHECK(vkt_corpus_load(&o, &enc, &c) == VKT_OK && c.train.n == 0 && c.val.n == 0, "empty corpus splits");
    vkt_corpus_free(&c);
    enc.eot_id = VOCAB;
    tu_capture_begin();
    s = vkt_corpus_tokenize_file(p, &enc, NULL, NULL, &a, NULL);
    tu_expect_fail("eot outside the vocabulary", s, VKT_ERR_ARG, tu_capture_end(), "eot_id", (const char *)NULL);
    vkt_tokens_free(&a);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_corpus (pure CPU)\n");
    const char *dir = tu_mkdir();
    test_tinystories(dir);
    test_folders_and_split(dir);
    test_errors(dir);
    tu_rmdir(dir);
    if (g_failures) fprintf(stderr, "test_corpus: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
