/* Warmup + cosine learning-rate schedule (see schedule.h). */
#include "optim/schedule.h"

#include <math.h>

double vkt_lr_at(const vkt_lr_schedule *s, int64_t step) {
    if (step < s->warmup) return s->lr_max * (double)(step + 1) / (double)s->warmup;
    if (step >= s->total) return s->lr_min;
    double span = (double)(s->total - s->warmup);
    double progress = span > 0 ? (double)(step - s->warmup) / span : 1.0;
    return s->lr_min + 0.5 * (1.0 + cos(M_PI * progress)) * (s->lr_max - s->lr_min);
}
