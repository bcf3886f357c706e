/* Retrieval text (src/rag): the chunker on markdown and plain text, and the FTS5 query sanitizer.
 * Byte 0 picks the chunking (bit 0: markdown; bits 1-7: 1 to 128 words), byte 1 the overlap (0 to
 * half); the rest is the document and, whole, the query text. Invariants: passages are 1..N words,
 * start strictly later than the one before, leave no word out, overlap by at most the setting, and
 * their text is exactly n_words words joined by single spaces; the query is "" or quoted terms
 * joined by " OR ", at most VKT_RAG_MAX_QUERY_TERMS, with no quote inside a term. */
#include <string.h>

#include "fuzz.h"
#include "rag/rag_chunk.h"
#include "rag/rag_fts_query.h"

static int32_t words_in(const char *t) {
    int32_t n = 0;
    FUZZ_CHECK(t[0] != ' ' && (!t[0] || t[strlen(t) - 1] != ' ') && !strstr(t, "  "));
    for (const char *p = t; *p; p++) n += p == t || p[-1] == ' ';
    return n;
}

static void check_passages(const vkt_rag_passages *p, const vkt_rag_chunk_opts *o, bool has_nul) {
    int32_t covered = 0;
    for (int32_t i = 0; i < p->n; i++) {
        const vkt_rag_passage *x = &p->items[i];
        FUZZ_CHECK(x->n_words >= 1 && x->n_words <= o->chunk_words && x->first_word <= covered);
        FUZZ_CHECK(!strchr(x->heading, '\n'));
        if (i > 0) {
            FUZZ_CHECK(x->first_word > p->items[i - 1].first_word);
            FUZZ_CHECK(covered - x->first_word <= o->overlap_words);
        }
        if (!has_nul) FUZZ_CHECK(words_in(x->text) == x->n_words);
        covered = x->first_word + x->n_words;
    }
}

static void check_query(const char *q, int32_t n_terms) {
    FUZZ_CHECK(n_terms >= 0 && n_terms <= VKT_RAG_MAX_QUERY_TERMS && (n_terms == 0) == (q[0] == 0));
    const char *p = q;
    for (int32_t i = 0; i < n_terms; i++) {
        if (i) {
            FUZZ_CHECK(strncmp(p, " OR ", 4) == 0);
            p += 4;
        }
        FUZZ_CHECK(*p == '"');
        const char *close = strchr(p + 1, '"');
        FUZZ_CHECK(close && close > p + 1);
        p = close + 1;
    }
    FUZZ_CHECK(*p == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *q = NULL;
    int32_t n_terms = -1;
    FUZZ_CHECK(vkt_rag_fts_query((const char *)data, size, &q, &n_terms) == VKT_OK);
    check_query(q, n_terms);
    free(q);
    if (size < 2) return 0;
    vkt_rag_chunk_opts o = {.chunk_words = 1 + (data[0] >> 1), .markdown = data[0] & 1};
    o.overlap_words = data[1] % (o.chunk_words / 2 + 1);
    const char *text = (const char *)data + 2;
    vkt_rag_passages p = {0};
    FUZZ_CHECK(vkt_rag_chunk(text, size - 2, &o, "fuzz", &p) == VKT_OK);
    check_passages(&p, &o, memchr(text, 0, size - 2) != NULL);
    vkt_rag_passages_free(&p);
    return 0;
}
