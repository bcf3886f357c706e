/* The SFT data of a training run: instruction / chat records (sft_dataset.h) from data.train (and data.val
 * or a data.val_fraction split), optionally augmented with retrieved passages (sft_retrieve.h), rendered
 * with the chat template and masked (sft_tokenize.h), then batched with packing (sft_pack.h). The trainer
 * reads batches through vkt_sft_source_train_batch / _val_batch, which also fill the per-position document
 * table the attention and position kernels read.
 *
 * data.format "sft" selects it; "auto" (the default) does when data.train is a .json / .jsonl file or a
 * folder holding them and no .txt or token shard. Config keys (run_config.h data section): chat_template,
 * loss_on, packing, truncation, bad_records, parse_special, retrieve*, and val / val_fraction / shuffle /
 * optim.seed as for text. Validation batches are never shuffled and one evaluation covers every validation
 * example once (vkt_sft_source_val_batches). */
#ifndef VKT_SFT_SOURCE_H
#define VKT_SFT_SOURCE_H

#include <stdbool.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "io/run_config.h"
#include "rag/rag_index.h"
#include "sft/sft_pack.h"

typedef struct {
    vkt_sft_dataset train_ds, val_ds; /* the records (val_ds empty without validation) */
    vkt_sft_tokenized train, val;
    vkt_sft_pack train_pack, val_pack;
    bool has_val;
    vkt_chat_template *tmpl;          /* owned; NULL when no record is a conversation */
    vkt_rag_index *index;             /* owned; NULL without data.retrieve */
    int64_t B, T;
} vkt_sft_source;

/* The index of a config key's string value among names[0..n) into *out; VKT_ERR_FORMAT (logged, naming the
 * key and the choices) otherwise. */
vkt_status vkt_config_choose(const char *key, const char *value, const char *const *names, int n, int *out);

/* Whether cfg's data is SFT records (data.format, or auto by data.train's files). */
bool vkt_sft_source_wanted(const vkt_run_config *cfg);

/* Loads, augments, tokenizes and plans batches of cfg->batch_size x cfg->seq_len. The chat template is
 * data.chat_template, else the one beside tokenizer.path (tokenizer_config.json). Errors name the config key,
 * file and line. Free with vkt_sft_source_free (also after a failure). */
vkt_status vkt_sft_source_init(vkt_sft_source *s, const vkt_run_config *cfg, vkt_tokenizer *tok);
void vkt_sft_source_free(vkt_sft_source *s);

/* Batches: tokens, targets (-100: no loss) and seg_start, each B*T int32 (ctx = the source). */
vkt_status vkt_sft_source_train_batch(void *ctx, int32_t *tokens, int32_t *targets, int32_t *seg_start);
vkt_status vkt_sft_source_val_batch(void *ctx, int32_t *tokens, int32_t *targets, int32_t *seg_start);
/* Restarts validation at its first batch; the batches of one pass over the validation examples. */
void vkt_sft_source_reset_val(vkt_sft_source *s);
int64_t vkt_sft_source_val_batches(const vkt_sft_source *s);

#endif
