/* GPT-2 encoder.json + vocab.bpe (data/tok_gpt2.c). The input holds both files: encoder.json up to
 * the first NUL byte, vocab.bpe after it (no NUL: all of it is encoder.json, vocab.bpe is empty). */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    const char *bpe = nul ? (const char *)nul + 1 : (const char *)data + size;
    size_t blen = nul ? size - elen - 1 : 0;
    vkt_tokenizer *t;
    if (vkt_tok_load_gpt2_mem((const char *)data, elen, bpe, blen, "encoder.json", "vocab.bpe", &t) != VKT_OK) {
        FUZZ_CHECK(t == NULL);
        return 0;
    }
    FUZZ_CHECK(vkt_tok_get_kind(t) == VKT_TOK_BYTE_BPE);
    fuzz_exercise_tokenizer(t, data, size);
    vkt_tok_free(t);
    return 0;
}
