/* The tokenizer interface the data pipeline needs: one encode callback plus what identifies its output.
 *
 * The data code never includes a tokenizer's header; a tokenizer (BPE, SentencePiece, a test's
 * byte-level toy) fills a vkt_encoder. Keeping this a plain function pointer lets tokenizers and the
 * data pipeline evolve independently. Not here: decoding, special-token parsing policy. */
#ifndef VKT_DATA_ENCODER_H
#define VKT_DATA_ENCODER_H

#include <stddef.h>
#include <stdint.h>

/* Encodes text[0..len) (UTF-8, not NUL-terminated, no special-token parsing expected) into out_ids,
 * which has room for cap ids. Returns the number of ids the text encodes to; when that exceeds cap,
 * out_ids holds nothing useful and the caller calls again with a larger buffer. Returns a negative
 * vkt_status on failure (after logging why). Must be deterministic: the same text gives the same ids. */
typedef int64_t (*vkt_encode_fn)(void *ctx, const char *text, size_t len, int32_t *out_ids, int64_t cap);

typedef struct {
    vkt_encode_fn encode;
    void *ctx;            /* borrowed: the tokenizer state passed to encode */
    const char *identity; /* borrowed: changes whenever encode's output could change (e.g. name plus a
                           * hash of the vocab and merges); part of the token-cache key */
    int64_t vocab_size;   /* every id must be in [0, vocab_size) */
    int32_t eot_id;       /* end-of-text id written before every document */
} vkt_encoder;

#endif
