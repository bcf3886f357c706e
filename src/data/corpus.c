/* Text files and folders -> cached token shards -> train/validation streams (see corpus.h). */
#include "data/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/file.h"

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv1a_str(uint64_t h, const char *s) { return fnv1a(h, s ? s : "", s ? strlen(s) + 1 : 1); }

static vkt_status cache_path(const char *path, const vkt_encoder *enc, const char *sep, const char *cache_dir,
                             char *out, size_t out_size) {
    uint64_t size;
    int64_t mtime;
    VKT_TRY(vkt_file_stat(path, &size, &mtime));
    char real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    uint64_t h = fnv1a_str(0xcbf29ce484222325ull, "vktrain-corpus-v1");
    h = fnv1a_str(h, real);
    h = fnv1a(h, &size, sizeof size);
    h = fnv1a(h, &mtime, sizeof mtime);
    h = fnv1a_str(h, enc->identity);
    h = fnv1a(h, &enc->vocab_size, sizeof enc->vocab_size);
    h = fnv1a(h, &enc->eot_id, sizeof enc->eot_id);
    h = fnv1a_str(h, sep);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int n = snprintf(out, out_size, "%s/%s.%016llx.tokens.bin", cache_dir, base, (unsigned long long)h);
    if (n < 0 || (size_t)n >= out_size) {
        vkt_log_error("%s: cache path too long", path);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

static bool is_newline(char c) { return c == '\n' || c == '\r'; }

static vkt_status encode_doc(const char *path, int doc, const char *text, size_t len, const vkt_encoder *enc,
                             vkt_tokens *out) {
    while (len && is_newline(*text)) text++, len--;
    while (len && is_newline(text[len - 1])) len--;
    if (!len) return VKT_OK;
    VKT_TRY(vkt_tokens_push(out, enc->eot_id));
    int64_t cap = (int64_t)len + 16;
    for (int attempt = 0; attempt < 2; attempt++) {
        VKT_TRY(vkt_tokens_reserve(out, cap));
        int64_t got = enc->encode(enc->ctx, text, len, out->ids + out->n, cap);
        if (got < 0) {
            vkt_log_error("%s: document %d: the tokenizer failed (%s)", path, doc, vkt_status_name((vkt_status)got));
            return VKT_ERR_ARG;
        }
        if (got <= cap) {
            out->n += got;
            return VKT_OK;
        }
        cap = got;
    }
    vkt_log_error("%s: document %d: the tokenizer asked for a larger buffer twice (not deterministic?)", path, doc);
    return VKT_ERR_ARG;
}

static vkt_status check_ids(const char *path, const vkt_tokens *t, int64_t from, int64_t vocab) {
    for (int64_t i = from; i < t->n; i++)
        if (t->ids[i] < 0 || t->ids[i] >= vocab) {
            vkt_log_error("%s: token at position %lld has id %d, outside the vocabulary [0, %lld) (wrong tokenizer "
                          "or a stale shard?)",
                          path, (long long)(i - from), t->ids[i], (long long)vocab);
            return VKT_ERR_FORMAT;
        }
    return VKT_OK;
}

static vkt_status tokenize_text(const char *path, const vkt_file_map *f, const vkt_encoder *enc, const char *sep,
                                vkt_tokens *out) {
    const char *text = (const char *)f->data, *end = text + f->size;
    size_t seplen = sep ? strlen(sep) : 0;
    int doc = 0;
    while (text && text < end) {
        const char *next = NULL;
        if (seplen) {
            /* memmem is a GNU extension; a plain scan keeps this C11 + POSIX. */
            for (const char *p = text; p + seplen <= end; p++)
                if (*p == sep[0] && memcmp(p, sep, seplen) == 0) {
                    next = p;
                    break;
                }
        }
        const char *stop = next ? next : end;
        VKT_TRY(encode_doc(path, doc++, text, (size_t)(stop - text), enc, out));
        text = next ? next + seplen : end;
    }
    return VKT_OK;
}

/* A file is read as a token shard, never as text, when it starts with a shard magic (whatever its
 * version or length) or is named *.bin, llm.c's shard extension: a cut or foreign shard then fails with
 * vkt_shard_read's error instead of being tokenized as bytes and trained on. */
static bool looks_like_shard(const char *path, const vkt_file_map *f) {
    size_t n = strlen(path);
    if (n >= 4 && strcmp(path + n - 4, ".bin") == 0) return true;
    if (f->size < 4) return false;
    int32_t magic;
    memcpy(&magic, f->data, sizeof magic);
    return magic == VKT_SHARD_MAGIC_U16 || magic == VKT_SHARD_MAGIC_U32;
}

vkt_status vkt_corpus_tokenize_file(const char *path, const vkt_encoder *enc, const char *sep, const char *cache_dir,
                                    vkt_tokens *out, bool *cache_hit) {
    if (cache_hit) *cache_hit = false;
    if (!enc || !enc->encode || enc->vocab_size <= 0 || enc->eot_id < 0 || enc->eot_id >= enc->vocab_size) {
        vkt_log_error("%s: encoder needs an encode function, vocab_size > 0 and eot_id in [0, vocab_size)", path);
        return VKT_ERR_ARG;
    }
    int64_t start = out->n;
    char cpath[PATH_MAX + 64];
    if (cache_dir) {
        VKT_TRY(cache_path(path, enc, sep, cache_dir, cpath, sizeof cpath));
        struct stat st;
        if (stat(cpath, &st) == 0) {
            vkt_status s = vkt_shard_read(cpath, out, NULL);
            if (s == VKT_OK) s = check_ids(cpath, out, start, enc->vocab_size);
            if (s == VKT_OK) {
                if (cache_hit) *cache_hit = true;
                return VKT_OK;
            }
            vkt_log_warn("%s: unusable cache entry %s; tokenizing again", path, cpath);
            out->n = start;
        }
    }
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    vkt_status s;
    if (looks_like_shard(path, &f)) {
        vkt_file_map_close(&f);
        s = vkt_shard_read(path, out, NULL);
        if (s != VKT_OK && s != VKT_ERR_OOM && s != VKT_ERR_IO)
            vkt_log_error("%s: read as an llm.c token shard (named *.bin or starting with a shard magic), not as "
                          "text; rename it if it is text", path);
        if (s == VKT_OK) s = check_ids(path, out, start, enc->vocab_size);
        if (s != VKT_OK) out->n = start;
        return s;
    }
    s = tokenize_text(path, &f, enc, sep, out);
    vkt_file_map_close(&f);
    if (s == VKT_OK) s = check_ids(path, out, start, enc->vocab_size);
    if (s == VKT_OK && cache_dir) {
        if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST)
            vkt_log_warn("%s: cannot create cache folder: %s (continuing without a cache)", cache_dir, strerror(errno));
        else if (vkt_shard_write(cpath, out->ids + start, out->n - start, vkt_shard_kind_for_vocab(enc->vocab_size)))
            vkt_log_warn("%s: could not write the token cache (continuing)", cpath);
    }
    if (s != VKT_OK) out->n = start;
    return s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Tokenizes a file, or every regular non-hidden file of a folder in name order, appending to out. */
static vkt_status load_path(const char *path, const vkt_corpus_opts *o, const vkt_encoder *enc, vkt_tokens *out,
                            vkt_corpus *c) {
    struct stat st;
    if (stat(path, &st) != 0) {
        vkt_log_error("%s: cannot read: %s (check the data path)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        bool hit;
        VKT_TRY(vkt_corpus_tokenize_file(path, enc, o->doc_separator, o->cache_dir, out, &hit));
        c->n_files++;
        c->n_cache_hits += hit;
        return VKT_OK;
    }
    DIR *d = opendir(path);
    if (!d) {
        vkt_log_error("%s: cannot open folder: %s", path, strerror(errno));
        return VKT_ERR_IO;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    vkt_status s = VKT_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL && s == VKT_OK;) {
        size_t dl = strlen(e->d_name);
        if (e->d_name[0] == '.' || (dl > 11 && strcmp(e->d_name + dl - 11, ".tokens.bin") == 0)) continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *full = malloc(len);
        if (!full) {
            s = VKT_ERR_OOM;
            break;
        }
        snprintf(full, len, "%s/%s", path, e->d_name);
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                free(full);
                s = VKT_ERR_OOM;
                break;
            }
            names = nn;
        }
        names[n++] = full;
    }
    closedir(d);
    if (s == VKT_OK && n == 0) {
        vkt_log_error("%s: folder has no data files", path);
        s = VKT_ERR_IO;
    }
    if (s == VKT_OK) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && s == VKT_OK; i++) {
        bool hit;
        s = vkt_corpus_tokenize_file(names[i], enc, o->doc_separator, o->cache_dir, out, &hit);
        c->n_files++;
        c->n_cache_hits += hit;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return s;
}

vkt_status vkt_corpus_load(const vkt_corpus_opts *o, const vkt_encoder *enc, vkt_corpus *out) {
    memset(out, 0, sizeof *out);
    if (!o->path || !(o->val_fraction >= 0.0 && o->val_fraction < 1.0)) {
        vkt_log_error("corpus: need a data path and val_fraction in [0, 1) (got %g)", o->val_fraction);
        return VKT_ERR_ARG;
    }
    vkt_status s = load_path(o->path, o, enc, &out->train, out);
    if (s == VKT_OK && o->val_path) {
        s = load_path(o->val_path, o, enc, &out->val, out);
    } else if (s == VKT_OK && o->val_fraction > 0) {
        int64_t n = out->train.n, n_val = (int64_t)(o->val_fraction * (double)n + 0.5), split = n - n_val;
        for (int64_t i = split; i < n && i < split + n_val / 2; i++)
            if (out->train.ids[i] == enc->eot_id) {
                split = i;
                break;
            }
        s = vkt_tokens_reserve(&out->val, n - split);
        if (s == VKT_OK) {
            /* An empty corpus has no arrays at all: memcpy from NULL, even of 0 bytes, is undefined. */
            if (n > split) memcpy(out->val.ids, out->train.ids + split, (size_t)(n - split) * sizeof *out->val.ids);
            out->val.n = n - split;
            out->train.n = split;
        }
    }
    if (s != VKT_OK) vkt_corpus_free(out);
    return s;
}

void vkt_corpus_free(vkt_corpus *c) {
    vkt_tokens_free(&c->train);
    vkt_tokens_free(&c->val);
    memset(c, 0, sizeof *c);
}
