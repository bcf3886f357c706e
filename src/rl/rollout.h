/* GRPO rollouts: for each prompt of a step, G completions sampled on the device from the model being
 * trained (its live LoRA adapter included, through train/generate.h's adapter hook), with the KV cache,
 * reproducibly.
 *
 * Prompts are encoded as the SFT and preference data encode them (sft_tokenize.h), so a completion
 * continues exactly the tokens training puts before it: a conversation is rendered with the chat
 * template and add_generation_prompt, then encoded with special tokens parsed and nothing added; a
 * plain prompt string is [BOS if vkt_tok_adds_bos] + its ids. A prompt over max_prompt_tokens keeps its
 * last tokens (a leading BOS stays: the model always saw one), as TRL's max_prompt_length does.
 *
 * Sampling: completion g of the prompt whose identity is id (its index in the data set, not in the
 * step, so a resumed or reordered run draws the same) in step `step` is sampled from a generator seeded
 * with vkt_rollout_seed(seed, step, id, g). The G completions of a prompt share its cached prefix (the
 * prompt is computed once). A completion ends at a stop id (the tokenizer's end-of-turn markers and
 * EOS, vkt_chat_stop_ids, unless the options name others), which it keeps as its last id (training
 * learns to stop), or after max_completion_tokens ids (truncated: stopped = false; TRL's
 * mask_truncated_completions would leave those out of the loss).
 *
 * Weights: the session copies the model's parameters when created; each call first refreshes it
 * (vkt_gen_session_refresh): the cache is always forgotten (the adapter may have changed since), and
 * with reload_params the parameters are copied again (full fine-tuning; LoRA and QLoRA keep the frozen
 * base). Not thread-safe (one session, the tokenizer's encode state). */
#ifndef VKT_ROLLOUT_H
#define VKT_ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "train/generate.h"

/* One prompt of a step (all borrowed). */
typedef struct {
    int64_t id;            /* its identity for seeding: the record's index in the data set */
    const cJSON *messages; /* a conversation ending on a user or tool turn; NULL: a text prompt */
    const cJSON *tools;    /* or NULL */
    const char *text;      /* the text prompt when messages is NULL (NULL or "" allowed: BOS alone) */
} vkt_rl_prompt;

typedef struct {
    int64_t group_size;            /* G: completions per prompt (>= 1) */
    int64_t max_completion_tokens; /* new ids per completion (>= 1; TRL max_completion_length) */
    int64_t max_prompt_tokens;     /* a longer prompt keeps its last ids; 0: no limit */
    vkt_sampler_opts sampler;      /* temperature (0: greedy), top_k, top_p */
    uint64_t seed;
    int64_t context;          /* the KV cache's positions (0: the model's maximum); prompt + completion must fit */
    const int32_t *stop_ids;  /* borrowed, n_stop of them; NULL: vkt_chat_stop_ids of the tokenizer */
    int n_stop;
    bool parse_special;       /* text prompts: special-token text becomes special ids */
    bool reload_params;       /* copy the model's parameters before each call (full fine-tuning) */
} vkt_rollout_opts;

/* TRL's GRPOConfig defaults: temperature 1, top_p 1, no top_k; max_completion_tokens 256; G 8. */
vkt_rollout_opts vkt_rollout_opts_default(void);

typedef struct {
    int32_t *ids;   /* owned (n >= 1): the sampled ids, the stop id last when stopped */
    int64_t n;
    char *text;     /* owned, NUL-terminated: the decoded ids without the stop id, special tokens skipped */
    bool stopped;   /* ended on a stop id; false: max_completion_tokens was reached */
    int64_t prompt; /* its prompt's index in the call */
} vkt_completion;

/* The completions of one call: prompt-major, completion g of prompt p at p * group_size + g. */
typedef struct {
    int64_t n_prompts, group_size;
    vkt_tok_ids *prompt_ids;  /* owned (n_prompts): the ids generated from (after truncation) */
    vkt_completion *c;        /* owned (n_prompts * group_size) */
    int64_t n_prompts_truncated;
} vkt_rollout_set;

static inline int64_t vkt_rollout_set_size(const vkt_rollout_set *s) { return s->n_prompts * s->group_size; }
void vkt_rollout_set_free(vkt_rollout_set *s); /* NULL-safe; safe on a zeroed or failed set */

typedef struct vkt_rollout vkt_rollout;

/* A sampler over model (borrowed: its current parameters; must outlive the rollout) with adapter
 * (borrowed, NULL: none), tok and tmpl (borrowed; tmpl NULL when no prompt is a conversation).
 * VKT_ERR_ARG (logged, naming the option) for G < 1, max_completion_tokens < 1, max_prompt_tokens < 0
 * or max_prompt_tokens + max_completion_tokens over the context. */
vkt_status vkt_rollout_create(vkt_device *dev, const vkt_model *model, const vkt_gen_adapter *adapter,
                              vkt_tokenizer *tok, const vkt_chat_template *tmpl, const vkt_rollout_opts *o,
                              vkt_rollout **out);
void vkt_rollout_destroy(vkt_rollout *r); /* NULL-safe */
/* Changes the group size (>= 1) and the sampler of the calls that follow (validation: one greedy completion
 * per prompt with the same session). */
void vkt_rollout_set_sampling(vkt_rollout *r, int64_t group_size, const vkt_sampler_opts *sampler);
/* The context (cache positions) the rollout runs with. */
int64_t vkt_rollout_context(const vkt_rollout *r);

/* The ids a prompt is generated from, appended to ids (empty on entry); *truncated says whether
 * max_prompt_tokens cut it. VKT_ERR_ARG when a conversation has no template, VKT_ERR_FORMAT when the
 * template fails (its message logged), VKT_ERR_ARG when the prompt and max_completion_tokens do not fit
 * the context (naming the prompt's id and both lengths). */
vkt_status vkt_rollout_encode_prompt(vkt_rollout *r, const vkt_rl_prompt *p, vkt_tok_ids *ids, bool *truncated);

/* G completions for each of prompts[0..n) at training step `step`, into *out (zeroed first; free with
 * vkt_rollout_set_free, also on failure). Errors as vkt_rollout_encode_prompt, then the device's. */
vkt_status vkt_rollout_generate(vkt_rollout *r, int64_t step, const vkt_rl_prompt *prompts, int64_t n,
                                vkt_rollout_set *out);

/* The sampler seed of completion `sample` of the prompt with identity prompt_id at step (a hash: every
 * tuple gets its own stream). */
uint64_t vkt_rollout_seed(uint64_t seed, int64_t step, int64_t prompt_id, int64_t sample);

#endif
