/* Gradient norm reference: a plain double sum of squares. */
#include "ref/ref_gradnorm.h"

#include <math.h>

double vkt_ref_gradnorm(const double *g, const int64_t *offset, const int64_t *n, int n_ranges) {
    double s = 0;
    for (int k = 0; k < n_ranges; k++)
        for (int64_t i = offset[k]; i < offset[k] + n[k]; i++) s += g[i] * g[i];
    return sqrt(s);
}

double vkt_ref_clip_scale(double norm, double max_norm) {
    if (max_norm <= 0) return 1;
    double c = max_norm / (norm + 1e-6);
    return c < 1 ? c : 1;
}
