/* Regular expressions for tokenizer.json Split pre-tokenizers and Replace normalizers: a thin
 * wrapper over PCRE2 in UTF mode with Unicode properties (\p{L}, \s and \w by Unicode), JIT-compiled
 * when the platform allows.
 *
 * Hugging Face compiles these patterns with Oniguruma; the patterns real tokenizers use (GPT-2,
 * GPT-4, Llama 3, Qwen2: alternation, classes, \p{..}, (?i:..), (?!..), {m,n}) mean the same in
 * both. Invalid UTF-8 in the subject is allowed (PCRE2_MATCH_INVALID_UTF): matches never span a
 * malformed byte. Not thread-safe: one match-data block per handle. */
#ifndef VKT_TOK_REGEX_H
#define VKT_TOK_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "vktrain/status.h"

typedef struct vkt_tok_regex vkt_tok_regex;

/* Compiles pattern[0..len) (literal: match the string as it is). where names the tokenizer.json
 * field for messages, e.g. "tok.json: pre_tokenizer.pretokenizers[0].pattern.Regex". On a syntax
 * error logs the position and PCRE2's reason and returns VKT_ERR_FORMAT. */
vkt_status vkt_tok_regex_compile(const char *pattern, size_t len, bool literal, const char *where, vkt_tok_regex **out);
/* Safe on NULL. */
void vkt_tok_regex_free(vkt_tok_regex *re);
/* Leftmost match in s[0..n) starting at byte from; sets [*ms, *me). Returns 1 when found, 0 when
 * not, or a negative status after logging (match limit hit, out of memory). An empty match is
 * reported as found; callers step past it. */
int vkt_tok_regex_find(vkt_tok_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me);

#endif
