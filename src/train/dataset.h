/* Training data for a run: the corpus (data/corpus.h: tokenized once, cached, split) batched by
 * data/loader.h, and the pre-training objective that turns each window into (inputs, targets):
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
#include "data/corpus.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "io/run_config.h"
#include "sched/step.h"

typedef struct {
    vkt_corpus corpus;           /* owned token streams */
    vkt_loader train, val;       /* val unused when has_val is false */
    bool has_val;
    int64_t B, T, tok_vocab;
    vkt_objective objective;
    double mask_prob, fim_rate;
    vkt_rng rng;                 /* objective randomness (masking, FIM cuts) */
    int32_t *windows, *fim_buf;  /* owned scratch: (B, T + 1) and (T + 1) */
    char identity[96];
} vkt_dataset;

/* Loads cfg->data_train (and data_val) with tok, for batches of cfg->batch_size x cfg->seq_len. */
vkt_status vkt_dataset_init(vkt_dataset *d, const vkt_run_config *cfg, vkt_tokenizer *tok);
void vkt_dataset_free(vkt_dataset *d);
/* Model vocabulary needed: the tokenizer's plus the objective's sentinels. */
int64_t vkt_dataset_vocab(const vkt_dataset *d);
/* vkt_batch_fn-compatible fillers (ctx = the dataset). The validation filler fails (VKT_ERR_ARG) when
 * there is no validation data (has_val false): a training batch is never passed off as validation. */
vkt_status vkt_dataset_train_batch(void *ctx, const vkt_batch *batch);
vkt_status vkt_dataset_val_batch(void *ctx, const vkt_batch *batch);
/* Restarts validation at its first batch so every evaluation sees the same data. */
void vkt_dataset_reset_val(vkt_dataset *d);

#endif
