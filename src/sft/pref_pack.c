/* Preference batches (see pref_pack.h): the per-epoch plan (seeded pair order, first-fit-decreasing of
 * whole pairs into batches within windows, batch shuffle, or one sequence per row) and writing a
 * batch's tokens, targets, segment starts, sequence ids and pair table from it. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "sft/pack_state.h"
#include "sft/pref_pack.h"

enum { DEFAULT_WINDOW = 512 };

/* Positions of sequence s: its tokens less one. */
static int64_t positions(const vkt_pref_tokenized *d, int64_t s) { return d->start[s + 1] - d->start[s] - 1; }

static void shuffle(int64_t *a, int64_t n, vkt_rng *r) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(vkt_rng_u64(r) % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

typedef struct {
    int64_t big, total, rank, pair; /* longer sequence's positions, both, place in the epoch order */
} item_t;

static int cmp_largest_first(const void *a, const void *b) {
    const item_t *x = a, *y = b;
    if (x->big != y->big) return x->big > y->big ? -1 : 1;
    if (x->total != y->total) return x->total > y->total ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank); /* ties in epoch order: the sort is deterministic */
}

/* Planning buffers, carved from p->scratch. */
typedef struct {
    int64_t *order; /* (n) the epoch's pair order */
    item_t *items;  /* (w) */
    int64_t *fill;  /* (w * B) row fills of the window's open batches */
    int64_t *count; /* (w) pairs per open batch */
    int64_t *place; /* (5 w) per item: batch, row and position of each side */
    int64_t *tmp;   /* (5 n + 1) batch shuffle */
} bufs_t;

static int64_t window_of(const vkt_pref_pack *p) {
    int64_t w = p->o.window ? p->o.window : DEFAULT_WINDOW, n = p->o.data->n_pairs;
    return w < n ? w : n;
}

static bufs_t carve(const vkt_pref_pack *p) {
    int64_t n = p->o.data->n_pairs, w = window_of(p);
    bufs_t b;
    b.order = p->scratch;
    b.items = (item_t *)(b.order + n);
    b.fill = (int64_t *)(b.items + w);
    b.count = b.fill + w * p->o.B;
    b.place = b.count + w;
    b.tmp = b.place + 5 * w;
    return b;
}

static size_t scratch_elems(int64_t n, int64_t w, int64_t B) {
    return (size_t)(n + w * (int64_t)(sizeof(item_t) / sizeof(int64_t)) + w * B + w + 5 * w + 5 * n + 1);
}

/* The first row of fill[0..B) with room for len positions (and extra more in row `extra_row`), or -1. */
static int64_t first_fit(const int64_t *fill, int64_t B, int64_t T, int64_t len, int64_t extra_row, int64_t extra) {
    for (int64_t r = 0; r < B; r++)
        if (fill[r] + len + (r == extra_row ? extra : 0) <= T) return r;
    return -1;
}

/* Places both sequences of a pair in a batch's rows, first fit, chosen first; false (nothing changed)
 * when one does not fit. pl gets row, position of chosen, then of rejected. */
static bool place_pair(int64_t *fill, int64_t B, int64_t T, int64_t lc, int64_t lr, int64_t *pl) {
    int64_t r1 = first_fit(fill, B, T, lc, -1, 0);
    int64_t r2 = r1 < 0 ? -1 : first_fit(fill, B, T, lr, r1, lc);
    if (r2 < 0) return false;
    pl[0] = r1, pl[1] = fill[r1], fill[r1] += lc;
    pl[2] = r2, pl[3] = fill[r2], fill[r2] += lr;
    return true;
}

/* Packs the pairs ord[0..n) into batches appended to the plan, first-fit-decreasing. */
static void pack_window(vkt_pref_pack *p, bufs_t *bf, const int64_t *ord, int64_t n, int64_t *placed) {
    const vkt_pref_tokenized *d = p->o.data;
    const int64_t B = p->o.B, T = p->o.T;
    for (int64_t i = 0; i < n; i++) {
        int64_t lc = positions(d, 2 * ord[i]), lr = positions(d, 2 * ord[i] + 1);
        bf->items[i] = (item_t){lc > lr ? lc : lr, lc + lr, i, ord[i]};
    }
    qsort(bf->items, (size_t)n, sizeof *bf->items, cmp_largest_first);
    int64_t nb = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t pair = bf->items[i].pair, lc = positions(d, 2 * pair), lr = positions(d, 2 * pair + 1), b = 0;
        int64_t *pl = bf->place + 5 * i;
        while (b < nb && !(bf->count[b] < p->max_pairs && place_pair(bf->fill + b * B, B, T, lc, lr, pl + 1))) b++;
        if (b == nb) { /* a new batch: the pair fits an empty one (checked at init) */
            memset(bf->fill + b * B, 0, (size_t)B * sizeof *bf->fill);
            bf->count[nb++] = 0;
            place_pair(bf->fill + b * B, B, T, lc, lr, pl + 1);
        }
        bf->count[b]++;
        pl[0] = b;
    }
    /* Batches in opening order, each with its pairs in placement order (a counting sort by batch). */
    int64_t at = *placed;
    for (int64_t b = 0; b < nb; b++) {
        p->batch_start[p->n_batches + b] = at;
        int64_t c = bf->count[b];
        bf->count[b] = at;
        at += c;
    }
    for (int64_t i = 0; i < n; i++) {
        const int64_t *pl = bf->place + 5 * i;
        int64_t j = bf->count[pl[0]]++;
        p->order[j] = bf->items[i].pair;
        p->row[2 * j] = (int32_t)pl[1], p->pos[2 * j] = (int32_t)pl[2];
        p->row[2 * j + 1] = (int32_t)pl[3], p->pos[2 * j + 1] = (int32_t)pl[4];
    }
    p->n_batches += nb;
    *placed = at;
}

/* Permutes whole batches of the plan. */
static void shuffle_batches(vkt_pref_pack *p, bufs_t *bf, vkt_rng *rng) {
    int64_t n = p->o.data->n_pairs, nb = p->n_batches;
    int64_t *perm = bf->tmp, *order = perm + nb, *start = order + n;
    int32_t *row = (int32_t *)(start + nb + 1), *pos = row + 2 * n;
    for (int64_t k = 0; k < nb; k++) perm[k] = k;
    shuffle(perm, nb, rng);
    int64_t j = 0;
    for (int64_t k = 0; k < nb; k++) {
        start[k] = j;
        for (int64_t i = p->batch_start[perm[k]]; i < p->batch_start[perm[k] + 1]; i++, j++) {
            order[j] = p->order[i];
            row[2 * j] = p->row[2 * i], row[2 * j + 1] = p->row[2 * i + 1];
            pos[2 * j] = p->pos[2 * i], pos[2 * j + 1] = p->pos[2 * i + 1];
        }
    }
    memcpy(p->order, order, (size_t)n * sizeof *order);
    memcpy(p->batch_start, start, (size_t)nb * sizeof *start);
    memcpy(p->row, row, (size_t)(2 * n) * sizeof *row);
    memcpy(p->pos, pos, (size_t)(2 * n) * sizeof *pos);
}

static void count_plan(vkt_pref_pack *p) {
    const vkt_pref_tokenized *d = p->o.data;
    vkt_pref_pack_stats *s = &p->stats;
    memset(s, 0, sizeof *s);
    s->n_batches = p->n_batches;
    s->n_positions = s->n_batches * p->o.B * p->o.T;
    for (int64_t q = 0; q < 2 * d->n_pairs; q++) {
        s->n_used += positions(d, q);
        for (int64_t k = d->start[q] + 1; k < d->start[q + 1]; k++) s->n_targets += d->loss[k];
    }
    for (int64_t k = 0; k < p->n_batches; k++) {
        int64_t c = p->batch_start[k + 1] - p->batch_start[k];
        if (c > s->max_batch_pairs) s->max_batch_pairs = c;
    }
    s->efficiency = (double)s->n_used / (double)s->n_positions;
    s->pairs_per_batch = (double)d->n_pairs / (double)s->n_batches;
}

static void plan_epoch(vkt_pref_pack *p) {
    int64_t n = p->o.data->n_pairs;
    bufs_t bf = carve(p);
    vkt_rng rng;
    vkt_rng_init(&rng, p->o.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(p->epoch + 1)));
    for (int64_t i = 0; i < n; i++) bf.order[i] = i;
    if (p->o.shuffle) shuffle(bf.order, n, &rng);
    p->n_batches = 0;
    if (p->o.pack) {
        int64_t placed = 0, w = window_of(p);
        for (int64_t a = 0; a < n; a += w) pack_window(p, &bf, bf.order + a, n - a < w ? n - a : w, &placed);
        p->batch_start[p->n_batches] = n;
        if (p->o.shuffle) shuffle_batches(p, &bf, &rng);
    } else {
        int64_t per = p->max_pairs;
        for (int64_t j = 0; j < n; j++) {
            if (j % per == 0) p->batch_start[p->n_batches++] = j;
            p->order[j] = bf.order[j];
            p->row[2 * j] = (int32_t)(2 * (j % per)), p->row[2 * j + 1] = (int32_t)(2 * (j % per) + 1);
            p->pos[2 * j] = p->pos[2 * j + 1] = 0;
        }
        p->batch_start[p->n_batches] = n;
    }
    count_plan(p);
}

static vkt_status check_options(const vkt_pref_pack_opts *o) {
    const vkt_pref_tokenized *d = o->data;
    if (!d || o->B < 1 || o->T < 1 || o->window < 0 || o->max_pairs < 0 || (!o->pack && o->B < 2)) {
        vkt_log_error("preference batches: need data, B >= 1 (>= 2 for one sequence per row: a pair takes two rows), "
                      "T >= 1, window >= 0 and max_pairs >= 0 (got B %lld, T %lld, window %lld, max_pairs %lld)",
                      (long long)o->B, (long long)o->T, (long long)o->window, (long long)o->max_pairs);
        return VKT_ERR_ARG;
    }
    if (d->n_pairs < 1) {
        vkt_log_error("preference batches: no pairs to batch");
        return VKT_ERR_ARG;
    }
    for (int64_t i = 0; i < d->n_pairs; i++) {
        int64_t lc = positions(d, 2 * i), lr = positions(d, 2 * i + 1);
        for (int side = 0; side < 2; side++) {
            int64_t np = side ? lr : lc;
            if (np < 1 || np > o->T) {
                vkt_log_error("preference batches: pair %lld (dataset record %lld) has a %s sequence of %lld tokens; a "
                              "row of T = %lld holds 2 to %lld (tokenize with max_tokens = T + 1)",
                              (long long)i, (long long)(d->source ? d->source[i] : i), side ? "rejected" : "chosen",
                              (long long)np + 1, (long long)o->T, (long long)o->T + 1);
                return VKT_ERR_ARG;
            }
        }
        if (o->pack && o->B == 1 && lc + lr > o->T) {
            vkt_log_error(
                "preference batches: pair %lld (dataset record %lld) needs %lld positions for both sequences, "
                "more than the one row of T = %lld a batch has (B = 1); use B >= 2",
                (long long)i, (long long)(d->source ? d->source[i] : i), (long long)(lc + lr), (long long)o->T);
            return VKT_ERR_ARG;
        }
    }
    return VKT_OK;
}

vkt_status vkt_pref_pack_init(vkt_pref_pack *p, const vkt_pref_pack_opts *o) {
    memset(p, 0, sizeof *p);
    VKT_TRY(check_options(o));
    p->o = *o;
    int64_t n = o->data->n_pairs, room = o->pack ? o->B * o->T / 2 : o->B / 2; /* a pair takes >= 2 positions */
    p->max_pairs = o->max_pairs && o->max_pairs < room ? o->max_pairs : room;
    p->batch_start = malloc(((size_t)n + 1) * sizeof *p->batch_start);
    p->order = malloc((size_t)n * sizeof *p->order);
    p->row = malloc((size_t)(2 * n) * sizeof *p->row);
    p->pos = malloc((size_t)(2 * n) * sizeof *p->pos);
    p->scratch = malloc(scratch_elems(n, window_of(p), o->B) * sizeof *p->scratch);
    if (!p->batch_start || !p->order || !p->row || !p->pos || !p->scratch) {
        vkt_pref_pack_free(p);
        return VKT_ERR_OOM;
    }
    plan_epoch(p);
    const vkt_pref_pack_stats *s = &p->stats;
    vkt_log_info("preference batches: %lld pairs in %lld batches of %lld rows x %lld (%s; %.1f pairs a batch, at most "
                 "%lld); %.1f%% of positions hold tokens",
                 (long long)n, (long long)s->n_batches, (long long)o->B, (long long)o->T,
                 o->pack ? "packed" : "one sequence per row", s->pairs_per_batch, (long long)s->max_batch_pairs,
                 100 * s->efficiency);
    return VKT_OK;
}

void vkt_pref_pack_free(vkt_pref_pack *p) {
    if (!p) return;
    free(p->batch_start);
    free(p->order);
    free(p->row);
    free(p->pos);
    free(p->scratch);
    memset(p, 0, sizeof *p);
}

int64_t vkt_pref_pack_max_pairs(const vkt_pref_pack *p) { return p->max_pairs; }

vkt_status vkt_pref_pack_next(vkt_pref_pack *p, vkt_pref_batch *b) {
    const vkt_pref_tokenized *d = p->o.data;
    const int64_t B = p->o.B, T = p->o.T, first = p->batch_start[p->batch], end = p->batch_start[p->batch + 1];
    int64_t *fill = p->scratch; /* (B) rows' used positions; the plan is done with the scratch */
    memset(fill, 0, (size_t)B * sizeof *fill);
    for (int64_t i = 0; i < B * T; i++) b->tokens[i] = p->o.pad_id, b->targets[i] = VKT_SFT_IGNORE, b->seq_id[i] = -1;
    for (int64_t j = first; j < end; j++) {
        int64_t k = j - first;
        for (int side = 0; side < 2; side++) {
            int64_t q = 2 * p->order[j] + side, a = d->start[q], np = positions(d, q), r = p->row[2 * j + side];
            int64_t o = p->pos[2 * j + side], at = r * T + o;
            for (int64_t t = 0; t < np; t++) {
                bool loss = d->loss[a + t + 1];
                b->tokens[at + t] = d->ids[a + t];
                b->targets[at + t] = loss ? d->ids[a + t + 1] : VKT_SFT_IGNORE;
                b->seq_id[at + t] = loss ? (int32_t)(2 * k + side) : -1;
                b->seg_start[at + t] = (int32_t)o;
            }
            if (o + np > fill[r]) fill[r] = o + np;
            if (b->seq_last) b->seq_last[2 * k + side] = (int32_t)(at + np - 1);
        }
    }
    for (int64_t r = 0; r < B; r++)
        for (int64_t t = fill[r]; t < T; t++) b->seg_start[r * T + t] = (int32_t)fill[r];
    b->n_pairs = (int32_t)(end - first);
    for (int64_t k = 0; k < p->max_pairs; k++) {
        bool in = k < end - first;
        b->pairs[2 * k] = in ? (int32_t)(2 * k) : -1;
        b->pairs[2 * k + 1] = in ? (int32_t)(2 * k + 1) : -1;
        if (b->pair_index) b->pair_index[k] = in ? p->order[first + k] : -1;
        if (b->seq_last && !in) b->seq_last[2 * k] = b->seq_last[2 * k + 1] = -1;
    }
    if (++p->batch == p->n_batches) {
        p->epoch++;
        p->batch = 0;
        plan_epoch(p);
    }
    return VKT_OK;
}

vkt_pref_pack_state vkt_pref_pack_get_state(const vkt_pref_pack *p) {
    return (vkt_pref_pack_state){p->epoch,       p->batch,  p->o.data->n_pairs, p->o.data->n_tokens, p->o.B,     p->o.T,
                                 p->o.max_pairs, p->o.seed, p->o.pack,          p->o.shuffle,        p->o.window};
}

vkt_status vkt_pref_pack_set_state(vkt_pref_pack *p, const vkt_pref_pack_state *s) {
    vkt_pref_pack_state now = vkt_pref_pack_get_state(p);
    const vkt_pack_field f[] = {{"n_pairs", s->n_pairs, now.n_pairs},
                                {"n_tokens", s->n_tokens, now.n_tokens},
                                {"B", s->B, now.B},
                                {"T", s->T, now.T},
                                {"max_pairs", s->max_pairs, now.max_pairs},
                                {"seed", (int64_t)s->seed, (int64_t)now.seed},
                                {"pack", s->pack, now.pack},
                                {"shuffle", s->shuffle, now.shuffle},
                                {"window", s->window, now.window}};
    VKT_TRY(vkt_pack_state_check("preference batches", f, sizeof f / sizeof f[0], s->epoch, s->batch));
    p->epoch = s->epoch;
    p->batch = 0;
    plan_epoch(p);
    if (s->batch >= p->n_batches) {
        vkt_log_error("preference batches: the saved batch %lld is past the %lld batches of epoch %lld",
                      (long long)s->batch, (long long)p->n_batches, (long long)s->epoch);
        return VKT_ERR_ARG;
    }
    p->batch = s->batch;
    return VKT_OK;
}
