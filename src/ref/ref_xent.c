/* Softmax cross-entropy reference: max-subtracted log-sum-exp per row, accumulated in double. */
#include "ref/ref_xent.h"

#include <math.h>
#include <stddef.h>

static int valid(int32_t t, int64_t V, int32_t ignore_index) { return t != ignore_index && t >= 0 && t < V; }

/* Returns log sum_j exp(x_j - m), with m = max_j x_j stored in *m. */
static double row_lse(const double *x, int64_t V, double *m) {
    double mx = -INFINITY, s = 0;
    for (int64_t j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    for (int64_t j = 0; j < V; j++) s += exp(x[j] - mx);
    *m = mx;
    return log(s);
}

double vkt_ref_xent_fwd(const double *logits, const int32_t *targets, double *losses, int64_t N, int64_t V,
                        int32_t ignore_index, int64_t *n_valid) {
    double sum = 0;
    int64_t n = 0;
    for (int64_t r = 0; r < N; r++) {
        losses[r] = 0;
        if (!valid(targets[r], V, ignore_index)) continue;
        double m, l = row_lse(logits + r * V, V, &m);
        losses[r] = (m - logits[r * V + targets[r]]) + l;
        sum += losses[r], n++;
    }
    *n_valid = n;
    return n ? sum / (double)n : 0;
}

/* dlogits rows (softmax - onehot) * scale(r), zero for ignored rows. */
static void rows_grad(const double *logits, const int32_t *targets, double *dlogits, int64_t N, int64_t V,
                      int32_t ignore_index, double dloss, const double *weights, double uniform) {
    for (int64_t r = 0; r < N; r++) {
        const double *x = logits + r * V;
        double *d = dlogits + r * V;
        if (!valid(targets[r], V, ignore_index)) {
            for (int64_t j = 0; j < V; j++) d[j] = 0;
            continue;
        }
        double scale = dloss * (weights ? weights[r] : uniform);
        double m, l = row_lse(x, V, &m);
        for (int64_t j = 0; j < V; j++) d[j] = (exp(x[j] - m - l) - (j == targets[r])) * scale;
    }
}

void vkt_ref_xent_bwd(const double *logits, const int32_t *targets, double *dlogits, int64_t N, int64_t V,
                      int32_t ignore_index, double dloss) {
    int64_t n = 0;
    for (int64_t r = 0; r < N; r++) n += valid(targets[r], V, ignore_index);
    rows_grad(logits, targets, dlogits, N, V, ignore_index, dloss, NULL, n ? 1.0 / (double)n : 0);
}

void vkt_ref_xent_bwd_weighted(const double *logits, const int32_t *targets, const double *weights, double *dlogits,
                               int64_t N, int64_t V, int32_t ignore_index, double dloss) {
    rows_grad(logits, targets, dlogits, N, V, ignore_index, dloss, weights, 0);
}
