/* Free text to a safe FTS5 query (rag_fts_query.h). A term may hold non-ASCII punctuation ("¿Dónde",
 * "foo—bar"): inside the quotes FTS5's own tokenizer splits it exactly as it split the documents, so
 * scripts whose words mix letters and combining marks stay whole; only a term without any letter or
 * digit is dropped, since it would be an empty phrase. */
#include "rag/rag_fts_query.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/tok_unicode.h"

typedef struct {
    size_t begin, len;
} term;

static bool ascii_alnum(uint8_t c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

/* Length of the term character at s[i], or 0 when it separates terms. *letter: it is a letter/digit. */
static size_t term_char(const uint8_t *s, size_t n, size_t i, bool *letter) {
    if (s[i] < 0x80) return (*letter = ascii_alnum(s[i])) ? 1 : 0;
    size_t l;
    uint32_t cp = vkt_utf8_decode(s + i, n - i, &l);
    if ((cp == 0xFFFD && l == 1) || vkt_uni_is_space(cp)) return 0; /* invalid UTF-8 or a space */
    *letter = vkt_uni_is_letter(cp) || vkt_uni_is_number(cp);
    return l;
}

static bool seen(const uint8_t *s, const term *t, int32_t n, term x) {
    for (int32_t i = 0; i < n; i++)
        if (t[i].len == x.len && strncasecmp((const char *)s + t[i].begin, (const char *)s + x.begin, x.len) == 0)
            return true;
    return false;
}

vkt_status vkt_rag_fts_query(const char *text, size_t len, char **out, int32_t *n_terms) {
    const uint8_t *s = (const uint8_t *)text;
    term terms[VKT_RAG_MAX_QUERY_TERMS];
    int32_t n = 0;
    for (size_t i = 0; i < len && n < VKT_RAG_MAX_QUERY_TERMS;) {
        bool letter = false, any_letter = false;
        size_t b = i, l;
        while (i < len && (l = term_char(s, len, i, &letter)) > 0) i += l, any_letter |= letter;
        term t = {b, i - b};
        if (any_letter && !seen(s, terms, n, t)) terms[n++] = t;
        if (i == b) i++; /* a separator byte */
    }
    size_t bytes = 1;
    for (int32_t i = 0; i < n; i++) bytes += terms[i].len + 6; /* "t" OR  */
    char *q = malloc(bytes), *o = q;
    if (!q) return VKT_ERR_OOM;
    for (int32_t i = 0; i < n; i++) {
        if (i) memcpy(o, " OR ", 4), o += 4;
        *o++ = '"';
        memcpy(o, text + terms[i].begin, terms[i].len);
        o += terms[i].len;
        *o++ = '"';
    }
    *o = 0;
    *out = q;
    if (n_terms) *n_terms = n;
    return VKT_OK;
}
