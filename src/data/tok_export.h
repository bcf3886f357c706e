/* A tokenizer's vocabulary as the arrays GGUF files carry (tokenizer.ggml.*), for llama.cpp:
 *   SentencePiece-style BPE -> model "llama": tokens (U+2581 for spaces, "<0xXX>" byte tokens),
 *     scores (a merged token scores minus its merge rank, so llama.cpp's highest-score-first merging
 *     reproduces vktrain's lowest-rank-first BPE; other tokens 0), token types;
 *   byte-level BPE -> model "gpt2": tokens in GPT-2's byte-level alphabet, merges "left right" in rank
 *     order, token types, and the pre-tokenizer by llama.cpp's name for it: "gpt-2", "llama-bpe" (Llama 3),
 *     "qwen2" (Qwen2 / 2.5 / 3) or "smollm", recognised by the tokenizer.json steps each stands for.
 * Token types: special tokens CONTROL (UNKNOWN for SentencePiece's <unk>), added non-special tokens
 * USER_DEFINED, byte tokens BYTE, the rest NORMAL; ids past the tokenizer's vocabulary up to the model's
 * (embedding padding) are "[PADn]" tokens of type UNUSED.
 * Not here: other byte-level pre-tokenizers (llama.cpp's converter names those by hashing test
 * encodings, and each needs code in llama.cpp); they are refused (VKT_ERR_UNSUPPORTED), as is the byte
 * tokenizer. Qwen2's NFC normalizer is not applied by llama.cpp (nor by its own converter's files). */
#ifndef VKT_TOK_EXPORT_H
#define VKT_TOK_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "data/tokenizer.h"

typedef struct {
    const char *model; /* "llama" or "gpt2" (static) */
    const char *pre;   /* llama.cpp's pre-tokenizer name for gpt2, NULL for llama (static) */
    int32_t n;         /* tokens: the model's vocabulary size */
    char **tokens;     /* owned, n, each owned */
    float *scores;     /* owned, n; NULL for gpt2 */
    int32_t *types;    /* owned, n: VKT_GGUF_TOKEN_* values (io/gguf.h numbering) */
    char **merges;     /* owned, n_merges, each owned; NULL for llama */
    int32_t n_merges;
    int32_t bos, eos, unk; /* -1 when none */
    bool add_space_prefix; /* llama: a space is prepended to the text (SentencePiece) */
    bool add_bos;          /* encoding starts with BOS (SentencePiece; byte-level: as the tokenizer does) */
} vkt_tok_vocab;

/* Fills *out for a model of n_vocab ids (>= the tokenizer's). VKT_ERR_ARG when the tokenizer has more
 * ids than the model, VKT_ERR_UNSUPPORTED (logged) as above, VKT_ERR_OOM. */
vkt_status vkt_tok_vocab_get(const vkt_tokenizer *t, int32_t n_vocab, vkt_tok_vocab *out);
/* Safe on a zeroed struct and twice. */
void vkt_tok_vocab_free(vkt_tok_vocab *v);

#endif
