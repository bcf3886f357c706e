/* Batches for next-token training: (B, T+1) windows of a token stream, split into inputs and targets.
 *
 * The stream is cut into n_windows = (n - 1) / T windows; window k covers tokens [k T, k T + T]
 * (T + 1 of them, overlapping the next window by one token), so inputs are tokens [k T, k T + T) and
 * targets are the same shifted by one. An epoch visits floor(n_windows / B) batches of B windows: in
 * order, or in a permutation drawn from (seed, epoch) when shuffling. Leftover windows of an epoch are
 * skipped for that epoch (a different permutation next epoch uses them).
 *
 * Position: {epoch, batch} plus the stream length, B, T and seed is the whole state. Saving it with
 * a checkpoint and restoring it gives exactly the batches an uninterrupted run would have seen.
 * Every id is checked against the vocabulary once, at init. Not thread-safe per loader. */
#ifndef VKT_DATA_LOADER_H
#define VKT_DATA_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "vktrain/status.h"

typedef struct {
    const int32_t *ids; /* borrowed: the token stream; must outlive the loader and not change */
    int64_t n;          /* tokens in ids */
    int64_t B, T;       /* batch size, sequence length */
    int64_t vocab_size; /* every id must be in [0, vocab_size) */
    bool shuffle;       /* permute windows each epoch */
    uint64_t seed;      /* shuffle seed */
} vkt_loader_opts;

/* Plain integers: write them into a checkpoint as they are. */
typedef struct {
    int64_t epoch;          /* current epoch, from 0 */
    int64_t batch;          /* next batch within the epoch */
    int64_t n_tokens, B, T; /* what the position refers to; checked on restore */
    uint64_t seed;
    int64_t shuffle; /* 0 or 1 */
} vkt_loader_state;

typedef struct {
    vkt_loader_opts o; /* ids borrowed */
    int64_t n_windows;
    int64_t batches_per_epoch;
    int64_t *order; /* owned: n_windows window indices for the current epoch */
    int64_t epoch, batch;
} vkt_loader;

/* Validates options and ids (VKT_ERR_ARG: too few tokens for one batch, bad sizes; VKT_ERR_FORMAT: an id
 * outside [0, vocab_size), logged with its position and window). Free with vkt_loader_free. */
vkt_status vkt_loader_init(vkt_loader *l, const vkt_loader_opts *o);
void vkt_loader_free(vkt_loader *l);

/* The next batch as B windows of T + 1 tokens, row-major (B, T+1). Advances, wrapping into the next
 * epoch (reshuffled) after the last batch. */
vkt_status vkt_loader_next_windows(vkt_loader *l, int32_t *windows);
/* The next batch as inputs (B, T) and targets (B, T) (targets[b][t] = inputs[b][t+1] within a window). */
vkt_status vkt_loader_next(vkt_loader *l, int32_t *inputs, int32_t *targets);

vkt_loader_state vkt_loader_get_state(const vkt_loader *l);
/* Resumes at a saved position. VKT_ERR_ARG (logged, naming the field) if the state was saved for a
 * different stream length, B, T, seed or shuffle setting, or its batch is out of range. */
vkt_status vkt_loader_set_state(vkt_loader *l, const vkt_loader_state *s);

#endif
