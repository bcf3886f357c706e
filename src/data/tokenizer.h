/* Tokenizers for pre-training and sampling: text bytes <-> token ids.
 *
 * Three kinds behind one handle:
 *   - bytes:     256 ids, id = byte value (character-level runs; the trivial default).
 *   - byte BPE:  GPT-2 style byte-level BPE, from encoder.json + vocab.bpe or a Hugging Face
 *                tokenizer.json (model BPE + ByteLevel, with Split regexes and normalizers as in
 *                Llama 3 and Qwen2: tok_pretok.h, tok_norm.h), or trained with vkt_tok_train_bpe
 *                (tok_train.h).
 *   - SP BPE:    SentencePiece-style BPE with byte fallback, from a llama2.c tokenizer .bin or a
 *                Hugging Face tokenizer.json of the Llama kind ("▁" for spaces, <0xXX> byte tokens).
 * Encoding never adds BOS/EOS by itself: callers add vkt_tok_bos()/vkt_tok_eot() where they want
 * them. Decoding returns raw bytes (not necessarily valid UTF-8 for a partial sequence).
 *
 * Errors: loaders return VKT_ERR_IO (cannot read), VKT_ERR_FORMAT (bad content; the log names the
 * file, the field and what to fix), VKT_ERR_OOM. Nothing here aborts on bad input files.
 * Thread safety: a handle may be shared for decode and the queries; encode uses a per-handle word
 * cache and scratch buffers, so concurrent encodes need one handle per thread. */
#ifndef VKT_TOKENIZER_H
#define VKT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

typedef struct vkt_tokenizer vkt_tokenizer;

typedef enum { VKT_TOK_BYTES = 0, VKT_TOK_BYTE_BPE = 1, VKT_TOK_SP_BPE = 2 } vkt_tok_kind;

/* Growable id array; owns data. Start zeroed; encode appends. */
typedef struct {
    int32_t *data; /* owned (cap) */
    size_t len, cap;
} vkt_tok_ids;
/* Growable byte buffer; owns data, kept NUL-terminated after the first append. Start zeroed. */
typedef struct {
    char *data; /* owned (cap) */
    size_t len, cap;
} vkt_tok_bytes;

/* Where one token came from in the encoded text: bytes [begin, end) (see vkt_tok_encode_offsets). */
typedef struct {
    int64_t begin, end;
} vkt_tok_offset;
/* Growable offset array; owns data. Start zeroed; encode appends. */
typedef struct {
    vkt_tok_offset *data; /* owned (cap) */
    size_t len, cap;
} vkt_tok_offsets;

vkt_status vkt_tok_ids_push(vkt_tok_ids *v, int32_t id);
void vkt_tok_ids_free(vkt_tok_ids *v);
vkt_status vkt_tok_bytes_append(vkt_tok_bytes *b, const void *p, size_t n);
void vkt_tok_bytes_free(vkt_tok_bytes *b);
vkt_status vkt_tok_offsets_push(vkt_tok_offsets *v, int64_t begin, int64_t end);
void vkt_tok_offsets_free(vkt_tok_offsets *v);

/* Loaders. On success *out is a new handle (free with vkt_tok_free); on failure *out is NULL. */
vkt_status vkt_tok_init_bytes(vkt_tokenizer **out);
vkt_status vkt_tok_load_gpt2(const char *encoder_json, const char *vocab_bpe, vkt_tokenizer **out);
vkt_status vkt_tok_load_hf(const char *tokenizer_json, vkt_tokenizer **out);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token {float score, int32 len, bytes}.
 * The file does not store the count: n_vocab > 0 requires exactly that many, 0 reads to the end.
 * Ids 0/1/2 are <unk>/BOS/EOS as in llama2.c; tokens "<0xXX>" are the byte fallbacks. */
vkt_status vkt_tok_load_llama2c(const char *tok_bin, int32_t n_vocab, vkt_tokenizer **out);
/* The same loaders for file contents in memory (text[0..len), no NUL needed; borrowed for the call);
 * the names stand for the files in messages. Fuzzers and tests use them. */
vkt_status vkt_tok_load_gpt2_mem(const char *encoder_json, size_t encoder_len, const char *vocab_bpe, size_t vocab_len,
                                 const char *encoder_name, const char *vocab_name, vkt_tokenizer **out);
vkt_status vkt_tok_load_hf_mem(const char *tokenizer_json, size_t len, const char *name, vkt_tokenizer **out);
vkt_status vkt_tok_load_llama2c_mem(const void *tok_bin, size_t len, int32_t n_vocab, const char *name,
                                    vkt_tokenizer **out);
/* By name: "bytes"; a directory holding tokenizer.json or encoder.json + vocab.bpe; a .json file;
 * a .bin file (llama2.c). A tokenizer.json with a tokenizer_config.json beside it (a Hugging Face model
 * folder) takes bos/eos/pad and add_bos_token from it (vkt_tok_apply_hf_config). */
vkt_status vkt_tok_load(const char *spec, vkt_tokenizer **out);
/* The tokenizer `spec` names for a model of `model_vocab` ids (`model` names it in errors): a llama2.c .bin
 * is read with the model's vocabulary size, anything else as vkt_tok_load; a tokenizer with more ids than
 * the model is refused (VKT_ERR_FORMAT). */
vkt_status vkt_tok_load_for_model(const char *spec, int64_t model_vocab, const char *model, vkt_tokenizer **out);
/* Applies a Hugging Face tokenizer_config.json: "bos_token", "eos_token", "pad_token" (a string, an
 * {"content": ...} object, or null for none) become the ids tokenizer.json gives those contents, and
 * "add_bos_token" (when present) says whether prompts get the BOS. VKT_ERR_FORMAT, naming the file and
 * key, for a content the tokenizer lacks or add_bos_token without a BOS; the handle is then unchanged
 * only in part, so free it. */
vkt_status vkt_tok_apply_hf_config(vkt_tokenizer *t, const char *tokenizer_config_json);
/* Safe on NULL. */
void vkt_tok_free(vkt_tokenizer *t);

vkt_tok_kind vkt_tok_get_kind(const vkt_tokenizer *t);
int32_t vkt_tok_vocab_size(const vkt_tokenizer *t);
/* Special ids, or -1 when the tokenizer has none. eot is GPT-2's <|endoftext|>, or EOS. */
int32_t vkt_tok_bos(const vkt_tokenizer *t);
int32_t vkt_tok_eos(const vkt_tokenizer *t);
int32_t vkt_tok_eot(const vkt_tokenizer *t);
int32_t vkt_tok_pad(const vkt_tokenizer *t);
/* True when encoding a prompt should start with vkt_tok_bos (tokenizer_config.json add_bos_token, or a
 * tokenizer.json post_processor that prepends it, as Llama 2 and Llama 3 do; Qwen2 and GPT-2 do not). */
bool vkt_tok_adds_bos(const vkt_tokenizer *t);
/* Id of the token whose decoded bytes (or special content) equal s, or -1. */
int32_t vkt_tok_find(const vkt_tokenizer *t, const char *s, size_t len);
/* Decoded bytes of one token (special tokens: their content); *len gets the length. NULL for an
 * id out of range. Borrowed from the handle. For SP tokens the leading space is kept. */
const char *vkt_tok_piece(const vkt_tokenizer *t, int32_t id, size_t *len);
bool vkt_tok_is_special(const vkt_tokenizer *t, int32_t id);

/* Appends the ids of text[0..len) to out. With parse_special, the contents of special tokens in
 * the text (e.g. "<|endoftext|>") become their ids; without it they are encoded as plain text.
 * Added tokens that are not special are always matched (as Hugging Face does). */
vkt_status vkt_tok_encode(vkt_tokenizer *t, const char *text, size_t len, bool parse_special, vkt_tok_ids *out);
/* vkt_tok_encode that also appends, for every id it appends to out_ids, the bytes [begin, end) of text
 * the token came from (offsets into text[0..len), whatever out_ids held before). The ids are exactly
 * vkt_tok_encode's (the same code runs). What the offsets are:
 *   - Without a normalizer that changes the text, they are exact: sorted, non-overlapping, and
 *     text[begin, end) is the token's piece (vkt_tok_piece), except bytes the tokenizer inserts (the
 *     SentencePiece prefix space "▁", a ByteLevel add_prefix_space space), which have no text: a token
 *     " hello" whose space was inserted gets the span of "hello", a token that is only an inserted
 *     space gets an empty span where it was inserted. Bytes the pre-tokenizer drops (Whitespace,
 *     Split Removed) belong to no token. Byte tokens of one multi-byte character get one byte each.
 *   - With a normalizer that changes bytes (NFC/NFKC on text that is not in that form, Lowercase,
 *     Replace, Prepend, Strip, StripAccents), offsets are mapped back to the original text at the
 *     granularity of the changed units: a character (Lowercase, StripAccents), a match (Replace), a
 *     combining sequence (NFC/NFD/NFKC/NFKD, widened until its normalization stands alone; the whole
 *     valid-UTF-8 run when nothing narrower reproduces the normalizer's output). An output unit whose
 *     length equals its source's maps byte for byte; otherwise all its bytes map to the source unit's
 *     start, so the token holding its first byte gets begin = that start and a token ending inside it
 *     gets end = that start. Inserted bytes (Prepend) map to the start of what follows them.
 *   Always: 0 <= begin <= end <= len, begins and ends never decrease from one token to the next, and
 *   a special or added token matched in the text gets exactly the bytes it was matched by (in the
 *   original text). The unknown token (no byte fallback) spans the characters it replaced.
 * Errors as vkt_tok_encode; on error the two arrays may hold a partial, equally long result. */
vkt_status vkt_tok_encode_offsets(vkt_tokenizer *t, const char *text, size_t len, bool parse_special,
                                  vkt_tok_ids *out_ids, vkt_tok_offsets *out_offsets);
/* Appends the bytes of ids[0..n) to out. skip_special drops special tokens. SentencePiece
 * tokenizers drop the one space that encoding prepends (the first space of the first non-special
 * token), so decode(encode(x)) == x. Returns VKT_ERR_ARG for an id out of range. */
vkt_status vkt_tok_decode(const vkt_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, vkt_tok_bytes *out);

#endif
