/* Helpers shared by the preference and RL op tests (test_op_pref_*.c): packed sequence-id tables and
 * scalar checks. Header-only, static inline functions. */
#ifndef VKT_PREF_TESTUTIL_H
#define VKT_PREF_TESTUTIL_H

#include <string.h>

#include "harness.h"

/* A sequence-id table for B rows of T positions holding S sequences, packed: sequence s goes to row
 * s % B, and each row splits its T positions evenly between its sequences; within its share a sequence
 * starts after a prompt of -1s (up to a third of the share) and runs 1+ positions, padding (-1) after.
 * With `empty` set, sequence 1 (if any) counts no position. Caller frees. */
static inline int32_t *pt_seq_table(vkt_rng *rng, int64_t B, int64_t T, int64_t S, bool empty) {
    int32_t *ids = malloc((size_t)(B * T) * sizeof *ids);
    for (int64_t i = 0; i < B * T; i++) ids[i] = -1;
    for (int64_t b = 0; b < B; b++) {
        int64_t m = S / B + (b < S % B), share = m ? T / m : 0;
        for (int64_t j = 0; j < m; j++) {
            int64_t s = b + j * B, start = b * T + j * share;
            if (share < 1 || (empty && s == 1)) continue;
            int64_t gap = (int64_t)vkt_rng_below(rng, (uint32_t)(share / 3 + 1));
            int64_t len = 1 + (int64_t)vkt_rng_below(rng, (uint32_t)(share - gap));
            for (int64_t k = 0; k < len; k++) ids[start + gap + k] = (int32_t)s;
        }
    }
    return ids;
}

/* |y - r| / (|r| + atol) <= bound, printed; a failure names the quantity. */
static inline bool pt_check_scalar(vkt_test *t, const char *what, double y, double r, double atol, double bound) {
    double err = y == r ? 0 : fabs(y - r) / (fabs(r) + atol);
    bool ok = err <= bound && isnan(y) == isnan(r);
    printf("   %-40s got=%.9g want=%.9g rel=%.2e bound=%.1e %s\n", what, y, r, err, bound, ok ? "ok" : "FAIL");
    if (!ok) vkt_test_fail(t, "%s: got %.9g, want %.9g (rel %.2e > %.1e)", what, y, r, err, bound);
    return ok;
}

/* Exact equality (bit patterns of floats, or integer counts). */
static inline bool pt_check_exact(vkt_test *t, const char *what, double y, double r) {
    bool ok = y == r;
    if (!ok) vkt_test_fail(t, "%s: got %.9g, want exactly %.9g", what, y, r);
    return ok;
}

static inline uint32_t pt_u32(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float *pt_to_float(const double *x, size_t n) {
    float *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
    return y;
}

#endif
