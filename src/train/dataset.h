/* Training data in memory: one token stream per split, and batches drawn from it for an objective.
 *
 * Windows of T + 1 tokens start at seeded random offsets (sampling with replacement, as nanoGPT does)
 * or, with shuffle off, walk the stream in order. The objective turns a window into (inputs, targets):
 *   clm  next-token prediction: inputs w[0..T), targets w[1..T]
 *   mlm  masked tokens (bidirectional encoder): mask_prob of the positions are chosen; of those 80%
 *        become the mask token, 10% a random token, 10% stay; targets are the original tokens there and
 *        -100 elsewhere (BERT, Devlin et al. 2019)
 *   fim  fill in the middle (Bavarian et al. 2022, PSM form): with probability fim_rate a window is cut
 *        at two random points into prefix, middle, suffix and rearranged as
 *        <pre> prefix <suf> suffix <mid> middle, trained with next-token prediction
 * The sentinel tokens (mask, pre, suf, mid) take ids just past the tokenizer's vocabulary; the model's
 * vocabulary must include them (vkt_dataset_vocab). */
#ifndef VKT_DATASET_H
#define VKT_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rng.h"
#include "io/run_config.h"

typedef struct {
    int32_t *ids;        /* owned token stream */
    int64_t n;
    int64_t cursor;      /* next window start when not shuffling */
} vkt_split;

typedef struct {
    vkt_split train, val;
    int64_t B, T, tok_vocab;
    vkt_objective objective;
    double mask_prob, fim_rate;
    bool shuffle;
    vkt_rng rng, val_rng;
    uint64_t val_seed;
    int32_t *window, *fim_buf; /* owned scratch (T + 1 each) */
} vkt_dataset;

/* Splits `ids` (n tokens, consumed: the dataset takes ownership) into train and validation (the last
 * val_fraction; at least T + 1 tokens each). */
vkt_status vkt_dataset_init(vkt_dataset *d, int32_t *ids, int64_t n, const vkt_run_config *cfg, int64_t tok_vocab);
void vkt_dataset_free(vkt_dataset *d);
/* Model vocabulary needed: the tokenizer's plus the objective's sentinels. */
int64_t vkt_dataset_vocab(const vkt_dataset *d);
/* vkt_batch_fn-compatible fillers (ctx = the dataset). */
vkt_status vkt_dataset_train_batch(void *ctx, int32_t *inputs, int32_t *targets);
vkt_status vkt_dataset_val_batch(void *ctx, int32_t *inputs, int32_t *targets);
/* Restarts validation sampling so every evaluation sees the same batches. */
void vkt_dataset_reset_val(vkt_dataset *d);

#endif
