/* Per-sequence sums and per-position weights, reference (see ref_seq.h). */
#include "ref/ref_seq.h"

static int in_range(int32_t s, int64_t S) { return s >= 0 && s < S; }

void vkt_ref_seq_sum(const double *values, int64_t K, const int32_t *seq_ids, int64_t N, double scale, double *out,
                     int64_t S) {
    for (int64_t j = 0; j < S * (K + 1); j++) out[j] = 0;
    for (int64_t i = 0; i < N; i++) {
        if (!in_range(seq_ids[i], S)) continue;
        double *o = out + seq_ids[i] * (K + 1);
        for (int64_t k = 0; k < K; k++) o[k] += scale * values[i * K + k];
        o[K] += 1;
    }
}

void vkt_ref_seq_scatter(const double *coef, int64_t S, const int32_t *seq_ids, const double *tok, int64_t N,
                         double *weights) {
    for (int64_t i = 0; i < N; i++)
        weights[i] = in_range(seq_ids[i], S) ? -coef[seq_ids[i]] * (tok ? tok[i] : 1.0) : 0.0;
}
