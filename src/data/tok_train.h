/* Training a byte-level BPE tokenizer (GPT-2 style) on a text corpus.
 *
 * The corpus is cut at the special-token strings (which never enter the merges), pre-tokenized
 * with GPT-2's rules, and merges are learned greedily: the most frequent adjacent pair, ties
 * broken by the lower (left id, right id), so the result depends only on the text and options.
 * Ids: 0..255 are the bytes, then one id per new merged token in merge order, then the specials.
 * Save the result with vkt_tok_save_hf (tok_save.h) for a Hugging Face-compatible tokenizer.json. */
#ifndef VKT_TOK_TRAIN_H
#define VKT_TOK_TRAIN_H

#include "data/tokenizer.h"

typedef struct {
    int32_t vocab_size;         /* total ids, bytes and specials included (>= 256 + n_special) */
    const char *const *special; /* borrowed (n_special): e.g. {"<|endoftext|>"}; the first is eot */
    int32_t n_special;
    int64_t min_frequency; /* stop when the best pair occurs fewer times (0 or 1: no limit) */
} vkt_tok_train_opts;

/* Trains on text[0..len) and returns a new byte BPE handle in *out. Fewer ids than asked for
 * result when the corpus runs out of pairs (the log says so). VKT_ERR_ARG for an impossible
 * vocab_size, VKT_ERR_OOM. Pure function of its inputs; thread-safe. */
vkt_status vkt_tok_train_bpe(const char *text, size_t len, const vkt_tok_train_opts *opts, vkt_tokenizer **out);

#endif
