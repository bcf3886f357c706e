/* Document-start tables for packed rows (SFT packing): the contract the attention, RoPE and embedding ops
 * rely on, and its host-side check.
 *
 * seg_start is (B, T) i32, row-major: for position t of row b, the index (within the row) of the first
 * position of its document. An unpacked row is all zeros. Well formed means, per row: seg[0] = 0 and, for
 * t > 0, seg[t] = t (a new document starts) or seg[t] = seg[t - 1] (the same document goes on); hence
 * 0 <= seg[t] <= t and non-decreasing, which the attention kernels use to skip whole blocks. Padding after
 * the last document should be a document of its own (seg = its first position): then no document sees it,
 * even under a bidirectional mask, and with targets -100 it adds nothing to loss or gradients.
 * The ops clamp a bad entry into [0, t] (no out-of-range access), but only a well-formed table gives
 * "every document as if alone"; vkt_seg_start_check is what the step runs on each filled batch.
 * Not here: choosing which examples share a row (the SFT packer). */
#ifndef VKT_OPS_SEG_START_H
#define VKT_OPS_SEG_START_H

#include <stdint.h>

#include "vktrain/status.h"

/* VKT_OK when seg (B*T) is well formed; otherwise logs the first bad (row, position), its value and the
 * rule, prefixed with `what` (e.g. "batch seg_start"), and returns VKT_ERR_ARG. Thread-safe. */
vkt_status vkt_seg_start_check(const int32_t *seg, int64_t B, int64_t T, const char *what);

/* Fills one row of T positions with documents of the given lengths in order (each >= 1, sum <= T); the
 * positions after them become one more document (padding). VKT_ERR_ARG (logged) on bad lengths. */
vkt_status vkt_seg_start_from_lengths(int32_t *row, int64_t T, const int64_t *lengths, int n_docs);

#endif
