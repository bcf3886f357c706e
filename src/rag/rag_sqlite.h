/* Private to src/rag: the index handle, the schema's names and SQLite error reporting, shared by the
 * builder (rag_build.c) and the reader (rag_index.c). */
#ifndef VKT_RAG_SQLITE_H
#define VKT_RAG_SQLITE_H

#include <sqlite3.h>

#include "rag/rag_index.h"

#define VKT_RAG_TOKENIZER "porter unicode61 remove_diacritics 2"

struct vkt_rag_index {
    sqlite3 *db; /* owned, read-only */
    char *path;  /* owned */
    vkt_rag_index_info info;
    sqlite3_stmt *match;  /* owned: ranked query */
    sqlite3_stmt *by_doc; /* owned: a document's passages */
    sqlite3_stmt *by_id;  /* owned: one passage */
};

/* Logs "PATH: WHAT: <sqlite message>" and returns VKT_ERR_OOM for SQLITE_NOMEM, else VKT_ERR_IO. */
vkt_status vkt_rag_sql_fail(sqlite3 *db, int rc, const char *path, const char *what);

/* Appends the current row of a statement selecting (id, source, chunk, heading, text, score). */
vkt_status vkt_rag_hits_push_row(vkt_rag_hits *h, sqlite3_stmt *st);

#endif
