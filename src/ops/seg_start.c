/* Document-start tables (see seg_start.h): plain host code, no device. */
#include "ops/seg_start.h"

#include <inttypes.h>

#include "core/log.h"

vkt_status vkt_seg_start_check(const int32_t *seg, int64_t B, int64_t T, const char *what) {
    for (int64_t b = 0; b < B; b++) {
        const int32_t *row = seg + b * T;
        for (int64_t t = 0; t < T; t++) {
            if (row[t] == t || (t > 0 && row[t] == row[t - 1])) continue;
            vkt_log_error("%s: row %" PRId64 " position %" PRId64 " has document start %" PRId32 "; each entry "
                          "must be its own position (a new document) or the previous entry (the same document), "
                          "and position 0 must be 0",
                          what, b, t, row[t]);
            return VKT_ERR_ARG;
        }
    }
    return VKT_OK;
}

vkt_status vkt_seg_start_from_lengths(int32_t *row, int64_t T, const int64_t *lengths, int n_docs) {
    int64_t t = 0;
    for (int d = 0; d < n_docs; d++) {
        if (lengths[d] < 1 || lengths[d] > T - t) {
            vkt_log_error("packed row of %" PRId64 " positions: document %d has length %" PRId64 " with %" PRId64
                          " positions left (lengths must be >= 1 and sum to at most the row)",
                          T, d, lengths[d], T - t);
            return VKT_ERR_ARG;
        }
        for (int64_t i = 0; i < lengths[d]; i++) row[t + i] = (int32_t)t;
        t += lengths[d];
    }
    for (int64_t i = t; i < T; i++) row[i] = (int32_t)t;
    return VKT_OK;
}
