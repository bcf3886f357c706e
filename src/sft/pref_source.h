/* The preference data of a training run (finetune.objective dpo, ipo, orpo or reward): pairs (pref_dataset.h) from
 * data.train (and data.val or a data.val_fraction split), rendered with the chat template and tokenized
 * with completion flags (pref_tokenize.h), then batched with both halves of every pair in one batch
 * (pref_pack.h). The trainer reads batches through vkt_pref_source_train_batch / _val_batch.
 *
 * Config keys (run_config.h): data.chat_template (as for SFT: the given template, else the one beside
 * tokenizer.path), data.packing, data.truncation ("right": bound the prompt by max_prompt_tokens, then cut
 * the completion's end; "drop": drop pairs over seq_len + 1 tokens; "left" is refused: prompts are cut from
 * the left by max_prompt_tokens), data.max_prompt_tokens, data.max_completion_tokens (TRL's
 * max_prompt_length / max_completion_length), data.bad_records ("skip" skips malformed records and
 * identical pairs), data.parse_special, data.val / val_fraction / shuffle and optim.seed.
 * A reward model's sequences are tokenized to at most seq_len tokens and carry a placeholder more
 * (vkt_pref_tokenized_append), so that each sequence's last token is an input (the score head reads it).
 *
 * Reference log-probabilities computed once (full fine-tuning DPO / IPO) are kept here per tokenized pair
 * and written into each batch: vkt_pref_source_ref_pass_* iterate every pair of a split once, in a fixed
 * order, and vkt_pref_source_ref_store records what the caller computed.
 *
 * Validation batches are never shuffled and one evaluation covers every validation pair once. The
 * checkpoint position is the training packer's {epoch, batch}. Not thread-safe. */
#ifndef VKT_PREF_SOURCE_H
#define VKT_PREF_SOURCE_H

#include <stdbool.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "io/run_config.h"
#include "sft/pref_pack.h"

typedef struct {
    vkt_pref_dataset train_ds, val_ds; /* the records (val_ds empty without validation) */
    vkt_pref_tokenized train, val;
    vkt_pref_pack train_pack, val_pack;
    bool has_val;
    vkt_chat_template *tmpl; /* owned; NULL when no pair is a conversation */
    int64_t B, T;
    int64_t max_pairs;      /* pair-table rows every batch fits (train and val) */
    float *ref[2];          /* owned or NULL: reference log p of sequence 2i / 2i + 1 of tokenized pair i, for
                             * train [0] and val [1] (2 n_pairs each), once stored */
    vkt_pref_pack ref_pack; /* the reference pass's packer (one epoch, data order) */
} vkt_pref_source;

/* Whether cfg's run trains on preference pairs: finetune.objective dpo, ipo, orpo or reward. */
bool vkt_pref_source_wanted(const vkt_run_config *cfg);

/* Loads, tokenizes and plans batches of cfg->batch_size x cfg->seq_len. Errors name the config key, file
 * and line (VKT_ERR_FORMAT / VKT_ERR_ARG). Free with vkt_pref_source_free (also after a failure). */
vkt_status vkt_pref_source_init(vkt_pref_source *s, const vkt_run_config *cfg, vkt_tokenizer *tok);
void vkt_pref_source_free(vkt_pref_source *s);

/* The next training / validation batch into b's arrays (caller-owned, max_pairs pair rows; pair_index
 * needed); ref (2 max_pairs) or NULL gets the stored reference log-probs of the batch's sequences (0 for
 * padding), VKT_ERR_ARG when none were stored. */
vkt_status vkt_pref_source_train_batch(vkt_pref_source *s, vkt_pref_batch *b, float *ref);
vkt_status vkt_pref_source_val_batch(vkt_pref_source *s, vkt_pref_batch *b, float *ref);
void vkt_pref_source_reset_val(vkt_pref_source *s);
int64_t vkt_pref_source_val_batches(const vkt_pref_source *s);

/* The reference pass over split val (false: training pairs): _begin plans every pair once in data order and
 * returns the batch count; _batch gives them in turn; _store records log p for the sequences of a batch
 * (seq_logps[2k + side] for pair row k < n_pairs, pair_index from the batch). */
vkt_status vkt_pref_source_ref_pass_begin(vkt_pref_source *s, bool val, int64_t *n_batches);
vkt_status vkt_pref_source_ref_pass_batch(vkt_pref_source *s, vkt_pref_batch *b);
vkt_status vkt_pref_source_ref_store(vkt_pref_source *s, bool val, const int64_t *pair_index, int32_t n_pairs,
                                     const float *seq_logps);

#endif
