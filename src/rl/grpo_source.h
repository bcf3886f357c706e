/* The prompts of a GRPO run (finetune.objective grpo): records of data.train (and data.val, or a
 * data.val_fraction split) holding a prompt and, for rewards that compare with one, its reference answer.
 * Nothing here tokenizes (rl/rollout.h encodes prompts as the SFT data does) or scores (rl/reward.h).
 *
 * Records (a JSON array, JSONL, or a folder of them, as for SFT data: sft/json_records.h), TRL's prompt-only
 * forms:
 *   "prompt"  a string (standard form), or a message list ending on a user or tool turn (conversational form,
 *             rendered with the chat template and its generation prompt); optional "tools" beside it
 *   answer    finetune.answer_key ("answer"): a string or a number (as written); needed by exact_match
 *             rewards. Other keys ("completion", ids) are ignored.
 * Errors: "FILE:LINE: REASON" naming the key (sft/json_records.h), VKT_ERR_FORMAT; with data.bad_records
 * "skip" malformed records are skipped and counted.
 *
 * Training prompts come in epochs, each in a fresh seeded order (optim.seed, data.shuffle) or in data order;
 * a prompt's identity (for its rollout seeds) is its index in the training set. The checkpoint position is
 * {epoch, prompts taken in that epoch}. Not thread-safe. */
#ifndef VKT_GRPO_SOURCE_H
#define VKT_GRPO_SOURCE_H

#include <stdbool.h>

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "io/run_config.h"
#include "rl/rollout.h"

typedef struct {
    cJSON *messages, *tools; /* owned or NULL: a conversational prompt */
    char *text;              /* owned: the text prompt when messages is NULL */
    char *answer;            /* owned or NULL: the reference answer */
    int32_t file;            /* index into the set's files */
    int64_t line;
} vkt_grpo_record;

typedef struct {
    vkt_grpo_record *r; /* owned (n) */
    int64_t n, cap;
    char **files; /* owned (n_files) */
    int32_t n_files;
    int64_t n_skipped;
} vkt_grpo_records;

typedef struct {
    vkt_grpo_records train, val;
    bool has_val, shuffle;
    vkt_chat_template *tmpl; /* owned; NULL when no prompt is a conversation */
    uint64_t seed;
    int64_t epoch, taken; /* training position: prompts of this epoch handed out */
    int64_t *order;       /* owned (train.n): this epoch's order */
} vkt_grpo_source;

/* Whether cfg's run trains with GRPO (finetune.objective grpo). */
bool vkt_grpo_source_wanted(const vkt_run_config *cfg);

/* Loads the records (answer field finetune.answer_key) and resolves the chat template when a prompt is a
 * conversation. Free with vkt_grpo_source_free (also after a failure). */
vkt_status vkt_grpo_source_init(vkt_grpo_source *s, const vkt_run_config *cfg, vkt_tokenizer *tok);
/* Every record has an answer (for rewards that compare with one): VKT_ERR_FORMAT naming the first that has none
 * and key, the answer field. */
vkt_status vkt_grpo_source_check_answers(const vkt_grpo_source *s, const char *key);
void vkt_grpo_source_free(vkt_grpo_source *s);

/* "FILE:LINE" of a record, into buf. */
const char *vkt_grpo_record_where(const vkt_grpo_records *set, int64_t i, char *buf, size_t len);
/* Record i of set as a rollout prompt (borrowing it), its identity id. */
vkt_rl_prompt vkt_grpo_record_prompt(const vkt_grpo_records *set, int64_t i, int64_t id);

/* The next n training prompts (wrapping into new epochs) into prompts[n] (borrowing the records) and their
 * answers into answers[n] (NULL entries where there is none). */
void vkt_grpo_source_next(vkt_grpo_source *s, int64_t n, vkt_rl_prompt *prompts, const char **answers);
/* The checkpoint position and its restore (VKT_ERR_ARG when it does not fit the data). */
void vkt_grpo_source_get_pos(const vkt_grpo_source *s, int64_t *epoch, int64_t *taken);
vkt_status vkt_grpo_source_set_pos(vkt_grpo_source *s, int64_t epoch, int64_t taken);

#endif
