/* The micro-batch of a reward model as a step program (sched/step.h): the Bradley-Terry loss of TRL's
 * RewardTrainer,  -log sigmoid(r_chosen - r_rejected) + center_rewards_coefficient (r_chosen + r_rejected)^2
 * (ops/pref_loss.h, VKT_PREF_BT), on the rewards of a scalar head (model/score_head.h) over the chosen and
 * rejected sequences of preference pairs in one batch (sft/pref_pack.h lays them out; a sequence's reward
 * is read at the position whose input is its last token, so the data is tokenized with one position per
 * token: pref_source.h).
 *
 * Per micro-batch: the model's hidden-state forward (VKT_FWD_HIDDEN_TRAIN when training) -> the head's
 * rewards (S, 2) -> pref_loss (dloss = m->dloss) -> the head's backward into its weight's gradient and the
 * model's backward from d(normf) (adapters through the hook). An evaluation records the forward only.
 * Metrics, as TRL's RewardTrainer names them (means over valid pairs): rewards/chosen, rewards/rejected,
 * margin, accuracy (strictly r_chosen > r_rejected), min_reward, mean_reward, max_reward.
 *
 * The head's weight is borrowed: a view into whatever the optimizer trains (a LoRA adapter's table, PEFT's
 * modules_to_save "score"). Not thread-safe. */
#ifndef VKT_REWARD_STEP_H
#define VKT_REWARD_STEP_H

#include "model/score_head.h"
#include "sched/pref_step.h"

typedef struct {
    float center_rewards_coef; /* TRL's center_rewards_coefficient (0: off) */
    int64_t max_pairs;         /* pair-table rows of a batch, >= 1 */
    vkt_tensor w;              /* (1, C) f32: the head's weight (borrowed view) */
    vkt_tensor dw;             /* (1, C) f32: its gradient, accumulated; arena NULL: the head does not train */
} vkt_reward_step_cfg;

typedef struct vkt_reward_step vkt_reward_step;

/* Allocates the slots (vkt_pref_slot with seq_last and last_id) and scratch for m's (B, T); m is borrowed.
 * VKT_ERR_ARG (logged) for max_pairs < 1 or a weight that is not (1, n_embd). */
vkt_status vkt_reward_step_create(vkt_model *m, const vkt_reward_step_cfg *cfg, vkt_reward_step **out);
void vkt_reward_step_destroy(vkt_reward_step *p); /* NULL-safe */

const vkt_step_program *vkt_reward_step_program(vkt_reward_step *p);
/* Short labels for the progress line, one per metric, NULL where a metric is left out of it. */
const char *const *vkt_reward_step_progress_labels(const vkt_reward_step *p);
size_t vkt_reward_step_memory(const vkt_reward_step *p);
/* (S, 2) f32 host-visible: (reward, 1) per sequence of the last micro-batch that completed, (0, 0) for
 * padding (shared by both slots: read it after a synchronous step; for tests). */
const vkt_tensor *vkt_reward_step_rewards(const vkt_reward_step *p);

#endif
