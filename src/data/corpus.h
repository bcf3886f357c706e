/* Pre-training text -> token streams: text files or folders are tokenized once into cached llm.c token
 * shards, then split into training and validation streams.
 *
 * Documents: each file is split on doc_separator (e.g. "<|endoftext|>") when one is given, otherwise
 * the whole file is one document. Newlines at either end of a document are dropped (the separator line
 * usually leaves them) and empty documents are skipped. Every document is preceded by the encoder's
 * eot id, as llm.c's data scripts do, so a training window that crosses a document boundary sees the
 * separator. A file that starts with an llm.c token shard magic, or is named *.bin, is read as a shard
 * (never as text): a bad magic, version or cut header is an error.
 * Folders contribute their regular files (not hidden ones, not sub-folders, not *.tokens.bin cache
 * entries) in byte order of name.
 *
 * Cache: one shard per text file in cache_dir (created if missing), named <file name>.<key>.tokens.bin,
 * where key is a 64-bit FNV-1a hash of the file's real path, size, mtime (ns), the encoder identity,
 * vocab size and eot id, and the separator. Any change re-tokenizes; stale entries are never deleted.
 * Cache files are written atomically, so concurrent runs at worst tokenize twice.
 *
 * Split: with val_path, validation is that file or folder and training is all of path. Otherwise the
 * last val_fraction of the tokens is validation; the split point moves forward to the next eot (so
 * validation starts on a document) when one lies within half the validation length.
 * Not here: batching (loader.h), tokenizer implementations (encoder.h). */
#ifndef VKT_DATA_CORPUS_H
#define VKT_DATA_CORPUS_H

#include <stdbool.h>

#include "data/encoder.h"
#include "data/token_shard.h"

typedef struct {
    const char *path;          /* borrowed: text file, token shard, or folder of them */
    const char *val_path;      /* borrowed, optional: separate validation data */
    double val_fraction;       /* in [0, 1); used when val_path is NULL */
    const char *doc_separator; /* borrowed, optional */
    const char *cache_dir;     /* borrowed, optional: NULL tokenizes every time */
} vkt_corpus_opts;

typedef struct {
    vkt_tokens train; /* owned */
    vkt_tokens val;   /* owned; empty when val_fraction is 0 and there is no val_path */
    int n_files;      /* files read */
    int n_cache_hits; /* of which came from the cache */
} vkt_corpus;

/* Loads (tokenizing or reading the cache) and splits. VKT_ERR_IO for unreadable paths, VKT_ERR_FORMAT
 * for an id outside [0, vocab_size) (logged with file, document and position) or bad shards, VKT_ERR_ARG
 * for bad options or an encoder failure. *out must be zeroed; free with vkt_corpus_free. */
vkt_status vkt_corpus_load(const vkt_corpus_opts *o, const vkt_encoder *enc, vkt_corpus *out);
void vkt_corpus_free(vkt_corpus *c);

/* One file: appends its tokens to out. *cache_hit (if not NULL) tells whether the cache served it. */
vkt_status vkt_corpus_tokenize_file(const char *path, const vkt_encoder *enc, const char *doc_separator,
                                    const char *cache_dir, vkt_tokens *out, bool *cache_hit);

#endif
