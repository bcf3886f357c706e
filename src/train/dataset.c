/* Batches for the pre-training objectives (see dataset.h). */
#include "train/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* data/encoder.h's callback over a vkt_tokenizer: returns the count, fills up to cap. */
static int64_t encode_cb(void *ctx, const char *text, size_t len, int32_t *out, int64_t cap) {
    vkt_tok_ids ids = {0};
    if (vkt_tok_encode(ctx, text, len, false, &ids) != VKT_OK) {
        vkt_tok_ids_free(&ids);
        return -1;
    }
    int64_t n = (int64_t)ids.len;
    if (n <= cap) memcpy(out, ids.data, (size_t)n * sizeof *out);
    vkt_tok_ids_free(&ids);
    return n;
}

static const char *cache_dir(char *buf, size_t n) {
    const char *env = getenv("VKT_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env) snprintf(buf, n, "%s/tokens", env);
    else if (xdg && *xdg) snprintf(buf, n, "%s/vktrain/tokens", xdg);
    else if (home && *home) snprintf(buf, n, "%s/.cache/vktrain/tokens", home);
    else return NULL;
    return buf;
}

vkt_status vkt_dataset_init(vkt_dataset *d, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    memset(d, 0, sizeof *d);
    d->B = cfg->batch_size, d->T = cfg->seq_len, d->tok_vocab = vkt_tok_vocab_size(tok);
    d->objective = cfg->objective, d->mask_prob = cfg->mask_prob, d->fim_rate = cfg->fim_rate;
    if (!cfg->data_train[0]) {
        vkt_log_error("config: data.train is empty; give a text file, a token shard or a folder of them");
        return VKT_ERR_FORMAT;
    }
    /* Documents are separated by the tokenizer's end-of-text token; byte-level vocabularies have none,
     * so they use byte 0, which text never contains. */
    int32_t eot = vkt_tok_eot(tok) >= 0 ? vkt_tok_eot(tok) : 0;
    snprintf(d->identity, sizeof d->identity, "vktrain-tok kind=%d vocab=%lld eot=%d %.40s", vkt_tok_get_kind(tok),
             (long long)d->tok_vocab, eot, cfg->tokenizer_path);
    vkt_encoder enc = {.encode = encode_cb, .ctx = tok, .identity = d->identity, .vocab_size = d->tok_vocab,
                       .eot_id = eot};
    char cache[600];
    vkt_corpus_opts co = {.path = cfg->data_train,
                          .val_path = cfg->data_val[0] ? cfg->data_val : NULL,
                          .val_fraction = cfg->val_fraction,
                          .doc_separator = vkt_tok_eot(tok) >= 0 ? "<|endoftext|>" : NULL,
                          .cache_dir = cache_dir(cache, sizeof cache)};
    VKT_TRY(vkt_corpus_load(&co, &enc, &d->corpus));
    vkt_loader_opts lo = {.ids = d->corpus.train.ids, .n = d->corpus.train.n, .B = d->B, .T = d->T,
                          .vocab_size = d->tok_vocab, .shuffle = cfg->shuffle, .seed = cfg->seed};
    VKT_TRY(vkt_loader_init(&d->train, &lo));
    d->has_val = d->corpus.val.n > d->B * (d->T + 1);
    if (d->has_val) {
        lo.ids = d->corpus.val.ids, lo.n = d->corpus.val.n, lo.shuffle = false;
        VKT_TRY(vkt_loader_init(&d->val, &lo));
    } else if (d->corpus.val.n > 0) {
        vkt_log_warn("validation split has %lld tokens, fewer than one batch of %lld x %lld: no validation loss "
                     "will be reported (raise data.val_fraction or give data.val)",
                     (long long)d->corpus.val.n, (long long)d->B, (long long)(d->T + 1));
    }
    vkt_rng_init(&d->rng, cfg->seed ^ 0x0b1ec71e5ull);
    d->windows = malloc((size_t)(d->B * (d->T + 1)) * sizeof *d->windows);
    d->fim_buf = malloc((size_t)(d->T + 1) * sizeof *d->fim_buf);
    return d->windows && d->fim_buf ? VKT_OK : VKT_ERR_OOM;
}

void vkt_dataset_free(vkt_dataset *d) {
    vkt_loader_free(&d->train);
    if (d->has_val) vkt_loader_free(&d->val);
    vkt_corpus_free(&d->corpus);
    free(d->windows);
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
    vkt_loader *l = d->has_val ? &d->val : NULL;
    if (!l) return;
    vkt_loader_state st = vkt_loader_get_state(l);
    st.epoch = 0, st.batch = 0;
    vkt_loader_set_state(l, &st);
}

static void make_mlm(vkt_dataset *d, const int32_t *w, int32_t *in, int32_t *tg) {
    int32_t mask = (int32_t)d->tok_vocab;
    for (int64_t t = 0; t < d->T; t++) {
        in[t] = w[t], tg[t] = -100;
        if (vkt_rng_uniform(&d->rng) >= d->mask_prob) continue;
        tg[t] = w[t];
        double u = vkt_rng_uniform(&d->rng);
        if (u < 0.8) in[t] = mask;
        else if (u < 0.9) in[t] = (int32_t)vkt_rng_below(&d->rng, (uint32_t)d->tok_vocab);
    }
}

/* PSM rearrangement of a window: three sentinels replace the window's last three tokens. */
static void make_fim(vkt_dataset *d, const int32_t *w, int32_t *in, int32_t *tg) {
    int64_t T = d->T;
    if (T < 8 || vkt_rng_uniform(&d->rng) >= d->fim_rate) {
        memcpy(in, w, (size_t)T * sizeof *in);
        memcpy(tg, w + 1, (size_t)T * sizeof *tg);
        return;
    }
    int32_t pre = (int32_t)d->tok_vocab, suf = pre + 1, mid = pre + 2, *buf = d->fim_buf;
    int64_t n = T + 1 - 3;
    int64_t a = vkt_rng_below(&d->rng, (uint32_t)(n + 1)), b = vkt_rng_below(&d->rng, (uint32_t)(n + 1));
    if (a > b) {
        int64_t x = a;
        a = b, b = x;
    }
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

static vkt_status fill(vkt_dataset *d, vkt_loader *l, int32_t *inputs, int32_t *targets) {
    if (d->objective == VKT_OBJ_CLM) return vkt_loader_next(l, inputs, targets);
    VKT_TRY(vkt_loader_next_windows(l, d->windows));
    for (int64_t b = 0; b < d->B; b++) {
        const int32_t *w = d->windows + b * (d->T + 1);
        if (d->objective == VKT_OBJ_MLM) make_mlm(d, w, inputs + b * d->T, targets + b * d->T);
        else make_fim(d, w, inputs + b * d->T, targets + b * d->T);
    }
    return VKT_OK;
}

vkt_status vkt_dataset_train_batch(void *ctx, const vkt_batch *batch) {
    vkt_dataset *d = ctx;
    return fill(d, &d->train, batch->tokens, batch->targets);
}

vkt_status vkt_dataset_val_batch(void *ctx, const vkt_batch *batch) {
    vkt_dataset *d = ctx;
    if (!d->has_val) {
        /* Training batches here would be reported as a validation loss. */
        vkt_log_error("no validation data: data.val_fraction is 0 (or its split is under one batch) and data.val "
                      "is empty");
        return VKT_ERR_ARG;
    }
    return fill(d, &d->val, batch->tokens, batch->targets);
}
