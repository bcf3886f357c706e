/* tokenizer.json normalizers, applied to each piece of text between added tokens before
 * pre-tokenization: NFC, NFD, NFKC, NFKD (utf8proc), Lowercase, Strip, StripAccents, Prepend,
 * Replace (String or Regex pattern), and Sequence (flattened into one list of steps).
 *
 * Semantics follow Hugging Face tokenizers: Lowercase maps each character on its own (full
 * mappings, so U+0130 becomes "i" + U+0307; no context rules such as final sigma); Strip removes
 * Unicode White_Space; StripAccents drops combining marks (general category M), meant to follow an
 * NFD/NFKD step; Prepend adds its string to a non-empty piece; Replace substitutes every
 * non-overlapping match, leftmost first. Invalid UTF-8 bytes pass through every step unchanged.
 * Not supported (the loader names the field): BertNormalizer, Precompiled (SentencePiece charsmap),
 * Nmt and anything else. */
#ifndef VKT_TOK_NORM_H
#define VKT_TOK_NORM_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "data/tokenizer.h"

typedef struct vkt_tok_norm vkt_tok_norm;

/* Appends the steps of the normalizer object j (a Sequence is flattened) to *n, creating it when
 * NULL. field names j in messages ("normalizer.normalizers[1]"), path the file. sp_space: the
 * SentencePiece convention of this tokenizer's handle, where U+2581 is stored as ' ' (string
 * arguments are converted the same way). Errors: VKT_ERR_FORMAT (bad field), VKT_ERR_UNSUPPORTED
 * (a type not listed above), VKT_ERR_OOM. */
vkt_status vkt_tok_norm_add(vkt_tok_norm **n, const cJSON *j, const char *path, const char *field, bool sp_space);
/* Writes the normalized form of s[0..len) to out (replacing its content). Not thread-safe (regex
 * match data is per handle). */
vkt_status vkt_tok_norm_apply(vkt_tok_norm *n, const char *s, size_t len, vkt_tok_bytes *out);
/* vkt_tok_norm_apply (the same bytes) that also maps them back to s: *map (borrowed from n until its
 * next use; out->len + 1 entries) gives for each output byte the byte of s it came from, and
 * map[out->len] the end of the last character kept. Granularity, as vkt_tok_encode_offsets documents:
 * an output unit as long as its source maps byte for byte, others map wholly to the source's start;
 * Unicode forms work per combining sequence, widened until it normalizes on its own to the same
 * bytes, else per valid UTF-8 run. The map never decreases. */
vkt_status vkt_tok_norm_apply_mapped(vkt_tok_norm *n, const char *s, size_t len, vkt_tok_bytes *out,
                                     const int64_t **map);
/* A description of n's steps, joined by "; " ("NFC", "Lowercase", "Prepend ARG", "Strip left=1 right=1",
 * "Replace CONTENT": its pattern is compiled, not kept), written as snprintf does; "" for NULL (see
 * vkt_tok_pretok_signature). Equal descriptions mean equal normalizers except for Replace. */
size_t vkt_tok_norm_signature(const vkt_tok_norm *n, char *out, size_t cap);
/* Safe on NULL. */
void vkt_tok_norm_free(vkt_tok_norm *n);

#endif
