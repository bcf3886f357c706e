/* Contexts for retrieval-augmented fine-tuning and chat: RAFT-style passage selection for a question
 * with a known gold document, and the text block that puts passages into a system or user message.
 *
 * RAFT (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain Specific RAG", arXiv:2403.10131):
 * fine-tune on (question, context, answer) where the context mixes the gold passage with distractors,
 * and for a fraction of the questions leaves the gold out, so the model learns both to read the right
 * passage among wrong ones and to answer from what it learnt when retrieval misses. Here that fraction
 * is p_no_gold (RAFT's 1 - P). Selection is seeded per example (seed, example index), so a dataset is
 * rebuilt identically and each example draws independently of the others and of their order.
 * Thread safety: as the index handle (one thread at a time). */
#ifndef VKT_RAG_CONTEXT_H
#define VKT_RAG_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "rag/rag_index.h"

typedef struct {
    int32_t k;             /* passages in a context, >= 1 */
    int32_t n_gold;        /* gold passages when the gold is included, 1..k */
    double p_no_gold;      /* probability, in [0, 1], that a context leaves the gold passages out */
    bool hard_distractors; /* distractors: the question's best passages outside the gold document (topped
                            * up at random when too few match); else uniform over those passages */
    uint64_t seed;
} vkt_rag_raft_opts;

/* k = 4, n_gold = 1, p_no_gold = 0.2 (RAFT's P = 0.8), random distractors, seed 0. */
vkt_rag_raft_opts vkt_rag_raft_defaults(void);

/* The context for one training example: question, gold_source (a document path as stored in the
 * index, e.g. "harbour.md"), example (its index in the dataset, mixed into the seed).
 * Gold passages: the gold document's n_gold best passages for the question (its first passages when
 * fewer match). Draws, in order: whether to leave the gold out (uniform < p_no_gold), the random
 * distractors, then a shuffle of all k so the gold's position carries no signal.
 * *out (zeroed; caller frees) gets k passages, fewer when the index holds fewer; *n_gold_out (may be
 * NULL) how many are gold (their source equals gold_source). VKT_ERR_ARG for bad opts or a gold_source
 * the index does not hold (named, with an example of the index's sources). */
vkt_status vkt_rag_raft_select(vkt_rag_index *ix, const char *question, const char *gold_source, int64_t example,
                               const vkt_rag_raft_opts *opts, vkt_rag_hits *out, int32_t *n_gold_out);

/* "Context:\n[1] (harbour.md) text\n[2] (town.md: History) text" (heading after the source when
 * with_headings and the passage has one; no trailing newline; just "Context:" for n = 0), for the
 * caller to put into a system or user message. *out is malloc'd (caller frees). VKT_ERR_OOM only. */
vkt_status vkt_rag_format_context(const vkt_rag_hit *hits, int32_t n, bool with_headings, char **out);

#endif
