/* Small deterministic PRNG (xoshiro128+-style splitmix seeding) for init, data shuffling and tests.
 * Same seed, same stream on every platform: training runs and tests are reproducible. */
#ifndef VKT_RNG_H
#define VKT_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[2]; } vkt_rng;

void vkt_rng_init(vkt_rng *r, uint64_t seed);
uint64_t vkt_rng_u64(vkt_rng *r);
/* Uniform in [0, 1). */
double vkt_rng_uniform(vkt_rng *r);
/* Uniform in [lo, hi). */
float vkt_rng_range(vkt_rng *r, float lo, float hi);
/* Standard normal (Box-Muller). */
double vkt_rng_normal(vkt_rng *r);
/* Uniform integer in [0, n). */
uint32_t vkt_rng_below(vkt_rng *r, uint32_t n);

#endif
