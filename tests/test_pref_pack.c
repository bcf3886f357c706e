/* Preference batches (src/sft/pref_pack.h) on synthetic tokenized pairs (random lengths and completion
 * flags; the id of token t of sequence q is q * 1000 + t, so every position names its sequence):
 *   - every pair appears exactly once per epoch, both halves in the same batch, each sequence whole and
 *     in one row with its tokens, targets (-100 where the flag is 0) and seg_start = its first position;
 *     padding only at the end of a row (pad_id, -100, seg_start = the first padding position, seq_id -1);
 *   - seq_id is the sequence's number in the batch exactly where the target carries loss (-1 elsewhere),
 *     and the pair table and pair_index name the two sequences of each pair (-1 past n_pairs);
 *   - one sequence per row puts chosen in row 2k and rejected in row 2k + 1;
 *   - max_pairs is honoured; B = 1 packs a pair into one row or refuses it;
 *   - the same (seed, epoch) gives the same batches, another seed other ones; a restored state
 *     continues exactly (also across an epoch boundary), a foreign one is refused;
 *   - packing fills more of a batch than one sequence per row.
 * Pure CPU. */
#include "core/rng.h"
#include "io_testutil.h"
#include "sft/pref_pack.h"

enum { PAD = 77777 };

/* n pairs, sequences of 2..max_len tokens; a prompt of a third or so unflagged, the rest flagged, and
 * a few unflagged tokens inside completions (tool results). */
static void make_data(vkt_pref_tokenized *d, int64_t n, int64_t max_len, uint64_t seed) {
    memset(d, 0, sizeof *d);
    vkt_rng r;
    vkt_rng_init(&r, seed);
    int64_t ns = 2 * n, total = 0;
    d->start = calloc((size_t)ns + 1, sizeof *d->start);
    d->n_prompt = calloc((size_t)ns, sizeof *d->n_prompt);
    d->source = calloc((size_t)n, sizeof *d->source);
    for (int64_t q = 0; q < ns; q++) d->start[q + 1] = total += 2 + vkt_rng_below(&r, (uint32_t)max_len - 1);
    d->ids = malloc((size_t)total * sizeof *d->ids);
    d->loss = malloc((size_t)total);
    for (int64_t q = 0; q < ns; q++) {
        int64_t s = d->start[q], len = d->start[q + 1] - s, np = 1 + vkt_rng_below(&r, (uint32_t)len - 1);
        for (int64_t t = 0; t < len; t++)
            d->ids[s + t] = (int32_t)(q * 1000 + t), d->loss[s + t] = t >= np && vkt_rng_below(&r, 8) != 0;
        d->loss[s + np] = 1;
        d->n_prompt[q] = np;
    }
    for (int64_t i = 0; i < n; i++) d->source[i] = i;
    d->n_pairs = n, d->n_tokens = total;
}

static int64_t seq_positions(const vkt_pref_tokenized *d, int64_t q) { return d->start[q + 1] - d->start[q] - 1; }

typedef struct {
    int32_t *tok, *tgt, *seg, *sid, *pairs, *last;
    int64_t *pidx;
    vkt_pref_batch b;
} batch_t;

static batch_t batch_alloc(int64_t B, int64_t T, int64_t max_pairs) {
    size_t n = (size_t)(B * T), mp = (size_t)max_pairs;
    batch_t x = {.tok = malloc(n * 4),
                 .tgt = malloc(n * 4),
                 .seg = malloc(n * 4),
                 .sid = malloc(n * 4),
                 .pairs = malloc(mp * 8),
                 .last = malloc(mp * 8),
                 .pidx = malloc(mp * 8)};
    x.b = (vkt_pref_batch){x.tok, x.tgt, x.seg, x.sid, x.pairs, x.pidx, x.last, 0};
    return x;
}

static void batch_free(batch_t *b) {
    free(b->tok), free(b->tgt), free(b->seg), free(b->sid), free(b->pairs), free(b->last), free(b->pidx);
}

/* Checks one batch; counts the sequences seen; returns positions used. */
static int64_t check_batch(const vkt_pref_pack *p, const batch_t *x, int32_t *seen, const char *what) {
    const vkt_pref_tokenized *d = p->o.data;
    const int64_t B = p->o.B, T = p->o.T, mp = vkt_pref_pack_max_pairs(p);
    int32_t np = x->b.n_pairs;
    CHECK(np >= 1 && np <= mp, "%s: %d pairs in a batch (limit %lld)", what, np, (long long)mp);
    bool ok = true;
    for (int64_t k = 0; ok && k < mp; k++) {
        bool in = k < np;
        ok = x->pairs[2 * k] == (in ? 2 * k : -1) && x->pairs[2 * k + 1] == (in ? 2 * k + 1 : -1) &&
             (in ? x->pidx[k] >= 0 && x->pidx[k] < d->n_pairs : x->pidx[k] == -1);
    }
    CHECK(ok, "%s: pair table", what);
    for (int64_t q = 2 * np; ok && q < 2 * mp; q++) ok = x->last[q] == -1;
    CHECK(ok, "%s: seq_last past the pairs", what);
    int64_t used = 0;
    for (int64_t r = 0; r < B; r++) {
        const int32_t *tk = x->tok + r * T, *tg = x->tgt + r * T, *sg = x->seg + r * T, *si = x->sid + r * T;
        int64_t t = 0;
        while (t < T && tk[t] != PAD) {
            int64_t q = tk[t] / 1000, s = d->start[q], n = seq_positions(d, q), k = 0;
            while (k < np && x->pidx[k] != q / 2) k++; /* the sequence's pair is in this batch */
            int32_t want_sid = (int32_t)(2 * k + q % 2);
            bool good = q >= 0 && q < 2 * d->n_pairs && tk[t] % 1000 == 0 && t + n <= T && k < np;
            if (!p->o.pack) good = good && t == 0 && r == 2 * k + q % 2;
            for (int64_t j = 0; good && j < n; j++) {
                bool loss = d->loss[s + j + 1];
                good = tk[t + j] == d->ids[s + j] && sg[t + j] == t &&
                       tg[t + j] == (loss ? d->ids[s + j + 1] : VKT_SFT_IGNORE) && si[t + j] == (loss ? want_sid : -1);
            }
            good = good && x->last[want_sid] == r * T + t + n - 1;
            CHECK(good,
                  "%s: row %lld: the sequence at %lld is not whole and exact (or its seq_id, pair, row or last "
                  "position is wrong)",
                  what, (long long)r, (long long)t);
            if (!good) return used;
            seen[q]++;
            t += n;
        }
        used += t;
        for (int64_t u = t; u < T; u++) {
            CHECK(tk[u] == PAD && tg[u] == VKT_SFT_IGNORE && sg[u] == t && si[u] == -1,
                  "%s: row %lld padding position %lld: %d %d %d %d", what, (long long)r, (long long)u, tk[u], tg[u],
                  sg[u], si[u]);
            if (tk[u] != PAD) return used;
        }
    }
    return used;
}

/* Runs one epoch from batch 0 and checks it; returns a hash of every batch. */
static uint64_t check_epoch(vkt_pref_pack *p, const char *what) {
    const vkt_pref_tokenized *d = p->o.data;
    int64_t B = p->o.B, T = p->o.T, nb = p->stats.n_batches, used = 0;
    vkt_pref_pack_stats st = p->stats;
    int32_t *seen = calloc((size_t)(2 * d->n_pairs), sizeof *seen);
    batch_t x = batch_alloc(B, T, vkt_pref_pack_max_pairs(p));
    uint64_t h = 1469598103934665603ull;
    for (int64_t k = 0; k < nb; k++) {
        CHECK(p->batch == k, "%s: at batch %lld, want %lld", what, (long long)p->batch, (long long)k);
        vkt_pref_pack_next(p, &x.b);
        used += check_batch(p, &x, seen, what);
        for (int64_t i = 0; i < B * T; i++)
            h = (h ^ (uint64_t)(x.tok[i] + 7 * x.seg[i] + 131 * x.sid[i])) * 1099511628211ull;
    }
    int64_t bad = -1;
    for (int64_t q = 0; q < 2 * d->n_pairs && bad < 0; q++)
        if (seen[q] != 1) bad = q;
    CHECK(bad < 0, "%s: sequence %lld seen %d times in the epoch", what, (long long)bad, bad >= 0 ? seen[bad] : 0);
    CHECK(used == st.n_used && st.n_positions == nb * B * T, "%s: %lld positions used, plan says %lld", what,
          (long long)used, (long long)st.n_used);
    CHECK(p->batch == 0, "%s: the epoch did not wrap", what);
    free(seen);
    batch_free(&x);
    return h;
}

static vkt_pref_pack_opts opts(const vkt_pref_tokenized *d, int64_t B, int64_t T, bool pack, uint64_t seed) {
    return (vkt_pref_pack_opts){.data = d, .B = B, .T = T, .pack = pack, .shuffle = true, .seed = seed, .pad_id = PAD};
}

static void check_epochs_and_determinism(void) {
    vkt_pref_tokenized d;
    make_data(&d, 203, 40, 1);
    const struct {
        int64_t B, T, window, max_pairs;
        bool pack;
    } cases[] = {{4, 64, 0, 0, true},  {3, 41, 16, 0, true}, {4, 64, 0, 3, true}, {1, 80, 0, 0, true},
                 {4, 40, 0, 0, false}, {5, 40, 0, 0, false}, {6, 40, 0, 2, false}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char what[128];
        snprintf(what, sizeof what, "B %lld T %lld window %lld max_pairs %lld %s", (long long)cases[c].B,
                 (long long)cases[c].T, (long long)cases[c].window, (long long)cases[c].max_pairs,
                 cases[c].pack ? "packed" : "one per row");
        vkt_pref_pack_opts o = opts(&d, cases[c].B, cases[c].T, cases[c].pack, 5);
        o.window = cases[c].window, o.max_pairs = cases[c].max_pairs;
        if (cases[c].T == 80) { /* B = 1: both sequences of a pair share the one row */
            vkt_pref_tokenized small;
            make_data(&small, 50, 40, 2);
            o.data = &small;
            vkt_pref_pack p;
            tu_capture_begin();
            vkt_status s = vkt_pref_pack_init(&p, &o);
            tu_capture_end();
            CHECK(s == VKT_OK, "%s: init", what);
            if (s == VKT_OK) check_epoch(&p, what);
            vkt_pref_pack_free(&p);
            o.T = 60;
            tu_capture_begin();
            s = vkt_pref_pack_init(&p, &o);
            tu_expect_fail("B = 1, a pair over one row", s, VKT_ERR_ARG, tu_capture_end(), "use B >= 2", NULL);
            vkt_pref_pack_free(&p);
            vkt_pref_tokenized_free(&small);
            continue;
        }
        vkt_pref_pack p, q;
        tu_capture_begin();
        vkt_status s1 = vkt_pref_pack_init(&p, &o), s2 = vkt_pref_pack_init(&q, &o);
        tu_capture_end();
        CHECK(s1 == VKT_OK && s2 == VKT_OK, "%s: init", what);
        if (s1 || s2) continue;
        if (cases[c].max_pairs)
            CHECK(vkt_pref_pack_max_pairs(&p) == cases[c].max_pairs && p.stats.max_batch_pairs <= cases[c].max_pairs,
                  "%s: max_pairs %lld, a batch of %lld", what, (long long)vkt_pref_pack_max_pairs(&p),
                  (long long)p.stats.max_batch_pairs);
        uint64_t e0 = check_epoch(&p, what), e1 = check_epoch(&p, what);
        uint64_t f0 = check_epoch(&q, what);
        CHECK(e0 == f0, "%s: same seed, same epoch 0", what);
        CHECK(e0 != e1, "%s: epoch 1 differs from epoch 0", what);
        vkt_pref_pack_free(&q);
        o.seed = 6;
        tu_capture_begin();
        vkt_pref_pack_init(&q, &o);
        tu_capture_end();
        CHECK(check_epoch(&q, what) != e0, "%s: another seed, other batches", what);
        printf("ok   %-50s %lld batches, %.1f pairs a batch, %.1f%% filled\n", what, (long long)p.stats.n_batches,
               p.stats.pairs_per_batch, 100 * p.stats.efficiency);
        vkt_pref_pack_free(&p);
        vkt_pref_pack_free(&q);
    }
    vkt_pref_tokenized_free(&d);
}

/* Packing fills batches better than one sequence per row. */
static void check_efficiency(void) {
    vkt_pref_tokenized d;
    make_data(&d, 500, 64, 3);
    vkt_pref_pack p, u;
    vkt_pref_pack_opts po = opts(&d, 8, 256, true, 1), uo = opts(&d, 8, 64, false, 1);
    tu_capture_begin();
    vkt_status s = vkt_pref_pack_init(&p, &po);
    if (s == VKT_OK) s = vkt_pref_pack_init(&u, &uo);
    tu_capture_end();
    CHECK(s == VKT_OK, "init");
    if (s == VKT_OK) {
        /* Sequences average ~33 positions: one per row of 64 fills ~half; packing rows of 256 well over 90%. */
        CHECK(p.stats.efficiency > 0.9 && u.stats.efficiency < 0.6 && p.stats.n_used == u.stats.n_used,
              "packed %.3f, one per row %.3f", p.stats.efficiency, u.stats.efficiency);
        printf("ok   efficiency: packed %.1f%% (%lld batches), one per row %.1f%% (%lld batches)\n",
               100 * p.stats.efficiency, (long long)p.stats.n_batches, 100 * u.stats.efficiency,
               (long long)u.stats.n_batches);
        vkt_pref_pack_free(&u);
    }
    vkt_pref_pack_free(&p);
    vkt_pref_tokenized_free(&d);
}

static void check_resume(void) {
    vkt_pref_tokenized d;
    make_data(&d, 61, 30, 4);
    vkt_pref_pack_opts o = opts(&d, 3, 48, true, 9);
    vkt_pref_pack a, b;
    tu_capture_begin();
    vkt_pref_pack_init(&a, &o);
    vkt_pref_pack_init(&b, &o);
    tu_capture_end();
    int64_t nb = a.stats.n_batches, mp = vkt_pref_pack_max_pairs(&a);
    batch_t x = batch_alloc(3, 48, mp), y = batch_alloc(3, 48, mp);
    /* Run a to just before the end of epoch 0, save, continue both across the boundary. */
    for (int64_t k = 0; k < nb - 2; k++) vkt_pref_pack_next(&a, &x.b);
    vkt_pref_pack_state st = vkt_pref_pack_get_state(&a);
    CHECK(vkt_pref_pack_set_state(&b, &st) == VKT_OK, "restore");
    bool same = true;
    for (int64_t k = 0; k < nb + 3; k++) {
        vkt_pref_pack_next(&a, &x.b);
        vkt_pref_pack_next(&b, &y.b);
        size_t n = 3 * 48 * 4;
        same &= !memcmp(x.tok, y.tok, n) && !memcmp(x.tgt, y.tgt, n) && !memcmp(x.seg, y.seg, n) &&
                !memcmp(x.sid, y.sid, n) && x.b.n_pairs == y.b.n_pairs && !memcmp(x.pidx, y.pidx, (size_t)mp * 8);
    }
    CHECK(same && a.epoch >= 1 && a.epoch == b.epoch && a.batch == b.batch,
          "a restored packer continues exactly (epoch %lld, %lld)", (long long)a.epoch, (long long)b.epoch);
    st = vkt_pref_pack_get_state(&a);
    vkt_pref_pack_state bad = st;
    bad.T = 64;
    tu_capture_begin();
    vkt_status s = vkt_pref_pack_set_state(&b, &bad);
    tu_expect_fail("foreign state", s, VKT_ERR_ARG, tu_capture_end(),
                   "the saved position has T = 64 but this run has 48", NULL);
    bad = st;
    bad.batch = nb + 5;
    tu_capture_begin();
    s = vkt_pref_pack_set_state(&b, &bad);
    tu_expect_fail("batch past the epoch", s, VKT_ERR_ARG, tu_capture_end(), "is past the", NULL);
    batch_free(&x);
    batch_free(&y);
    vkt_pref_pack_free(&a);
    vkt_pref_pack_free(&b);
    /* Bad options. */
    vkt_pref_pack p;
    o = opts(&d, 1, 48, false, 1);
    tu_capture_begin();
    s = vkt_pref_pack_init(&p, &o);
    tu_expect_fail("one per row with B = 1", s, VKT_ERR_ARG, tu_capture_end(), "a pair takes two rows", NULL);
    vkt_pref_pack_free(&p);
    o = opts(&d, 4, 20, true, 1);
    tu_capture_begin();
    s = vkt_pref_pack_init(&p, &o);
    tu_expect_fail("a sequence over T", s, VKT_ERR_ARG, tu_capture_end(), "tokenize with max_tokens = T + 1", NULL);
    vkt_pref_pack_free(&p);
    vkt_pref_tokenized_free(&d);
}

int main(void) {
    check_epochs_and_determinism();
    check_efficiency();
    check_resume();
    if (g_failures) fprintf(stderr, "%d failure(s)\n", g_failures);
    return g_failures ? 1 : 0;
}
