/* SentencePiece-style BPE with byte fallback: llama2.c's tok512.bin (stories260K) against the
 * shipped greedy_reference.json, exact round trips on the shipped corpora (data/), and the same tokenizer
 * exported as a Llama-style tokenizer.json, reloaded, giving identical ids.
 *
 * greedy_reference.json holds 256 ids the model generated and their llama2.c decode (leading
 * space after BOS stripped). Decoding the ids must give the text; encoding the text must give
 * the ids back (the model emits the tokenizer's own segmentation of this text, which this test
 * confirms rather than assumes). The exported tokenizer.json and its Metaspace variants were also
 * checked against @huggingface/tokenizers 0.2.0 (tokenizers.js) on 2,589 lines of TinyStories plus
 * edge cases, all ids equal; a few of those ids are embedded below (MS_IDS). */
#include <cjson/cJSON.h>
#include <unistd.h>

#include "data/tok_internal.h"
#include "data/tok_save.h"
#include "tok_test_util.h"

/* Reference ids from @huggingface/tokenizers 0.2.0 (tokenizers.js, an independent implementation of
 * tokenizer.json) for tok512 exported by vkt_tok_save_hf, as is (Prepend + Replace normalizer) and
 * with a Metaspace pre-tokenizer instead (prepend_scheme "always" and "first"), with specials parsed. */
static const char *MS_TEXT[3] = {" leading space", "hello world<s>again  two", "<s>x  y"};
static const int32_t MS_IDS[3][3][16] = {
    {{410, 278, 411, 380, 299, 262, 427, 412, 331, -1},
     {281, 306, 414, 263, 304, 341, 1, 261, 428, 412, 271, 410, 259, 424, 414, -1},
     {1, 410, 444, 410, 348, -1}},
    {{278, 411, 380, 299, 262, 427, 412, 331, -1},
     {281, 306, 414, 263, 304, 341, 1, 261, 428, 412, 271, 410, 259, 424, 414, -1},
     {1, 410, 444, 410, 348, -1}},
    {{278, 411, 380, 299, 262, 427, 412, 331, -1},
     {281, 306, 414, 263, 304, 341, 1, 412, 428, 412, 271, 410, 259, 424, 414, -1},
     {1, 444, 410, 348, -1}},
};

static void check_variant(const char *json, int v, const char *scheme) {
    char path[] = "/tmp/vkt_tokms_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    if (scheme) {
        size_t len;
        char *text = tt_read(json, &len);
        cJSON *root = cJSON_ParseWithLength(text, len);
        cJSON_ReplaceItemInObject(root, "normalizer", cJSON_CreateNull());
        cJSON *pre = cJSON_CreateObject();
        cJSON_AddStringToObject(pre, "type", "Metaspace");
        cJSON_AddStringToObject(pre, "replacement", "\xE2\x96\x81");
        cJSON_AddStringToObject(pre, "prepend_scheme", scheme);
        cJSON_AddBoolToObject(pre, "split", true);
        cJSON_ReplaceItemInObject(root, "pre_tokenizer", pre);
        char *out = cJSON_Print(root);
        FILE *f = fopen(path, "wb");
        fputs(out, f);
        fclose(f);
        cJSON_free(out);
        cJSON_Delete(root);
        free(text);
        json = path;
    }
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_load_hf(json, &t) == VKT_OK && t, "load variant %d", v);
    for (int c = 0; t && c < 3; c++) {
        size_t n = 0;
        while (MS_IDS[v][c][n] >= 0) n++;
        char what[64];
        snprintf(what, sizeof what, "variant %s case %d", scheme ? scheme : "prepend", c);
        tt_expect_ids(t, MS_TEXT[c], strlen(MS_TEXT[c]), true, MS_IDS[v][c], n, what);
    }
    vkt_tok_free(t);
    remove(path);
}

static void check_greedy(vkt_tokenizer *t) {
    char *path = tt_data("models/stories260K/greedy_reference.json");
    size_t len;
    char *text = tt_read(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "token_ids");
    cJSON *ref = cJSON_GetObjectItemCaseSensitive(root, "text");
    cJSON *bos = cJSON_GetObjectItemCaseSensitive(root, "bos_id");
    cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_id");
    CHECK(cJSON_IsArray(ids) && cJSON_IsString(ref), "greedy_reference.json layout");
    if (!cJSON_IsArray(ids) || !cJSON_IsString(ref)) return;
    CHECK(vkt_tok_bos(t) == (int32_t)bos->valuedouble && vkt_tok_eos(t) == (int32_t)eos->valuedouble, "bos/eos %d/%d",
          vkt_tok_bos(t), vkt_tok_eos(t));
    int n = cJSON_GetArraySize(ids);
    int32_t *want = malloc((size_t)n * sizeof *want);
    int k = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, ids) want[k++] = (int32_t)e->valuedouble;
    vkt_tok_bytes out = {0};
    CHECK(vkt_tok_decode(t, want, (size_t)n, true, &out) == VKT_OK, "decode greedy ids");
    CHECK(out.len == strlen(ref->valuestring) && memcmp(out.data, ref->valuestring, out.len) == 0,
          "decoded greedy ids differ from the reference text:\n%s", out.data);
    /* With BOS in front the result is the same: specials are skipped, the prefix space is dropped. */
    int32_t *with_bos = malloc((size_t)(n + 1) * sizeof *with_bos);
    with_bos[0] = vkt_tok_bos(t);
    memcpy(with_bos + 1, want, (size_t)n * sizeof *want);
    vkt_tok_bytes out2 = {0};
    CHECK(vkt_tok_decode(t, with_bos, (size_t)n + 1, true, &out2) == VKT_OK && out2.len == out.len &&
              memcmp(out2.data, out.data, out.len) == 0,
          "decode with BOS");
    tt_expect_ids(t, ref->valuestring, strlen(ref->valuestring), false, want, (size_t)n, "encode greedy text");
    printf("greedy_reference: %d ids decode to the reference text and re-encode to the same ids\n", n);
    vkt_tok_bytes_free(&out);
    vkt_tok_bytes_free(&out2);
    free(with_bos);
    free(want);
    cJSON_Delete(root);
    free(text);
    free(path);
}

static void check_basics(vkt_tokenizer *t) {
    CHECK(vkt_tok_vocab_size(t) == 512 && vkt_tok_get_kind(t) == VKT_TOK_SP_BPE, "vocab %d", vkt_tok_vocab_size(t));
    /* tok512.bin lists <0x00>..<0xFF> as ids 3..258 (SOURCES.md). */
    for (int b = 0; b < 256; b++) {
        size_t l;
        const char *p = vkt_tok_piece(t, 3 + b, &l);
        CHECK(p && l == 1 && (uint8_t)p[0] == b, "byte token %d", 3 + b);
    }
    /* A character outside the vocabulary falls back to its UTF-8 bytes: "ß" = C3 9F. */
    int32_t want[] = {3 + 0xC3, 3 + 0x9F};
    vkt_tok_ids ids = {0};
    CHECK(vkt_tok_find(t, "\xC3\x9F", 2) < 0, "ß should not be in the vocabulary");
    CHECK(vkt_tok_encode(t, "\xC3\x9F", 2, false, &ids) == VKT_OK, "encode ß");
    /* The prefix space comes first as its own token or merged; the last two ids are the bytes. */
    CHECK(ids.len >= 2 && ids.data[ids.len - 2] == want[0] && ids.data[ids.len - 1] == want[1],
          "byte fallback for U+00DF");
    vkt_tok_ids_free(&ids);
    const char *edge[] = {"",
                          " ",
                          "  leading",
                          "trailing  ",
                          "\n\n",
                          "a\tb",
                          "\xF0\x9F\x98\x80 emoji",
                          "\xFF\xFE invalid utf-8",
                          "<s> not parsed",
                          "Once upon a time"};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        tt_round_trip(t, edge[i], strlen(edge[i]), false, edge[i]);
    vkt_tok_ids e = {0};
    CHECK(vkt_tok_encode(t, "", 0, false, &e) == VKT_OK && e.len == 0, "empty text gives no ids");
    vkt_tok_ids_free(&e);
}

static void check_corpora(vkt_tokenizer *a, vkt_tokenizer *b) {
    static const char *files[] = {"tinystories_256k.txt", "tinyshakespeare.txt",
                                  "preference/hh_rlhf_harmless_base_test.jsonl"}; /* the last is optional */
    for (size_t c = 0; c < sizeof files / sizeof files[0]; c++) {
        const char *shared = c == 2 ? vkt_test_shared_data(files[c]) : NULL;
        if (c == 2 && !shared) continue;
        char *path = shared ? strdup(shared) : tt_data(files[c]);
        size_t len;
        char *text = tt_read(path, &len);
        vkt_tok_ids ia = {0}, ib = {0};
        double t0 = tt_now();
        CHECK(vkt_tok_encode(a, text, len, false, &ia) == VKT_OK, "encode %s", files[c]);
        double dt = tt_now() - t0;
        CHECK(vkt_tok_encode(b, text, len, false, &ib) == VKT_OK, "encode %s (json)", files[c]);
        size_t i = 0;
        while (i < ia.len && i < ib.len && ia.data[i] == ib.data[i]) i++;
        CHECK(ia.len == ib.len && i == ia.len, "%s: tok512.bin and its tokenizer.json differ at id %zu (%zu vs %zu)",
              files[c], i, ia.len, ib.len);
        printf("sp %s: %zu bytes -> %zu tokens in %.3f s (%.2f bytes/token)\n", files[c], len, ia.len, dt,
               (double)len / (double)ia.len);
        CHECK(dt < 3.0, "%s: encoding took %.2f s (bound 3 s)", files[c], dt);
        if (c == 1) {
            /* Cutting the text before spaces (the fast path) must not change any id. */
            vkt_tok_ids ic = {0};
            a->sp_cut = false;
            CHECK(vkt_tok_encode(a, text, len, false, &ic) == VKT_OK, "encode uncut");
            a->sp_cut = true;
            CHECK(ic.len == ia.len && memcmp(ic.data, ia.data, ia.len * 4) == 0, "%s: cut and uncut encodes differ",
                  files[c]);
            vkt_tok_ids_free(&ic);
        }
        tt_round_trip(a, text, len, false, files[c]);
        tt_round_trip(b, text, len, false, files[c]);
        vkt_tok_ids_free(&ia);
        vkt_tok_ids_free(&ib);
        free(text);
        free(path);
    }
}

/* "<s>" / "</s>" in text are BOS / EOS when special tokens are parsed (a rendered chat template, as Hugging
 * Face's Llama tokenizers do), and plain letters otherwise. */
static void check_special_text(vkt_tokenizer *t) {
    const char *text = "Hi</s>\nUser:<s>";
    vkt_tok_ids with = {0}, without = {0};
    CHECK(vkt_tok_encode(t, text, strlen(text), true, &with) == VKT_OK, "encode with specials");
    CHECK(vkt_tok_encode(t, text, strlen(text), false, &without) == VKT_OK, "encode without specials");
    int eos = 0, bos = 0, eos_plain = 0;
    for (size_t i = 0; i < with.len; i++) eos += with.data[i] == 2, bos += with.data[i] == 1;
    for (size_t i = 0; i < without.len; i++) eos_plain += without.data[i] == 2 || without.data[i] == 1;
    CHECK(eos == 1 && bos == 1 && eos_plain == 0, "special text: %d EOS and %d BOS parsed, %d without parsing", eos,
          bos, eos_plain);
    vkt_tok_ids_free(&with);
    vkt_tok_ids_free(&without);
}

int main(void) {
    char *bin = tt_data("models/stories260K/tok512.bin");
    vkt_tokenizer *a = NULL, *b = NULL, *c = NULL;
    CHECK(vkt_tok_load_llama2c(bin, 512, &a) == VKT_OK, "load tok512.bin");
    CHECK(vkt_tok_load_llama2c(bin, 0, &c) == VKT_OK && vkt_tok_vocab_size(c) == 512, "load tok512.bin to EOF");
    vkt_tokenizer *d = NULL;
    CHECK(vkt_tok_load_llama2c(bin, 32000, &d) == VKT_ERR_FORMAT && !d, "a wrong vocab size must be an error");
    if (!a) return tt_finish("test_tokenizer_sp");
    char json[] = "/tmp/vkt_tok512_XXXXXX";
    int fd = mkstemp(json);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    CHECK(vkt_tok_save_hf(a, json) == VKT_OK, "save as tokenizer.json");
    CHECK(vkt_tok_load_hf(json, &b) == VKT_OK, "reload tokenizer.json");
    check_variant(json, 0, NULL);
    check_variant(json, 1, "always");
    check_variant(json, 2, "first");
    remove(json);
    check_basics(a);
    check_greedy(a);
    check_special_text(a);
    if (b) {
        check_basics(b);
        check_greedy(b);
        check_corpora(a, b);
    }
    vkt_tok_free(a);
    vkt_tok_free(b);
    vkt_tok_free(c);
    free(bin);
    return tt_finish("test_tokenizer_sp");
}
