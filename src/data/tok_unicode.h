/* UTF-8 decoding, Unicode character classes and the GPT-2 pre-tokenizer, for the tokenizers.
 *
 * Letter (\p{L}) and number (\p{N}) classes come from generated range tables (tok_unicode_tables.c,
 * Unicode 14.0 general categories); whitespace is the Unicode White_Space property. Invalid UTF-8
 * bytes decode one at a time as U+FFFD-like "other" characters so any byte string can be split.
 * Does not normalize (no NFC/NFKC) and does not case-fold. */
#ifndef VKT_TOK_UNICODE_H
#define VKT_TOK_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const uint32_t vkt_tok_letter_ranges[][2];
extern const int vkt_tok_letter_ranges_n;
extern const uint32_t vkt_tok_number_ranges[][2];
extern const int vkt_tok_number_ranges_n;

/* Decodes the code point at s[0..n) (n >= 1); *len gets its byte length (1..4). Malformed or
 * truncated sequences decode as 0xFFFD with *len = 1. */
uint32_t vkt_utf8_decode(const uint8_t *s, size_t n, size_t *len);
/* Writes cp as UTF-8 into out (4 bytes room); returns the byte count. */
size_t vkt_utf8_encode(uint32_t cp, char *out);

bool vkt_uni_is_letter(uint32_t cp);
bool vkt_uni_is_number(uint32_t cp);
bool vkt_uni_is_space(uint32_t cp);

/* Length in bytes of the next GPT-2 pre-token of s[0..n) (n >= 1), following the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * with leftmost-alternative semantics, as OpenAI's encoder.py and Hugging Face's ByteLevel
 * pre-tokenizer apply it. Never returns 0. */
size_t vkt_tok_gpt2_split(const char *s, size_t n);

#endif
