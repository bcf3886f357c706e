/* Byte-level BPE training: merges counted by hand on tiny corpora (including the tie rule),
 * then on tiny Shakespeare: speed, determinism (two runs write identical files), compression,
 * exact round trips, the special token, and save -> tokenizer.json -> load giving the same ids.
 * Compatibility beyond this code: the saved 1k file was loaded by @huggingface/tokenizers 0.2.0
 * (tokenizers.js, an independent tokenizer.json implementation) and gave the same ids on all of
 * tiny Shakespeare, as did an 8k tokenizer trained on TinyStories + HH-RLHF (checked by hand,
 * not in CI: that needs node). */
#include <unistd.h>

#include "data/tok_save.h"
#include "data/tok_train.h"
#include "tok_test_util.h"

static void check_tiny(void) {
    /* "ab ab ab abc" pre-tokenizes to "ab", " ab" x2, " abc": pairs (a,b) 4, (' ',a) 3, (b,c) 1.
     * Merge 1: a+b -> 256 "ab"; then (' ',256) 3 -> 257 " ab"; then (257,c) 1 -> 258 " abc". */
    const char *text = "ab ab ab abc";
    vkt_tok_train_opts o = {.vocab_size = 259};
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_train_bpe(text, strlen(text), &o, &t) == VKT_OK && t, "train tiny");
    if (!t) return;
    const char *want[] = {"ab", " ab", " abc"};
    for (int i = 0; i < 3; i++) {
        size_t l;
        const char *p = vkt_tok_piece(t, 256 + i, &l);
        CHECK(p && l == strlen(want[i]) && memcmp(p, want[i], l) == 0, "tiny merge %d: got \"%.*s\" want \"%s\"", i,
              (int)l, p ? p : "", want[i]);
    }
    int32_t ids[] = {256, 257, 257, 258};
    tt_expect_ids(t, text, strlen(text), false, ids, 4, "tiny encode");
    vkt_tok_free(t);
    /* "ab ba ab ba" -> "ab", " ba" x2, " ab": (a,b) 2, (' ',b) 2, (b,a) 2, (' ',a) 1. The tie at 2
     * goes to the lowest (left, right) ids: (32, 98), i.e. " b". */
    const char *tie = "ab ba ab ba";
    o.vocab_size = 257;
    CHECK(vkt_tok_train_bpe(tie, strlen(tie), &o, &t) == VKT_OK && t, "train tie");
    if (!t) return;
    size_t l = 0;
    const char *p = vkt_tok_piece(t, 256, &l);
    CHECK(p && l == 2 && memcmp(p, " b", 2) == 0, "tie must pick the lowest pair (' ', 'b'), got \"%.*s\"", (int)l,
          p ? p : "");
    vkt_tok_free(t);
    o.vocab_size = 100;
    CHECK(vkt_tok_train_bpe(tie, strlen(tie), &o, &t) == VKT_ERR_ARG && !t, "vocab below 256 must fail");
}

static void check_shakespeare(void) {
    char *path = tt_data("tinyshakespeare.txt");
    size_t len;
    char *text = tt_read(path, &len);
    const char *special[] = {"<|endoftext|>"};
    vkt_tok_train_opts o = {.vocab_size = 1024, .special = special, .n_special = 1};
    vkt_tokenizer *a = NULL, *b = NULL, *c = NULL;
    double t0 = tt_now();
    CHECK(vkt_tok_train_bpe(text, len, &o, &a) == VKT_OK && a, "train 1k");
    double dt = tt_now() - t0;
    if (!a) return;
    /* Bound: "seconds, not minutes" on a shared 2-core machine; measured ~0.3 s. */
    CHECK(dt < 10.0, "training took %.2f s (bound 10 s)", dt);
    CHECK(vkt_tok_vocab_size(a) == 1024 && vkt_tok_eot(a) == 1023 && vkt_tok_is_special(a, 1023), "vocab %d eot %d",
          vkt_tok_vocab_size(a), vkt_tok_eot(a));
    CHECK(vkt_tok_train_bpe(text, len, &o, &c) == VKT_OK && c, "train again");
    char p1[] = "/tmp/vkt_toktrain_XXXXXX", p2[] = "/tmp/vkt_toktrain_XXXXXX";
    int f1 = mkstemp(p1), f2 = mkstemp(p2);
    close(f1);
    close(f2);
    CHECK(vkt_tok_save_hf(a, p1) == VKT_OK && vkt_tok_save_hf(c, p2) == VKT_OK, "save");
    size_t l1, l2;
    char *s1 = tt_read(p1, &l1), *s2 = tt_read(p2, &l2);
    CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0, "two trainings on the same text must write identical files");
    CHECK(vkt_tok_load_hf(p1, &b) == VKT_OK && b, "reload the trained tokenizer.json");
    vkt_tok_ids ia = {0}, ib = {0};
    CHECK(vkt_tok_encode(a, text, len, false, &ia) == VKT_OK, "encode");
    if (b) CHECK(vkt_tok_encode(b, text, len, false, &ib) == VKT_OK, "encode reloaded");
    CHECK(ia.len == ib.len && memcmp(ia.data, ib.data, ia.len * 4) == 0, "saved and reloaded ids differ");
    double ratio = (double)len / (double)ia.len;
    printf("train: 1024-token BPE on tinyshakespeare in %.3f s; %zu tokens, %.2f bytes/token; file %zu bytes\n", dt,
           ia.len, ratio, l1);
    /* A 1k byte BPE must compress English well beyond bytes: GPT-2's 50k vocab gets 3.3 here. */
    CHECK(ratio > 2.2, "compression %.2f bytes/token is too low for 1k merges", ratio);
    tt_round_trip(a, text, len, false, "trained tokenizer on tinyshakespeare");
    if (b) {
        tt_round_trip(b, text, len, false, "reloaded tokenizer on tinyshakespeare");
        const char *s = "First Citizen:<|endoftext|>\xE4\xBD\xA0\xE5\xA5\xBD";
        tt_round_trip(b, s, strlen(s), true, "reloaded, special and unseen bytes");
        vkt_tok_ids x = {0};
        CHECK(vkt_tok_encode(b, s, strlen(s), true, &x) == VKT_OK, "encode special");
        bool has = false;
        for (size_t i = 0; i < x.len; i++) has |= x.data[i] == 1023;
        CHECK(has, "<|endoftext|> must encode to its id after reload");
        vkt_tok_ids_free(&x);
    }
    vkt_tok_ids_free(&ia);
    vkt_tok_ids_free(&ib);
    remove(p1);
    remove(p2);
    free(s1);
    free(s2);
    vkt_tok_free(a);
    vkt_tok_free(b);
    vkt_tok_free(c);
    free(text);
    free(path);
}

int main(void) {
    check_tiny();
    check_shakespeare();
    return tt_finish("test_tokenizer_train");
}
