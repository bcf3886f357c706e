/* KV-cache attention reference (see ref_attention_decode.h): one score row at a time, max-subtracted
 * softmax, all in double. */
#include "ref/ref_attention_decode.h"

#include <math.h>
#include <stdlib.h>

#include "core/log.h"

void vkt_ref_attention_decode_fwd(const vkt_ref_attention_decode_shape *s, int64_t pos0, const double *q,
                                  const double *kc, const double *vc, double *o) {
    const int64_t HS = s->HS, G = s->NH / s->KVH;
    VKT_ASSERT(pos0 >= 0 && pos0 + s->Tq <= s->Tmax && s->NH % s->KVH == 0);
    double *p = malloc((size_t)s->Tmax * sizeof *p);
    VKT_ASSERT(p);
    for (int64_t b = 0; b < s->B; b++) {
        for (int64_t t = 0; t < s->Tq; t++) {
            for (int64_t h = 0; h < s->NH; h++) {
                const double *qr = q + ((b * s->Tq + t) * s->NH + h) * HS;
                const int64_t kend = pos0 + t + 1, kvh = h / G;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < kend; j++) {
                    const double *kr = kc + ((b * s->Tmax + j) * s->KVH + kvh) * HS;
                    double d = 0;
                    for (int64_t c = 0; c < HS; c++) d += qr[c] * kr[c];
                    p[j] = s->scale * d;
                    mx = fmax(mx, p[j]);
                }
                for (int64_t j = 0; j < kend; j++) sum += (p[j] = exp(p[j] - mx));
                double *orow = o + ((b * s->Tq + t) * s->NH + h) * HS;
                for (int64_t c = 0; c < HS; c++) orow[c] = 0;
                for (int64_t j = 0; j < kend; j++) {
                    const double *vr = vc + ((b * s->Tmax + j) * s->KVH + kvh) * HS;
                    for (int64_t c = 0; c < HS; c++) orow[c] += p[j] / sum * vr[c];
                }
            }
        }
    }
    free(p);
}
