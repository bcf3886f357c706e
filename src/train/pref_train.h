/* Preference objectives in a training run (finetune.objective dpo, ipo, orpo, reward): the step program built from
 * the run's config (sched/pref_step.h) and, where the reference is precomputed, the reference pass over the
 * data before training. The trainer calls these; what else differs (metrics in the progress line and
 * metrics.jsonl) follows the program's metric names.
 *
 * The reference model, per method:
 *   lora / qlora  the frozen base with the adapters detached, one reference forward per micro-batch on the
 *                 device (no second copy of the weights); finetune.precompute_ref_log_probs = true computes
 *                 them once before training instead (TRL's option of the same name: less compute per step)
 *   full          precomputed once from the initial weights before training: the weights being trained are
 *                 the policy, and a frozen copy would double the weight memory. A resumed run computes them
 *                 again from model.path (the base) before the checkpoint's weights are loaded, so a resumed
 *                 run uses the same reference as the uninterrupted one.
 * Memory of the precomputed reference: 2 floats per pair. */
#ifndef VKT_PREF_TRAIN_H
#define VKT_PREF_TRAIN_H

#include "io/run_config.h"
#include "sched/pref_step.h"
#include "sched/reward_step.h"
#include "train/train_data.h"

/* The loss options of cfg's objective (beta, label smoothing, loss type); cfg must be a preference run. */
vkt_pref_opts vkt_pref_train_opts(const vkt_run_config *cfg);
/* How cfg's run gets its reference: NONE (orpo), MODEL (adapters, unless precompute_ref_log_probs) or HOST. */
vkt_pref_ref_mode vkt_pref_train_ref_mode(const vkt_run_config *cfg, bool adapters);

/* Creates the step program for m over d's batches. adapters: the model's hook holds trained adapters, so the
 * model without them is the reference. */
vkt_status vkt_pref_train_create(vkt_model *m, const vkt_run_config *cfg, bool adapters, const vkt_train_data *d,
                                 vkt_pref_step **out);
/* The reward model's program (finetune.objective reward) for m over d's batches: its score head is the entry
 * of train's table that vkt_score_head_find names (a LoRA adapter's base_model.model.score.weight), trained
 * with the rest. VKT_ERR_ARG (logged) when the table has none. */
vkt_status vkt_reward_train_create(vkt_model *m, const vkt_run_config *cfg, const vkt_trainable *train,
                                   const vkt_train_data *d, vkt_reward_step **out);

/* HOST mode: runs the reference pass over every training and validation pair with m's current weights (the
 * base) and stores the log-probs in d; nothing in other modes. Synchronous; logs its time. */
vkt_status vkt_pref_train_reference(vkt_pref_step *ps, vkt_train_data *d);

#endif
