/* What a run trains on, behind one interface for the trainer: a pre-training corpus (dataset.h: text or
 * token shards, with the clm / mlm / fim objective), instruction and chat records (sft/sft_source.h),
 * chosen by data.format (auto: records when data.train is .json / .jsonl), or preference pairs
 * (sft/pref_source.h) when finetune.objective is dpo, ipo, orpo or reward, or GRPO prompts (rl/grpo_source.h)
 * when it is grpo, whose batches are the run's own completions (train/grpo_train.h). The trainer asks only for batches,
 * validation passes and the position to save in a checkpoint. Preference batches also fill the step
 * program's slot arrays (vkt_batch.aux: a vkt_pref_slot, sched/pref_step.h). */
#ifndef VKT_TRAIN_DATA_H
#define VKT_TRAIN_DATA_H

#include "rl/grpo_source.h"
#include "sft/pref_source.h"
#include "sft/sft_source.h"
#include "train/dataset.h"

typedef enum { VKT_DATA_TEXT = 0, VKT_DATA_SFT = 1, VKT_DATA_PREF = 2, VKT_DATA_GRPO = 3 } vkt_data_kind;

typedef struct {
    vkt_data_kind kind;     /* which one is in use */
    vkt_dataset text;       /* TEXT */
    vkt_sft_source records; /* SFT */
    vkt_pref_source pairs;  /* PREF */
    vkt_grpo_source prompts; /* GRPO */
} vkt_train_data;

/* The data position a checkpoint holds (checkpoint.h: data_epoch, data_batch, data_rng). */
typedef struct {
    int64_t epoch, batch;
    uint64_t rng[2];
} vkt_train_data_pos;

vkt_status vkt_train_data_init(vkt_train_data *d, const vkt_run_config *cfg, vkt_tokenizer *tok);
void vkt_train_data_free(vkt_train_data *d);
/* Model vocabulary the data needs (the tokenizer's, plus the objective's sentinels for text). */
int64_t vkt_train_data_vocab(const vkt_train_data *d, const vkt_tokenizer *tok);
bool vkt_train_data_has_val(const vkt_train_data *d);
/* vkt_batch_fn fillers (ctx = the vkt_train_data). PREF needs b->aux (a vkt_pref_slot); its ref array, when
 * set, gets the stored reference log-probs. */
vkt_status vkt_train_data_train_batch(void *ctx, const vkt_batch *b);
vkt_status vkt_train_data_val_batch(void *ctx, const vkt_batch *b);
/* Restarts validation; the batches one evaluation runs (SFT: every validation example once; text:
 * eval.steps). */
void vkt_train_data_reset_val(vkt_train_data *d);
int64_t vkt_train_data_val_batches(const vkt_train_data *d, int64_t eval_steps);
vkt_train_data_pos vkt_train_data_get_pos(const vkt_train_data *d);
vkt_status vkt_train_data_set_pos(vkt_train_data *d, const vkt_train_data_pos *p);

/* GRPO: validation prompts are answered by the run itself (train/grpo_train.h); val_batch refuses. */

/* PREF: the reference pass over split val (vkt_pref_source_ref_pass_*) as a filler of vkt_batch with aux. */
vkt_status vkt_train_data_ref_batch(void *ctx, const vkt_batch *b);

#endif
