/* Hugging Face tokenizer.json (data/tok_hf.c), byte-level and SentencePiece kinds; an accepted file
 * is then used to encode and decode. */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_tokenizer *t;
    if (vkt_tok_load_hf_mem((const char *)data, size, "tokenizer.json", &t) != VKT_OK) {
        FUZZ_CHECK(t == NULL);
        return 0;
    }
    fuzz_exercise_tokenizer(t, data, size);
    vkt_tok_free(t);
    return 0;
}
