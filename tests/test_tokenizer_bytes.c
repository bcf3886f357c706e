/* The byte tokenizer: 256 ids, id = byte value, exact round trip of arbitrary bytes. */
#include "tok_test_util.h"

int main(void) {
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_load("bytes", &t) == VKT_OK && t, "load bytes");
    if (!t) return tt_finish("test_tokenizer_bytes");
    CHECK(vkt_tok_vocab_size(t) == 256 && vkt_tok_get_kind(t) == VKT_TOK_BYTES, "vocab size");
    CHECK(vkt_tok_eot(t) == -1 && vkt_tok_bos(t) == -1, "no special tokens");
    char all[512];
    int32_t want[512];
    for (int i = 0; i < 512; i++) all[i] = (char)(i * 7 + 3), want[i] = (uint8_t)all[i];
    tt_expect_ids(t, all, sizeof all, true, want, 512, "all bytes");
    tt_round_trip(t, all, sizeof all, false, "all bytes");
    char *path = tt_data("tinyshakespeare.txt");
    size_t len;
    char *text = tt_read(path, &len);
    CHECK(tt_round_trip(t, text, len, false, "tinyshakespeare") == len, "one id per byte");
    int32_t bad[] = {65, 256};
    vkt_tok_bytes out = {0};
    CHECK(vkt_tok_decode(t, bad, 2, false, &out) == VKT_ERR_ARG, "id 256 must be rejected");
    vkt_tok_bytes_free(&out);
    free(text);
    free(path);
    vkt_tok_free(t);
    return tt_finish("test_tokenizer_bytes");
}
