/* Generations at each SFT evaluation: the first n validation records' prompts (a conversation up to its last
 * assistant message, or a prompt string) answered greedily by the model as it is at that step (adapters
 * included), written beside the reference answers so a run shows what it learnt, not only a loss:
 *   <run>/generations/step-NNNNNN.jsonl, one line per record:
 *   {"record": "FILE:LINE", "prompt": messages or string, "reference": text, "generated": text}
 * Text records (continued pre-training) have no prompt and are skipped. */
#ifndef VKT_SFT_EVAL_GEN_H
#define VKT_SFT_EVAL_GEN_H

#include "chat/chat.h"
#include "sft/sft_dataset.h"

typedef struct {
    vkt_device *dev;
    const vkt_model *model;         /* borrowed: its current parameters */
    const vkt_gen_adapter *adapter; /* borrowed, NULL: none (see train/generate.h) */
    vkt_tokenizer *tok;
    const vkt_chat_template *tmpl;  /* NULL when no record is a conversation */
    const vkt_sft_dataset *val;
    int64_t n, max_tokens;
} vkt_sft_eval_gen;

/* Writes the generations of step into dir/generations/step-NNNNNN.jsonl (the folder is made). */
vkt_status vkt_sft_eval_generate(const vkt_sft_eval_gen *g, const char *dir, int64_t step);

#endif
