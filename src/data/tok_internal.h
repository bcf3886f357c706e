/* Internal layout of vkt_tokenizer shared by the loaders, the encoder and the trainer.
 * Not part of the API: only src/data/tok*.c include it. */
#ifndef VKT_TOK_INTERNAL_H
#define VKT_TOK_INTERNAL_H

#include "data/tok_util.h"
#include "data/tokenizer.h"

/* NORMALIZED: an added token matched in normalized text (tokenizer.json "normalized": true). */
enum { VKT_TOKF_SPECIAL = 1, VKT_TOKF_ADDED = 2, VKT_TOKF_BYTE = 4, VKT_TOKF_NORMALIZED = 8 };

typedef struct vkt_tok_norm vkt_tok_norm;
typedef struct vkt_tok_pretok vkt_tok_pretok;

struct vkt_tokenizer {
    vkt_tok_kind kind;
    int32_t n_vocab;
    char **piece;         /* owned (n_vocab), each owned: decoded bytes of each id (NULL: unused id) */
    uint32_t *piece_len;  /* owned (n_vocab) */
    uint8_t *flags;       /* owned (n_vocab): VKT_TOKF_* */
    vkt_strmap pieces;    /* bytes -> id of ordinary tokens; keys borrowed from piece */
    vkt_pairmap merges;   /* (left, right) -> (rank, merged id) */
    int32_t byte_id[256]; /* byte BPE: token of each single byte; SP: byte-fallback token or -1 */
    int32_t *added;       /* owned (n_added): added/special token ids, matched in the text */
    int32_t n_added;
    char **added_norm;     /* owned (n_added), each owned or NULL: the normalized content a
                              VKT_TOKF_NORMALIZED token is matched by (NULL: its piece) */
    vkt_tok_norm *norm;    /* owned or NULL: tokenizer.json normalizer steps */
    vkt_tok_pretok *pre;   /* owned or NULL: byte BPE pre-tokenizer steps (tokenizer.json); when
                              NULL, add_prefix_space and use_regex below apply */
    vkt_tok_bytes norm_buf; /* owned: encode scratch for normalized text */
    uint64_t config_hash;   /* nonzero when norm or pre is set: hash of their tokenizer.json objects */
    int32_t bos, eos, eot, unk, pad;
    bool add_bos;          /* prepend bos when encoding a prompt (tok_hf_config.c) */
    bool add_prefix_space; /* byte BPE: prepend ' ' to a segment that does not start with one */
    bool use_regex;        /* byte BPE: GPT-2 pre-tokenization (else one word per segment) */
    bool sp_prefix;        /* SP: prepend ' ' (U+2581 in the files) to each non-empty segment */
    bool sp_meta;          /* SP: Metaspace prefix rule: only when the segment does not start with a space */
    bool sp_first;         /* SP: Metaspace prepend_scheme "first": only the segment at the text's start */
    bool sp_split;         /* SP: words split before each space (Metaspace split = true) */
    bool sp_cut;           /* SP: no token holds a non-space then a space, so text may be cut
                              before such a space without changing the result (enables the cache) */
    bool byte_fallback, fuse_unk, ignore_merges;
    /* Encode-time state (not thread-safe): word cache and merge scratch. */
    vkt_strmap cache;              /* word bytes -> cache entry index; owns keys */
    uint32_t *cache_off, *cache_n; /* owned (cache_cap): span of cache_ids */
    size_t cache_len, cache_cap;
    vkt_tok_ids cache_ids;
    void *scratch;       /* owned: merge engine buffers */
    vkt_tok_ids enc_buf; /* owned: vkt_encoder adapter output */
    char identity[96];   /* vkt_encoder identity (kind, size, content hash) */
    size_t scratch_cap;  /* symbols the scratch holds */
};

/* tokenizer.json "post_processor": a TemplateProcessing whose single sequence starts with a special
 * token makes that token the BOS and sets add_bos (tok_hf_config.c). */
typedef struct cJSON cJSON;
void vkt_tok_read_post_processor(vkt_tokenizer *t, const cJSON *post_processor);

/* Allocates a handle with n_vocab empty ids (kind set, specials -1). */
vkt_status vkt_tok_alloc(vkt_tok_kind kind, int32_t n_vocab, vkt_tokenizer **out);
/* Sets id's bytes (copied) and flags. Ordinary tokens also enter the pieces map; a duplicate byte
 * string keeps the first id. Fails on an id out of range or one already set. */
vkt_status vkt_tok_set_piece(vkt_tokenizer *t, int32_t id, const char *bytes, size_t len, uint8_t flags,
                             const char *src);
/* Registers id (already set) as an added token matched in text (flags VKT_TOKF_NORMALIZED there). */
vkt_status vkt_tok_add_added(vkt_tokenizer *t, int32_t id);
/* Checks that every id has bytes and fills byte_id for byte BPE; src names the file for messages. */
vkt_status vkt_tok_finish(vkt_tokenizer *t, const char *src);

/* Encode-with-offsets state for one level of the text (tok_offsets.c). A position p at this level
 * (in the piece being encoded: the raw text, or a normalized piece) is shifted by off, mapped through
 * map (normalized byte -> byte of the raw part, len + 1 entries; NULL: identity), then shifted by
 * base into the caller's text. NULL where offsets are not wanted. */
typedef struct {
    vkt_tok_offsets *out; /* borrowed */
    const int64_t *map;   /* borrowed or NULL */
    size_t off;
    int64_t base;
} vkt_tok_offw;

/* Appends the offset of one token that covers [begin, end) at w's level. */
vkt_status vkt_tok_offw_push(const vkt_tok_offw *w, size_t begin, size_t end);
/* Appends the offsets of ids[0..k), the tokens just made of the word word[0..n): their pieces are
 * laid along the word (an unknown token spans the characters up to where the next token's piece
 * fits); the word's first `inserted` bytes are not in the text, the others start at level position at. */
vkt_status vkt_tok_offw_word(const vkt_tokenizer *t, const vkt_tok_offw *w, const char *word, size_t n, size_t at,
                             size_t inserted, const int32_t *ids, size_t k);

/* Runs BPE merges over ids[0..n) in place (lowest rank first, leftmost on ties); returns the new
 * count (or -1 when out of memory). */
int64_t vkt_tok_bpe_merge(vkt_tokenizer *t, int32_t *ids, size_t n);
/* Encodes one text segment (no added tokens inside; at_start: it begins the text) and appends its ids,
 * and their offsets through ow when it is not NULL (segment byte i is level position i). */
vkt_status vkt_tok_encode_segment(vkt_tokenizer *t, const char *s, size_t n, bool at_start, vkt_tok_ids *out,
                                  const vkt_tok_offw *ow);

/* GPT-2's reversible byte <-> printable code point map (bytes 33..126, 161..172, 174..255 map to
 * themselves, the rest to 256, 257, ... in byte order). */
uint32_t vkt_tok_byte_to_cp(uint8_t b);
/* Inverse: the byte of cp, or -1 when cp is not in the map. */
int vkt_tok_cp_to_byte(uint32_t cp);
/* Decodes a byte-level string (UTF-8 of mapped code points) into raw bytes: out needs len bytes;
 * returns the byte count or -1 when a character is outside the map. */
int64_t vkt_tok_bytelevel_decode(const char *s, size_t len, char *out);
/* Encodes raw bytes as a byte-level UTF-8 string into out (room for 2 * len bytes); returns length. */
size_t vkt_tok_bytelevel_encode(const char *s, size_t len, char *out);

/* Token id as tokenizer.json (and GGUF) spell it: byte-level alphabet for byte BPE, U+2581 for spaces
 * and "<0xXX>" for byte tokens in SentencePiece BPE, special and added tokens as they are. Returns a
 * malloc'd NUL-terminated string (NULL when out of memory). */
char *vkt_tok_file_string(const vkt_tokenizer *t, int32_t id);

/* Adds the merge of the ordinary tokens with bytes a and b (rank = priority); the merged token
 * must exist. where names the file and entry for messages. */
vkt_status vkt_tok_add_merge(vkt_tokenizer *t, const char *a, size_t al, const char *b, size_t bl, int32_t rank,
                             const char *where);

#endif
