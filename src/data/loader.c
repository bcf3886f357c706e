/* Window batching with seeded per-epoch shuffles and resumable positions (see loader.h). */
#include "data/loader.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"

/* Window order of `epoch`: identity, or a Fisher-Yates permutation from a stream seeded by (seed, epoch)
 * so any epoch can be regenerated on resume without replaying earlier ones. */
static void make_order(vkt_loader *l) {
    for (int64_t i = 0; i < l->n_windows; i++) l->order[i] = i;
    if (!l->o.shuffle) return;
    vkt_rng r;
    vkt_rng_init(&r, l->o.seed ^ ((uint64_t)l->epoch * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
    for (int64_t i = l->n_windows - 1; i > 0; i--) {
        /* Modulo bias is at most n / 2^64: irrelevant for shuffling. */
        int64_t j = (int64_t)(vkt_rng_u64(&r) % (uint64_t)(i + 1));
        int64_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

static void advance(vkt_loader *l) {
    if (++l->batch == l->batches_per_epoch) {
        l->batch = 0;
        l->epoch++;
        make_order(l);
    }
}

vkt_status vkt_loader_init(vkt_loader *l, const vkt_loader_opts *o) {
    memset(l, 0, sizeof *l);
    if (o->B <= 0 || o->T <= 0 || o->vocab_size <= 0 || o->n < 0 || (!o->ids && o->n)) {
        vkt_log_error("loader: bad options B %lld, T %lld, vocab_size %lld, n %lld", (long long)o->B, (long long)o->T,
                      (long long)o->vocab_size, (long long)o->n);
        return VKT_ERR_ARG;
    }
    int64_t n_windows = o->n > 0 ? (o->n - 1) / o->T : 0;
    if (n_windows < o->B) {
        vkt_log_error("loader: %lld tokens make %lld windows of T+1 = %lld, fewer than B = %lld: need at least "
                      "%lld tokens (more data, or smaller B or T)",
                      (long long)o->n, (long long)n_windows, (long long)(o->T + 1), (long long)o->B,
                      (long long)(o->B * o->T + 1));
        return VKT_ERR_ARG;
    }
    for (int64_t i = 0; i < o->n; i++)
        if (o->ids[i] < 0 || o->ids[i] >= o->vocab_size) {
            vkt_log_error("loader: token %lld (window %lld) has id %d, outside the vocabulary [0, %lld): data "
                          "tokenized with a different tokenizer?",
                          (long long)i, (long long)(i / o->T), o->ids[i], (long long)o->vocab_size);
            return VKT_ERR_FORMAT;
        }
    l->order = malloc((size_t)n_windows * sizeof *l->order);
    if (!l->order) return VKT_ERR_OOM;
    l->o = *o;
    l->n_windows = n_windows;
    l->batches_per_epoch = n_windows / o->B;
    make_order(l);
    return VKT_OK;
}

void vkt_loader_free(vkt_loader *l) {
    free(l->order);
    memset(l, 0, sizeof *l);
}

vkt_status vkt_loader_next_windows(vkt_loader *l, int32_t *windows) {
    if (!l->order) return VKT_ERR_ARG;
    int64_t B = l->o.B, T = l->o.T;
    for (int64_t b = 0; b < B; b++) {
        int64_t w = l->order[l->batch * B + b];
        memcpy(windows + b * (T + 1), l->o.ids + w * T, (size_t)(T + 1) * sizeof *windows);
    }
    advance(l);
    return VKT_OK;
}

vkt_status vkt_loader_next(vkt_loader *l, int32_t *inputs, int32_t *targets) {
    if (!l->order) return VKT_ERR_ARG;
    int64_t B = l->o.B, T = l->o.T;
    for (int64_t b = 0; b < B; b++) {
        const int32_t *src = l->o.ids + l->order[l->batch * B + b] * T;
        memcpy(inputs + b * T, src, (size_t)T * sizeof *inputs);
        memcpy(targets + b * T, src + 1, (size_t)T * sizeof *targets);
    }
    advance(l);
    return VKT_OK;
}

vkt_loader_state vkt_loader_get_state(const vkt_loader *l) {
    return (vkt_loader_state){.epoch = l->epoch,
                              .batch = l->batch,
                              .n_tokens = l->o.n,
                              .B = l->o.B,
                              .T = l->o.T,
                              .seed = l->o.seed,
                              .shuffle = l->o.shuffle};
}

vkt_status vkt_loader_set_state(vkt_loader *l, const vkt_loader_state *s) {
    const char *field = s->n_tokens != l->o.n                 ? "n_tokens"
                        : s->B != l->o.B                      ? "B"
                        : s->T != l->o.T                      ? "T"
                        : s->seed != l->o.seed                ? "seed"
                        : s->shuffle != (int64_t)l->o.shuffle ? "shuffle"
                                                              : NULL;
    if (field) {
        vkt_log_error("loader: saved position is for n_tokens %lld, B %lld, T %lld, seed %llu, shuffle %lld but this "
                      "loader has %lld, %lld, %lld, %llu, %d: field %s differs (same data and settings needed to "
                      "resume)",
                      (long long)s->n_tokens, (long long)s->B, (long long)s->T, (unsigned long long)s->seed,
                      (long long)s->shuffle, (long long)l->o.n, (long long)l->o.B, (long long)l->o.T,
                      (unsigned long long)l->o.seed, (int)l->o.shuffle, field);
        return VKT_ERR_ARG;
    }
    if (s->epoch < 0 || s->batch < 0 || s->batch >= l->batches_per_epoch) {
        vkt_log_error("loader: saved position epoch %lld batch %lld is out of range (%lld batches per epoch)",
                      (long long)s->epoch, (long long)s->batch, (long long)l->batches_per_epoch);
        return VKT_ERR_ARG;
    }
    l->epoch = s->epoch;
    l->batch = s->batch;
    make_order(l);
    return VKT_OK;
}
