/* The tokenizer -> vkt_encoder adapter feeding the data pipeline: tiny Shakespeare through
 * vkt_corpus_tokenize_file with GPT-2 gives eot + the same ids as encoding directly, and the
 * identity string depends on content only (encoder.json + vocab.bpe and tokenizer.json agree;
 * tok512.bin differs). */
#include "data/corpus.h"
#include "data/tok_encoder.h"
#include "tok_test_util.h"

int main(void) {
    char *dir = tt_data("tokenizers/gpt2"), *hf = tt_data("tokenizers/gpt2-hf/tokenizer.json");
    char *bin = tt_data("models/stories260K/tok512.bin"), *shk = tt_data("tinyshakespeare.txt");
    vkt_tokenizer *a = NULL, *b = NULL, *c = NULL;
    CHECK(vkt_tok_load(dir, &a) == VKT_OK && vkt_tok_load(hf, &b) == VKT_OK && vkt_tok_load(bin, &c) == VKT_OK, "load");
    if (!a || !b || !c) return tt_finish("test_tokenizer_encoder");
    vkt_encoder ea, eb, ec;
    CHECK(vkt_tok_encoder(a, &ea) == VKT_OK && vkt_tok_encoder(b, &eb) == VKT_OK && vkt_tok_encoder(c, &ec) == VKT_OK,
          "adapters");
    printf("identities: %s | %s | %s\n", ea.identity, eb.identity, ec.identity);
    CHECK(strcmp(ea.identity, eb.identity) == 0, "the two GPT-2 sources must have one identity");
    CHECK(strcmp(ea.identity, ec.identity) != 0, "GPT-2 and tok512 must differ");
    CHECK(ea.vocab_size == 50257 && ea.eot_id == 50256 && ec.vocab_size == 512 && ec.eot_id == 2, "sizes/eot");

    int32_t small[2];
    CHECK(ea.encode(ea.ctx, "Hello world", 11, small, 2) == 2 && small[0] == 15496 && small[1] == 995, "callback");
    CHECK(ea.encode(ea.ctx, "Hello world", 11, small, 1) == 2, "callback reports the needed size");

    vkt_tokens toks = {0};
    CHECK(vkt_corpus_tokenize_file(shk, &eb, NULL, NULL, &toks, NULL) == VKT_OK, "corpus tokenize");
    size_t len;
    char *text = tt_read(shk, &len);
    while (len && text[len - 1] == '\n') len--; /* the corpus drops newlines at document ends */
    vkt_tok_ids direct = {0};
    CHECK(vkt_tok_encode(a, text, len, false, &direct) == VKT_OK, "direct encode");
    CHECK(toks.n == (int64_t)direct.len + 1 && toks.ids[0] == 50256 &&
              memcmp(toks.ids + 1, direct.data, direct.len * sizeof(int32_t)) == 0,
          "corpus stream (%lld ids) must be eot + direct encode (%zu ids)", (long long)toks.n, direct.len);
    vkt_tokens_free(&toks);
    vkt_tok_ids_free(&direct);
    free(text);
    vkt_tok_free(a);
    vkt_tok_free(b);
    vkt_tok_free(c);
    free(dir);
    free(hf);
    free(bin);
    free(shk);
    return tt_finish("test_tokenizer_encoder");
}
