/* SFT batches: B rows of T positions from tokenized examples (sft_tokenize.h), packed several to a
 * row or one per row, with the per-position table the attention kernels read to keep attention
 * within an example.
 *
 * An example of n tokens occupies n - 1 positions: inputs ids[0..n-2], targets ids[1..n-1], and
 * target -100 where the target token's loss flag is 0. Every example must fit a row (n - 1 <= T;
 * tokenize with max_tokens = T + 1). For each position b * T + t:
 *   tokens[b*T + t]    the input id (pad_id at padding positions),
 *   targets[b*T + t]   the target id or -100 (always -100 at padding),
 *   seg_start[b*T + t] the row position where its example starts, so attention stays within
 *                      [seg_start, t] and the position id restarts at t - seg_start; padding
 *                      positions at the end of a row get the first padding position (they form one
 *                      segment of their own, which no target reads).
 * Packing (pack = true): each epoch the examples are ordered (shuffled from (seed, epoch) when
 * shuffle, else in data order), cut into windows of `window` examples, and each window is packed
 * first-fit-decreasing (longest first into the first row with room), which fills rows well (FFD
 * uses at most 11/9 of the optimal rows + 1 per window); with shuffle the rows are then shuffled
 * too, so long and short examples mix across batches. Unpacked (pack = false): one example per row,
 * rows in example order (shuffled when shuffle). An epoch is ceil(rows / B) batches; rows past the
 * last row of the epoch are all padding. Every example is in exactly one row per epoch.
 *
 * Position: {epoch, batch} (plus what the plan depends on, checked on restore) is the whole state:
 * the plan of an epoch is recomputed from (seed, epoch), so a restored packer yields exactly the
 * batches an uninterrupted run would have. Not thread-safe per packer; the data is borrowed. */
#ifndef VKT_SFT_PACK_H
#define VKT_SFT_PACK_H

#include <stdbool.h>
#include <stdint.h>

#include "sft/sft_tokenize.h"
#include "vktrain/status.h"

#define VKT_SFT_IGNORE (-100) /* target of a position without loss */

typedef struct {
    const vkt_sft_tokenized *data; /* borrowed: must outlive the packer and not change */
    int64_t B, T;                  /* rows per batch, positions per row */
    bool pack;                     /* several examples per row */
    bool shuffle;                  /* new example order each epoch, from (seed, epoch) */
    uint64_t seed;
    int64_t window; /* packing window in examples (0: 1024) */
    int32_t pad_id; /* input id at padding positions (e.g. vkt_tok_pad, or 0) */
} vkt_sft_pack_opts;

/* Plain integers: write them into a checkpoint as they are. */
typedef struct {
    int64_t epoch, batch;               /* next batch to give */
    int64_t n_examples, n_tokens, B, T; /* what the position refers to; checked on restore */
    uint64_t seed;
    int64_t pack, shuffle, window;
} vkt_sft_pack_state;

/* Counts of one epoch's plan. */
typedef struct {
    int64_t n_rows, n_batches;
    int64_t n_positions; /* n_batches * B * T */
    int64_t n_used;      /* positions holding an example */
    int64_t n_targets;   /* positions whose target carries loss */
    double efficiency;   /* n_used / n_positions: the share that is not padding */
    double target_share; /* n_targets / n_positions */
} vkt_sft_pack_stats;

typedef struct {
    vkt_sft_pack_opts o; /* data borrowed */
    int64_t epoch, batch;
    /* The current epoch's plan: row r holds examples row_ex[row_start[r] .. row_start[r + 1]). */
    int64_t *row_start; /* owned (n_rows + 1) */
    int64_t *row_ex;    /* owned (n_examples) */
    int64_t n_rows;
    vkt_sft_pack_stats stats; /* of the current epoch */
    int64_t *scratch;         /* owned: planning buffers */
} vkt_sft_pack;

/* Validates the options (VKT_ERR_ARG: B, T < 1, no examples, an example longer than T + 1 tokens:
 * logged with its index and length) and plans epoch 0, logging its efficiency. Free with
 * vkt_sft_pack_free (safe on a failed init). */
vkt_status vkt_sft_pack_init(vkt_sft_pack *p, const vkt_sft_pack_opts *o);
void vkt_sft_pack_free(vkt_sft_pack *p);
/* The next batch into tokens, targets and seg_start, each (B, T) row-major int32; advances, planning
 * the next epoch after the last batch of this one. */
vkt_status vkt_sft_pack_next(vkt_sft_pack *p, int32_t *tokens, int32_t *targets, int32_t *seg_start);
vkt_sft_pack_state vkt_sft_pack_get_state(const vkt_sft_pack *p);
/* Resumes at a saved position: VKT_ERR_ARG (logged, naming the field) when the state was saved for
 * other data or options, or its batch is past its epoch. */
vkt_status vkt_sft_pack_set_state(vkt_sft_pack *p, const vkt_sft_pack_state *s);

#endif
