/* Text generation from a model on the device: encode a prompt, then repeatedly run the forward and
 * sample the next token from the last position's logits, streaming decoded text as it comes.
 *
 * With a KV cache (model_decode.h): the prompt goes through in chunks of up to 64 tokens, then a
 * one-token forward recorded once is replayed per new token, the host writing its position into device
 * memory between submits. Only when the sequence outgrows the context (the cache) does it fall back to
 * the sliding window: a (1, T) forward recorded once and replayed over the last T tokens per new token.
 * full_recompute forces that window path throughout (the reference the cached path is tested against). */
#ifndef VKT_GENERATE_H
#define VKT_GENERATE_H

#include <stdio.h>

#include "data/tokenizer.h"
#include "model/model.h"
#include "train/sampler.h"

typedef struct {
    int64_t max_tokens;       /* new tokens to generate */
    vkt_sampler_opts sampler;
    uint64_t seed;
    FILE *stream;             /* decoded text is written here as it is generated (NULL: not streamed) */
    bool stream_reply;        /* stream the new text as decoded on its own, as a chat reply is (SentencePiece's
                               * leading space dropped), not as the continuation of the prompt's text */
    int64_t context;          /* window length T (0: the model's maximum sequence length) */
    bool stop_at_eos;         /* stop at the tokenizer's end-of-text / EOS token */
    const int32_t *stop_ids;  /* borrowed, n_stop more ids that end the generation (chat end-of-turn tokens); the
                               * stop id itself is kept in the output ids */
    int n_stop;
    bool full_recompute;      /* no KV cache: a full window forward per token (for tests and comparisons) */
} vkt_generate_opts;

/* Generates from `src`'s parameters (any batch shape; it is not modified). out_ids, if not NULL, gets the
 * generated ids (malloc'ed, *n_out of them). */
vkt_status vkt_generate(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const char *prompt,
                        const vkt_generate_opts *opts);
vkt_status vkt_generate_ids(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const int32_t *prompt,
                            int64_t n_prompt, const vkt_generate_opts *opts, int32_t **out_ids, int64_t *n_out);

/* A generation session: the inference model, its KV cache and the sequence the cache holds, kept across
 * calls (a chat's turns). Each call continues a whole sequence; the positions it shares with the previous
 * call's sequence (prompt and reply included) are not computed again. The model's parameters are copied
 * from src at create: a later change to src is not seen. */
typedef struct vkt_gen_session vkt_gen_session;

/* What the generation's own models must add to their forward (a LoRA adapter being trained: see
 * vkt_lora_mirror_create): attach runs on each inference model the session makes, before it records
 * anything, and returns a handle that release gets when the model goes. */
typedef struct {
    void *ctx;
    vkt_status (*attach)(void *ctx, vkt_model *m, void **handle);
    void (*release)(void *ctx, void *handle);
} vkt_gen_adapter;

/* context: the positions the cache holds (0: the model's maximum sequence length). */
vkt_status vkt_gen_session_create(vkt_device *dev, const vkt_model *src, int64_t context, vkt_gen_session **out);
/* The same with an adapter (borrowed; NULL: none). */
vkt_status vkt_gen_session_create_ex(vkt_device *dev, const vkt_model *src, int64_t context,
                                     const vkt_gen_adapter *adapter, vkt_gen_session **out);
void vkt_gen_session_destroy(vkt_gen_session *s); /* NULL-safe */
/* The session's context length. */
int64_t vkt_gen_session_context(const vkt_gen_session *s);
/* Forgets the cached keys and values, so the next call computes its whole sequence; with reload, first copies
 * src's parameters again. Call it whenever the weights the session runs have changed since its last call (a
 * cache computed with other weights is stale): after each optimizer step of a LoRA adapter read through
 * the adapter hook (reload false: the frozen base need not be copied), or with reload true after a step
 * that changed src itself (full fine-tuning). */
vkt_status vkt_gen_session_refresh(vkt_gen_session *s, bool reload);
/* Generates up to opts->max_tokens after seq[0, n) (n >= 1), with opts' sampler, stops and stream (opts->context
 * is ignored: the session's applies; opts->seed seeds this call's sampler). Past the context, the last
 * `context` tokens are the window (no cache). *out_ids (malloc'ed, *n_out) gets the new ids when out_ids is
 * not NULL. */
vkt_status vkt_gen_session_run(vkt_gen_session *s, vkt_tokenizer *tok, const int32_t *seq, int64_t n,
                               const vkt_generate_opts *opts, int32_t **out_ids, int64_t *n_out);

#endif
