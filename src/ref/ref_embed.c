/* Embedding reference: a gather forward and a scatter-add backward, in the plainest order. */
#include "ref/ref_embed.h"

/* Position of row (b, t): t, less its document's start in a packed batch. */
static int64_t position(const int32_t *seg_start, int64_t T, int64_t b, int64_t t) {
    return t - (seg_start ? seg_start[b * T + t] : 0);
}

void vkt_ref_embed_fwd(const int32_t *tokens, const double *wte, const double *wpe, int64_t B, int64_t T, int64_t C,
                       int64_t V, int64_t pos0, const int32_t *seg_start, double *out) {
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const int32_t id = tokens[b * T + t];
            const int64_t p = pos0 + position(seg_start, T, b, t);
            double *o = out + (b * T + t) * C;
            for (int64_t c = 0; c < C; c++) {
                o[c] = id >= 0 && id < V ? wte[id * C + c] : 0.0;
                if (wpe) o[c] += wpe[p * C + c];
            }
        }
    }
}

void vkt_ref_embed_bwd(const double *dout, const int32_t *tokens, int64_t B, int64_t T, int64_t C, int64_t V,
                       int64_t pos0, const int32_t *seg_start, double *dwte, double *dwpe) {
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const int32_t id = tokens[b * T + t];
            const int64_t p = pos0 + position(seg_start, T, b, t);
            const double *d = dout + (b * T + t) * C;
            for (int64_t c = 0; c < C; c++) {
                if (id >= 0 && id < V) dwte[id * C + c] += d[c];
                if (dwpe) dwpe[p * C + c] += d[c];
            }
        }
    }
}
