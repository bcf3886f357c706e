/* The "model" terms of a reward spec (rl/reward.h): each a reward model loaded once on the device
 * (train/reward_model.h), a second, frozen model beside the one being trained, and its scores of a rollout
 * set's completions, a batch of them at a time. A completion is rendered with its prompt as the reward model
 * was trained on them and as `vktrain score` renders a record (train/score.h): after a conversational prompt
 * it is the assistant's answer, through the reward model's chat template; after a text prompt the record is
 * prompt + completion (+ EOS). A completion longer than the reward model's rows keeps its end (counted and
 * logged). Not thread-safe. */
#ifndef VKT_REWARD_MODELS_H
#define VKT_REWARD_MODELS_H

#include "rl/reward.h"
#include "rl/rollout.h"

typedef struct vkt_reward_models vkt_reward_models;

typedef struct {
    int64_t default_length; /* a term's max_length when it gives none (capped at the model's context) */
    bool conversations;     /* some prompt is a conversation: resolve the chat templates now */
    bool parse_special;     /* special-token text in text prompts (as data.parse_special) */
} vkt_reward_models_opts;

/* Loads every model term of reward (borrowed; must outlive the result) and logs each one's device memory;
 * *out is NULL when there is none. Errors name the term's field (WHERE[i].path / .adapter / .tokenizer). */
vkt_status vkt_reward_models_load(vkt_device *dev, const vkt_reward *reward, const vkt_reward_models_opts *o,
                                  vkt_reward_models **out);
void vkt_reward_models_destroy(vkt_reward_models *rms); /* NULL-safe */
/* Device bytes of all of them. */
size_t vkt_reward_models_memory(const vkt_reward_models *rms);

/* The scores of set's completions (prompts: the call's, as vkt_rollout_generate took them): for every model
 * term k, given[i * n_terms + k] for completion i (the other columns are left alone); given as
 * vkt_reward_score_given takes it. */
vkt_status vkt_reward_models_score(vkt_reward_models *rms, const vkt_rollout_set *set, const vkt_rl_prompt *prompts,
                                   float *given);

#endif
