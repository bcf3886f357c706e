/* Batches for the pre-training objectives (see dataset.h). */
#include "train/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define VAL_SEED_SALT 0x5eed0fa1ull

vkt_status vkt_dataset_init(vkt_dataset *d, int32_t *ids, int64_t n, const vkt_run_config *cfg, int64_t tok_vocab) {
    memset(d, 0, sizeof *d);
    d->B = cfg->batch_size, d->T = cfg->seq_len, d->tok_vocab = tok_vocab;
    d->objective = cfg->objective, d->mask_prob = cfg->mask_prob, d->fim_rate = cfg->fim_rate;
    d->shuffle = cfg->shuffle;
    int64_t n_val = (int64_t)((double)n * cfg->val_fraction);
    if (n_val > 0 && n_val < d->T + 1) n_val = d->T + 1;
    if (n - n_val < d->T + 1) {
        vkt_log_error("the training data has %lld tokens: too few for seq_len %lld with val_fraction %g; add "
                      "data or lower optim.seq_len", (long long)n, (long long)d->T, cfg->val_fraction);
        free(ids);
        return VKT_ERR_FORMAT;
    }
    d->train.ids = ids, d->train.n = n - n_val;
    if (n_val > 0) {
        d->val.ids = malloc((size_t)n_val * sizeof *d->val.ids);
        if (!d->val.ids) return VKT_ERR_OOM;
        memcpy(d->val.ids, ids + d->train.n, (size_t)n_val * sizeof *ids);
        d->val.n = n_val;
    }
    d->window = malloc((size_t)(d->T + 1) * sizeof *d->window);
    d->fim_buf = malloc((size_t)(d->T + 1) * sizeof *d->fim_buf);
    if (!d->window || !d->fim_buf) return VKT_ERR_OOM;
    vkt_rng_init(&d->rng, cfg->seed);
    d->val_seed = cfg->seed ^ VAL_SEED_SALT;
    vkt_dataset_reset_val(d);
    return VKT_OK;
}

void vkt_dataset_free(vkt_dataset *d) {
    free(d->train.ids);
    free(d->val.ids);
    free(d->window);
    free(d->fim_buf);
    memset(d, 0, sizeof *d);
}

int64_t vkt_dataset_vocab(const vkt_dataset *d) {
    switch (d->objective) {
    case VKT_OBJ_MLM: return d->tok_vocab + 1;
    case VKT_OBJ_FIM: return d->tok_vocab + 3;
    default: return d->tok_vocab;
    }
}

void vkt_dataset_reset_val(vkt_dataset *d) {
    vkt_rng_init(&d->val_rng, d->val_seed);
    d->val.cursor = 0;
}

/* Copies the next T + 1 tokens of split s into w. */
static void next_window(vkt_dataset *d, vkt_split *s, vkt_rng *rng, bool shuffle, int32_t *w) {
    int64_t span = s->n - (d->T + 1), start;
    if (shuffle) {
        start = (int64_t)(vkt_rng_uniform(rng) * (double)(span + 1));
    } else {
        if (s->cursor > span) s->cursor = 0;
        start = s->cursor;
        s->cursor += d->T;
    }
    memcpy(w, s->ids + start, (size_t)(d->T + 1) * sizeof *w);
}

static void make_mlm(vkt_dataset *d, vkt_rng *rng, const int32_t *w, int32_t *in, int32_t *tg) {
    int32_t mask = (int32_t)d->tok_vocab;
    for (int64_t t = 0; t < d->T; t++) {
        in[t] = w[t], tg[t] = -100;
        if (vkt_rng_uniform(rng) >= d->mask_prob) continue;
        tg[t] = w[t];
        double u = vkt_rng_uniform(rng);
        if (u < 0.8) in[t] = mask;
        else if (u < 0.9) in[t] = (int32_t)vkt_rng_below(rng, (uint32_t)d->tok_vocab);
    }
}

/* PSM rearrangement of w[0..T] (T + 1 tokens incl. the 3 sentinels' room taken from the middle). */
static void make_fim(vkt_dataset *d, vkt_rng *rng, const int32_t *w, int32_t *in, int32_t *tg) {
    int64_t T = d->T;
    if (T < 8 || vkt_rng_uniform(rng) >= d->fim_rate) {
        memcpy(in, w, (size_t)T * sizeof *in);
        memcpy(tg, w + 1, (size_t)T * sizeof *tg);
        return;
    }
    int32_t pre = (int32_t)d->tok_vocab, suf = pre + 1, mid = pre + 2;
    int64_t n = T + 1 - 3; /* document tokens that fit with three sentinels */
    int64_t a = vkt_rng_below(rng, (uint32_t)(n + 1)), b = vkt_rng_below(rng, (uint32_t)(n + 1));
    if (a > b) { int64_t x = a; a = b; b = x; }
    int32_t *buf = d->fim_buf;
    int64_t k = 0;
    buf[k++] = pre;
    for (int64_t i = 0; i < a; i++) buf[k++] = w[i];
    buf[k++] = suf;
    for (int64_t i = b; i < n; i++) buf[k++] = w[i];
    buf[k++] = mid;
    for (int64_t i = a; i < b; i++) buf[k++] = w[i];
    memcpy(in, buf, (size_t)T * sizeof *in);
    memcpy(tg, buf + 1, (size_t)T * sizeof *tg);
}

static vkt_status fill(vkt_dataset *d, vkt_split *s, vkt_rng *rng, bool shuffle, int32_t *inputs,
                       int32_t *targets) {
    for (int64_t b = 0; b < d->B; b++) {
        next_window(d, s, rng, shuffle, d->window);
        int32_t *in = inputs + b * d->T, *tg = targets + b * d->T;
        switch (d->objective) {
        case VKT_OBJ_MLM: make_mlm(d, rng, d->window, in, tg); break;
        case VKT_OBJ_FIM: make_fim(d, rng, d->window, in, tg); break;
        default:
            memcpy(in, d->window, (size_t)d->T * sizeof *in);
            memcpy(tg, d->window + 1, (size_t)d->T * sizeof *tg);
        }
    }
    return VKT_OK;
}

vkt_status vkt_dataset_train_batch(void *ctx, int32_t *inputs, int32_t *targets) {
    vkt_dataset *d = ctx;
    return fill(d, &d->train, &d->rng, d->shuffle, inputs, targets);
}

vkt_status vkt_dataset_val_batch(void *ctx, int32_t *inputs, int32_t *targets) {
    vkt_dataset *d = ctx;
    vkt_split *s = d->val.n ? &d->val : &d->train;
    return fill(d, s, &d->val_rng, true, inputs, targets);
}
