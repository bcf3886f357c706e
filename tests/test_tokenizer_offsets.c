/* vkt_tok_encode_offsets: the ids equal vkt_tok_encode's, and the offsets say where each token came from.
 *
 * For every tokenizer kind (bytes; GPT-2 encoder.json and tokenizer.json; llama2.c's SentencePiece
 * tok512.bin with byte fallback; a SentencePiece tokenizer.json with an unknown token and fuse_unk;
 * the 22 tokenizer.json variants of reference.json: Split behaviors, Digits, Whitespace, Punctuation,
 * ByteLevel options, normalizers) on the reference texts and extra ones:
 *   - ids identical to vkt_tok_encode, one offset per id;
 *   - 0 <= begin <= end <= len, spans sorted and non-overlapping;
 *   - where the normalizer leaves the text as it is: each token's piece is text[begin, end), after
 *     the spaces the tokenizer inserts (SentencePiece "▁" prefix, ByteLevel add_prefix_space); special
 *     tokens exactly; and where the tokenizer drops nothing, the spans tile the text, so concatenating
 *     text[begin, end) reproduces it;
 *   - where a normalizer changes bytes: hand-worked spans (Lowercase, NFKC ligature, Prepend, Replace,
 *     NFD + StripAccents, NFC of decomposed Hangul, an added token matched in normalized text). */
#include <cjson/cJSON.h>
#include <unistd.h>

#include "data/tok_internal.h"
#include "data/tok_norm.h"
#include "tok_test_util.h"

static const char *FIX = VKT_TEST_FIXTURES "/tokenizers";

/* Encodes both ways and checks the invariants every tokenizer keeps. Fills ids and offs (caller frees). */
static bool encode_both(vkt_tokenizer *t, const char *text, size_t len, bool special, vkt_tok_ids *ids,
                        vkt_tok_offsets *offs, const char *what) {
    vkt_tok_ids plain = {0};
    vkt_status a = vkt_tok_encode(t, text, len, special, &plain);
    vkt_status b = vkt_tok_encode_offsets(t, text, len, special, ids, offs);
    CHECK(a == VKT_OK && b == VKT_OK, "%s: encode %s, encode_offsets %s", what, vkt_status_name(a), vkt_status_name(b));
    size_t k = 0;
    while (k < plain.len && k < ids->len && plain.data[k] == ids->data[k]) k++;
    bool same = k == plain.len && k == ids->len;
    CHECK(same, "%s: ids differ from vkt_tok_encode at %zu (%zu vs %zu ids)", what, k, ids->len, plain.len);
    vkt_tok_ids_free(&plain);
    CHECK(offs->len == ids->len, "%s: %zu offsets for %zu ids", what, offs->len, ids->len);
    if (!same || offs->len != ids->len) return false;
    int64_t prev_end = 0;
    for (size_t i = 0; i < offs->len; i++) {
        vkt_tok_offset o = offs->data[i];
        bool ok = o.begin >= prev_end && o.begin <= o.end && o.end <= (int64_t)len;
        CHECK(ok, "%s: token %zu (id %d) has span [%lld, %lld) after a span ending at %lld (text of %zu bytes)", what,
              i, ids->data[i], (long long)o.begin, (long long)o.end, (long long)prev_end, len);
        if (!ok) return false;
        prev_end = o.end;
    }
    return true;
}

/* Exact offsets: pieces against the text; tile: no byte of the text is dropped. */
static void check_exact(vkt_tokenizer *t, const char *text, size_t len, bool special, bool tile, const char *what) {
    vkt_tok_ids ids = {0};
    vkt_tok_offsets offs = {0};
    if (encode_both(t, text, len, special, &ids, &offs, what)) {
        int64_t covered = 0;
        for (size_t i = 0; i < ids.len; i++) {
            int32_t id = ids.data[i];
            size_t pl, tl = (size_t)(offs.data[i].end - offs.data[i].begin);
            const char *p = vkt_tok_piece(t, id, &pl), *s = text + offs.data[i].begin;
            covered += (int64_t)tl;
            if (id == t->unk) continue;
            bool added = t->flags[id] & (VKT_TOKF_SPECIAL | VKT_TOKF_ADDED);
            if (t->flags[id] & VKT_TOKF_NORMALIZED) { /* matched by its normalized form */
                vkt_tok_bytes a = {0}, b = {0};
                bool ok = vkt_tok_norm_apply(t->norm, p, pl, &a) == VKT_OK &&
                          vkt_tok_norm_apply(t->norm, s, tl, &b) == VKT_OK && a.len == b.len &&
                          memcmp(a.data, b.data, a.len) == 0;
                CHECK(ok, "%s: normalized added token %zu (id %d) has span [%lld, %lld)", what, i, id,
                      (long long)offs.data[i].begin, (long long)offs.data[i].end);
                vkt_tok_bytes_free(&a);
                vkt_tok_bytes_free(&b);
                continue;
            }
            size_t ins = pl >= tl ? pl - tl : 0;
            bool ok = pl >= tl && memcmp(p + ins, s, tl) == 0 && !(added && ins);
            for (size_t k = 0; k < ins && ok; k++) ok = p[k] == ' ';
            CHECK(ok, "%s: token %zu (id %d, piece \"%.*s\") has span [%lld, %lld) = \"%.*s\"", what, i, id, (int)pl, p,
                  (long long)offs.data[i].begin, (long long)offs.data[i].end, (int)tl, s);
            if (tile && i > 0) CHECK(offs.data[i].begin == offs.data[i - 1].end, "%s: gap before token %zu", what, i);
        }
        if (tile)
            CHECK(covered == (int64_t)len && (ids.len == 0 || offs.data[0].begin == 0),
                  "%s: spans cover %lld of %zu bytes; concatenating them must give the text", what, (long long)covered,
                  len);
    }
    vkt_tok_ids_free(&ids);
    vkt_tok_offsets_free(&offs);
}

static const char *EXTRA[] = {
    "Hello world! It's 2024.",
    "  leading and trailing spaces  ",
    "caf\xC3\xA9 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80 emoji",
    "tabs\tand\nnew lines\r\n\n",
    "<|endoftext|>special<|endoftext|> <s> </s>",
    "x",
    "",
};
enum { N_EXTRA = sizeof EXTRA / sizeof EXTRA[0] };

static void check_texts(vkt_tokenizer *t, const cJSON *texts, bool tile, const char *name) {
    char what[256];
    for (int i = 0; i < N_EXTRA; i++) {
        snprintf(what, sizeof what, "%s extra %d", name, i);
        check_exact(t, EXTRA[i], strlen(EXTRA[i]), true, tile, what);
        check_exact(t, EXTRA[i], strlen(EXTRA[i]), false, tile, what);
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, texts) {
        snprintf(what, sizeof what, "%s reference text %d", name, i++);
        check_exact(t, e->valuestring, strlen(e->valuestring), true, tile, what);
    }
}

static void check_file(const char *spec, const cJSON *texts) {
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_load(spec, &t) == VKT_OK, "load %s", spec);
    if (!t) return;
    check_texts(t, texts, true, spec);
    printf("%s: exact offsets\n", spec);
    vkt_tok_free(t);
}

/* The reference.json variants: exact where the normalizer keeps a text as it is. */
static void check_variants(const cJSON *toks, const cJSON *texts) {
    const cJSON *entry;
    cJSON_ArrayForEach(entry, toks) {
        const char *name = cJSON_GetObjectItem(entry, "name")->valuestring;
        char *file = tt_hf_variant(entry, FIX);
        vkt_tokenizer *t = NULL;
        vkt_status s = file ? vkt_tok_load_hf(file, &t) : VKT_ERR_IO;
        if (file) unlink(file);
        free(file);
        CHECK(s == VKT_OK, "%s: load -> %s", name, vkt_status_name(s));
        if (!t) continue;
        int n_exact = 0, n_approx = 0, i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, texts) {
            const char *x = e->valuestring;
            size_t len = strlen(x);
            char what[256];
            snprintf(what, sizeof what, "%s text %d", name, i++);
            vkt_tok_bytes nb = {0};
            bool unchanged = !t->norm || (vkt_tok_norm_apply(t->norm, x, len, &nb) == VKT_OK && nb.len == len &&
                                          memcmp(nb.data, x, len) == 0);
            vkt_tok_bytes_free(&nb);
            /* Tiling needs a pre-tokenizer that drops nothing: decode gives the text back. */
            vkt_tok_ids ids = {0};
            vkt_tok_bytes dec = {0};
            vkt_tok_encode(t, x, len, true, &ids);
            vkt_tok_decode(t, ids.data, ids.len, false, &dec);
            bool tile = dec.len == len && memcmp(dec.data, x, len) == 0;
            vkt_tok_ids_free(&ids);
            vkt_tok_bytes_free(&dec);
            if (unchanged) {
                check_exact(t, x, len, true, tile, what);
                n_exact++;
            } else {
                vkt_tok_ids a = {0};
                vkt_tok_offsets o = {0};
                encode_both(t, x, len, true, &a, &o, what);
                vkt_tok_ids_free(&a);
                vkt_tok_offsets_free(&o);
                n_approx++;
            }
        }
        printf("%-26s %d texts with exact offsets, %d normalized (invariants only)\n", name, n_exact, n_approx);
        vkt_tok_free(t);
    }
}

/* A loaded variant of a fixture with `normalizer` (JSON) in place of its own. */
static vkt_tokenizer *with_normalizer(const char *base, const char *normalizer) {
    char js[512];
    snprintf(js, sizeof js, "{\"base\":\"%s\",\"normalizer\":%s}", base, normalizer);
    cJSON *entry = cJSON_Parse(js);
    char *file = entry ? tt_hf_variant(entry, FIX) : NULL;
    cJSON_Delete(entry);
    vkt_tokenizer *t = NULL;
    if (file) {
        CHECK(vkt_tok_load_hf(file, &t) == VKT_OK, "load %s with normalizer %s", base, normalizer);
        unlink(file);
        free(file);
    }
    return t;
}

/* The span of the token whose span starts at or covers byte `at` must be [begin, end) (end -1: any). */
static void expect_span_at(vkt_tokenizer *t, const char *text, int64_t at, int64_t begin, int64_t end,
                           const char *what) {
    vkt_tok_ids ids = {0};
    vkt_tok_offsets o = {0};
    if (encode_both(t, text, strlen(text), true, &ids, &o, what)) {
        size_t i = 0;
        while (i < o.len && !(o.data[i].begin == at || (o.data[i].begin <= at && at < o.data[i].end))) i++;
        CHECK(i < o.len && o.data[i].begin == begin && (end < 0 || o.data[i].end == end),
              "%s: the token at byte %lld spans [%lld, %lld), want [%lld, %lld)", what, (long long)at,
              i < o.len ? (long long)o.data[i].begin : -1LL, i < o.len ? (long long)o.data[i].end : -1LL,
              (long long)begin, (long long)end);
        CHECK(o.len > 0 && o.data[o.len - 1].end == (int64_t)strlen(text), "%s: the last span must end the text", what);
    }
    vkt_tok_ids_free(&ids);
    vkt_tok_offsets_free(&o);
}

static void check_normalizers(void) {
    const char *L3 = "llama3_style/tokenizer.json";
    vkt_tokenizer *t = with_normalizer(L3, "{\"type\":\"Lowercase\"}");
    if (t) { /* same-length case changes map byte for byte, so spans stay exact */
        check_exact(t, "hello world", 11, true, true, "Lowercase, lower-case text");
        expect_span_at(t, "HELLO WORLD", 5, 5, 11, "Lowercase ' WORLD'");
        /* U+0130 (2 bytes) lowercases to 3 bytes: one unit mapped to its start. */
        expect_span_at(t, "ab \xC4\xB0 cd", 3, 3, -1, "Lowercase U+0130");
        expect_span_at(t, "ab \xC4\xB0 cd", 5, 5, -1, "Lowercase after U+0130");
    }
    vkt_tok_free(t);
    t = with_normalizer(L3, "{\"type\":\"NFKC\"}");
    if (t) expect_span_at(t, "a \xEF\xAC\x81ne x", 1, 1, 7, "NFKC ligature fi"); /* " fine" from " \uFB01ne" */
    vkt_tok_free(t);
    t = with_normalizer(L3, "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"> \"}]}");
    if (t) expect_span_at(t, "hi there", 0, 0, 0, "Prepend: the inserted '>' has no text");
    vkt_tok_free(t);
    t = with_normalizer(L3, "{\"type\":\"Replace\",\"pattern\":{\"String\":\"  \"},\"content\":\" \"}");
    if (t) expect_span_at(t, "a  b c", 1, 1, 4, "Replace '  ' -> ' ': ' b' covers both spaces");
    vkt_tok_free(t);
    t = with_normalizer(L3, "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"}]}");
    if (t) expect_span_at(t, "x caf\xC3\xA9", 5, 4, 7, "NFD + StripAccents: the token ending in e covers \u00E9");
    vkt_tok_free(t);
    /* qwen2_style: NFC. Decomposed Hangul (L V T jamo, 9 bytes) composes to one syllable (3 bytes);
     * the unit is the whole syllable, and what follows keeps exact offsets. */
    vkt_tokenizer *q = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen2_style/tokenizer.json", FIX);
    CHECK(vkt_tok_load_hf(path, &q) == VKT_OK, "load %s", path);
    if (q) {
        const char *hangul = "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB hello";
        vkt_tok_ids ids = {0};
        vkt_tok_offsets o = {0};
        if (encode_both(q, hangul, strlen(hangul), true, &ids, &o, "NFC Hangul")) {
            CHECK(o.data[0].begin == 0, "NFC Hangul: first span starts at %lld", (long long)o.data[0].begin);
            size_t i = 0;
            while (i < o.len && o.data[i].begin < 9) i++;
            CHECK(i < o.len && o.data[i].begin == 9, "NFC Hangul: ' hello' starts at %lld, want 9",
                  i < o.len ? (long long)o.data[i].begin : -1LL);
        }
        vkt_tok_ids_free(&ids);
        vkt_tok_offsets_free(&o);
        /* "café" is an added token matched in normalized (NFC) text: its span is its raw bytes, written
         * decomposed here (6 bytes) or composed (5 bytes). */
        expect_span_at(q, "x caf\x65\xCC\x81 y", 2, 2, 8, "normalized added token, decomposed");
        expect_span_at(q, "x caf\xC3\xA9 y", 2, 2, 7, "normalized added token, composed");
        check_exact(q, "<|im_start|>user\nhi<|im_end|>\n", 30, true, true, "qwen2 chat markup");
    }
    vkt_tok_free(q);
}

/* A SentencePiece tokenizer.json without byte fallback: unknown characters become <unk> (fused). */
static void check_unk(bool fuse) {
    char js[1024], path[] = "/tmp/vkt_tok_offs_XXXXXX.json";
    snprintf(js, sizeof js,
             "{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":%s,\"byte_fallback\":false,"
             "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"\\u2581\":3,\"a\":4,\"b\":5,\"\\u2581a\":6,\"ab\":7,"
             "\"\\u2581ab\":8},\"merges\":[\"\\u2581 a\",\"a b\",\"\\u2581a b\"]},"
             "\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true}],"
             "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\"},"
             "\"decoder\":{\"type\":\"Metaspace\"}}",
             fuse ? "true" : "false");
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0 && write(fd, js, strlen(js)) == (ssize_t)strlen(js), "temp file");
    if (fd >= 0) close(fd);
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_load_hf(path, &t) == VKT_OK, "load the unk tokenizer");
    unlink(path);
    if (!t) return;
    /* "ab xyz\xC3\xA9ba": ▁ab | ▁ | <unk> for x y z é (fused or one each) | b? no: "ba" -> b a */
    const char *text = "ab xyz\xC3\xA9"
                       "ba<s>a";
    vkt_tok_ids ids = {0};
    vkt_tok_offsets o = {0};
    if (encode_both(t, text, strlen(text), true, &ids, &o, fuse ? "fused unk" : "unk")) {
        int64_t want_fused[][2] = {{0, 2}, {2, 3}, {3, 8}, {8, 9}, {9, 10}, {10, 13}, {13, 14}};
        int64_t want_each[][2] = {{0, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 8}, {8, 9}, {9, 10}, {10, 13}, {13, 14}};
        size_t n = fuse ? 7 : 10;
        CHECK(o.len == n, "%s: %zu tokens, want %zu", fuse ? "fused unk" : "unk", o.len, n);
        for (size_t i = 0; i < n && i < o.len; i++) {
            const int64_t *w = fuse ? want_fused[i] : want_each[i];
            CHECK(o.data[i].begin == w[0] && o.data[i].end == w[1],
                  "%s: token %zu (id %d) spans [%lld, %lld), want "
                  "[%lld, %lld)",
                  fuse ? "fused unk" : "unk", i, ids.data[i], (long long)o.data[i].begin, (long long)o.data[i].end,
                  (long long)w[0], (long long)w[1]);
        }
    }
    vkt_tok_ids_free(&ids);
    vkt_tok_offsets_free(&o);
    vkt_tok_free(t);
}

static void check_bytes(void) {
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_init_bytes(&t) == VKT_OK, "bytes tokenizer");
    const char text[] = "a\xC3\xA9\x00z";
    check_exact(t, text, sizeof text - 1, true, true, "bytes");
    vkt_tok_free(t);
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/reference.json", FIX);
    size_t len;
    char *text = tt_read(path, &len);
    cJSON *ref = cJSON_ParseWithLength(text, len);
    free(text);
    CHECK(ref, "reference.json does not parse");
    if (!ref) return tt_finish("test_tokenizer_offsets");
    const cJSON *texts = cJSON_GetObjectItem(ref, "texts");

    check_bytes();
    check_file(VKT_TEST_DATA "/tokenizers/gpt2", texts);
    check_file(VKT_TEST_DATA "/tokenizers/gpt2-hf/tokenizer.json", texts);
    check_file(VKT_TEST_DATA "/models/stories260K/tok512.bin", texts);
    check_variants(cJSON_GetObjectItem(ref, "tokenizers"), texts);
    check_normalizers();
    check_unk(true);
    check_unk(false);
    cJSON_Delete(ref);
    return tt_finish("test_tokenizer_offsets");
}
