/* A reward model loaded for scoring (`vktrain score`, GRPO's "model" reward terms): a frozen model on the
 * device with its score head -- a full reward model's own score.weight (finetune.objective "reward", method
 * full), or a base model plus the PEFT SEQ_CLS LoRA adapter holding "score" (methods lora / qlora), scored
 * through the adapter hook unmerged -- with its tokenizer and, for conversations, its chat template.
 * Records are rendered and scored as train/score.h does (the layout the reward model was trained on).
 *
 * Errors name the option or spec field that gave the path (opts.*_field) and the
 * fix: a model without a score head, an adapter without one, no tokenizer. Not thread-safe. */
#ifndef VKT_REWARD_MODEL_H
#define VKT_REWARD_MODEL_H

#include "train/score.h"

typedef struct {
    const char *path;             /* the model: anything vkt_load_model takes (a run or step folder too) */
    const char *adapter;          /* or NULL: the PEFT folder of a LoRA reward model */
    const char *tokenizer;        /* or NULL: the one the model names */
    const char *template_spec;    /* or NULL: the chat template beside the tokenizer (for conversations) */
    int64_t batch;                /* records scored at once (>= 1) */
    int64_t max_length;           /* tokens per record (row length), at most the model's context; 0: default_length */
    int64_t default_length;       /* capped at the model's context; 0: the context, at most 1024 */
    bool parse_special, keep_end; /* as vkt_score_opts */
    bool need_template;           /* resolve the chat template now (records will be conversations) */
    const char *path_field;       /* names path in messages ("MODEL", "config: finetune.rewards[1].path") */
    const char *adapter_field;    /* names adapter in messages ("--adapter", "...rewards[1].adapter") */
    const char *tokenizer_field;  /* names tokenizer in messages ("--tokenizer", "...rewards[1].tokenizer") */
    const char *template_field;   /* names template_spec in messages ("--template", "...rewards[1].template") */
} vkt_reward_model_opts;

typedef struct vkt_reward_model vkt_reward_model;

vkt_status vkt_reward_model_load(vkt_device *dev, const vkt_reward_model_opts *o, vkt_reward_model **out);
void vkt_reward_model_destroy(vkt_reward_model *rm); /* NULL-safe */

/* Device bytes it holds: parameters (with the adapter's) and activations. */
size_t vkt_reward_model_memory(const vkt_reward_model *rm);
/* The options train/score.h's functions take for it (borrowing rm). */
const vkt_score_opts *vkt_reward_model_score_opts(const vkt_reward_model *rm);

#endif
