/* llm.c token shards: a header of 256 little-endian int32 followed by the token ids.
 *
 * Conventions of llm.c (dev/data/data_common.py write_datafile, llmc/dataloader.h):
 *   header[0] magic, header[1] version, header[2] number of tokens, the rest zero;
 *   magic 20240520 version 1: uint16 tokens (GPT-2 vocabularies);
 *   magic 20240801 version 7: uint32 tokens (Llama 3 vocabularies).
 * The file size must be exactly 1024 + count * token size. In memory, ids are int32 (the device's
 * index dtype), so uint32 ids above INT32_MAX are rejected. Not here: tokenizing, batching. */
#ifndef VKT_DATA_TOKEN_SHARD_H
#define VKT_DATA_TOKEN_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

#define VKT_SHARD_HEADER_INTS 256
#define VKT_SHARD_MAGIC_U16   20240520
#define VKT_SHARD_VERSION_U16 1
#define VKT_SHARD_MAGIC_U32   20240801
#define VKT_SHARD_VERSION_U32 7

typedef enum { VKT_SHARD_U16 = 2, VKT_SHARD_U32 = 4 } vkt_shard_kind; /* value = bytes per token */

/* A growable array of token ids. */
typedef struct {
    int32_t *ids; /* owned, n used of cap */
    int64_t n, cap;
} vkt_tokens;

/* Ensures room for `extra` more ids. VKT_ERR_OOM. */
vkt_status vkt_tokens_reserve(vkt_tokens *t, int64_t extra);
vkt_status vkt_tokens_push(vkt_tokens *t, int32_t id);
/* Frees; safe on a zeroed struct and twice. */
void vkt_tokens_free(vkt_tokens *t);

/* The smallest shard kind that holds ids < vocab_size. */
vkt_shard_kind vkt_shard_kind_for_vocab(int64_t vocab_size);

/* Writes ids[0..n) atomically (temp file + rename). VKT_ERR_ARG (logged with the index) if an id does
 * not fit the kind or is negative; VKT_ERR_IO on write failure. */
vkt_status vkt_shard_write(const char *path, const int32_t *ids, int64_t n, vkt_shard_kind kind);
/* Reads a whole shard, appending to out (so several shards can be concatenated). *kind (if not NULL)
 * gets the file's kind. VKT_ERR_FORMAT names the file and the bad field (magic, version, token count,
 * file size) or the first id above INT32_MAX; VKT_ERR_IO if unreadable. */
vkt_status vkt_shard_read(const char *path, vkt_tokens *out, vkt_shard_kind *kind);
/* The same for a file's bytes in memory (borrowed for the call; `name` stands for the path). */
vkt_status vkt_shard_read_mem(const void *data, size_t size, const char *name, vkt_tokens *out, vkt_shard_kind *kind);

#endif
