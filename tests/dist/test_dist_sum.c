/* The background sums of dist.h (vkt_dist_sum_start / _poll) under `mpirun -np 3` (registered only with MPI):
 *   - ordered: every rank gets, bit for bit, the sum in rank order 0, 1, 2 (in double, rounded once), for
 *     sizes that do not split evenly over the ranks (0, 1, 2 < 3 ranks, odd), with values where the order
 *     changes the result (1 + 1e20 - 1e20 is 0 in rank order, 1 in another);
 *   - several sums in flight at once, polled in reverse order, so that they reach their second phase in an
 *     order that can differ between ranks (what a collective in that phase would get wrong: MPI matches
 *     collectives by the order they start);
 *   - unordered (MPI's all-reduce): within 1e-6 relative of the double sum.
 * Each rank computes every rank's inputs from a formula, hence the expected sums. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

static int g_failures;

#define FAIL(...) (fprintf(stderr, "FAIL dist_sum [rank %d]: ", vkt_dist_rank()), fprintf(stderr, __VA_ARGS__), \
                   fputc('\n', stderr), g_failures++)

/* Rank r's element i of test case c: mostly uniform values, every 7th a value cancelled by the next rank's,
 * so that the order of the additions shows. */
static float input(int c, int r, int64_t i) {
    if (i % 7 == 3) return r == 0 ? 1.0f : r == 1 ? 1e20f : -1e20f;
    uint64_t h = (uint64_t)(c + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(r + 1) * 0xBF58476D1CE4E5B9ull ^
                 (uint64_t)(i + 1) * 0x94D049BB133111EBull;
    h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ull, h ^= h >> 32;
    return (float)((double)(h >> 11) / 9007199254740992.0 * 2 - 1) * (float)(1 + r);
}

static float rank_order_sum(int c, int64_t i, int ranks) {
    double acc = 0;
    for (int r = 0; r < ranks; r++) acc += input(c, r, i);
    return (float)acc;
}

typedef struct {
    float *x, *scratch;
    int64_t n;
    vkt_dist_sum_op *op;
} sum_case;

/* Starts the sums of n[0..count) together, polls them newest first until all are done, then checks them. */
static void run_cases(const int64_t *n, int count, bool ordered) {
    int ranks = vkt_dist_size(), me = vkt_dist_rank();
    sum_case cs[8] = {0};
    for (int c = 0; c < count; c++) {
        cs[c].n = n[c];
        cs[c].x = malloc(((size_t)n[c] + 1) * sizeof(float));
        cs[c].scratch = malloc(((size_t)n[c] + (size_t)ranks) * sizeof(float));
        for (int64_t i = 0; i < n[c]; i++) cs[c].x[i] = input(c, me, i);
        if (vkt_dist_sum_start(cs[c].x, n[c], ordered, cs[c].scratch, c, &cs[c].op) != VKT_OK)
            FAIL("start of sum %d (n %lld) failed", c, (long long)n[c]);
    }
    for (int left = count; left > 0;) {
        for (int c = count - 1; c >= 0; c--) {
            bool done = false;
            if (!cs[c].op) continue;
            if (vkt_dist_sum_poll(cs[c].op, &done) != VKT_OK) {
                FAIL("poll of sum %d failed", c);
                return;
            }
            if (done) cs[c].op = NULL, left--;
        }
    }
    int order_shows = 0;
    for (int c = 0; c < count; c++) {
        int bad = 0;
        double worst = 0;
        for (int64_t i = 0; i < cs[c].n; i++) {
            float want = rank_order_sum(c, i, ranks), got = cs[c].x[i];
            if (ordered) {
                bad += memcmp(&want, &got, sizeof want) != 0;
                float other = input(c, 2, i) + input(c, 1, i) + input(c, 0, i); /* another order */
                order_shows += ranks == 3 && other != want;
            } else if (i % 7 != 3) { /* the cancelling values have no stable sum but the ordered one */
                double d = fabs((double)got - (double)want) / fmax(1.0, fabs((double)want));
                worst = fmax(worst, d);
            }
            if (bad == 1 && ordered) {
                FAIL("ordered sum %d (n %lld): element %lld is %.9g, the rank-order sum is %.9g", c, (long long)cs[c].n,
                     (long long)i, got, want);
                bad++;
            }
        }
        if (!ordered && !(worst <= 1e-6))
            FAIL("unordered sum %d (n %lld): relative error %.3g over 1e-6", c, (long long)cs[c].n, worst);
        free(cs[c].x), free(cs[c].scratch);
    }
    if (ordered && ranks == 3 && order_shows == 0) FAIL("the inputs do not tell the orders apart: the test cannot fail");
    if (me == 0)
        printf("  %s: %d sums in flight, sizes %lld..%lld%s\n", ordered ? "ordered" : "unordered", count,
               (long long)n[0], (long long)n[count - 1], ordered ? ", bit for bit the rank-order sums" : "");
}

int main(void) {
    if (vkt_dist_init() != VKT_OK) return 1;
    if (vkt_dist_size() != 3) {
        fprintf(stderr, "FAIL dist_sum: run me under mpirun -np 3 (got %d ranks)\n", vkt_dist_size());
        vkt_dist_finalize();
        return 1;
    }
    const int64_t small[] = {0, 1, 2, 5, 7}, large[] = {1001, 70001, 300000};
    run_cases(small, 5, true);
    run_cases(large, 3, true);
    run_cases(large, 3, false);
    int failed = vkt_dist_max_int(g_failures > 0);
    if (vkt_dist_rank() == 0) printf(failed ? "dist_sum: FAILED\n" : "dist_sum: all passed\n");
    vkt_dist_finalize();
    return failed;
}
