/* AdamW reference, written as the formula reads (decoupled decay uses the pre-update parameter). */
#include "ref/ref_adamw.h"

#include <math.h>

void vkt_ref_adamw_step(double *p, const double *g, double *m, double *v, int64_t n, int64_t t, double lr,
                        double beta1, double beta2, double eps, double wd, double clip_scale) {
    double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    for (int64_t i = 0; i < n; i++) {
        double gi = g[i] * clip_scale;
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        p[i] -= lr * ((m[i] / bc1) / (sqrt(v[i] / bc2) + eps) + wd * p[i]);
    }
}
