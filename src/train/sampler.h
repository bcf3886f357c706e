/* Picking the next token from a row of logits: greedy, or temperature with top-k and top-p (nucleus)
 * filtering, from a seeded RNG so samples are reproducible. Runs on the host over one row (V floats). */
#ifndef VKT_SAMPLER_H
#define VKT_SAMPLER_H

#include <stdint.h>

#include "core/rng.h"
#include "vktrain/status.h"

typedef struct {
    double temperature; /* 0: greedy (argmax) */
    int64_t top_k;      /* 0: no top-k filter */
    double top_p;       /* 1: no nucleus filter */
} vkt_sampler_opts;

typedef struct {
    vkt_sampler_opts opts;
    vkt_rng rng;
    int64_t vocab;
    float *probs;       /* owned scratch (V) */
    int32_t *order;     /* owned scratch (V) */
} vkt_sampler;

vkt_status vkt_sampler_init(vkt_sampler *s, int64_t vocab, vkt_sampler_opts opts, uint64_t seed);
void vkt_sampler_free(vkt_sampler *s);
/* Next token id for one row of V logits. */
int32_t vkt_sampler_next(vkt_sampler *s, const float *logits);

#endif
