/* Reading a retrieval index (rag_index.h): open with format checks, ranked queries, passage lookups.
 * Opening checks the file in steps so the error says what it is instead of an SQLite message: missing,
 * not an SQLite database, a database without vkt_meta, another format, another version, a damaged one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "rag/rag_fts_query.h"
#include "rag/rag_sqlite.h"

#define REBUILD    "build one with `vktrain index DOCS_DIR --out INDEX`"
#define REBUILD_IT "rebuild it with `vktrain index DOCS_DIR --out INDEX`"

static const char SQL_MATCH[] =
    "SELECT p.id, p.source, p.chunk, p.heading, p.text, m.score FROM"
    " (SELECT rowid AS id, -bm25(passages_fts) AS score FROM passages_fts WHERE passages_fts MATCH ?1) AS m"
    " JOIN passages AS p ON p.id = m.id"
    " WHERE (?2 IS NULL OR p.source = ?2) AND (?3 IS NULL OR p.source <> ?3)"
    " ORDER BY m.score DESC, p.id LIMIT ?4";
static const char SQL_BY_DOC[] =
    "SELECT id, source, chunk, heading, text, 0.0 FROM passages WHERE source = ?1 ORDER BY chunk";
static const char SQL_BY_ID[] = "SELECT id, source, chunk, heading, text, 0.0 FROM passages WHERE id = ?1";

vkt_status vkt_rag_sql_fail(sqlite3 *db, int rc, const char *path, const char *what) {
    vkt_log_error("%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return (rc & 0xff) == SQLITE_NOMEM ? VKT_ERR_OOM : VKT_ERR_IO;
}

static char *column_dup(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

vkt_status vkt_rag_hits_push_row(vkt_rag_hits *h, sqlite3_stmt *st) {
    vkt_rag_hit *items = realloc(h->items, (size_t)(h->n + 1) * sizeof *items);
    if (!items) return VKT_ERR_OOM;
    h->items = items;
    vkt_rag_hit *x = &items[h->n++];
    *x = (vkt_rag_hit){.id = sqlite3_column_int64(st, 0),
                       .source = column_dup(st, 1),
                       .chunk = sqlite3_column_int(st, 2),
                       .heading = column_dup(st, 3),
                       .text = column_dup(st, 4),
                       .score = sqlite3_column_double(st, 5)};
    return x->source && x->heading && x->text ? VKT_OK : VKT_ERR_OOM;
}

void vkt_rag_hits_free(vkt_rag_hits *h) {
    for (int32_t i = 0; h->items && i < h->n; i++) {
        free(h->items[i].source);
        free(h->items[i].heading);
        free(h->items[i].text);
    }
    free(h->items);
    *h = (vkt_rag_hits){0};
}

void vkt_rag_index_close(vkt_rag_index *ix) {
    if (!ix) return;
    sqlite3_finalize(ix->match);
    sqlite3_finalize(ix->by_doc);
    sqlite3_finalize(ix->by_id);
    sqlite3_close(ix->db);
    free(ix->path);
    free(ix);
}

const vkt_rag_index_info *vkt_rag_index_get_info(const vkt_rag_index *ix) { return &ix->info; }
const char *vkt_rag_index_path(const vkt_rag_index *ix) { return ix->path; }

/* vkt_meta's value for key as an integer in [lo, hi]; VKT_ERR_FORMAT naming the key otherwise. */
static vkt_status meta_int(vkt_rag_index *ix, sqlite3_stmt *st, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    const unsigned char *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    char *end = NULL;
    long long x = v ? strtoll((const char *)v, &end, 10) : 0;
    if (!v || !*v || *end || x < lo || x > hi) {
        vkt_log_error("%s: vkt_meta key '%s' is %s%s%s, not an integer in [%lld, %lld]: a damaged index; %s", ix->path,
                      key, v ? "'" : "missing", v ? (const char *)v : "", v ? "'" : "", (long long)lo, (long long)hi,
                      REBUILD_IT);
        return VKT_ERR_FORMAT;
    }
    *out = x;
    return VKT_OK;
}

/* format and version first, with messages for a file that is something else. */
static vkt_status check_format(vkt_rag_index *ix, sqlite3_stmt *st) {
    sqlite3_bind_text(st, 1, "format", -1, SQLITE_STATIC);
    const unsigned char *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    if (!v || strcmp((const char *)v, VKT_RAG_INDEX_FORMAT) != 0) {
        vkt_log_error("%s: not a vktrain index (vkt_meta format is %s%s%s, want '%s'); %s", ix->path,
                      v ? "'" : "missing", v ? (const char *)v : "", v ? "'" : "", VKT_RAG_INDEX_FORMAT, REBUILD);
        return VKT_ERR_FORMAT;
    }
    int64_t version;
    VKT_TRY(meta_int(ix, st, "format_version", 0, INT32_MAX, &version));
    if (version != VKT_RAG_INDEX_VERSION) {
        vkt_log_error("%s: index format version %lld, this vktrain reads version %d; %s", ix->path, (long long)version,
                      VKT_RAG_INDEX_VERSION, REBUILD_IT);
        return VKT_ERR_FORMAT;
    }
    ix->info.format_version = (int32_t)version;
    return VKT_OK;
}

static vkt_status read_meta(vkt_rag_index *ix) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(ix->db, "SELECT value FROM vkt_meta WHERE key = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        bool not_db = (rc & 0xff) == SQLITE_NOTADB;
        bool no_meta = rc == SQLITE_ERROR && strstr(sqlite3_errmsg(ix->db), "no such table");
        if (not_db || no_meta) {
            vkt_log_error("%s: not a vktrain index (%s); %s", ix->path,
                          not_db ? "not an SQLite database" : "an SQLite database without a vkt_meta table", REBUILD);
            return VKT_ERR_FORMAT;
        }
        return vkt_rag_sql_fail(ix->db, rc, ix->path, "reading vkt_meta");
    }
    vkt_status s = check_format(ix, st);
    int64_t chunk = 0, overlap = 0;
    if (s == VKT_OK) s = meta_int(ix, st, "chunk_words", 1, VKT_RAG_MAX_CHUNK_WORDS, &chunk);
    if (s == VKT_OK) s = meta_int(ix, st, "overlap_words", 0, chunk / 2, &overlap);
    if (s == VKT_OK) s = meta_int(ix, st, "n_documents", 0, INT64_MAX, &ix->info.n_documents);
    if (s == VKT_OK) s = meta_int(ix, st, "n_passages", 0, INT64_MAX, &ix->info.n_passages);
    ix->info.chunk_words = (int32_t)chunk, ix->info.overlap_words = (int32_t)overlap;
    sqlite3_finalize(st);
    return s;
}

/* The statements double as a schema check: a damaged file without the tables fails here. */
static vkt_status prepare_all(vkt_rag_index *ix) {
    struct {
        const char *sql;
        sqlite3_stmt **st;
    } q[] = {{SQL_MATCH, &ix->match}, {SQL_BY_DOC, &ix->by_doc}, {SQL_BY_ID, &ix->by_id}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        int rc = sqlite3_prepare_v2(ix->db, q[i].sql, -1, q[i].st, NULL);
        if (rc != SQLITE_OK) {
            vkt_log_error("%s: a damaged vktrain index (%s); %s", ix->path, sqlite3_errmsg(ix->db), REBUILD_IT);
            return VKT_ERR_FORMAT;
        }
    }
    return VKT_OK;
}

vkt_status vkt_rag_index_open(const char *path, vkt_rag_index **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        vkt_log_error("%s: cannot open the index: %s", path, strerror(errno));
        return VKT_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        vkt_log_error("%s: not a vktrain index (not a regular file); %s", path, REBUILD);
        return VKT_ERR_FORMAT;
    }
    vkt_rag_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->path = strdup(path))) {
        free(ix);
        return VKT_ERR_OOM;
    }
    int rc = sqlite3_open_v2(path, &ix->db, SQLITE_OPEN_READONLY, NULL);
    vkt_status s = rc == SQLITE_OK ? VKT_OK : vkt_rag_sql_fail(ix->db, rc, path, "cannot open the index");
    if (s == VKT_OK) s = read_meta(ix);
    if (s == VKT_OK) s = prepare_all(ix);
    if (s != VKT_OK) {
        vkt_rag_index_close(ix);
        return s;
    }
    *out = ix;
    return VKT_OK;
}

/* Steps st to the end, appending every row; resets it. */
static vkt_status collect(vkt_rag_index *ix, sqlite3_stmt *st, vkt_rag_hits *out, const char *what) {
    int rc;
    vkt_status s = VKT_OK;
    while (s == VKT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) s = vkt_rag_hits_push_row(out, st);
    if (s == VKT_OK && rc != SQLITE_DONE) s = vkt_rag_sql_fail(ix->db, rc, ix->path, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

vkt_status vkt_rag_query(vkt_rag_index *ix, const char *text, int32_t k, const char *only_source,
                         const char *skip_source, vkt_rag_hits *out) {
    if (k < 1) {
        vkt_log_error("%s: a query needs k >= 1 passages (got %d)", ix->path, k);
        return VKT_ERR_ARG;
    }
    char *fts = NULL;
    int32_t n_terms = 0;
    VKT_TRY(vkt_rag_fts_query(text, strlen(text), &fts, &n_terms));
    vkt_status s = VKT_OK;
    if (n_terms > 0) {
        sqlite3_bind_text(ix->match, 1, fts, -1, SQLITE_STATIC);
        if (only_source) sqlite3_bind_text(ix->match, 2, only_source, -1, SQLITE_STATIC);
        if (skip_source) sqlite3_bind_text(ix->match, 3, skip_source, -1, SQLITE_STATIC);
        sqlite3_bind_int(ix->match, 4, k);
        s = collect(ix, ix->match, out, "query");
    }
    free(fts);
    return s;
}

vkt_status vkt_rag_document_passages(vkt_rag_index *ix, const char *source, vkt_rag_hits *out) {
    sqlite3_bind_text(ix->by_doc, 1, source, -1, SQLITE_STATIC);
    return collect(ix, ix->by_doc, out, "reading a document's passages");
}

vkt_status vkt_rag_passage_get(vkt_rag_index *ix, int64_t id, vkt_rag_hits *out) {
    if (id < 1 || id > ix->info.n_passages) {
        vkt_log_error("%s: passage id %lld is outside [1, %lld]", ix->path, (long long)id,
                      (long long)ix->info.n_passages);
        return VKT_ERR_ARG;
    }
    int32_t before = out->n;
    sqlite3_bind_int64(ix->by_id, 1, id);
    VKT_TRY(collect(ix, ix->by_id, out, "reading a passage"));
    if (out->n == before) {
        vkt_log_error("%s: passage %lld is missing: a damaged index; %s", ix->path, (long long)id, REBUILD_IT);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}
