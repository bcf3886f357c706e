/* Batches for pairwise objectives (DPO, ORPO, reward models): B rows of T positions holding the chosen
 * and rejected sequences of tokenized pairs (pref_tokenize.h), packed several to a row or one per row,
 * with the per-position tables of SFT batches (sft_pack.h) plus which sequence each loss position
 * belongs to and which sequences form a pair.
 *
 * A sequence of n tokens occupies n - 1 positions (inputs ids[0..n-2], targets ids[1..n-1]), as in SFT
 * batches; every sequence must fit a row (n - 1 <= T: tokenize with max_tokens = T + 1). The sequences
 * of a batch are numbered in pair order: its pair k has its chosen sequence 2k and its rejected one
 * 2k + 1. For each position b * T + t:
 *   tokens     the input id (pad_id at padding),
 *   targets    the target id where the target token is a completion token, else -100 (always at
 *              padding),
 *   seg_start  the row position where its sequence starts (attention within [seg_start, t], position
 *              id t - seg_start); padding at the end of a row gets the first padding position,
 *   seq_id     the sequence's number in the batch where targets is not -100, else -1: summing a
 *              target's log-probability into its seq_id gives each completion's log-probability.
 * and per pair k < n_pairs: pairs[2k] = 2k (chosen), pairs[2k + 1] = 2k + 1 (rejected), and
 * pair_index[k] its index in the tokenized data (for precomputed reference log-probabilities); rows k
 * >= n_pairs of both are -1 (the pair table's padding, as ops/pref_loss.h reads it). Per sequence s,
 * seq_last[s] is its last position b * T + t (its input there is its last token but one, its target
 * the last token: the end-of-turn marker or EOS), -1 past 2 * n_pairs; a score head that wants the
 * final token as an input (Hugging Face's sequence classification) reads one position further, which
 * the sequence does not hold. Both halves of a pair are always in the same batch.
 *
 * Packing (pack = true): each epoch the pairs are ordered (shuffled from (seed, epoch) when shuffle, else
 * in data order), cut into windows of `window` pairs, and each window is packed first-fit-decreasing
 * into batches (the pair with the longest sequence first; a pair goes into the first open batch where
 * its chosen sequence and then its rejected one each find a row with room, first fit, and which holds
 * fewer than max_pairs pairs; else it opens a batch). With shuffle the batches are shuffled too. One
 * sequence per row (pack = false): batches of floor(B / 2) pairs (at most max_pairs) in epoch order,
 * chosen in row 2k and rejected in row 2k + 1; an odd B leaves the last row as padding. Every pair is
 * in exactly one batch per epoch, whole.
 *
 * Position: {epoch, batch} (plus what the plan depends on, checked on restore) is the whole state: the
 * plan of an epoch is recomputed from (seed, epoch), so a restored packer gives exactly the batches an
 * uninterrupted run would have. Not thread-safe per packer; the data is borrowed. */
#ifndef VKT_PREF_PACK_H
#define VKT_PREF_PACK_H

#include <stdbool.h>
#include <stdint.h>

#include "sft/pref_tokenize.h"
#include "sft/sft_pack.h"
#include "vktrain/status.h"

typedef struct {
    const vkt_pref_tokenized *data; /* borrowed: must outlive the packer and not change */
    int64_t B, T;                   /* rows per batch, positions per row */
    bool pack;                      /* several sequences per row */
    bool shuffle;                   /* new pair order each epoch, from (seed, epoch) */
    uint64_t seed;
    int64_t window;    /* packing window in pairs (0: 512) */
    int64_t max_pairs; /* most pairs in a batch (0: no limit but room: B * T / 2 packed, B / 2 unpacked) */
    int32_t pad_id;    /* input id at padding positions */
} vkt_pref_pack_opts;

/* Plain integers: write them into a checkpoint as they are. */
typedef struct {
    int64_t epoch, batch;                       /* next batch to give */
    int64_t n_pairs, n_tokens, B, T, max_pairs; /* what the position refers to; checked on restore */
    uint64_t seed;
    int64_t pack, shuffle, window;
} vkt_pref_pack_state;

/* Counts of one epoch's plan. */
typedef struct {
    int64_t n_batches;
    int64_t n_positions;     /* n_batches * B * T */
    int64_t n_used;          /* positions holding a sequence */
    int64_t n_targets;       /* positions whose target carries loss */
    int64_t max_batch_pairs; /* the most pairs in one batch */
    double efficiency;       /* n_used / n_positions */
    double pairs_per_batch;  /* n_pairs / n_batches */
} vkt_pref_pack_stats;

/* One batch, written by vkt_pref_pack_next into caller-owned arrays. */
typedef struct {
    int32_t *tokens, *targets, *seg_start, *seq_id; /* (B, T) row-major each */
    int32_t *pairs;                                 /* (max_pairs, 2): vkt_pref_pack_max_pairs rows */
    int64_t *pair_index;                            /* (max_pairs) or NULL */
    int32_t *seq_last;                              /* (2 * max_pairs) or NULL */
    int32_t n_pairs;                                /* out: pairs in this batch (>= 1) */
} vkt_pref_batch;

typedef struct {
    vkt_pref_pack_opts o; /* data borrowed */
    int64_t epoch, batch;
    int64_t max_pairs; /* the effective limit */
    /* The current epoch's plan: batch k holds pairs order[batch_start[k] .. batch_start[k + 1]); the
     * sequences of the pair at plan place j sit at row row[2j + side], position pos[2j + side]. */
    int64_t *batch_start; /* owned (n_pairs + 1) */
    int64_t *order;       /* owned (n_pairs) */
    int32_t *row, *pos;   /* owned (2 * n_pairs) each */
    int64_t n_batches;
    vkt_pref_pack_stats stats; /* of the current epoch */
    int64_t *scratch;          /* owned: planning buffers */
} vkt_pref_pack;

/* Validates the options (VKT_ERR_ARG, logged: B, T < 1, negative window or max_pairs, no pairs, a
 * sequence longer than T + 1 tokens, one sequence per row with B < 2, or B = 1 with a pair whose two
 * sequences do not share a row) and plans epoch 0, logging its efficiency. Free with
 * vkt_pref_pack_free (safe on a failed init). */
vkt_status vkt_pref_pack_init(vkt_pref_pack *p, const vkt_pref_pack_opts *o);
void vkt_pref_pack_free(vkt_pref_pack *p);
/* Rows of the pairs / pair_index arrays a batch needs. */
int64_t vkt_pref_pack_max_pairs(const vkt_pref_pack *p);
/* The next batch into b's arrays; advances, planning the next epoch after the last batch of this one. */
vkt_status vkt_pref_pack_next(vkt_pref_pack *p, vkt_pref_batch *b);
vkt_pref_pack_state vkt_pref_pack_get_state(const vkt_pref_pack *p);
/* Resumes at a saved position: VKT_ERR_ARG (logged, naming the field) when the state was saved for
 * other data or options, or its batch is past its epoch. */
vkt_status vkt_pref_pack_set_state(vkt_pref_pack *p, const vkt_pref_pack_state *s);

#endif
