/* Retrieval-augmented fine-tuning (RAG + FT, data.retrieve): every conversational example gets passages
 * from a full-text index (src/rag) put before its last user message (or into the system message), so the
 * model learns to answer from retrieved context, as `vktrain chat --index` will give it at inference
 * (src/chat/chat_rag.h places them the same way).
 *   - training examples that name their "gold" document get a RAFT context (rag_context.h: the gold
 *     passages among distractors, left out with probability p_no_gold, seeded per example);
 *   - the others, and every validation example, get the index's top k passages for the question, as at
 *     inference (no knowledge of the gold).
 * Prompt/completion and text examples are left as they are (counted). */
#ifndef VKT_SFT_RETRIEVE_H
#define VKT_SFT_RETRIEVE_H

#include <stdbool.h>

#include "chat/chat_rag.h"
#include "rag/rag_context.h"
#include "sft/sft_dataset.h"

typedef struct {
    vkt_rag_index *index;   /* borrowed */
    vkt_rag_raft_opts raft; /* k, n_gold, p_no_gold, hard_distractors, seed */
    vkt_context_place place;
    bool training;          /* RAFT for examples with a gold document; else plain top-k for all */
} vkt_sft_retrieve_opts;

typedef struct {
    int64_t n_raft;       /* RAFT contexts (gold known) */
    int64_t n_gold_kept;  /* of those, with the gold passages in */
    int64_t n_topk;       /* plain top-k contexts */
    int64_t n_gold_hit;   /* examples with a gold document whose top-k context holds one of its passages */
    int64_t n_gold_named; /* examples naming a gold document, among the top-k ones */
    int64_t n_untouched;  /* not conversational, or no user text */
} vkt_sft_retrieve_stats;

/* Adds the contexts to d's examples in place. VKT_ERR_ARG naming FILE:LINE for a gold document the index
 * does not hold (RAFT). */
vkt_status vkt_sft_retrieve(vkt_sft_dataset *d, const vkt_sft_retrieve_opts *o, vkt_sft_retrieve_stats *stats);

#endif
