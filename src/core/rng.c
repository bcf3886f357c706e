/* xorshift128+ seeded through splitmix64. Not cryptographic; fast and reproducible. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void vkt_rng_init(vkt_rng *r, uint64_t seed) {
    r->s[0] = splitmix64(&seed);
    r->s[1] = splitmix64(&seed);
}

uint64_t vkt_rng_u64(vkt_rng *r) {
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return r->s[1] + s0;
}

double vkt_rng_uniform(vkt_rng *r) { return (double)(vkt_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

float vkt_rng_range(vkt_rng *r, float lo, float hi) { return lo + (hi - lo) * (float)vkt_rng_uniform(r); }

double vkt_rng_normal(vkt_rng *r) {
    double u1 = vkt_rng_uniform(r), u2 = vkt_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint32_t vkt_rng_below(vkt_rng *r, uint32_t n) { return (uint32_t)((vkt_rng_u64(r) >> 32) * n >> 32); }
