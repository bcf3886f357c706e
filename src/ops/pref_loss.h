/* Pairwise preference losses on the device: DPO (sigmoid with cDPO label smoothing, robust), IPO, ORPO and
 * the Bradley-Terry reward-model loss, with TRL's metrics and the gradient with respect to every
 * sequence's value.
 *
 * Inputs are per-sequence values: log p(sequence) and its token count from vkt_op_seq_sum for DPO, IPO
 * and ORPO (policy, and the reference for DPO/IPO), or one reward per sequence (a score head) for BT.
 * A pair table names each pair's chosen and rejected sequence; a pair of -1s is padding. Conventions are
 * TRL's (trl/trainer/dpo_trainer.py, reward_trainer.py, experimental/orpo/orpo_trainer.py, 2026):
 *   DPO sigmoid  -(1-e) log sig(z) - e log sig(-z), z = beta ((pc - rc) - (pr - rr)) (TRL up to 0.28 applied
 *                label_smoothing e to "sigmoid" like this; 0.29+ applies it only in "robust"/"exo_pair":
 *                e = 0 is the same loss in both)
 *   DPO robust   (-(1-e) log sig(z) + e log sig(-z)) / (1 - 2e)
 *   IPO          ((pc - rc)/nc - (pr - rr)/nr - 1/(2 beta))^2: log-ratios averaged over completion tokens
 *   ORPO         NLL - lambda mean log sig(lo), lo = (ac - ar) - (log(1 - e^ac) - log(1 - e^ar)), a = logp/n
 *                the length-averaged log-prob (lambda is TRL's ORPOConfig.beta); NLL = -sum pc / sum nc over
 *                the chosen completions (tokens pooled, as nn.CrossEntropyLoss over the chosen half). TRL
 *                takes that NLL over prompt + completion tokens; here over the chosen sequence's counted
 *                tokens, the completion (as issue 9 asks; the prompt variant would need a third column).
 *   BT           -log sig(rc - rr - m) + center (rc + rr)^2, m an optional per-pair margin
 * loss = mean over the valid pairs (+ ORPO's NLL). Metrics (vkt_pref_stats) are means over valid pairs:
 * rewards/chosen = beta (pc - rc) for DPO/IPO, lambda ac for ORPO, rc for BT; rewards/accuracies counts
 * rewards/chosen > rewards/rejected (strict); logps/chosen and logps/rejected are summed log-probs for
 * DPO/IPO, averaged for ORPO.
 *
 * Per step the trainer records (chosen and rejected rows in one batch; seq_ids marks each completion's
 * target positions, ops/seq_sum.h):
 *   1. DPO/IPO only: reference forward (LoRA/QLoRA: adapters disabled) -> vkt_op_xent_fwd -> vkt_op_seq_sum
 *      (losses, seq_ids, -1) -> ref (S, 2); or precomputed reference log-probs uploaded as (S)
 *   2. policy forward -> vkt_op_xent_fwd (losses, rowstats) -> vkt_op_seq_sum(losses, seq_ids, -1) -> policy
 *   3. vkt_op_pref_loss -> dseq, metrics (dloss = 1/accum steps)
 *   4. vkt_op_seq_scatter(dseq, seq_ids, NULL) -> weights (N)
 *   5. vkt_op_xent_bwd_weighted (dloss 1; in place on the logits), then the model backward
 * BT instead runs the score head on each sequence's last token, then 3, then the head's backward from dseq
 * (model/score_head.h; the reward-model step is sched/reward_step.h).
 *
 * Not done here: GRPO
 * (ops/grpo.h), TRL's other DPO loss types (hinge, exo_pair, bco_pair, ...). */
#ifndef VKT_OP_PREF_LOSS_H
#define VKT_OP_PREF_LOSS_H

#include "vk/record.h"

typedef enum {
    VKT_PREF_DPO_SIGMOID = 0,
    VKT_PREF_DPO_ROBUST = 1,
    VKT_PREF_IPO = 2,
    VKT_PREF_ORPO = 3,
    VKT_PREF_BT = 4,
} vkt_pref_loss_type;

typedef struct {
    vkt_pref_loss_type type;
    float beta;                /* DPO, IPO (TRL default 0.1) */
    float label_smoothing;     /* DPO sigmoid and robust, in [0, 0.5) (default 0) */
    float orpo_lambda;         /* ORPO's odds-ratio weight (TRL's ORPOConfig.beta, default 0.1) */
    float center_rewards_coef; /* BT: TRL's center_rewards_coefficient (default 0: off) */
    float dloss;               /* scales dseq: 1, or 1/accum steps when accumulating (fixed at record time) */
} vkt_pref_opts;

vkt_pref_opts vkt_pref_opts_default(vkt_pref_loss_type type);

/* Device layout of the metrics (a tensor of 16 f32). TRL's metric names in comments. */
typedef struct {
    float loss;               /* the objective: mean pair loss (+ ORPO's NLL) */
    float rewards_chosen;     /* rewards/chosen (BT: mean chosen reward) */
    float rewards_rejected;   /* rewards/rejected */
    float rewards_margins;    /* rewards/margins (BT: "margin") */
    float rewards_accuracies; /* rewards/accuracies (BT: "accuracy") */
    float logps_chosen;       /* logps/chosen (0 for BT) */
    float logps_rejected;     /* logps/rejected */
    float nll_loss;           /* ORPO: nll_loss */
    float log_odds_ratio;     /* ORPO: log_odds_ratio = mean log sig(lo) */
    float log_odds_chosen;    /* ORPO: log_odds_chosen = mean lo */
    float reward_min;         /* min_reward over chosen and rejected (BT); 0 without valid pairs */
    float reward_max;         /* max_reward */
    float reward_mean;        /* mean_reward */
    uint32_t n_pairs;         /* valid pairs */
    uint32_t n_bad_pairs;     /* pairs with an index outside [0, S) that are not (-1, -1) padding: skipped */
    float _reserved;
} vkt_pref_stats;
_Static_assert(sizeof(vkt_pref_stats) == 64, "keep in sync with the stats of shaders/pref_loss.comp");

/* Records the loss, metrics and gradient.
 *   policy      (S, 2) f32 (log p, n_tokens) per sequence, or (S) f32 values; IPO and ORPO need (S, 2);
 *               BT reads column 0 as the reward
 *   ref         (S, 2) or (S) f32 reference log-probs (DPO, IPO; NULL otherwise; precomputed ones may be
 *               uploaded as (S)); IPO divides by the policy's token counts
 *   pairs       (P, 2) i32: chosen, rejected sequence index; (-1, -1) for padding
 *   margins     (P) f32 or NULL: BT's per-pair margin
 *   pair_losses (P) f32, written: each pair's loss (0 for skipped pairs; ORPO's NLL is not in it)
 *   dseq        (S) f32, written: dloss * dL/d(policy value of s), 0 for sequences in no pair; feed it to
 *               vkt_op_seq_scatter (ops/seq_scatter.h) for the per-position weights
 *   stats       (16) f32, written: vkt_pref_stats
 * S = numel(dseq). Returns a Vulkan status, or VKT_ERR_UNSUPPORTED (logged) on a CPU driver when
 * ceil(S / 64) * P exceeds its loop limit (P above about 1380 when S = 2P); shape and option errors
 * abort (VKT_ASSERT). Not thread-safe. */
vkt_status vkt_op_pref_loss(vkt_rec *r, const vkt_tensor *policy, const vkt_tensor *ref, const vkt_tensor *pairs,
                            const vkt_tensor *margins, const vkt_tensor *pair_losses, const vkt_tensor *dseq,
                            const vkt_tensor *stats, const vkt_pref_opts *o);

#endif
