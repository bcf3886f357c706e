/* CPU reference for one AdamW step (double precision). */
#ifndef VKT_REF_ADAMW_H
#define VKT_REF_ADAMW_H

#include <stdint.h>

/* Updates p, m, v at elements [0, n) for step t >= 1:
 *   g' = g * clip_scale; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
 *   p -= lr * ((m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p) */
void vkt_ref_adamw_step(double *p, const double *g, double *m, double *v, int64_t n, int64_t t, double lr,
                        double beta1, double beta2, double eps, double wd, double clip_scale);

#endif
