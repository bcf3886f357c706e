/* Bad tokenizer files give a status and a message, never a crash: missing files, truncated and
 * corrupted JSON, wrong JSON types, inconsistent merges, truncated llama2.c files, and every
 * truncation point of small valid files. Run under the sanitizer build to catch overreads. */
#include <fcntl.h>
#include <unistd.h>

#include "tok_test_util.h"

static char g_dir[] = "/tmp/vkt_tokerr_XXXXXX";

static const char *put(const char *name, const void *data, size_t n) {
    static char path[4][512];
    static int k;
    char *p = path[k++ & 3];
    snprintf(p, 512, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "FAIL: cannot write %s\n", p);
        exit(1);
    }
    fclose(f);
    return p;
}

/* The truncation sweeps log one error per case; mute stderr for them (the checks still report). */
static int g_saved = -1;
static void mute(bool on) {
    fflush(stderr);
    if (on) {
        int null = open("/dev/null", O_WRONLY);
        g_saved = dup(2);
        if (null >= 0) dup2(null, 2), close(null);
    } else if (g_saved >= 0) {
        dup2(g_saved, 2);
        close(g_saved);
        g_saved = -1;
    }
}

static const char *put_s(const char *name, const char *text) { return put(name, text, strlen(text)); }

static void expect_hf(const char *json, vkt_status want, const char *what) {
    vkt_tokenizer *t = (vkt_tokenizer *)1;
    vkt_status s = vkt_tok_load_hf(put_s("t.json", json), &t);
    CHECK(s == want && (s != VKT_OK) == (t == NULL), "%s: got %s, want %s", what, vkt_status_name(s),
          vkt_status_name(want));
    vkt_tok_free(s == VKT_OK ? t : NULL);
}

/* A minimal byte-level tokenizer.json: 256 byte tokens + "ab" + one special. */
static char *small_bytelevel_json(const char *merges, const char *extra_vocab) {
    vkt_tok_bytes b = {0};
    const char *head = "{\"added_tokens\":[{\"id\":258,\"content\":\"<|eot|>\",\"special\":true}],";
    vkt_tok_bytes_append(&b, head, strlen(head));
    const char *pre = "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
                      "\"model\":{\"type\":\"BPE\",\"vocab\":{";
    vkt_tok_bytes_append(&b, pre, strlen(pre));
    for (int i = 0; i < 256; i++) {
        /* GPT-2's byte alphabet: printable bytes map to themselves, the rest to U+0100 + k. */
        static int k;
        if (i == 0) k = 0;
        bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174);
        unsigned cp = printable ? (unsigned)i : 256u + (unsigned)k++;
        char e[32];
        int n;
        if (cp == '"' || cp == '\\')
            n = snprintf(e, sizeof e, "\"\\%c\":%d,", (char)cp, i);
        else
            n = snprintf(e, sizeof e, "\"\\u%04x\":%d,", cp, i);
        vkt_tok_bytes_append(&b, e, (size_t)n);
    }
    const char *tail1 = "\"ab\":256,\"abab\":257,\"<|eot|>\":258";
    vkt_tok_bytes_append(&b, tail1, strlen(tail1));
    vkt_tok_bytes_append(&b, extra_vocab, strlen(extra_vocab));
    vkt_tok_bytes_append(&b, "},\"merges\":", 11);
    vkt_tok_bytes_append(&b, merges, strlen(merges));
    vkt_tok_bytes_append(&b, "}}", 2);
    return b.data;
}

static void check_hf(void) {
    char *ok = small_bytelevel_json("[\"a b\",[\"ab\",\"ab\"]]", "");
    expect_hf(ok, VKT_OK, "small valid file");
    vkt_tokenizer *t = NULL;
    if (vkt_tok_load_hf(put_s("t.json", ok), &t) == VKT_OK) {
        int32_t want[] = {257, 256, 258, 120};
        tt_expect_ids(t, "ababab<|eot|>x", 14, true, want, 4, "small file ids");
        vkt_tok_free(t);
    }
    /* Every truncation of the valid file fails cleanly (the only valid prefix is the whole). */
    size_t n = strlen(ok);
    int crashes_avoided = 0;
    mute(true);
    for (size_t cut = 0; cut < n; cut += 1 + cut / 64) {
        vkt_tokenizer *u = NULL;
        vkt_status s = vkt_tok_load_hf(put("t.json", ok, cut), &u);
        CHECK(s != VKT_OK && !u, "truncated at %zu of %zu loaded", cut, n);
        crashes_avoided++;
    }
    mute(false);
    printf("errors: %d truncations of a tokenizer.json rejected\n", crashes_avoided);
    free(ok);
    char *bad = small_bytelevel_json("[\"a c\"]", "");
    expect_hf(bad, VKT_ERR_FORMAT, "merge making a token not in the vocab");
    free(bad);
    bad = small_bytelevel_json("[\"a b c\"]", "");
    expect_hf(bad, VKT_ERR_FORMAT, "merge with two spaces");
    free(bad);
    bad = small_bytelevel_json("[17]", "");
    expect_hf(bad, VKT_ERR_FORMAT, "merge of the wrong type");
    free(bad);
    bad = small_bytelevel_json("[]", ",\"zz\":\"300\"");
    expect_hf(bad, VKT_ERR_FORMAT, "vocab id as a string");
    free(bad);
    bad = small_bytelevel_json("[]", ",\"zz\":300");
    expect_hf(bad, VKT_ERR_FORMAT, "gap in the ids");
    free(bad);
    bad = small_bytelevel_json("[]", ",\"zz\":-4");
    expect_hf(bad, VKT_ERR_FORMAT, "negative id");
    free(bad);
    bad = small_bytelevel_json("[]", ",\"\\u4e00\":259");
    expect_hf(bad, VKT_ERR_FORMAT, "token outside the byte-level alphabet");
    free(bad);
    bad = small_bytelevel_json("{}", "");
    expect_hf(bad, VKT_ERR_FORMAT, "merges as an object");
    free(bad);
    expect_hf("", VKT_ERR_FORMAT, "empty file");
    expect_hf("[1,2,3]", VKT_ERR_FORMAT, "top level array");
    expect_hf("{}", VKT_ERR_FORMAT, "no model");
    expect_hf("{\"model\":[]}", VKT_ERR_FORMAT, "model as an array");
    expect_hf("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", VKT_ERR_UNSUPPORTED, "Unigram model");
    expect_hf("{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"ByteLevel\"}}",
              VKT_ERR_FORMAT, "empty vocab");
    expect_hf("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", VKT_ERR_UNSUPPORTED,
              "no pre-tokenizer or byte fallback");
    expect_hf("{\"added_tokens\":[{\"id\":\"x\",\"content\":\"<s>\"}],\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"
              "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
              VKT_ERR_FORMAT, "added token id as a string");
    vkt_tokenizer *u = (vkt_tokenizer *)1;
    CHECK(vkt_tok_load_hf("/nonexistent/tokenizer.json", &u) == VKT_ERR_IO && !u, "missing tokenizer.json");
    CHECK(vkt_tok_load("/nonexistent/dir", &u) == VKT_ERR_IO && !u, "missing path");
}

static void check_gpt2_files(void) {
    char *enc = tt_data("tokenizers/gpt2/encoder.json"), *bpe = tt_data("tokenizers/gpt2/vocab.bpe");
    size_t elen, blen;
    char *e = tt_read(enc, &elen), *b = tt_read(bpe, &blen);
    char *enc_half = strdup(put("encoder.json", e, elen / 2));
    vkt_tokenizer *t = (vkt_tokenizer *)1;
    CHECK(vkt_tok_load_gpt2(enc_half, bpe, &t) == VKT_ERR_FORMAT && !t, "truncated encoder.json");
    const char *arr = put_s("arr.json", "[\"a\", 1]");
    CHECK(vkt_tok_load_gpt2(arr, bpe, &t) == VKT_ERR_FORMAT && !t, "encoder.json as an array");
    const char *strid = put_s("strid.json", "{\"a\": \"0\"}");
    CHECK(vkt_tok_load_gpt2(strid, bpe, &t) == VKT_ERR_FORMAT && !t, "encoder.json id as a string");
    /* vocab.bpe cut mid-line: the last line "xy" (no space) is malformed. */
    size_t cut = 1000;
    while (b[cut] != ' ') cut--;
    const char *bpe_cut = put("vocab.bpe", b, cut);
    CHECK(vkt_tok_load_gpt2(enc, bpe_cut, &t) == VKT_ERR_FORMAT && !t, "vocab.bpe cut inside a line");
    const char *bpe_bad = put_s("bad.bpe", "#version: 0.2\nxq zzzz\n");
    CHECK(vkt_tok_load_gpt2(enc, bpe_bad, &t) == VKT_ERR_FORMAT && !t, "vocab.bpe merge of unknown tokens");
    CHECK(vkt_tok_load_gpt2(enc, "/nonexistent/vocab.bpe", &t) == VKT_ERR_IO && !t, "missing vocab.bpe");
    free(enc_half);
    free(e);
    free(b);
    free(enc);
    free(bpe);
}

static void check_llama2c(void) {
    char *bin = tt_data("models/stories260K/tok512.bin");
    size_t len;
    char *d = tt_read(bin, &len);
    int rejected = 0;
    mute(true);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
        vkt_tokenizer *t = (vkt_tokenizer *)1;
        vkt_status s = vkt_tok_load_llama2c(put("tok.bin", d, cut), 512, &t);
        CHECK(s == VKT_ERR_FORMAT && !t, "tok512.bin truncated at %zu: %s", cut, vkt_status_name(s));
        rejected += s == VKT_ERR_FORMAT;
    }
    mute(false);
    printf("errors: %d truncations of tok512.bin rejected\n", rejected);
    /* A record length that points past the end. */
    char *c = malloc(len);
    memcpy(c, d, len);
    int32_t huge = 1 << 20;
    memcpy(c + 4 + 4, &huge, 4);
    vkt_tokenizer *t = (vkt_tokenizer *)1;
    CHECK(vkt_tok_load_llama2c(put("tok.bin", c, len), 0, &t) == VKT_ERR_FORMAT && !t, "huge record length");
    int32_t neg = -5;
    memcpy(c + 4 + 4, &neg, 4);
    CHECK(vkt_tok_load_llama2c(put("tok.bin", c, len), 0, &t) == VKT_ERR_FORMAT && !t, "negative record length");
    free(c);
    free(d);
    free(bin);
}

int main(void) {
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "FAIL: mkdtemp\n");
        return 1;
    }
    vkt_log_set_level(VKT_LOG_ERROR);
    check_hf();
    check_gpt2_files();
    check_llama2c();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_dir);
    return tt_finish("test_tokenizer_errors");
}
