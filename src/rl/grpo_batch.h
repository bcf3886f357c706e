/* GRPO training batches from a rollout set (rollout.h): rewards per completion (reward.h), advantages
 * normalised within each prompt's group (ops/grpo.h's formulas, computed by the double reference
 * ref_grpo.h: the same numbers the device op gives, and equal rewards give exactly 0), and the
 * prompt + completion sequences laid out as the other sequence objectives lay them out (pref_pack.h).
 *
 * A completion's sequence is its prompt's ids followed by its own ids (n tokens), occupying n - 1
 * positions (inputs ids[0..n-2], targets ids[1..n-1]); n - 1 <= T is required. For each position
 * b * T + t of a batch:
 *   tokens     the input id (pad_id at padding),
 *   targets    the target id where the target is a completion id, else -100 (prompt, padding),
 *   seg_start  the row position where its sequence starts (attention within [seg_start, t], position
 *              id t - seg_start); padding at the end of a row gets the first padding position,
 *   seq_id     the sequence's index in the batch (0..n_seqs-1) where targets is not -100, else -1:
 *              ops/grpo.h's seq_ids (every completion id, the stop id included, is one target).
 * Per sequence s < max_seqs: completion[s] its index in the set, group[s] its prompt's index (the GRPO
 * group), rewards[s] and advantages[s]; past n_seqs: -1, -1, 0, 0 (a padded completion has no
 * position and no advantage, so it adds nothing).
 *
 * Filling: sequences are taken in set order from `first` until one does not fit (or max_seqs are in):
 * packed, each into the first row with room; unpacked, one per row. The caller loops over
 * micro-batches with *next until it reaches the set's size (a GRPO step with gradient accumulation),
 * and the sequences of one group may span two micro-batches (the advantages are already computed). */
#ifndef VKT_GRPO_BATCH_H
#define VKT_GRPO_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/grpo.h"
#include "rl/reward.h"
#include "rl/rollout.h"

/* Rewards of every completion of set (answers: one per prompt, NUL-terminated, or NULL entries /
 * NULL when there are none): rewards[i] the weighted sum, terms[i * n_terms + k] (when not NULL) term k.
 * given (n x n_terms, or NULL when the spec has no "model" term): the reward models' scores in their
 * terms' columns (rl/reward_models.h). Errors as vkt_reward_score_given. */
vkt_status vkt_grpo_score(vkt_reward *reward, const vkt_rollout_set *set, const char *const *answers,
                          const float *given, float *rewards, float *terms);

/* Group-normalised advantages of n rewards in groups of G (n a multiple of G): TRL's (r - mean_g) /
 * (std + 1e-4) with std per scale (vkt_grpo_scale). stats (may be NULL): reward mean, std (Bessel), the
 * share of completions in groups whose std is 0 (TRL's frac_reward_zero_std). */
void vkt_grpo_group_advantages(const float *rewards, int64_t n, int64_t G, vkt_grpo_scale scale, float *advantages,
                               float stats[3]);

typedef struct {
    int64_t B, T;     /* rows, positions per row */
    int64_t max_seqs; /* sequences per batch (the S the step is recorded for); 0: B * T */
    bool pack;        /* several sequences per row */
    int32_t pad_id;
} vkt_grpo_batch_opts;

/* Caller-owned arrays: (B, T) each for the first four, (max_seqs) for the rest. */
typedef struct {
    int32_t *tokens, *targets, *seg_start, *seq_id;
    int64_t *completion;
    int32_t *group;
    float *rewards, *advantages;
    int32_t n_seqs;    /* out */
    int64_t n_targets; /* out: completion positions (seq_id >= 0) */
} vkt_grpo_batch;

/* Fills b from completion `first` of set; *next gets the index after the last one taken. VKT_ERR_ARG
 * (logged) for bad options, first out of range, or a sequence longer than T + 1 tokens. */
vkt_status vkt_grpo_batch_fill(const vkt_rollout_set *set, const float *rewards, const float *advantages, int64_t first,
                               const vkt_grpo_batch_opts *o, vkt_grpo_batch *b, int64_t *next);

#endif
