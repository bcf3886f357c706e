/* Free text (a user's question) to a safe SQLite FTS5 query.
 *
 * Why: FTS5 has its own query syntax (AND/OR/NOT/NEAR, "phrases", column:filters, prefix*, ^, +, -,
 * parentheses), and raw user text in MATCH fails with a syntax error on a stray quote or parenthesis,
 * or silently means something else ("NOT", "title:"). The text is reduced to its terms: maximal runs of
 * Unicode letters and digits (valid UTF-8 only; every other byte, punctuation and operator character
 * separates terms). Each term is double-quoted, so a keyword such as NEAR or OR is a plain word, and
 * the terms are joined with OR, so a passage that holds any of them can match and bm25 ranks them.
 * Duplicate terms (ASCII case-insensitive) are kept once, so no word counts twice in the ranking; at
 * most VKT_RAG_MAX_QUERY_TERMS terms are kept, the first ones.
 * Pure and thread-safe. */
#ifndef VKT_RAG_FTS_QUERY_H
#define VKT_RAG_FTS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

#define VKT_RAG_MAX_QUERY_TERMS 64

/* *out (malloc'd, caller frees) gets e.g. `"what" OR "is" OR "the" OR "bell"`, or "" when the text has
 * no terms; *n_terms (may be NULL) their count. VKT_ERR_OOM only. */
vkt_status vkt_rag_fts_query(const char *text, size_t len, char **out, int32_t *n_terms);

#endif
