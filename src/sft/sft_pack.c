/* SFT batches (see sft_pack.h): the per-epoch plan (seeded order, first-fit-decreasing within
 * windows, row shuffle) and writing a batch's tokens, targets and segment starts from it. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "sft/pack_state.h"
#include "sft/sft_pack.h"

enum { DEFAULT_WINDOW = 1024 };

static int64_t positions(const vkt_sft_tokenized *d, int64_t i) { return d->start[i + 1] - d->start[i] - 1; }

static void shuffle(int64_t *a, int64_t n, vkt_rng *r) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(vkt_rng_u64(r) % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

typedef struct {
    int64_t len, rank, ex; /* positions, place in the epoch order, example */
} item_t;

static int cmp_longest_first(const void *a, const void *b) {
    const item_t *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank); /* ties in epoch order: the sort is deterministic */
}

/* Packs order[0..n) into rows appended to the plan, first-fit-decreasing. items, bin_of and fill are
 * scratch of n entries. */
static void pack_window(vkt_sft_pack *p, const int64_t *order, int64_t n, item_t *items, int64_t *bin_of, int64_t *fill,
                        int64_t *n_ex_out) {
    const vkt_sft_tokenized *d = p->o.data;
    for (int64_t i = 0; i < n; i++) items[i] = (item_t){positions(d, order[i]), i, order[i]};
    qsort(items, (size_t)n, sizeof *items, cmp_longest_first);
    int64_t n_bins = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t b = 0;
        while (b < n_bins && fill[b] + items[i].len > p->o.T) b++;
        if (b == n_bins) fill[n_bins++] = 0;
        fill[b] += items[i].len;
        bin_of[i] = b;
    }
    /* Rows in bin order, each with its examples longest first (a counting sort by bin). */
    for (int64_t b = 0; b < n_bins; b++) fill[b] = 0;
    for (int64_t i = 0; i < n; i++) fill[bin_of[i]]++;
    int64_t at = *n_ex_out;
    for (int64_t b = 0; b < n_bins; b++) {
        p->row_start[p->n_rows + b] = at;
        int64_t c = fill[b];
        fill[b] = at;
        at += c;
    }
    for (int64_t i = 0; i < n; i++) p->row_ex[fill[bin_of[i]]++] = items[i].ex;
    p->n_rows += n_bins;
    *n_ex_out = at;
}

static void plan_epoch(vkt_sft_pack *p) {
    const vkt_sft_tokenized *d = p->o.data;
    int64_t n = d->n_examples, *order = p->scratch, *bin_of = order + n, *fill = bin_of + n;
    item_t *items = (item_t *)(fill + n);
    vkt_rng rng;
    vkt_rng_init(&rng, p->o.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(p->epoch + 1)));
    for (int64_t i = 0; i < n; i++) order[i] = i;
    if (p->o.shuffle) shuffle(order, n, &rng);
    p->n_rows = 0;
    if (p->o.pack) {
        int64_t done = 0, w = p->o.window ? p->o.window : DEFAULT_WINDOW;
        for (int64_t a = 0; a < n; a += w) pack_window(p, order + a, n - a < w ? n - a : w, items, bin_of, fill, &done);
        p->row_start[p->n_rows] = done;
        if (p->o.shuffle) { /* shuffle whole rows: permute the row list, then rebuild both arrays */
            int64_t *rows = bin_of, *ex = order;
            for (int64_t r = 0; r < p->n_rows; r++) rows[r] = r;
            shuffle(rows, p->n_rows, &rng);
            int64_t k = 0;
            for (int64_t r = 0; r < p->n_rows; r++) {
                fill[r] = k;
                for (int64_t j = p->row_start[rows[r]]; j < p->row_start[rows[r] + 1]; j++) ex[k++] = p->row_ex[j];
            }
            memcpy(p->row_ex, ex, (size_t)n * sizeof *ex);
            memcpy(p->row_start, fill, (size_t)p->n_rows * sizeof *fill);
        }
    } else {
        for (int64_t i = 0; i < n; i++) p->row_start[i] = i, p->row_ex[i] = order[i];
        p->n_rows = n;
        p->row_start[n] = n;
    }
    vkt_sft_pack_stats *s = &p->stats;
    memset(s, 0, sizeof *s);
    s->n_rows = p->n_rows;
    s->n_batches = (p->n_rows + p->o.B - 1) / p->o.B;
    s->n_positions = s->n_batches * p->o.B * p->o.T;
    for (int64_t i = 0; i < n; i++) {
        s->n_used += positions(d, i);
        for (int64_t k = d->start[i] + 1; k < d->start[i + 1]; k++) s->n_targets += d->loss[k];
    }
    s->efficiency = (double)s->n_used / (double)s->n_positions;
    s->target_share = (double)s->n_targets / (double)s->n_positions;
}

vkt_status vkt_sft_pack_init(vkt_sft_pack *p, const vkt_sft_pack_opts *o) {
    memset(p, 0, sizeof *p);
    if (!o->data || o->B < 1 || o->T < 1 || o->window < 0) {
        vkt_log_error("sft pack: need data, B >= 1, T >= 1 and window >= 0 (got B %lld, T %lld, window %lld)",
                      (long long)o->B, (long long)o->T, (long long)o->window);
        return VKT_ERR_ARG;
    }
    const vkt_sft_tokenized *d = o->data;
    if (d->n_examples < 1) {
        vkt_log_error("sft pack: no examples to batch");
        return VKT_ERR_ARG;
    }
    for (int64_t i = 0; i < d->n_examples; i++) {
        int64_t np = positions(d, i);
        if (np < 1 || np > o->T) {
            vkt_log_error("sft pack: example %lld (dataset record %lld) has %lld tokens; a row of T = %lld holds 2 to "
                          "%lld (tokenize with max_tokens = T + 1)",
                          (long long)i, (long long)(d->source ? d->source[i] : i), (long long)np + 1, (long long)o->T,
                          (long long)o->T + 1);
            return VKT_ERR_ARG;
        }
    }
    p->o = *o;
    int64_t n = d->n_examples;
    p->row_start = malloc(((size_t)n + 1) * sizeof *p->row_start);
    p->row_ex = malloc((size_t)n * sizeof *p->row_ex);
    p->scratch = malloc((size_t)n * (3 * sizeof(int64_t) + sizeof(item_t)));
    if (!p->row_start || !p->row_ex || !p->scratch) {
        vkt_sft_pack_free(p);
        return VKT_ERR_OOM;
    }
    plan_epoch(p);
    const vkt_sft_pack_stats *s = &p->stats;
    vkt_log_info("sft batches: %lld examples in %lld rows of %lld (%s), %lld batches of %lld per epoch; %.1f%% of "
                 "positions hold tokens, %.1f%% carry loss",
                 (long long)n, (long long)s->n_rows, (long long)o->T, o->pack ? "packed" : "one per row",
                 (long long)s->n_batches, (long long)o->B, 100 * s->efficiency, 100 * s->target_share);
    return VKT_OK;
}

void vkt_sft_pack_free(vkt_sft_pack *p) {
    if (!p) return;
    free(p->row_start);
    free(p->row_ex);
    free(p->scratch);
    memset(p, 0, sizeof *p);
}

vkt_status vkt_sft_pack_next(vkt_sft_pack *p, int32_t *tokens, int32_t *targets, int32_t *seg_start) {
    const vkt_sft_tokenized *d = p->o.data;
    const int64_t B = p->o.B, T = p->o.T;
    for (int64_t b = 0; b < B; b++) {
        int64_t r = p->batch * B + b, pos = 0;
        int32_t *tk = tokens + b * T, *tg = targets + b * T, *ss = seg_start + b * T;
        for (int64_t j = r < p->n_rows ? p->row_start[r] : 0; r < p->n_rows && j < p->row_start[r + 1]; j++) {
            int64_t e = p->row_ex[j], s = d->start[e], np = positions(d, e);
            for (int64_t t = 0; t < np; t++) {
                tk[pos + t] = d->ids[s + t];
                tg[pos + t] = d->loss[s + t + 1] ? d->ids[s + t + 1] : VKT_SFT_IGNORE;
                ss[pos + t] = (int32_t)pos;
            }
            pos += np;
        }
        for (int64_t t = pos; t < T; t++) tk[t] = p->o.pad_id, tg[t] = VKT_SFT_IGNORE, ss[t] = (int32_t)pos;
    }
    if (++p->batch == p->stats.n_batches) {
        p->epoch++;
        p->batch = 0;
        plan_epoch(p);
    }
    return VKT_OK;
}

vkt_sft_pack_state vkt_sft_pack_get_state(const vkt_sft_pack *p) {
    return (vkt_sft_pack_state){p->epoch,  p->batch,  p->o.data->n_examples, p->o.data->n_tokens, p->o.B, p->o.T,
                                p->o.seed, p->o.pack, p->o.shuffle,          p->o.window};
}

vkt_status vkt_sft_pack_set_state(vkt_sft_pack *p, const vkt_sft_pack_state *s) {
    vkt_sft_pack_state now = vkt_sft_pack_get_state(p);
    const vkt_pack_field f[] = {{"n_examples", s->n_examples, now.n_examples},
                                {"n_tokens", s->n_tokens, now.n_tokens},
                                {"B", s->B, now.B},
                                {"T", s->T, now.T},
                                {"seed", (int64_t)s->seed, (int64_t)now.seed},
                                {"pack", s->pack, now.pack},
                                {"shuffle", s->shuffle, now.shuffle},
                                {"window", s->window, now.window}};
    VKT_TRY(vkt_pack_state_check("sft batches", f, sizeof f / sizeof f[0], s->epoch, s->batch));
    p->epoch = s->epoch;
    p->batch = 0;
    plan_epoch(p);
    if (s->batch >= p->stats.n_batches) {
        vkt_log_error("sft batches: the saved batch %lld is past the %lld batches of epoch %lld", (long long)s->batch,
                      (long long)p->stats.n_batches, (long long)s->epoch);
        return VKT_ERR_ARG;
    }
    p->batch = s->batch;
    return VKT_OK;
}
