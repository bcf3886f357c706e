/* Exercising a tokenizer that a fuzzed file produced: encode a fixed text and the input's tail,
 * check every id is in the vocabulary, decode them back, and look up the pieces. */
#ifndef VKT_FUZZ_TOK_H
#define VKT_FUZZ_TOK_H

#include <string.h>

#include "data/tokenizer.h"
#include "fuzz.h"

static inline void fuzz_check_ids(const vkt_tokenizer *t, const vkt_tok_ids *ids) {
    int32_t n = vkt_tok_vocab_size(t);
    for (size_t i = 0; i < ids->len; i++) FUZZ_CHECK(ids->data[i] >= 0 && ids->data[i] < n);
}

static inline void fuzz_exercise_tokenizer(vkt_tokenizer *t, const uint8_t *data, size_t size) {
    static const char text[] = "Hello world, it's 12 o'clock!  \n\tcaf\xC3\xA9 \xE2\x98\x83 <|endoftext|><s> x</s>\xFF";
    size_t tail = size < 48 ? size : 48;
    const char *texts[2] = {text, (const char *)data + size - tail};
    size_t lens[2] = {sizeof text - 1, tail};
    for (int k = 0; k < 2; k++)
        for (int special = 0; special < 2; special++) {
            vkt_tok_ids ids = {0};
            if (vkt_tok_encode(t, texts[k], lens[k], special, &ids) == VKT_OK) {
                fuzz_check_ids(t, &ids);
                vkt_tok_bytes out = {0};
                FUZZ_CHECK(vkt_tok_decode(t, ids.data, ids.len, special, &out) == VKT_OK);
                vkt_tok_bytes_free(&out);
            }
            vkt_tok_ids_free(&ids);
        }
    int32_t n = vkt_tok_vocab_size(t);
    FUZZ_CHECK(n > 0);
    int32_t specials[4] = {vkt_tok_bos(t), vkt_tok_eos(t), vkt_tok_eot(t), n - 1};
    for (int i = 0; i < 4; i++) {
        FUZZ_CHECK(specials[i] >= -1 && specials[i] < n);
        size_t len;
        const char *p = specials[i] >= 0 ? vkt_tok_piece(t, specials[i], &len) : NULL;
        if (p) FUZZ_CHECK(vkt_tok_find(t, p, len) >= -1);
    }
}

#endif
