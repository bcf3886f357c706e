/* llama2.c tokenizer.bin (data/tok_llama2c.c): read to the end, then again with the count it found
 * (as when a model names its vocabulary size), and used to encode and decode. */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_tokenizer *t;
    if (vkt_tok_load_llama2c_mem(data, size, 0, "tok.bin", &t) != VKT_OK) {
        FUZZ_CHECK(t == NULL);
        return 0;
    }
    int32_t n = vkt_tok_vocab_size(t);
    FUZZ_CHECK(n >= 3 && vkt_tok_get_kind(t) == VKT_TOK_SP_BPE);
    vkt_tokenizer *again;
    FUZZ_CHECK(vkt_tok_load_llama2c_mem(data, size, n, "tok.bin", &again) == VKT_OK);
    FUZZ_CHECK(vkt_tok_vocab_size(again) == n);
    vkt_tok_free(again);
    FUZZ_CHECK(vkt_tok_load_llama2c_mem(data, size, n + 1, "tok.bin", &again) != VKT_OK && again == NULL);
    fuzz_exercise_tokenizer(t, data, size);
    vkt_tok_free(t);
    return 0;
}
