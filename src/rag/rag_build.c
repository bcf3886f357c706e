/* Building a retrieval index (rag_index.h): list the folder's documents, check each is UTF-8 text,
 * chunk it, and write documents, passages and the FTS5 table in one transaction into a temporary file
 * that is renamed over the index at the end. Not here: incremental updates (a rebuild of a few
 * thousand passages takes well under a second). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "data/tok_unicode.h"
#include "io/file.h"
#include "rag/rag_sqlite.h"

#define MAX_DEPTH 32

static const char SCHEMA[] =
    "PRAGMA journal_mode = OFF;" /* a fresh temporary file: a failed build is deleted, not rolled back */
    "BEGIN;"
    "CREATE TABLE vkt_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE documents(id INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, n_passages INTEGER NOT NULL,"
    " n_words INTEGER NOT NULL);"
    "CREATE TABLE passages(id INTEGER PRIMARY KEY, source TEXT NOT NULL, chunk INTEGER NOT NULL,"
    " heading TEXT NOT NULL, text TEXT NOT NULL, n_words INTEGER NOT NULL);"
    "CREATE INDEX passages_by_source ON passages(source, chunk);"
    "CREATE VIRTUAL TABLE passages_fts USING fts5(heading, text, content = 'passages', content_rowid = 'id',"
    " tokenize = '" VKT_RAG_TOKENIZER "');";

typedef struct {
    char **paths; /* owned: relative paths of the documents */
    int32_t n, cap;
    int32_t n_ignored; /* other files */
} doc_list;

typedef struct {
    const char *index_path; /* for messages */
    const char *tmp_path;
    sqlite3 *db;
    sqlite3_stmt *doc, *passage, *fts, *meta;
    int64_t n_documents, n_passages;
} writer;

static bool has_ext(const char *name, const char *ext) {
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}
static bool is_markdown(const char *name) { return has_ext(name, ".md"); }
static bool is_document(const char *name) { return has_ext(name, ".txt") || is_markdown(name); }

static int cmp_paths(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void doc_list_free(doc_list *l) {
    for (int32_t i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
}

static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, *a ? "/" : "", b);
    return p;
}

/* Appends the documents under root/rel. Directories are entered only when they are real ones (lstat),
 * so a symbolic link cannot make a loop; a document is named by its extension, and one that cannot be
 * stat'ed (a dangling link) is an error, not skipped, since the user asked for it to be indexed. */
static vkt_status list_docs(const char *root, const char *rel, int depth, doc_list *l) {
    char *dir_path = *rel ? join_path(root, rel) : strdup(root);
    DIR *d = dir_path ? opendir(dir_path) : NULL;
    if (!d) {
        if (dir_path) vkt_log_error("%s: cannot read the folder: %s", dir_path, strerror(errno));
        free(dir_path);
        return dir_path ? VKT_ERR_IO : VKT_ERR_OOM;
    }
    vkt_status s = VKT_OK;
    struct dirent *e;
    while (s == VKT_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *r = join_path(rel, e->d_name), *full = r ? join_path(root, r) : NULL;
        struct stat ls, st;
        if (!full) {
            s = VKT_ERR_OOM;
        } else if (lstat(full, &ls) == 0 && S_ISDIR(ls.st_mode)) {
            if (depth >= MAX_DEPTH)
                vkt_log_warn("%s: deeper than %d folders; not indexed", full, MAX_DEPTH);
            else
                s = list_docs(root, r, depth + 1, l);
        } else if (!is_document(e->d_name)) {
            l->n_ignored++;
        } else if (stat(full, &st) != 0) {
            vkt_log_error("%s: cannot read the document: %s", full, strerror(errno));
            s = VKT_ERR_IO;
        } else if (!S_ISREG(st.st_mode)) {
            vkt_log_error("%s: cannot read the document: not a regular file", full);
            s = VKT_ERR_IO;
        } else {
            if (l->n == l->cap) {
                int32_t cap = l->cap ? 2 * l->cap : 64;
                char **p = realloc(l->paths, (size_t)cap * sizeof *p);
                if (!p)
                    s = VKT_ERR_OOM;
                else
                    l->paths = p, l->cap = cap;
            }
            if (s == VKT_OK) l->paths[l->n++] = r, r = NULL;
        }
        free(r);
        free(full);
    }
    closedir(d);
    free(dir_path);
    return s;
}

/* Offset of the first byte that is not UTF-8 text (invalid UTF-8 or NUL), or -1. */
static int64_t bad_utf8_offset(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = vkt_utf8_decode(p + i, n - i, &l);
        if (cp == 0 || (cp == 0xFFFD && l == 1)) return (int64_t)i;
        i += l;
    }
    return -1;
}

static vkt_status step_done(writer *w, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? VKT_OK : vkt_rag_sql_fail(w->db, rc, w->index_path, what);
}

static vkt_status insert_passages(writer *w, const char *source, const vkt_rag_passages *ps) {
    for (int32_t i = 0; i < ps->n; i++) {
        const vkt_rag_passage *p = &ps->items[i];
        int64_t id = ++w->n_passages;
        sqlite3_bind_int64(w->passage, 1, id);
        sqlite3_bind_text(w->passage, 2, source, -1, SQLITE_STATIC);
        sqlite3_bind_int(w->passage, 3, i);
        sqlite3_bind_text(w->passage, 4, p->heading, -1, SQLITE_STATIC);
        sqlite3_bind_text(w->passage, 5, p->text, -1, SQLITE_STATIC);
        sqlite3_bind_int(w->passage, 6, p->n_words);
        VKT_TRY(step_done(w, w->passage, "writing a passage"));
        sqlite3_bind_int64(w->fts, 1, id);
        sqlite3_bind_text(w->fts, 2, p->heading, -1, SQLITE_STATIC);
        sqlite3_bind_text(w->fts, 3, p->text, -1, SQLITE_STATIC);
        VKT_TRY(step_done(w, w->fts, "writing the full-text index"));
    }
    return VKT_OK;
}

static vkt_status add_document(writer *w, const char *root, const char *source, vkt_rag_chunk_opts opts) {
    char *path = join_path(root, source);
    if (!path) return VKT_ERR_OOM;
    vkt_file_map f = {0};
    vkt_rag_passages ps = {0};
    vkt_status s = vkt_file_map_open(path, &f);
    int64_t bad = s == VKT_OK ? bad_utf8_offset(f.data, f.size) : -1;
    if (bad >= 0) {
        vkt_log_error("%s: byte %lld is %s; documents must be UTF-8 text", path, (long long)bad,
                      f.data[bad] ? "not valid UTF-8" : "a NUL byte");
        s = VKT_ERR_FORMAT;
    }
    opts.markdown = is_markdown(source);
    if (s == VKT_OK) s = vkt_rag_chunk((const char *)f.data, f.size, &opts, path, &ps);
    if (s == VKT_OK && ps.n == 0) vkt_log_warn("%s: no words; the document adds no passages", path);
    int64_t n_words = 0;
    for (int32_t i = 0; i < ps.n; i++) n_words = ps.items[i].first_word + ps.items[i].n_words;
    if (s == VKT_OK) {
        sqlite3_bind_text(w->doc, 1, source, -1, SQLITE_STATIC);
        sqlite3_bind_int(w->doc, 2, ps.n);
        sqlite3_bind_int64(w->doc, 3, n_words);
        s = step_done(w, w->doc, "writing a document");
    }
    if (s == VKT_OK) s = insert_passages(w, source, &ps);
    if (s == VKT_OK) w->n_documents++;
    vkt_rag_passages_free(&ps);
    vkt_file_map_close(&f);
    free(path);
    return s;
}

static vkt_status put_meta(writer *w, const char *key, const char *value) {
    sqlite3_bind_text(w->meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(w->meta, 2, value, -1, SQLITE_TRANSIENT);
    return step_done(w, w->meta, "writing vkt_meta");
}

static vkt_status put_meta_int(writer *w, const char *key, int64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    return put_meta(w, key, s);
}

static vkt_status write_meta(writer *w, const vkt_rag_chunk_opts *o) {
    VKT_TRY(put_meta(w, "format", VKT_RAG_INDEX_FORMAT));
    VKT_TRY(put_meta_int(w, "format_version", VKT_RAG_INDEX_VERSION));
    VKT_TRY(put_meta_int(w, "chunk_words", o->chunk_words));
    VKT_TRY(put_meta_int(w, "overlap_words", o->overlap_words));
    VKT_TRY(put_meta(w, "tokenizer", VKT_RAG_TOKENIZER));
    VKT_TRY(put_meta_int(w, "n_documents", w->n_documents));
    return put_meta_int(w, "n_passages", w->n_passages);
}

static vkt_status prepare_writer(writer *w) {
    char *err = NULL;
    int rc = sqlite3_exec(w->db, SCHEMA, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        vkt_log_error("%s: creating the index tables: %s (does this SQLite have FTS5?)", w->tmp_path,
                      err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return VKT_ERR_IO;
    }
    struct {
        const char *sql;
        sqlite3_stmt **st;
    } q[] = {
        {"INSERT INTO documents(source, n_passages, n_words) VALUES(?1, ?2, ?3)", &w->doc},
        {"INSERT INTO passages VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &w->passage},
        {"INSERT INTO passages_fts(rowid, heading, text) VALUES(?1, ?2, ?3)", &w->fts},
        {"INSERT INTO vkt_meta VALUES(?1, ?2)", &w->meta},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        rc = sqlite3_prepare_v2(w->db, q[i].sql, -1, q[i].st, NULL);
        if (rc != SQLITE_OK) return vkt_rag_sql_fail(w->db, rc, w->tmp_path, "preparing the index writes");
    }
    return VKT_OK;
}

static vkt_status write_index(writer *w, const char *root, const doc_list *docs, const vkt_rag_chunk_opts *o) {
    int rc = sqlite3_open_v2(w->tmp_path, &w->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) return vkt_rag_sql_fail(w->db, rc, w->tmp_path, "cannot open for writing");
    VKT_TRY(prepare_writer(w));
    for (int32_t i = 0; i < docs->n; i++) VKT_TRY(add_document(w, root, docs->paths[i], *o));
    if (w->n_passages == 0) {
        vkt_log_error("%s: its %d document(s) hold no words; nothing to index", root, docs->n);
        return VKT_ERR_FORMAT;
    }
    VKT_TRY(write_meta(w, o));
    rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    return rc == SQLITE_OK ? VKT_OK : vkt_rag_sql_fail(w->db, rc, w->tmp_path, "committing the index");
}

static void writer_close(writer *w) {
    sqlite3_finalize(w->doc);
    sqlite3_finalize(w->passage);
    sqlite3_finalize(w->fts);
    sqlite3_finalize(w->meta);
    sqlite3_close(w->db);
    w->db = NULL;
}

/* True when path holds a vktrain index, checked without logging (vkt_rag_index_open would explain
 * what the file is instead, which here is not the question). */
static bool is_index(const char *path) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool yes = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
               sqlite3_prepare_v2(db, "SELECT value FROM vkt_meta WHERE key = 'format'", -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               strcmp((const char *)sqlite3_column_text(st, 0), VKT_RAG_INDEX_FORMAT) == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return yes;
}

/* An existing file at index_path may be replaced only when it is a vktrain index. */
static vkt_status check_target(const char *index_path) {
    struct stat sb;
    if (stat(index_path, &sb) != 0 || (S_ISREG(sb.st_mode) && is_index(index_path))) return VKT_OK;
    vkt_log_error("%s exists and is not a vktrain index: refusing to overwrite it; choose another --out path",
                  index_path);
    return VKT_ERR_ARG;
}

static vkt_status list_folder(const char *docs_dir, doc_list *docs) {
    struct stat sb;
    if (stat(docs_dir, &sb) != 0) {
        vkt_log_error("%s: %s; give a folder of .txt / .md documents", docs_dir, strerror(errno));
        return VKT_ERR_IO;
    }
    if (!S_ISDIR(sb.st_mode)) {
        vkt_log_error("%s: not a folder; give a folder of .txt / .md documents", docs_dir);
        return VKT_ERR_IO;
    }
    VKT_TRY(list_docs(docs_dir, "", 0, docs));
    if (docs->n == 0) {
        vkt_log_error("%s: no .txt or .md documents (%d other file(s) ignored)", docs_dir, docs->n_ignored);
        return VKT_ERR_FORMAT;
    }
    qsort(docs->paths, (size_t)docs->n, sizeof *docs->paths, cmp_paths);
    return VKT_OK;
}

vkt_status vkt_rag_index_build(const char *docs_dir, const char *index_path, const vkt_rag_chunk_opts *opts,
                               vkt_rag_index_info *info) {
    VKT_TRY(vkt_rag_chunk_check(opts));
    doc_list docs = {0};
    vkt_status s = list_folder(docs_dir, &docs);
    if (s == VKT_OK) s = check_target(index_path);
    size_t tmp_len = strlen(index_path) + 16;
    char *tmp_path = s == VKT_OK ? malloc(tmp_len) : NULL;
    int fd = -1;
    if (s == VKT_OK && !tmp_path) s = VKT_ERR_OOM;
    if (s == VKT_OK) {
        snprintf(tmp_path, tmp_len, "%s.tmp.XXXXXX", index_path);
        fd = mkstemp(tmp_path);
        if (fd < 0) {
            vkt_log_error("%s: cannot create the index beside it: %s", tmp_path, strerror(errno));
            s = VKT_ERR_IO;
        }
    }
    writer w = {.index_path = index_path, .tmp_path = tmp_path};
    if (s == VKT_OK) {
        (void)fchmod(fd, 0644); /* mkstemp makes 0600; the index should read like any file the user writes */
        close(fd);
        s = write_index(&w, docs_dir, &docs, opts);
        writer_close(&w);
        if (s == VKT_OK && rename(tmp_path, index_path) != 0) {
            vkt_log_error("%s: cannot rename %s over it: %s", index_path, tmp_path, strerror(errno));
            s = VKT_ERR_IO;
        }
        if (s != VKT_OK) unlink(tmp_path);
    }
    if (s == VKT_OK && info)
        *info = (vkt_rag_index_info){.format_version = VKT_RAG_INDEX_VERSION,
                                     .chunk_words = opts->chunk_words,
                                     .overlap_words = opts->overlap_words,
                                     .n_documents = w.n_documents,
                                     .n_passages = w.n_passages};
    free(tmp_path);
    doc_list_free(&docs);
    return s;
}
