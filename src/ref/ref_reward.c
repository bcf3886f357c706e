/* Score head reference (see ref_reward.h). */
#include "ref/ref_reward.h"

#include <string.h>

void vkt_ref_score_head_fwd(const double *hidden, const double *w, const int32_t *seq_last, int64_t S, int64_t C,
                            double *rewards) {
    for (int64_t s = 0; s < S; s++) {
        double r = 0;
        if (seq_last[s] >= 0)
            for (int64_t c = 0; c < C; c++) r += w[c] * hidden[(int64_t)seq_last[s] * C + c];
        rewards[s] = r;
    }
}

void vkt_ref_score_head_bwd(const double *hidden, const double *w, const int32_t *seq_last, const double *drewards,
                            int64_t S, int64_t N, int64_t C, double *dhidden, double *dw) {
    if (dhidden) memset(dhidden, 0, (size_t)(N * C) * sizeof *dhidden);
    for (int64_t s = 0; s < S; s++) {
        if (seq_last[s] < 0) continue;
        const double *h = hidden + (int64_t)seq_last[s] * C;
        for (int64_t c = 0; c < C; c++) {
            if (dhidden) dhidden[(int64_t)seq_last[s] * C + c] += drewards[s] * w[c];
            if (dw) dw[c] += drewards[s] * h[c];
        }
    }
}
