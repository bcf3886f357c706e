/* Data-parallel batches without MPI (pure CPU): each rank's slice of a global batch (train/rank_slice.h) is
 * its block of rows, the slices of all ranks put together are the global batch (tokens, targets and
 * packed document starts), one rank passes the source's batch through untouched, and a global batch that
 * the ranks do not divide or a batch with extra inputs is refused with a message naming the fix. Also the
 * single-rank face of dist/dist.h in a process no launcher started (every build): rank 0 of 1, sums that
 * return their input. */
#include <stdint.h>
#include <string.h>

#include "dist/dist.h"
#include "io_testutil.h"
#include "train/rank_slice.h"

enum { BG = 6, T = 5 };

/* A global batch whose every entry says where it is; document starts: a new document at t = 3. */
static vkt_status fill_global(void *ctx, const vkt_batch *b) {
    int *calls = ctx;
    for (int r = 0; r < BG; r++)
        for (int t = 0; t < T; t++) {
            b->tokens[r * T + t] = 1000 * *calls + 10 * r + t;
            b->targets[r * T + t] = r % 2 ? -100 : 10 * r + t + 1;
            b->seg_start[r * T + t] = t < 3 ? 0 : 3;
        }
    ++*calls;
    return VKT_OK;
}

static void test_slices(int ranks) {
    int32_t tok[BG * T], tgt[BG * T], seg[BG * T];
    int rows = BG / ranks;
    for (int rank = 0; rank < ranks; rank++) {
        int calls = 0;
        vkt_rank_slice s;
        CHECK(vkt_rank_slice_init(&s, fill_global, &calls, BG, T, rank, ranks) == VKT_OK, "init %d of %d", rank, ranks);
        CHECK(s.B == rows, "rank %d of %d: %lld rows, want %d", rank, ranks, (long long)s.B, rows);
        for (int step = 0; step < 2; step++) { /* the second batch is the source's second, too */
            vkt_batch b = {tok + rank * rows * T, tgt + rank * rows * T, seg + rank * rows * T, NULL};
            memset(b.seg_start, 0, (size_t)(rows * T) * sizeof *b.seg_start);
            CHECK(vkt_rank_slice_fill(&s, &b) == VKT_OK, "fill");
            CHECK(calls == step + 1, "rank %d: the source filled %d batches, want %d", rank, calls, step + 1);
            for (int r = 0; r < rows; r++) {
                int g = rank * rows + r;
                for (int t = 0; t < T; t++) {
                    int i = g * T + t;
                    if (tok[i] != 1000 * step + 10 * g + t || tgt[i] != (g % 2 ? -100 : 10 * g + t + 1) ||
                        seg[i] != (t < 3 ? 0 : 3)) {
                        CHECK(0, "%d ranks, rank %d, local row %d t %d: token %d target %d seg %d (global row %d)",
                              ranks, rank, r, t, tok[i], tgt[i], seg[i], g);
                        r = rows, t = T;
                    }
                }
            }
        }
        vkt_rank_slice_free(&s);
    }
}

static void test_errors(void) {
    int64_t B = 0;
    tu_capture_begin();
    vkt_status s = vkt_rank_slice_rows(5, 2, &B);
    tu_expect_fail("5 rows over 2 ranks", s, VKT_ERR_ARG, tu_capture_end(), "optim.batch_size 5", "multiple of 2",
                   "optim.batch_size=6", (const char *)NULL);
    int calls = 0, aux = 0;
    vkt_rank_slice sl;
    CHECK(vkt_rank_slice_init(&sl, fill_global, &calls, BG, T, 1, 2) == VKT_OK, "init");
    int32_t tok[BG * T], tgt[BG * T], seg[BG * T];
    vkt_batch b = {tok, tgt, seg, &aux};
    tu_capture_begin();
    s = vkt_rank_slice_fill(&sl, &b);
    tu_expect_fail("a batch with extra inputs", s, VKT_ERR_UNSUPPORTED, tu_capture_end(), "one rank",
                   (const char *)NULL);
    CHECK(calls == 0, "the source was asked for a batch that cannot be sliced");
    vkt_rank_slice_free(&sl);
}

static void test_single_rank(void) {
    CHECK(vkt_dist_init() == VKT_OK, "dist init outside mpirun");
    CHECK(vkt_dist_rank() == 0 && vkt_dist_size() == 1 && vkt_dist_is_root(), "rank %d of %d", vkt_dist_rank(),
          vkt_dist_size());
    double x[3] = {1.5, -2, 7};
    float y[2] = {0.25f, 3};
    CHECK(vkt_dist_sum_f64(x, 3) == VKT_OK && x[0] == 1.5 && x[1] == -2 && x[2] == 7, "f64 sum on one rank");
    CHECK(vkt_dist_sum_f32(y, 2) == VKT_OK && y[0] == 0.25f && y[1] == 3, "f32 sum on one rank");
    CHECK(vkt_dist_max_int(5) == 5, "max on one rank");
    CHECK(vkt_dist_backend()[0] != 0, "a backend name");
    printf("  dist: %s, built with MPI: %s\n", vkt_dist_backend(), vkt_dist_built() ? "yes" : "no");
    vkt_dist_finalize();
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_rank_slice (pure CPU)\n");
    test_slices(1);
    test_slices(2);
    test_slices(3);
    test_errors();
    test_single_rank();
    if (g_failures) fprintf(stderr, "test_rank_slice: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
