/* SFT batches (src/sft/sft_pack.h) on synthetic tokenized examples (random lengths and loss flags; the
 * id of token t of example e is e * 1000 + t, so every position names its example):
 *   - every example appears exactly once per epoch, whole and in one row, with its tokens, its targets
 *     (-100 where the flag is 0) and seg_start = its first position; padding only at the end of a row,
 *     with pad_id, -100 and seg_start = the first padding position;
 *   - the same (seed, epoch) gives the same batches, another seed or epoch other ones;
 *   - a restored state continues exactly (also across an epoch boundary), a foreign state is refused;
 *   - packing efficiency: measured against the counts, FFD within its bound, well above one per row.
 * Pure CPU. */
#include "core/rng.h"
#include "io_testutil.h"
#include "sft/sft_pack.h"

enum { PAD = 77777 };

/* n examples of 2..max_len tokens; about a third of the flags set, at least one target each. */
static void make_data(vkt_sft_tokenized *d, int64_t n, int64_t max_len, uint64_t seed) {
    memset(d, 0, sizeof *d);
    vkt_rng r;
    vkt_rng_init(&r, seed);
    d->start = calloc((size_t)n + 1, sizeof *d->start);
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) d->start[i + 1] = total += 2 + vkt_rng_below(&r, (uint32_t)max_len - 1);
    d->ids = malloc((size_t)total * sizeof *d->ids);
    d->loss = malloc((size_t)total);
    for (int64_t i = 0; i < n; i++) {
        int64_t s = d->start[i], len = d->start[i + 1] - s;
        for (int64_t t = 0; t < len; t++)
            d->ids[s + t] = (int32_t)(i * 1000 + t), d->loss[s + t] = vkt_rng_below(&r, 3) == 0;
        d->loss[s + 1 + vkt_rng_below(&r, (uint32_t)len - 1)] = 1;
    }
    d->n_examples = n, d->n_tokens = total;
}

typedef struct {
    int32_t *tok, *tgt, *seg;
} batch_t;

static batch_t batch_alloc(int64_t B, int64_t T) {
    size_t n = (size_t)(B * T);
    return (batch_t){malloc(n * 4), malloc(n * 4), malloc(n * 4)};
}

static void batch_free(batch_t *b) {
    free(b->tok);
    free(b->tgt);
    free(b->seg);
}

/* Checks one row; marks the examples it holds in seen[]; returns the positions used. */
static int64_t check_row(const vkt_sft_tokenized *d, const int32_t *tk, const int32_t *tg, const int32_t *sg, int64_t T,
                         int32_t *seen, const char *what) {
    int64_t t = 0;
    while (t < T && tk[t] != PAD) {
        int64_t e = tk[t] / 1000, s = d->start[e], np = d->start[e + 1] - s - 1;
        bool ok = e >= 0 && e < d->n_examples && tk[t] % 1000 == 0 && t + np <= T;
        for (int64_t k = 0; ok && k < np; k++)
            ok = tk[t + k] == d->ids[s + k] && sg[t + k] == t &&
                 tg[t + k] == (d->loss[s + k + 1] ? d->ids[s + k + 1] : VKT_SFT_IGNORE);
        CHECK(ok, "%s: the example at position %lld is not whole and exact", what, (long long)t);
        if (!ok) return T;
        seen[e]++;
        t += np;
    }
    int64_t used = t;
    for (; t < T; t++) {
        CHECK(tk[t] == PAD && tg[t] == VKT_SFT_IGNORE && sg[t] == used, "%s: padding position %lld: %d %d %d", what,
              (long long)t, tk[t], tg[t], sg[t]);
        if (tk[t] != PAD) return T;
    }
    return used;
}

/* Runs one epoch from the packer's current (batch 0) position and checks it. */
static void check_epoch(vkt_sft_pack *p, const char *what) {
    const vkt_sft_tokenized *d = p->o.data;
    int64_t B = p->o.B, T = p->o.T, n_batches = p->stats.n_batches, used = 0, targets = 0;
    vkt_sft_pack_stats st = p->stats;
    int32_t *seen = calloc((size_t)d->n_examples, sizeof *seen);
    batch_t b = batch_alloc(B, T);
    for (int64_t k = 0; k < n_batches; k++) {
        vkt_sft_pack_next(p, b.tok, b.tgt, b.seg);
        for (int64_t r = 0; r < B; r++)
            used += check_row(d, b.tok + r * T, b.tgt + r * T, b.seg + r * T, T, seen, what);
        for (int64_t i = 0; i < B * T; i++) targets += b.tgt[i] != VKT_SFT_IGNORE;
    }
    int64_t bad = -1;
    for (int64_t e = 0; e < d->n_examples && bad < 0; e++)
        if (seen[e] != 1) bad = e;
    CHECK(bad < 0, "%s: example %lld appears %d times in the epoch", what, (long long)bad, bad < 0 ? 1 : seen[bad]);
    CHECK(used == st.n_used && targets == st.n_targets && st.n_positions == n_batches * B * T &&
              st.efficiency == (double)used / (double)st.n_positions,
          "%s: counts: used %lld (stats %lld), targets %lld (stats %lld)", what, (long long)used, (long long)st.n_used,
          (long long)targets, (long long)st.n_targets);
    CHECK(p->batch == 0, "%s: the epoch did not end after %lld batches", what, (long long)n_batches);
    free(seen);
    batch_free(&b);
}

/* FNV-1a of the next k batches. */
static uint64_t hash_batches(vkt_sft_pack *p, int k) {
    int64_t n = p->o.B * p->o.T;
    batch_t b = batch_alloc(p->o.B, p->o.T);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < k; i++) {
        vkt_sft_pack_next(p, b.tok, b.tgt, b.seg);
        const int32_t *arr[3] = {b.tok, b.tgt, b.seg};
        for (int a = 0; a < 3; a++)
            for (int64_t j = 0; j < n; j++) h = (h ^ (uint32_t)arr[a][j]) * 1099511628211ull;
    }
    batch_free(&b);
    return h;
}

static vkt_sft_pack_opts opts(const vkt_sft_tokenized *d, bool pack, bool shuffle, uint64_t seed) {
    return (vkt_sft_pack_opts){
        .data = d, .B = 4, .T = 64, .pack = pack, .shuffle = shuffle, .seed = seed, .window = 40, .pad_id = PAD};
}

static void check_invariants(const vkt_sft_tokenized *d) {
    for (int mode = 0; mode < 4; mode++) {
        bool pack = mode & 1, shuf = mode & 2;
        char what[64];
        snprintf(what, sizeof what, "%s%s", pack ? "packed" : "one per row", shuf ? ", shuffled" : "");
        vkt_sft_pack_opts o = opts(d, pack, shuf, 5);
        vkt_sft_pack p;
        tu_capture_begin();
        vkt_status s = vkt_sft_pack_init(&p, &o);
        tu_capture_end();
        CHECK(s == VKT_OK, "%s: init", what);
        if (s != VKT_OK) continue;
        for (int e = 0; e < 3; e++) check_epoch(&p, what);
        CHECK(p.epoch == 3, "%s: epoch %lld after 3 epochs", what, (long long)p.epoch);
        printf("ok   %-22s %lld rows, %lld batches/epoch, efficiency %.3f, loss share %.3f\n", what,
               (long long)p.stats.n_rows, (long long)p.stats.n_batches, p.stats.efficiency, p.stats.target_share);
        vkt_sft_pack_free(&p);
    }
}

static void check_efficiency(const vkt_sft_tokenized *d) {
    vkt_sft_pack a, b;
    vkt_sft_pack_opts oa = opts(d, true, true, 1), ob = opts(d, false, true, 1);
    tu_capture_begin();
    vkt_sft_pack_init(&a, &oa);
    vkt_sft_pack_init(&b, &ob);
    tu_capture_end();
    int64_t opt = (a.stats.n_used + oa.T - 1) / oa.T, windows = (d->n_examples + oa.window - 1) / oa.window;
    /* FFD: at most 11/9 OPT + 6/9 rows per window; summed over windows, under 11/9 of the global bound + windows. */
    CHECK(a.stats.n_rows * 9 <= 11 * opt + 9 * windows, "packed rows %lld exceed FFD's bound (%lld rows at least)",
          (long long)a.stats.n_rows, (long long)opt);
    CHECK(b.stats.n_rows == d->n_examples, "one per row: %lld rows", (long long)b.stats.n_rows);
    /* Rows are filled to over 90% (the last batch's empty rows aside), 2.5x the positions of one per row. */
    double fill = (double)a.stats.n_used / (double)(a.stats.n_rows * oa.T);
    CHECK(fill > 0.9 && a.stats.efficiency > 2.5 * b.stats.efficiency,
          "packed rows are %.3f full, efficiency %.3f (one per row %.3f)", fill, a.stats.efficiency,
          b.stats.efficiency);
    printf("ok   efficiency: packed %.3f (rows %.3f full) in %lld rows (lower bound %lld), one per row %.3f in %lld "
           "rows\n",
           a.stats.efficiency, fill, (long long)a.stats.n_rows, (long long)opt, b.stats.efficiency,
           (long long)b.stats.n_rows);
    vkt_sft_pack_free(&a);
    vkt_sft_pack_free(&b);
}

static void check_determinism_and_resume(const vkt_sft_tokenized *d) {
    vkt_sft_pack a, b, c;
    vkt_sft_pack_opts o = opts(d, true, true, 9), o2 = opts(d, true, true, 10);
    tu_capture_begin();
    vkt_sft_pack_init(&a, &o);
    vkt_sft_pack_init(&b, &o);
    vkt_sft_pack_init(&c, &o2);
    tu_capture_end();
    int64_t nb = a.stats.n_batches;
    uint64_t ha = hash_batches(&a, (int)nb), hb = hash_batches(&b, (int)nb), hc = hash_batches(&c, (int)nb);
    CHECK(ha == hb, "same seed, different batches");
    CHECK(ha != hc, "seeds 9 and 10 give the same epoch");
    CHECK(hash_batches(&a, (int)a.stats.n_batches) != ha, "epoch 1 repeats epoch 0 although shuffled");
    /* Resume: 3 batches before the end of an epoch, then 6 more (crossing into the next epoch). */
    vkt_sft_pack x, y;
    tu_capture_begin();
    vkt_sft_pack_init(&x, &o);
    vkt_sft_pack_init(&y, &o);
    tu_capture_end();
    hash_batches(&x, (int)(x.stats.n_batches + x.stats.n_batches - 3));
    vkt_sft_pack_state st = vkt_sft_pack_get_state(&x);
    CHECK(vkt_sft_pack_set_state(&y, &st) == VKT_OK, "set_state");
    CHECK(hash_batches(&x, 6) == hash_batches(&y, 6), "a restored packer gives other batches");
    vkt_sft_pack_state bad = st;
    bad.B = 8;
    tu_capture_begin();
    vkt_status s = vkt_sft_pack_set_state(&y, &bad);
    tu_expect_fail("state for another B", s, VKT_ERR_ARG, tu_capture_end(), "B = 8 but this run has 4", NULL);
    bad = st;
    bad.batch = 1000;
    tu_capture_begin();
    s = vkt_sft_pack_set_state(&y, &bad);
    tu_expect_fail("state past the epoch", s, VKT_ERR_ARG, tu_capture_end(), "saved batch 1000 is past", NULL);
    vkt_sft_pack_free(&a);
    vkt_sft_pack_free(&b);
    vkt_sft_pack_free(&c);
    vkt_sft_pack_free(&x);
    vkt_sft_pack_free(&y);
    /* Without shuffle, epochs repeat. */
    vkt_sft_pack_opts on = opts(d, true, false, 1);
    tu_capture_begin();
    vkt_sft_pack_init(&a, &on);
    tu_capture_end();
    nb = a.stats.n_batches;
    CHECK(hash_batches(&a, (int)nb) == hash_batches(&a, (int)nb), "unshuffled epochs differ");
    vkt_sft_pack_free(&a);
    printf("ok   determinism per (seed, epoch) and resume\n");
}

static void check_errors(const vkt_sft_tokenized *d) {
    vkt_sft_pack p;
    vkt_sft_pack_opts o = opts(d, true, false, 1);
    o.T = 20; /* examples have up to 49 tokens */
    tu_capture_begin();
    vkt_status s = vkt_sft_pack_init(&p, &o);
    tu_expect_fail("example longer than a row", s, VKT_ERR_ARG, tu_capture_end(), "a row of T = 20 holds 2 to 21",
                   "max_tokens = T + 1", NULL);
    vkt_sft_pack_free(&p);
    o.T = 64;
    o.B = 0;
    tu_capture_begin();
    s = vkt_sft_pack_init(&p, &o);
    tu_expect_fail("B = 0", s, VKT_ERR_ARG, tu_capture_end(), "B >= 1", NULL);
    vkt_sft_pack_free(&p);
}

/* One small case worked by hand: examples of 3, 2 and 4 tokens (2, 1 and 3 positions) in rows of 8. */
static void check_hand_case(void) {
    vkt_sft_tokenized d = {0};
    int64_t start[4] = {0, 3, 5, 9};
    int32_t ids[9] = {10, 11, 12, 20, 21, 30, 31, 32, 33};
    uint8_t loss[9] = {0, 0, 1, 0, 1, 0, 1, 0, 1};
    d.start = start, d.ids = ids, d.loss = loss, d.n_examples = 3, d.n_tokens = 9;
    vkt_sft_pack_opts o = {.data = &d, .B = 2, .T = 8, .pack = true, .pad_id = -1};
    vkt_sft_pack p;
    tu_capture_begin();
    vkt_status s = vkt_sft_pack_init(&p, &o);
    tu_capture_end();
    int32_t tk[16], tg[16], sg[16];
    if (s == VKT_OK) vkt_sft_pack_next(&p, tk, tg, sg);
    /* Longest first: example 2 (3 positions), example 0 (2), example 1 (1): 6 of 8 positions. */
    const int32_t wtk[8] = {30, 31, 32, 10, 11, 20, -1, -1}, wtg[8] = {31, -100, 33, -100, 12, 21, -100, -100},
                  wsg[8] = {0, 0, 0, 3, 3, 5, 6, 6};
    CHECK(s == VKT_OK && !memcmp(tk, wtk, sizeof wtk) && !memcmp(tg, wtg, sizeof wtg) && !memcmp(sg, wsg, sizeof wsg),
          "hand case row 0: tokens %d %d %d %d %d %d %d %d", tk[0], tk[1], tk[2], tk[3], tk[4], tk[5], tk[6], tk[7]);
    CHECK(s == VKT_OK && tk[8] == -1 && tg[15] == -100 && sg[8] == 0 && sg[15] == 0 && p.stats.n_rows == 1 &&
              p.stats.n_used == 6 && p.stats.n_targets == 4 && p.stats.efficiency == 6.0 / 16.0,
          "hand case: an empty second row, counts");
    vkt_sft_pack_free(&p);
    printf("ok   hand-worked row\n");
}

int main(void) {
    vkt_sft_tokenized d;
    make_data(&d, 150, 49, 3);
    check_hand_case();
    check_invariants(&d);
    check_efficiency(&d);
    check_determinism_and_resume(&d);
    check_errors(&d);
    vkt_sft_tokenized_free(&d);
    printf("test_sft_pack: %s (%d failures)\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
