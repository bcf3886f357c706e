/* Seeded train / validation split (see record_split.h). */
#include "sft/record_split.h"

#include <math.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/rng.h"

vkt_status vkt_record_split(int64_t n, double fraction, uint64_t seed, const char *what, uint8_t **is_val) {
    *is_val = NULL;
    if (!(fraction >= 0 && fraction < 1)) {
        vkt_log_error("%s: validation fraction %g is outside [0, 1)", what, fraction);
        return VKT_ERR_ARG;
    }
    int64_t n_val = (int64_t)llround(fraction * (double)n);
    if (fraction > 0 && n_val == 0 && n >= 2) n_val = 1;
    if (n - n_val < 1) {
        vkt_log_error("%s: a validation fraction of %g leaves no training record of %lld", what, fraction,
                      (long long)n);
        return VKT_ERR_ARG;
    }
    uint8_t *flags = calloc((size_t)n + 1, 1);
    int64_t *perm = malloc(((size_t)n + 1) * sizeof *perm);
    if (!flags || !perm) {
        free(flags), free(perm);
        return VKT_ERR_OOM;
    }
    vkt_rng rng;
    vkt_rng_init(&rng, seed);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = 0; i < n_val; i++) {
        int64_t j = i + (int64_t)(vkt_rng_u64(&rng) % (uint64_t)(n - i)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
        flags[perm[i]] = 1;
    }
    free(perm);
    *is_val = flags;
    return VKT_OK;
}
