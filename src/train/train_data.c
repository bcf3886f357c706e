/* A run's data behind one interface (see train_data.h). */
#include "train/train_data.h"

#include <string.h>

#include "core/log.h"

vkt_status vkt_train_data_init(vkt_train_data *d, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    memset(d, 0, sizeof *d);
    d->sft = vkt_sft_source_wanted(cfg);
    if (d->sft) {
        if (cfg->objective != VKT_OBJ_CLM) {
            vkt_log_error("config: data.objective must be clm (next token) for instruction / chat records (%s)",
                          cfg->data_train);
            return VKT_ERR_FORMAT;
        }
        return vkt_sft_source_init(&d->records, cfg, tok);
    }
    if (strcmp(cfg->data_format, "text") && strcmp(cfg->data_format, "auto")) {
        vkt_log_error("config: data.format \"%s\" is not one of auto, text, sft", cfg->data_format);
        return VKT_ERR_FORMAT;
    }
    VKT_TRY(vkt_dataset_init(&d->text, cfg, tok));
    vkt_log_info("data: %lld training and %lld validation tokens from %s (%d file(s), %d from the token cache)",
                 (long long)d->text.corpus.train.n, (long long)d->text.corpus.val.n, cfg->data_train,
                 d->text.corpus.n_files, d->text.corpus.n_cache_hits);
    return VKT_OK;
}

void vkt_train_data_free(vkt_train_data *d) {
    if (d->sft) vkt_sft_source_free(&d->records);
    else vkt_dataset_free(&d->text);
}

int64_t vkt_train_data_vocab(const vkt_train_data *d, const vkt_tokenizer *tok) {
    return d->sft ? vkt_tok_vocab_size(tok) : vkt_dataset_vocab(&d->text);
}

bool vkt_train_data_has_val(const vkt_train_data *d) { return d->sft ? d->records.has_val : d->text.has_val; }

static vkt_status sft_fill(vkt_status (*next)(void *, int32_t *, int32_t *, int32_t *), void *src, const vkt_batch *b) {
    return next(src, b->tokens, b->targets, b->seg_start);
}

vkt_status vkt_train_data_train_batch(void *ctx, const vkt_batch *b) {
    vkt_train_data *d = ctx;
    return d->sft ? sft_fill(vkt_sft_source_train_batch, &d->records, b) : vkt_dataset_train_batch(&d->text, b);
}

vkt_status vkt_train_data_val_batch(void *ctx, const vkt_batch *b) {
    vkt_train_data *d = ctx;
    return d->sft ? sft_fill(vkt_sft_source_val_batch, &d->records, b) : vkt_dataset_val_batch(&d->text, b);
}

void vkt_train_data_reset_val(vkt_train_data *d) {
    if (d->sft) vkt_sft_source_reset_val(&d->records);
    else vkt_dataset_reset_val(&d->text);
}

int64_t vkt_train_data_val_batches(const vkt_train_data *d, int64_t eval_steps) {
    return d->sft ? vkt_sft_source_val_batches(&d->records) : eval_steps;
}

vkt_train_data_pos vkt_train_data_get_pos(const vkt_train_data *d) {
    vkt_train_data_pos p = {0};
    if (d->sft) {
        vkt_sft_pack_state st = vkt_sft_pack_get_state(&d->records.train_pack);
        p.epoch = st.epoch, p.batch = st.batch;
    } else {
        vkt_loader_state ls = vkt_loader_get_state(&d->text.train);
        p.epoch = ls.epoch, p.batch = ls.batch;
        p.rng[0] = d->text.rng.s[0], p.rng[1] = d->text.rng.s[1];
    }
    return p;
}

vkt_status vkt_train_data_set_pos(vkt_train_data *d, const vkt_train_data_pos *p) {
    if (d->sft) {
        vkt_sft_pack_state st = vkt_sft_pack_get_state(&d->records.train_pack);
        st.epoch = p->epoch, st.batch = p->batch;
        return vkt_sft_pack_set_state(&d->records.train_pack, &st);
    }
    d->text.rng.s[0] = p->rng[0], d->text.rng.s[1] = p->rng[1];
    vkt_loader_state ls = vkt_loader_get_state(&d->text.train);
    ls.epoch = p->epoch, ls.batch = p->batch;
    return vkt_loader_set_state(&d->text.train, &ls);
}
