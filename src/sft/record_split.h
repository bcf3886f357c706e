/* The seeded train / validation split both record datasets use (sft_dataset.h, pref_dataset.h): which of n
 * records go to validation. The first round(fraction * n) of a seeded permutation (a partial Fisher-Yates,
 * so a record's side depends only on n, fraction and seed), at least one when fraction > 0 and n >= 2. */
#ifndef VKT_RECORD_SPLIT_H
#define VKT_RECORD_SPLIT_H

#include <stdint.h>

#include "vktrain/status.h"

/* *is_val (malloc'ed, n flags; the caller frees) marks the validation records. what names the data in messages
 * ("sft data"). VKT_ERR_ARG for a fraction outside [0, 1) or one that leaves no training record. */
vkt_status vkt_record_split(int64_t n, double fraction, uint64_t seed, const char *what, uint8_t **is_val);

#endif
