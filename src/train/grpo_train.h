/* GRPO in a training run (finetune.objective grpo): per optimizer step, the next prompts of the data
 * (rl/grpo_source.h), G completions of each sampled on the device from the model being trained, adapters
 * included (rl/rollout.h), their rewards (rl/reward.h, the spec finetune.rewards; its "model" terms score on the
 * device with reward models loaded once at create, frozen beside the policy: rl/reward_models.h) and group-normalised
 * advantages (rl/grpo_batch.h), then the step (sched/grpo_step.h) over micro-batches of one completion per row.
 * Generation and training alternate: the step before is drained before the rollout reads the weights.
 *
 * Batch arithmetic (TRL's): a step trains on prompts_per_step * num_generations completions, batch_size per
 * micro-batch, so grad_accum = that / batch_size micro-batches; with finetune.prompts_per_step 0 the step
 * holds batch_size * grad_accum completions (a multiple of num_generations). Every prompt + completion must
 * fit a row: max_prompt_length + max_completion_length <= seq_len + 1 (a longer prompt keeps its end; 0: the
 * room the completion leaves).
 *
 * Validation (at eval steps): one completion per validation prompt (the first eval.steps * batch_size of them),
 * greedy unless finetune.eval_temperature is set, scored with the same rewards: "reward" and each term's
 * "rewards/<name>/mean" in metrics.jsonl (kind "val"), and the first eval.generations of them written to
 * <run>/generations/step-NNNNNN.jsonl ({"record", "prompt", "reference", "generated", "reward"}). */
#ifndef VKT_GRPO_TRAIN_H
#define VKT_GRPO_TRAIN_H

#include "io/run_config.h"
#include "sched/grpo_step.h"
#include "train/generate.h"
#include "train/metrics.h"
#include "train/train_data.h"

typedef struct vkt_grpo_train vkt_grpo_train;

/* Before the step is created: the reward, the step program for m over d's prompts, and the batch arithmetic
 * (cfg->grad_accum is set to the step's micro-batches). Errors name the config key (VKT_ERR_ARG /
 * VKT_ERR_FORMAT). m, cfg, d and tok are borrowed and must outlive g. */
vkt_status vkt_grpo_train_create(vkt_model *m, vkt_run_config *cfg, vkt_train_data *d, vkt_tokenizer *tok,
                                 vkt_grpo_train **out);
void vkt_grpo_train_destroy(vkt_grpo_train *g); /* NULL-safe */
const vkt_step_program *vkt_grpo_train_program(vkt_grpo_train *g);
const char *const *vkt_grpo_train_progress_labels(const vkt_grpo_train *g);
/* Whether the step runs a reference forward (beta > 0), for FLOP accounting. */
bool vkt_grpo_train_has_reference(const vkt_grpo_train *g);
size_t vkt_grpo_train_memory(const vkt_grpo_train *g);

/* After the adapters are attached (adapter: the run's train/generate.h hook, or NULL; borrowed): the sampler,
 * and every prompt encoded once (prompts cut to max_prompt_length are counted and reported). */
vkt_status vkt_grpo_train_start(vkt_grpo_train *g, vkt_device *dev, const vkt_gen_adapter *adapter, bool full);

/* One optimizer step `step` as vkt_step_submit runs one: drains s (*done gets the previous step's result, step
 * -1 if none), rolls out, scores and submits. */
vkt_status vkt_grpo_train_step(vkt_grpo_train *g, vkt_step *s, int64_t step, vkt_step_result *done);

/* Validation at `step` (the step drained first by the caller): logs to metrics and stdout, writes the
 * generations into dir. */
vkt_status vkt_grpo_train_evaluate(vkt_grpo_train *g, vkt_metrics *metrics, const char *dir, int64_t step);

#endif
