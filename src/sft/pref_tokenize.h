/* Preference pairs -> two token sequences each (chosen, rejected), with a completion flag per token
 * (1: the token belongs to the completion and its log-probability counts; 0: prompt).
 *
 * Per pair kind (pref_dataset.h):
 *   - CHAT: prompt + chosen and prompt + rejected are each rendered as one whole conversation with the
 *     chat template (no generation prompt) and encoded with special tokens parsed and nothing added,
 *     exactly as SFT conversations are (sft_tokenize.h); a token is flagged when its first byte lies in
 *     the span of an assistant message of the completion, which runs from the end of the generation
 *     prompt through the end-of-turn marker. So the prompt is what add_generation_prompt would render,
 *     the flags match SFT's, tool results inside a completion are context (0), and a prompt assistant
 *     turn is never flagged.
 *   - TEXT: [BOS if vkt_tok_adds_bos] + prompt + completion + [EOS], prompt and completion encoded
 *     separately (as TRL does), flags on the completion and the EOS (vkt_tok_eot; none when the
 *     tokenizer has neither). Strings are encoded with parse_special from the options.
 * A sequence's prompt is its tokens before the first flagged one (n_prompt).
 *
 * Truncation of a sequence of n tokens (max_tokens = seq_len + 1, as for SFT), in this order:
 *   1. max_prompt_tokens > 0 (TRL's max_prompt_length): a longer prompt keeps its last
 *      max_prompt_tokens tokens, less one for a leading BOS, which stays (the model always saw one).
 *   2. max_completion_tokens > 0 (TRL's max_completion_length): a longer completion keeps its first ones.
 *   3. Still over max_tokens: a prompt of max_tokens tokens or more (longer than seq_len: no position
 *      is left for a completion token) drops the pair, counted and logged with FILE:LINE (set
 *      max_prompt_tokens to keep such pairs); otherwise CUT keeps the first max_tokens tokens (the
 *      completion loses its end: TRL's keep_start once the prompt is bounded) and DROP drops the pair.
 *   4. A sequence left without a flagged target (tokens 1..n-1) drops the pair.
 * A pair is kept or dropped whole. Chosen and rejected encoding to the same tokens and flags (a
 * template that trims whitespace can make different texts alike) is an error naming FILE:LINE, or with
 * skip_bad a count; becoming the same only by truncation drops the pair (counted). Every outcome is
 * counted (vkt_pref_tok_stats).
 *
 * Errors: VKT_ERR_FORMAT naming FILE:LINE for a failed render (the template's message is logged above
 * it) and for identical sequences, unless skip_bad; VKT_ERR_ARG for bad options (no tokenizer, no
 * template for a CHAT pair, max_tokens < 2, negative limits); tokenizer and template errors as they
 * come (VKT_ERR_UNSUPPORTED while chat templates are not built); VKT_ERR_OOM. Not thread-safe (the
 * tokenizer's encode state). */
#ifndef VKT_PREF_TOKENIZE_H
#define VKT_PREF_TOKENIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "sft/pref_dataset.h"
#include "sft/sft_tokenize.h"

typedef enum {
    VKT_PREF_TRUNC_CUT = 0,  /* bound the prompt (max_prompt_tokens), then cut the completion's end */
    VKT_PREF_TRUNC_DROP = 1, /* drop pairs with a sequence over max_tokens (after the limits of steps 1-2) */
} vkt_pref_truncation;

typedef struct {
    vkt_tokenizer *tok;             /* borrowed */
    const vkt_chat_template *chat;  /* borrowed; required when the data has CHAT pairs */
    int64_t max_tokens;             /* seq_len + 1 (>= 2) */
    int64_t max_prompt_tokens;      /* 0: no limit (else >= 1) */
    int64_t max_completion_tokens;  /* 0: no limit (else >= 1) */
    vkt_pref_truncation truncation; /* default CUT */
    bool parse_special;             /* parse special-token text in TEXT strings */
    bool skip_bad;                  /* skip (count) pairs whose render fails or whose sequences are identical */
} vkt_pref_tok_opts;

/* One encoded sequence; owns its arrays. Start zeroed; reuse by setting ids.len = loss.len = 0. */
typedef struct {
    vkt_tok_ids ids;
    vkt_sft_flags loss; /* one flag per id */
    int64_t n_prompt;   /* tokens before the first flagged one */
} vkt_pref_seq;
void vkt_pref_seq_free(vkt_pref_seq *s);

/* The untruncated sequences of one pair, appended to chosen and rejected (which should be empty).
 * VKT_ERR_FORMAT when the template fails (logged with its message; the caller adds where). */
vkt_status vkt_pref_encode_pair(const vkt_pref_tok_opts *o, const vkt_pref_example *e, vkt_pref_seq *chosen,
                                vkt_pref_seq *rejected);

/* Outcomes of vkt_pref_truncate: a kept sequence gives a bit set (0: whole), a dropped one a negative. */
enum {
    VKT_PREF_CUT_PROMPT = 1,          /* the prompt lost its start */
    VKT_PREF_CUT_COMPLETION = 2,      /* the completion lost its end */
    VKT_PREF_DROP_LONG = -1,          /* DROP: over max_tokens */
    VKT_PREF_DROP_LONG_PROMPT = -2,   /* the prompt is longer than seq_len */
    VKT_PREF_DROP_NO_COMPLETION = -3, /* no flagged target left */
};
/* Truncates one sequence in place by the rules above; returns its outcome. */
int vkt_pref_truncate(const vkt_pref_tok_opts *o, vkt_pref_seq *s);

typedef struct {
    int64_t n_in;                    /* pairs read */
    int64_t n_kept;                  /* pairs in the result */
    int64_t n_prompt_cut;            /* kept sequences whose prompt lost its start */
    int64_t n_completion_cut;        /* kept sequences whose completion lost its end */
    int64_t n_dropped_long_prompt;   /* pairs with a prompt longer than seq_len */
    int64_t n_dropped_long;          /* DROP: pairs with a sequence over max_tokens */
    int64_t n_dropped_no_completion; /* pairs with a side left without a completion target */
    int64_t n_dropped_identical;     /* pairs made identical by truncation */
    int64_t n_skipped_identical;     /* skip_bad: pairs whose sequences are identical */
    int64_t n_skipped_render;        /* skip_bad: the template failed */
    int64_t n_tokens_cut;            /* tokens removed by truncation, kept pairs */
    int64_t n_tokens;                /* tokens kept */
    int64_t n_targets;               /* completion targets kept (positions with loss) */
} vkt_pref_tok_stats;

/* The pairs of a dataset, tokenized: pair i has its chosen sequence 2i and its rejected one 2i + 1;
 * sequence s is ids/loss[start[s], start[s + 1]). */
typedef struct {
    int32_t *ids;      /* owned (n_tokens) */
    uint8_t *loss;     /* owned (n_tokens): completion flags */
    int64_t *start;    /* owned (2 * n_pairs + 1) */
    int64_t *n_prompt; /* owned (2 * n_pairs): prompt tokens of each sequence (after truncation) */
    int64_t *source;   /* owned (n_pairs): the pair's index in the dataset */
    int64_t n_pairs, n_tokens;
    vkt_pref_tok_stats stats;
} vkt_pref_tokenized;

/* Tokenizes d (borrowed) into *out (zeroed first; free with vkt_pref_tokenized_free even on failure),
 * in dataset order, and logs the counts. VKT_ERR_FORMAT when no pair is left. */
vkt_status vkt_pref_tokenize(const vkt_pref_tok_opts *o, const vkt_pref_dataset *d, vkt_pref_tokenized *out);
void vkt_pref_tokenized_free(vkt_pref_tokenized *t); /* NULL-safe; leaves *t zeroed */

/* Appends token id (flag 0) to every sequence: a packed sequence of n tokens holds n - 1 inputs
 * (pref_pack.h), and a reward model reads its score where the input is the sequence's last token, so its
 * data carries one placeholder more (tokenize with max_tokens = seq_len, then append). VKT_ERR_OOM. */
vkt_status vkt_pref_tokenized_append(vkt_pref_tokenized *t, int32_t id);

#endif
