/* Batch loader: sequential windows and input/target shift, seeded shuffles (same seed same batches,
 * each epoch a permutation), save/restore of the position (mid-epoch and across an epoch boundary)
 * reproducing an uninterrupted run, and errors (too little data, ids outside the vocabulary, a position
 * saved for other settings). Pure CPU. */
#include <stdint.h>

#include "data/loader.h"
#include "io_testutil.h"

enum { N = 1000, B = 4, T = 16, VOCAB = 1 << 16 };

static int32_t g_ids[N];

static vkt_loader_opts opts(bool shuffle, uint64_t seed) {
    return (vkt_loader_opts){
        .ids = g_ids, .n = N, .B = B, .T = T, .vocab_size = VOCAB, .shuffle = shuffle, .seed = seed};
}

static void test_sequential(void) {
    vkt_loader l;
    vkt_loader_opts o = opts(false, 0);
    CHECK(vkt_loader_init(&l, &o) == VKT_OK, "init");
    CHECK(l.n_windows == (N - 1) / T && l.batches_per_epoch == (N - 1) / T / B, "%lld windows, %lld batches",
          (long long)l.n_windows, (long long)l.batches_per_epoch);
    int32_t in[B * T], tg[B * T], win[B * (T + 1)];
    for (int64_t k = 0; k < 2 * l.batches_per_epoch + 3; k++) {
        vkt_loader_state st = vkt_loader_get_state(&l);
        CHECK(vkt_loader_next(&l, in, tg) == VKT_OK, "next");
        int64_t kk = k % ((N - 1) / T / B);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                int64_t at = (kk * B + b) * T + t;
                if (in[b * T + t] != g_ids[at] || tg[b * T + t] != g_ids[at + 1]) {
                    CHECK(0, "batch %lld row %d t %d: input %d target %d, want %d %d", (long long)k, b, t,
                          in[b * T + t], tg[b * T + t], g_ids[at], g_ids[at + 1]);
                    b = B;
                    break;
                }
            }
        /* The (B, T+1) windows of the same position agree with inputs/targets. */
        vkt_loader l2;
        CHECK(vkt_loader_init(&l2, &o) == VKT_OK && vkt_loader_set_state(&l2, &st) == VKT_OK, "clone");
        CHECK(vkt_loader_next_windows(&l2, win) == VKT_OK, "windows");
        for (int b = 0; b < B; b++)
            CHECK(memcmp(win + b * (T + 1), in + b * T, T * 4) == 0 && win[b * (T + 1) + T] == tg[b * T + T - 1],
                  "windows row %d", b);
        vkt_loader_free(&l2);
    }
    CHECK(l.epoch == 2 && l.batch == 3, "after 2 epochs + 3: epoch %lld batch %lld", (long long)l.epoch,
          (long long)l.batch);
    vkt_loader_free(&l);
    vkt_loader_free(&l);
    printf("ok   sequential: inputs/targets shifted by one over 2 epochs; windows match\n");
}

/* First token of each window identifies it (ids are positions). */
static void run(vkt_loader *l, int steps, int32_t *firsts) {
    int32_t in[B * T], tg[B * T];
    for (int s = 0; s < steps; s++) {
        CHECK(vkt_loader_next(l, in, tg) == VKT_OK, "next");
        for (int b = 0; b < B; b++) firsts[s * B + b] = in[b * T];
    }
}

static void test_shuffle_and_resume(void) {
    enum { STEPS = 50 };
    vkt_loader a, b, c;
    vkt_loader_opts oa = opts(true, 1234), oc = opts(true, 1235);
    CHECK(vkt_loader_init(&a, &oa) == VKT_OK && vkt_loader_init(&b, &oa) == VKT_OK &&
              vkt_loader_init(&c, &oc) == VKT_OK,
          "init");
    int32_t fa[STEPS * B], fb[STEPS * B], fc[STEPS * B];
    run(&a, STEPS, fa), run(&b, STEPS, fb), run(&c, STEPS, fc);
    CHECK(memcmp(fa, fb, sizeof fa) == 0, "same seed must give the same batches");
    CHECK(memcmp(fa, fc, sizeof fa) != 0, "a different seed should give different batches");
    int64_t per = a.batches_per_epoch;
    /* Within an epoch no window repeats, and the order is not the identity. */
    for (int e = 0; e < 2; e++) {
        char seen[(N - 1) / T] = {0};
        int dup = 0, in_order = 1;
        for (int64_t i = 0; i < per * B; i++) {
            int w = fa[e * per * B + i] / T;
            dup += seen[w]++;
            in_order &= w == i;
        }
        CHECK(dup == 0 && !in_order, "epoch %d: %d repeated windows, identity order %d", e, dup, in_order);
    }
    CHECK(memcmp(fa, fa + per * B, (size_t)(per * B) * 4) != 0, "epochs 0 and 1 should differ in order");

    /* Resume: mid-epoch (after 10 steps) and at an epoch boundary (after `per` steps). */
    int points[2] = {10, (int)per};
    for (int k = 0; k < 2; k++) {
        vkt_loader r, s;
        CHECK(vkt_loader_init(&r, &oa) == VKT_OK, "init");
        int32_t skip[STEPS * B], rest[STEPS * B];
        run(&r, points[k], skip);
        vkt_loader_state st = vkt_loader_get_state(&r);
        vkt_loader_free(&r);
        CHECK(vkt_loader_init(&s, &oa) == VKT_OK && vkt_loader_set_state(&s, &st) == VKT_OK, "restore");
        run(&s, STEPS - points[k], rest);
        CHECK(memcmp(rest, fa + points[k] * B, (size_t)(STEPS - points[k]) * B * 4) == 0,
              "resume after %d steps (epoch %lld batch %lld) differs from the uninterrupted run", points[k],
              (long long)st.epoch, (long long)st.batch);
        vkt_loader_free(&s);
    }
    printf("ok   shuffle: seed-deterministic, permutation per epoch; resume mid-epoch and at an epoch boundary\n");

    /* Restoring a position saved for other settings is refused with the field named. */
    vkt_loader_state st = vkt_loader_get_state(&a);
    st.seed = 99;
    tu_capture_begin();
    vkt_status s = vkt_loader_set_state(&b, &st);
    tu_expect_fail("resume with another seed", s, VKT_ERR_ARG, tu_capture_end(), "seed", (const char *)NULL);
    st = vkt_loader_get_state(&a);
    st.T = 8;
    tu_capture_begin();
    s = vkt_loader_set_state(&b, &st);
    tu_expect_fail("resume with another T", s, VKT_ERR_ARG, tu_capture_end(), "field T", (const char *)NULL);
    st = vkt_loader_get_state(&a);
    st.batch = per;
    tu_capture_begin();
    s = vkt_loader_set_state(&b, &st);
    tu_expect_fail("resume past the epoch end", s, VKT_ERR_ARG, tu_capture_end(), "out of range", (const char *)NULL);
    vkt_loader_free(&a), vkt_loader_free(&b), vkt_loader_free(&c);
}

static void test_errors(void) {
    vkt_loader l;
    vkt_loader_opts o = opts(false, 0);
    o.n = B * T; /* one token short of B windows */
    tu_capture_begin();
    vkt_status s = vkt_loader_init(&l, &o);
    tu_expect_fail("too few tokens", s, VKT_ERR_ARG, tu_capture_end(), "65 tokens", (const char *)NULL);
    o.n = B * T + 1;
    CHECK(vkt_loader_init(&l, &o) == VKT_OK && l.batches_per_epoch == 1, "exactly one batch");
    vkt_loader_free(&l);
    o = opts(true, 5);
    g_ids[777] = VOCAB;
    tu_capture_begin();
    s = vkt_loader_init(&l, &o);
    tu_expect_fail("id = vocab_size", s, VKT_ERR_FORMAT, tu_capture_end(), "token 777", "65536", (const char *)NULL);
    g_ids[777] = -3;
    tu_capture_begin();
    s = vkt_loader_init(&l, &o);
    tu_expect_fail("negative id", s, VKT_ERR_FORMAT, tu_capture_end(), "token 777", "-3", (const char *)NULL);
    g_ids[777] = 777;
    o.T = 0;
    tu_capture_begin();
    s = vkt_loader_init(&l, &o);
    tu_expect_fail("T = 0", s, VKT_ERR_ARG, tu_capture_end(), "T 0", (const char *)NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("test_loader (pure CPU)\n");
    for (int i = 0; i < N; i++) g_ids[i] = i;
    test_sequential();
    test_shuffle_and_resume();
    test_errors();
    if (g_failures) fprintf(stderr, "test_loader: %d failures\n", g_failures);
    return g_failures ? 1 : 0;
}
