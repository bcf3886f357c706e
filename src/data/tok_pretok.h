/* tokenizer.json pre-tokenizers for byte-level BPE: the text between added tokens (after the
 * normalizers) is cut into words, and each word is handed to BPE on its own.
 *
 * Supported, with Hugging Face tokenizers' semantics: Split (pattern {"Regex"} or {"String"};
 * behavior Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous; invert),
 * ByteLevel (add_prefix_space: a word not starting with ' ' gets one; use_regex: GPT-2's split),
 * Digits (individual_digits), Whitespace (\w+|[^\w\s]+, the rest dropped), WhitespaceSplit,
 * Punctuation (behavior), BertPreTokenizer, CharDelimiterSplit, and Sequence (flattened). A step
 * applies to every word the previous step produced; empty words are dropped.
 * Regexes run on PCRE2 (tok_regex.h); GPT-2's own pattern uses the hand-written splitter in
 * tok_unicode.c, which gives the same words faster. Not supported: Metaspace here (the
 * SentencePiece path in tok_bpe.c handles it alone), UnicodeScripts, FixedLength. */
#ifndef VKT_TOK_PRETOK_H
#define VKT_TOK_PRETOK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "vktrain/status.h"

typedef struct vkt_tok_pretok vkt_tok_pretok;

/* Receives one word (borrowed for the call). Its first `inserted` bytes are not in the input (the
 * ByteLevel prefix space); the rest start at byte `at` of the input (for token offsets). */
typedef vkt_status (*vkt_tok_word_fn)(void *ctx, const char *w, size_t n, size_t at, size_t inserted);

/* Appends the steps of pre-tokenizer object j to *p (created when NULL). field names j in
 * messages, path the file. Errors: VKT_ERR_FORMAT, VKT_ERR_UNSUPPORTED (a type or behavior not
 * listed above; the message names the field), VKT_ERR_OOM. */
vkt_status vkt_tok_pretok_add(vkt_tok_pretok **p, const cJSON *j, const char *path, const char *field);
/* Cuts s[0..n) into words and calls fn on each, in order. Not thread-safe (per-step scratch). */
vkt_status vkt_tok_pretok_run(vkt_tok_pretok *p, const char *s, size_t n, vkt_tok_word_fn fn, void *ctx);
/* True when p is one ByteLevel step (GPT-2's configuration); sets its two options. */
bool vkt_tok_pretok_is_bytelevel(const vkt_tok_pretok *p, bool *add_prefix_space, bool *use_regex);
/* A canonical description of p's steps joined by "; " ("split Isolated invert=0 regex=PATTERN",
 * "bytelevel prefix=0 regex=0", "gpt2" for GPT-2's own split), written to out as snprintf does (the
 * length it needs is returned; "" for NULL). Tools that know configurations by what they do (llama.cpp's
 * pre-tokenizer names, data/tok_export.h) compare it with theirs. */
size_t vkt_tok_pretok_signature(const vkt_tok_pretok *p, char *out, size_t cap);
/* Safe on NULL. */
void vkt_tok_pretok_free(vkt_tok_pretok *p);

#endif
