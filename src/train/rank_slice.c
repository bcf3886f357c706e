/* One rank's rows of each global batch (see rank_slice.h). */
#include "train/rank_slice.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

vkt_status vkt_rank_slice_rows(int64_t B_global, int ranks, int64_t *B) {
    if (ranks < 1 || B_global % ranks != 0) {
        vkt_log_error("optim.batch_size %lld is the global batch, split evenly over the %d ranks: make it a "
                      "multiple of %d (e.g. optim.batch_size=%lld)",
                      (long long)B_global, ranks, ranks, (long long)((B_global / ranks + 1) * ranks));
        return VKT_ERR_ARG;
    }
    *B = B_global / ranks;
    return VKT_OK;
}

vkt_status vkt_rank_slice_init(vkt_rank_slice *s, vkt_batch_fn fill, void *ctx, int64_t B_global, int64_t T, int rank,
                               int ranks) {
    memset(s, 0, sizeof *s);
    VKT_TRY(vkt_rank_slice_rows(B_global, ranks, &s->B));
    s->fill = fill, s->ctx = ctx, s->T = T, s->rank = rank, s->ranks = ranks;
    if (ranks == 1) return VKT_OK;
    size_t n = (size_t)(B_global * T);
    s->tokens = malloc(n * sizeof *s->tokens);
    s->targets = malloc(n * sizeof *s->targets);
    s->seg_start = malloc(n * sizeof *s->seg_start);
    return s->tokens && s->targets && s->seg_start ? VKT_OK : VKT_ERR_OOM;
}

void vkt_rank_slice_free(vkt_rank_slice *s) {
    free(s->tokens);
    free(s->targets);
    free(s->seg_start);
    memset(s, 0, sizeof *s);
}

vkt_status vkt_rank_slice_fill(void *ctx, const vkt_batch *b) {
    vkt_rank_slice *s = ctx;
    if (s->ranks == 1) return s->fill(s->ctx, b);
    if (b->aux) {
        vkt_log_error("data-parallel ranks slice plain token batches; this objective's batches carry extra "
                      "inputs (preference pairs): run it on one rank (without mpirun)");
        return VKT_ERR_UNSUPPORTED;
    }
    size_t n = (size_t)(s->ranks * s->B * s->T), row0 = (size_t)(s->rank * s->B * s->T), len = (size_t)(s->B * s->T);
    memset(s->seg_start, 0, n * sizeof *s->seg_start); /* as vkt_step_fill_batch does for the model's batch */
    vkt_batch global = {s->tokens, s->targets, s->seg_start, NULL};
    VKT_TRY(s->fill(s->ctx, &global));
    memcpy(b->tokens, s->tokens + row0, len * sizeof *b->tokens);
    memcpy(b->targets, s->targets + row0, len * sizeof *b->targets);
    memcpy(b->seg_start, s->seg_start + row0, len * sizeof *b->seg_start);
    return VKT_OK;
}
