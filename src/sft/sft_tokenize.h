/* SFT examples -> token ids and a loss flag per token (1: the token is a target that carries loss).
 *
 * Per example kind (sft_dataset.h):
 *   - CHAT: the conversation is rendered with a chat template (src/chat/chat_template.h; no
 *     generation prompt), the text is encoded with special tokens parsed and nothing added (the
 *     template writes BOS when the model wants one, so a BOS is never doubled), and a token is
 *     flagged when its first byte (vkt_tok_encode_offsets) lies in the span of a trained assistant
 *     message: mode ASSISTANT every assistant message whose train flag is set (LLaMA-Factory's
 *     loss_weight 0 and TRL prompt messages are not), LAST the last assistant message only (when
 *     its flag is set), ALL every token. Tool results and every other role are never in a span.
 *   - PROMPT_COMPLETION: [BOS if vkt_tok_adds_bos] + prompt + completion + [EOS], prompt and
 *     completion encoded separately (as TRL does); loss on the completion and the EOS (ALL: on
 *     everything). EOS is vkt_tok_eot (GPT-2's <|endoftext|>, or EOS); none when the tokenizer has
 *     neither (the bytes tokenizer).
 *   - TEXT: [BOS?] + text + [EOS], loss on every token.
 *   Plain strings are encoded with parse_special from the options (default false: special-token
 *   text in the data stays text); rendered chats always parse specials.
 * A sequence of n tokens gives n - 1 (input, target) pairs; the flag of token 0 never matters (it is
 * no target). Truncation to max_tokens (seq_len + 1): DROP removes longer examples, RIGHT keeps the
 * first max_tokens, LEFT the last max_tokens. An example left without a flagged target (flags of
 * tokens 1..n-1) is dropped. Every outcome is counted (vkt_sft_tok_stats).
 *
 * Errors: VKT_ERR_FORMAT naming FILE:LINE of the example when its template render fails (unless
 * skip_bad: then counted), VKT_ERR_ARG for bad options (no template for a CHAT example, max_tokens < 2),
 * tokenizer errors as they come, VKT_ERR_OOM. Not thread-safe (the tokenizer's encode state). */
#ifndef VKT_SFT_TOKENIZE_H
#define VKT_SFT_TOKENIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "sft/sft_dataset.h"

typedef enum { VKT_SFT_LOSS_ASSISTANT = 0, VKT_SFT_LOSS_LAST = 1, VKT_SFT_LOSS_ALL = 2 } vkt_sft_loss_mode;
typedef enum { VKT_SFT_TRUNC_DROP = 0, VKT_SFT_TRUNC_RIGHT = 1, VKT_SFT_TRUNC_LEFT = 2 } vkt_sft_truncation;

typedef struct {
    vkt_tokenizer *tok;            /* borrowed */
    const vkt_chat_template *chat; /* borrowed; required when the data has CHAT examples */
    vkt_sft_loss_mode loss;        /* default ASSISTANT */
    vkt_sft_truncation truncation; /* default DROP */
    int64_t max_tokens;            /* seq_len + 1 (>= 2) */
    bool parse_special;            /* parse special-token text in prompt/completion/text strings */
    bool skip_bad;                 /* skip (count) examples whose template render fails */
} vkt_sft_tok_opts;

/* Growable flags, one per token; owns data. Start zeroed. */
typedef struct {
    uint8_t *data; /* owned (cap) */
    size_t len, cap;
} vkt_sft_flags;
vkt_status vkt_sft_flags_push(vkt_sft_flags *f, uint8_t v, size_t count);
void vkt_sft_flags_free(vkt_sft_flags *f);

/* The ids of text (special tokens parsed) appended to ids, and one flag per id appended to loss: 1
 * when the token's first byte lies in one of spans[0..n_spans) ([begin, end) byte ranges of text;
 * the message field is not used), or for every token when all. The span -> mask step of CHAT
 * examples, callable on its own (tests). */
vkt_status vkt_sft_mask_spans(vkt_tokenizer *t, const char *text, size_t len, const vkt_chat_span *spans,
                              int32_t n_spans, bool all, vkt_tok_ids *ids, vkt_sft_flags *loss);

/* The untruncated ids and flags of one example, appended to ids and loss. VKT_ERR_FORMAT when the
 * template fails (logged with the template's message; the caller adds where). */
vkt_status vkt_sft_encode_example(const vkt_sft_tok_opts *o, const vkt_sft_example *e, vkt_tok_ids *ids,
                                  vkt_sft_flags *loss);

typedef struct {
    int64_t n_in;              /* examples read */
    int64_t n_kept;            /* examples in the result */
    int64_t n_truncated_right; /* kept after cutting their end */
    int64_t n_truncated_left;  /* kept after cutting their start */
    int64_t n_dropped_long;    /* DROP: longer than max_tokens */
    int64_t n_dropped_no_loss; /* no flagged target (after truncation, or none at all) */
    int64_t n_skipped_render;  /* skip_bad: the template failed */
    int64_t n_tokens_cut;      /* tokens removed by truncation */
    int64_t n_tokens;          /* tokens kept */
    int64_t n_targets;         /* flagged targets kept (positions with loss) */
} vkt_sft_tok_stats;

/* Every example of a dataset, tokenized: example i is ids/loss[start[i], start[i + 1]). */
typedef struct {
    int32_t *ids;    /* owned (n_tokens) */
    uint8_t *loss;   /* owned (n_tokens) */
    int64_t *start;  /* owned (n_examples + 1) */
    int64_t *source; /* owned (n_examples): the example's index in the dataset */
    int64_t n_examples, n_tokens;
    vkt_sft_tok_stats stats;
} vkt_sft_tokenized;

/* Tokenizes d (borrowed) into *out (zeroed first; free with vkt_sft_tokenized_free even on failure),
 * in dataset order, and logs the counts. VKT_ERR_FORMAT when nothing is left. */
vkt_status vkt_sft_tokenize(const vkt_sft_tok_opts *o, const vkt_sft_dataset *d, vkt_sft_tokenized *out);
void vkt_sft_tokenized_free(vkt_sft_tokenized *t); /* NULL-safe; leaves *t zeroed */

/* Truncates ids/loss[0..*n) in place to o->max_tokens by o->truncation. Returns which outcome:
 * 0 kept whole, 1 cut at the right, 2 cut at the left, -1 dropped as too long, -2 dropped for having
 * no flagged target (tokens 1..n-1) left. */
int vkt_sft_truncate(const vkt_sft_tok_opts *o, int32_t *ids, uint8_t *loss, int64_t *n);

#endif
