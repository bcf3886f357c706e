/* Rewards of conversations from a reward model (`vktrain score`): each record of a file in the SFT formats
 * (sft/sft_dataset.h: {"messages": [...]}, {"prompt", "completion"}, {"text"}, ...) is encoded exactly as
 * SFT encodes it (sft/sft_tokenize.h: conversations through the chat template, prompt + completion + EOS,
 * text + EOS), placed alone in a row, and scored by the score head on the final-norm hidden state at its
 * last token (model/score_head.h) -- the position a reward model trained here reads (pref_source.h).
 *
 * Errors name the file and line: records the SFT loader refuses (bad JSON, an empty completion, a
 * conversation without an assistant turn), a record longer than the model's T; a file with conversations
 * and no chat template is refused as vkt_chat_template_resolve refuses it. Not thread-safe. */
#ifndef VKT_SCORE_H
#define VKT_SCORE_H

#include "chat/chat_template.h"
#include "data/tokenizer.h"
#include "model/model.h"
#include "sft/sft_dataset.h"

typedef struct {
    vkt_model *model;              /* borrowed: any mode, (B, T) = rows scored at once, longest record; its
                                    * hook holds the adapter (unmerged) when there is one */
    vkt_tensor w;                  /* (1, C) f32 score.weight (borrowed view) */
    vkt_tokenizer *tok;            /* borrowed */
    const char *template_spec;     /* borrowed or NULL: the chat template for conversations, as
                                    * vkt_chat_template_resolve takes it (NULL: the one beside the tokenizer) */
    const char *tokenizer_spec;    /* borrowed or NULL: where the tokenizer came from (its template) */
    const vkt_chat_template *chat; /* borrowed or NULL: the template, ready (then template_spec is not used) */
    bool parse_special;            /* special-token text in plain strings (as data.parse_special) */
    bool keep_end;                 /* a record over T tokens keeps its last T (it is scored at its end) instead
                                    * of being an error (GRPO: a long completion still gets a reward) */
} vkt_score_opts;

/* Scores every record of path in file order: *rewards (malloc'd, *n of them; the caller frees). */
vkt_status vkt_score_file(const vkt_score_opts *o, const char *path, double **rewards, int64_t *n);

/* Scores the records of d (borrowed, e.g. built in memory: conversations need o->chat) into rewards[d->n],
 * as vkt_score_file scores a file's; *n_cut (may be NULL) gets the records keep_end cut. */
vkt_status vkt_score_dataset(const vkt_score_opts *o, const vkt_sft_dataset *d, double *rewards, int64_t *n_cut);

#endif
