/* A data-parallel rank's share of every global batch (llm.c's layout): the data source fills the whole
 * global batch of B_global rows (optim.batch_size), the same on every rank, and rank r trains on rows
 * [r * B, (r + 1) * B) with B = B_global / ranks. So the global batch, the data order and the data
 * position saved in a checkpoint do not depend on the number of ranks, and a run resumes on any number.
 * The cost: every rank builds the whole global batch on the host (tokenizing and packing, no device work).
 * With one rank the source fills the model's batch directly. */
#ifndef VKT_RANK_SLICE_H
#define VKT_RANK_SLICE_H

#include "sched/step.h"

typedef struct {
    vkt_batch_fn fill; /* borrowed: the global batch's filler */
    void *ctx;         /* borrowed */
    int64_t B, T;      /* this rank's rows, row length */
    int rank, ranks;
    int32_t *tokens, *targets, *seg_start; /* owned: the global batch (ranks * B, T); NULL for one rank */
} vkt_rank_slice;

/* This rank's rows for a global batch of B_global rows; VKT_ERR_ARG (logged, naming optim.batch_size)
 * unless ranks divides it. */
vkt_status vkt_rank_slice_rows(int64_t B_global, int ranks, int64_t *B);
vkt_status vkt_rank_slice_init(vkt_rank_slice *s, vkt_batch_fn fill, void *ctx, int64_t B_global, int64_t T, int rank,
                               int ranks);
void vkt_rank_slice_free(vkt_rank_slice *s);
/* vkt_batch_fn (ctx = the vkt_rank_slice): this rank's rows of the next global batch. Batches with extra
 * inputs (vkt_batch.aux) are not sliced: VKT_ERR_UNSUPPORTED with several ranks. */
vkt_status vkt_rank_slice_fill(void *ctx, const vkt_batch *b);

#endif
