/* Chunking: a document's text split into passages of about N words for retrieval.
 *
 * Why passages: a retriever ranks pieces the size of an answer's evidence, and the context they fill
 * must fit a small model's sequence. Passages overlap a little so a fact cut by a boundary is whole
 * in one of them. A word is a maximal run of non-whitespace bytes (ASCII whitespace only, so UTF-8
 * text splits correctly); passage text is its words joined by single spaces.
 *
 * Boundaries, strongest first: a markdown heading always ends a passage (a passage never spans two
 * sections and overlap never crosses a heading); inside a section a passage ends at N words, or earlier
 * at the last paragraph end (blank line, list item) after N/2 words, else at the last sentence end
 * (a word ending in . ! or ?, possibly followed by closing quotes or brackets) after N/2 words, else
 * mid-sentence at N words. The next passage starts `overlap_words` words before the previous end,
 * moved forward to the first sentence start in that window when there is one (so overlap is whole
 * sentences where possible, never more than overlap_words).
 *
 * Markdown (opts.markdown): ATX headings ("#" to "######") start sections; each passage stores its
 * section's heading path ("Title > Section > Subsection", levels above the heading that have one),
 * not in its text; fenced code blocks ("```" or "~~~") are kept as text, one line a sentence,
 * and '#' lines inside them are not headings; bullet markers ("- ", "* ", "+ ") and thematic breaks
 * ("---", "***", "===" lines) are dropped. Not here: setext headings, HTML, tables (kept as words).
 * Pure and thread-safe: no I/O, no global state. */
#ifndef VKT_RAG_CHUNK_H
#define VKT_RAG_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

#define VKT_RAG_CHUNK_WORDS     120
#define VKT_RAG_OVERLAP_WORDS   20
#define VKT_RAG_MAX_CHUNK_WORDS 100000

typedef struct {
    int32_t chunk_words;   /* target words per passage, 1 to VKT_RAG_MAX_CHUNK_WORDS */
    int32_t overlap_words; /* words repeated from the previous passage, 0 to chunk_words / 2 */
    bool markdown;         /* headings, code fences, bullets as above (for .md files) */
} vkt_rag_chunk_opts;

/* The defaults: 120 words, 20 overlap, markdown off. */
vkt_rag_chunk_opts vkt_rag_chunk_defaults(void);
/* VKT_ERR_ARG with a message naming the setting and its range when opts are out of range. */
vkt_status vkt_rag_chunk_check(const vkt_rag_chunk_opts *opts);

typedef struct {
    char *heading;      /* owned: the section's heading path, "" before the first heading or in .txt */
    char *text;         /* owned: the passage's words joined by single spaces */
    int32_t n_words;    /* words in text */
    int32_t first_word; /* index in the document's word sequence (headings and markers excluded) */
} vkt_rag_passage;

typedef struct {
    vkt_rag_passage *items; /* owned */
    int32_t n;
} vkt_rag_passages;

/* Splits text[0..len) into passages (appended to a zeroed *out). `name` is used in messages only.
 * A text without words gives no passages. VKT_ERR_ARG for bad opts or a text over 1 GiB, VKT_ERR_OOM.
 * On error *out is freed. */
vkt_status vkt_rag_chunk(const char *text, size_t len, const vkt_rag_chunk_opts *opts, const char *name,
                         vkt_rag_passages *out);
void vkt_rag_passages_free(vkt_rag_passages *p); /* zeroes; safe on a zeroed struct */

#endif
