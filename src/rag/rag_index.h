/* A retrieval index over a folder of .txt / .md documents: one SQLite file with an FTS5 full-text
 * table, queried with FTS5's bm25 ranking.
 *
 * Why SQLite FTS5: a tested inverted index with bm25 in one portable file that any sqlite3 shell can
 * inspect; the corpora for retrieval-augmented fine-tuning and chat are small (thousands of passages),
 * so no vector store or embedding model is needed to find the passages that share the question's words.
 *
 * The file (format version 1) holds:
 *   vkt_meta(key, value)       format = "vktrain-rag-index", format_version, chunk_words, overlap_words,
 *                              tokenizer, n_documents, n_passages
 *   documents(id, source, n_passages, n_words)
 *   passages(id, source, chunk, heading, text, n_words)   ids 1..n_passages in (source, chunk) order
 *   passages_fts               FTS5 over (heading, text), external content = passages, tokenizer
 *                              "porter unicode61 remove_diacritics 2" (case, accents and English
 *                              suffixes ignored: "Bells" matches "bell")
 * `source` is the document's path relative to the folder, '/'-separated; `chunk` its passage index.
 * Scores are -bm25 (FTS5's Okapi BM25, k1 = 1.2, b = 0.75, heading and text weighted 1): higher is
 * more relevant; ties are broken by passage id so results are deterministic.
 *
 * Thread safety: an index handle is used by one thread at a time; separate handles are independent. */
#ifndef VKT_RAG_INDEX_H
#define VKT_RAG_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "rag/rag_chunk.h"
#include "vktrain/status.h"

#define VKT_RAG_INDEX_FORMAT  "vktrain-rag-index"
#define VKT_RAG_INDEX_VERSION 1

typedef struct vkt_rag_index vkt_rag_index;

typedef struct {
    int32_t format_version;
    int32_t chunk_words, overlap_words; /* the chunking the index was built with */
    int64_t n_documents, n_passages;
} vkt_rag_index_info;

/* One passage as a query returns it. */
typedef struct {
    int64_t id;    /* passage id, 1..n_passages */
    char *source;  /* owned: document path relative to the indexed folder */
    int32_t chunk; /* passage index within its document, from 0 */
    char *heading; /* owned: heading path of its section ("Title > Section"), "" when none */
    char *text;    /* owned */
    double score;  /* -bm25, higher is better; 0 for passages not ranked by a query */
} vkt_rag_hit;

typedef struct {
    vkt_rag_hit *items; /* owned */
    int32_t n;
} vkt_rag_hits;

void vkt_rag_hits_free(vkt_rag_hits *h); /* zeroes; safe on a zeroed struct */

/* Indexes every .txt and .md file (case-insensitive extension) under docs_dir, recursively, in path
 * order (names starting with '.' are skipped), chunked with opts (opts->markdown is ignored: it is set
 * per file from its extension). The file is written beside index_path and renamed over it at the end,
 * so a failure leaves any old index as it was; an existing index_path that is not a vktrain index is
 * refused, never overwritten. info (may be NULL) gets what was written.
 * Errors (logged naming the folder or file): VKT_ERR_IO for a missing or unreadable folder or file;
 * VKT_ERR_FORMAT for a document that is not UTF-8 text (the byte offset is named) or a folder with no
 * .txt/.md file or no words in them; VKT_ERR_ARG for bad opts or an index_path that is not an index. */
vkt_status vkt_rag_index_build(const char *docs_dir, const char *index_path, const vkt_rag_chunk_opts *opts,
                               vkt_rag_index_info *info);

/* Opens an index read-only. VKT_ERR_IO when the file is missing or unreadable; VKT_ERR_FORMAT naming
 * the file when it is not a vktrain index (not SQLite, no vkt_meta, another format or version). */
vkt_status vkt_rag_index_open(const char *path, vkt_rag_index **out);
void vkt_rag_index_close(vkt_rag_index *ix); /* NULL-safe */
const vkt_rag_index_info *vkt_rag_index_get_info(const vkt_rag_index *ix);
const char *vkt_rag_index_path(const vkt_rag_index *ix);

/* The k best passages for free text (sanitized with vkt_rag_fts_query, so any text is safe), best
 * first; fewer when fewer match, none for text without words. only_source / skip_source (may be NULL)
 * keep only, or leave out, the passages of one document. *out must be zeroed; caller frees it.
 * VKT_ERR_ARG for k < 1; VKT_ERR_IO / VKT_ERR_OOM when SQLite fails (logged). */
vkt_status vkt_rag_query(vkt_rag_index *ix, const char *text, int32_t k, const char *only_source,
                         const char *skip_source, vkt_rag_hits *out);
/* Every passage of one document in chunk order (score 0); none when source is not indexed. */
vkt_status vkt_rag_document_passages(vkt_rag_index *ix, const char *source, vkt_rag_hits *out);
/* Appends passage `id` (1..n_passages) to *out (score 0). VKT_ERR_ARG for an id out of range. */
vkt_status vkt_rag_passage_get(vkt_rag_index *ix, int64_t id, vkt_rag_hits *out);

#endif
