/* CPU references for per-sequence sums and their per-position weights (double precision); see
 * ops/seq_sum.h and ops/seq_scatter.h. */
#ifndef VKT_REF_SEQ_H
#define VKT_REF_SEQ_H

#include <stdint.h>

/* out[s, k] = scale * sum_{i: seq_ids[i] == s} values[i, k] (k < K), out[s, K] = their count; values (N, K),
 * out (S, K + 1). Ids outside [0, S) count for nothing. */
void vkt_ref_seq_sum(const double *values, int64_t K, const int32_t *seq_ids, int64_t N, double scale, double *out,
                     int64_t S);
/* weights[i] = -coef[seq_ids[i]] * (tok ? tok[i] : 1) for ids in [0, S), else 0. */
void vkt_ref_seq_scatter(const double *coef, int64_t S, const int32_t *seq_ids, const double *tok, int64_t N,
                         double *weights);

#endif
