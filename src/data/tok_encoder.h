/* Adapter from a tokenizer to the data pipeline's vkt_encoder (data/encoder.h). */
#ifndef VKT_TOK_ENCODER_H
#define VKT_TOK_ENCODER_H

#include "data/encoder.h"
#include "data/tokenizer.h"

/* Fills enc to encode with t (special strings in the text are not parsed). enc borrows t, which
 * must outlive it; encodes through it share t's caches (one thread at a time). identity is
 * "<kind>:<vocab size>:<hash of every token's bytes and flags and every merge>". eot_id is
 * vkt_tok_eot(t); the byte tokenizer has none and uses 0 (the NUL byte) as document separator. */
vkt_status vkt_tok_encoder(vkt_tokenizer *t, vkt_encoder *enc);

#endif
