/* A run's data behind one interface (see train_data.h). */
#include "train/train_data.h"

#include <string.h>

#include "core/log.h"
#include "model/score_head.h"
#include "ops/seq_sum.h"
#include "sched/pref_step.h"

static vkt_status pref_init(vkt_train_data *d, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    if (strcmp(cfg->data_format, "auto") && strcmp(cfg->data_format, "pref")) {
        vkt_log_error("config: data.format \"%s\" with finetune.objective %s: preference objectives train on pairs "
                      "(data.format \"pref\" or \"auto\")",
                      cfg->data_format, vkt_run_config_ft_objective_name(cfg));
        return VKT_ERR_FORMAT;
    }
    if (cfg->objective != VKT_OBJ_CLM) {
        vkt_log_error("config: data.objective must be clm (next token) for preference pairs (%s)", cfg->data_train);
        return VKT_ERR_FORMAT;
    }
    return vkt_pref_source_init(&d->pairs, cfg, tok);
}

static vkt_status grpo_init(vkt_train_data *d, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    if (strcmp(cfg->data_format, "auto")) {
        vkt_log_error("config: data.format \"%s\" with finetune.objective grpo: GRPO reads prompt records (leave "
                      "data.format \"auto\")",
                      cfg->data_format);
        return VKT_ERR_FORMAT;
    }
    if (cfg->objective != VKT_OBJ_CLM) {
        vkt_log_error("config: data.objective must be clm (next token) for GRPO (%s)", cfg->data_train);
        return VKT_ERR_FORMAT;
    }
    return vkt_grpo_source_init(&d->prompts, cfg, tok);
}

vkt_status vkt_train_data_init(vkt_train_data *d, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    memset(d, 0, sizeof *d);
    if (vkt_grpo_source_wanted(cfg)) {
        d->kind = VKT_DATA_GRPO;
        return grpo_init(d, cfg, tok);
    }
    if (vkt_pref_source_wanted(cfg)) {
        d->kind = VKT_DATA_PREF;
        return pref_init(d, cfg, tok);
    }
    if (strcmp(cfg->data_format, "pref") == 0) {
        vkt_log_error("config: data.format \"pref\" (preference pairs) needs finetune.objective dpo, ipo or orpo");
        return VKT_ERR_FORMAT;
    }
    d->kind = vkt_sft_source_wanted(cfg) ? VKT_DATA_SFT : VKT_DATA_TEXT;
    if (d->kind == VKT_DATA_SFT) {
        if (cfg->objective != VKT_OBJ_CLM) {
            vkt_log_error("config: data.objective must be clm (next token) for instruction / chat records (%s)",
                          cfg->data_train);
            return VKT_ERR_FORMAT;
        }
        return vkt_sft_source_init(&d->records, cfg, tok);
    }
    if (strcmp(cfg->data_format, "text") && strcmp(cfg->data_format, "auto")) {
        vkt_log_error("config: data.format \"%s\" is not one of auto, text, sft, pref", cfg->data_format);
        return VKT_ERR_FORMAT;
    }
    VKT_TRY(vkt_dataset_init(&d->text, cfg, tok));
    vkt_log_info("data: %lld training and %lld validation tokens from %s (%d file(s), %d from the token cache)",
                 (long long)d->text.corpus.train.n, (long long)d->text.corpus.val.n, cfg->data_train,
                 d->text.corpus.n_files, d->text.corpus.n_cache_hits);
    return VKT_OK;
}

void vkt_train_data_free(vkt_train_data *d) {
    if (d->kind == VKT_DATA_GRPO)
        vkt_grpo_source_free(&d->prompts);
    else if (d->kind == VKT_DATA_PREF)
        vkt_pref_source_free(&d->pairs);
    else if (d->kind == VKT_DATA_SFT)
        vkt_sft_source_free(&d->records);
    else
        vkt_dataset_free(&d->text);
}

int64_t vkt_train_data_vocab(const vkt_train_data *d, const vkt_tokenizer *tok) {
    return d->kind == VKT_DATA_TEXT ? vkt_dataset_vocab(&d->text) : vkt_tok_vocab_size(tok);
}

bool vkt_train_data_has_val(const vkt_train_data *d) {
    if (d->kind == VKT_DATA_GRPO) return d->prompts.has_val;
    return d->kind == VKT_DATA_PREF ? d->pairs.has_val : d->kind == VKT_DATA_SFT ? d->records.has_val : d->text.has_val;
}

static vkt_status sft_fill(vkt_status (*next)(void *, int32_t *, int32_t *, int32_t *), void *src, const vkt_batch *b) {
    return next(src, b->tokens, b->targets, b->seg_start);
}

typedef enum { PREF_TRAIN, PREF_VAL, PREF_REF } pref_split;

/* A preference batch into the model's slot arrays and the step program's (b->aux), sequence ids checked. */
static vkt_status pref_fill(vkt_pref_source *src, const vkt_batch *b, pref_split which) {
    vkt_pref_slot *slot = b->aux;
    if (!slot) {
        vkt_log_error("preference batches fill the preference step's slot arrays (vkt_batch.aux is NULL)");
        return VKT_ERR_ARG;
    }
    vkt_pref_batch pb = {.tokens = b->tokens,
                         .targets = b->targets,
                         .seg_start = b->seg_start,
                         .seq_id = slot->seq_id,
                         .pairs = slot->pairs,
                         .pair_index = slot->pair_index,
                         .seq_last = slot->last_id ? slot->seq_last : NULL};
    if (which == PREF_TRAIN)
        VKT_TRY(vkt_pref_source_train_batch(src, &pb, slot->ref));
    else if (which == PREF_VAL)
        VKT_TRY(vkt_pref_source_val_batch(src, &pb, slot->ref));
    else
        VKT_TRY(vkt_pref_source_ref_pass_batch(src, &pb));
    slot->n_pairs = pb.n_pairs;
    if (slot->last_id) VKT_TRY(vkt_score_last_ids(slot->seq_last, 2 * src->max_pairs, src->B * src->T, slot->last_id));
    return vkt_seq_ids_check(slot->seq_id, src->B * src->T, src->T, 2 * src->max_pairs, "preference batch seq_id");
}

/* GRPO batches are the run's completions (grpo_train.c fills them). */
static vkt_status grpo_no_batch(void) {
    vkt_log_error("GRPO trains on its own completions: batches come from train/grpo_train.c, not the data");
    return VKT_ERR_ARG;
}

vkt_status vkt_train_data_train_batch(void *ctx, const vkt_batch *b) {
    vkt_train_data *d = ctx;
    if (d->kind == VKT_DATA_GRPO) return grpo_no_batch();
    if (d->kind == VKT_DATA_PREF) return pref_fill(&d->pairs, b, PREF_TRAIN);
    if (d->kind == VKT_DATA_SFT) return sft_fill(vkt_sft_source_train_batch, &d->records, b);
    return vkt_dataset_train_batch(&d->text, b);
}

vkt_status vkt_train_data_val_batch(void *ctx, const vkt_batch *b) {
    vkt_train_data *d = ctx;
    if (d->kind == VKT_DATA_GRPO) return grpo_no_batch();
    if (d->kind == VKT_DATA_PREF) return pref_fill(&d->pairs, b, PREF_VAL);
    if (d->kind == VKT_DATA_SFT) return sft_fill(vkt_sft_source_val_batch, &d->records, b);
    return vkt_dataset_val_batch(&d->text, b);
}

vkt_status vkt_train_data_ref_batch(void *ctx, const vkt_batch *b) {
    vkt_train_data *d = ctx;
    VKT_ASSERT(d->kind == VKT_DATA_PREF);
    return pref_fill(&d->pairs, b, PREF_REF);
}

void vkt_train_data_reset_val(vkt_train_data *d) {
    if (d->kind == VKT_DATA_GRPO) return;
    if (d->kind == VKT_DATA_PREF)
        vkt_pref_source_reset_val(&d->pairs);
    else if (d->kind == VKT_DATA_SFT)
        vkt_sft_source_reset_val(&d->records);
    else
        vkt_dataset_reset_val(&d->text);
}

int64_t vkt_train_data_val_batches(const vkt_train_data *d, int64_t eval_steps) {
    if (d->kind == VKT_DATA_GRPO) return 0;
    if (d->kind == VKT_DATA_PREF) return vkt_pref_source_val_batches(&d->pairs);
    return d->kind == VKT_DATA_SFT ? vkt_sft_source_val_batches(&d->records) : eval_steps;
}

vkt_train_data_pos vkt_train_data_get_pos(const vkt_train_data *d) {
    vkt_train_data_pos p = {0};
    if (d->kind == VKT_DATA_GRPO) {
        vkt_grpo_source_get_pos(&d->prompts, &p.epoch, &p.batch);
    } else if (d->kind == VKT_DATA_PREF) {
        vkt_pref_pack_state st = vkt_pref_pack_get_state(&d->pairs.train_pack);
        p.epoch = st.epoch, p.batch = st.batch;
    } else if (d->kind == VKT_DATA_SFT) {
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
    if (d->kind == VKT_DATA_GRPO) return vkt_grpo_source_set_pos(&d->prompts, p->epoch, p->batch);
    if (d->kind == VKT_DATA_PREF) {
        vkt_pref_pack_state st = vkt_pref_pack_get_state(&d->pairs.train_pack);
        st.epoch = p->epoch, st.batch = p->batch;
        return vkt_pref_pack_set_state(&d->pairs.train_pack, &st);
    }
    if (d->kind == VKT_DATA_SFT) {
        vkt_sft_pack_state st = vkt_sft_pack_get_state(&d->records.train_pack);
        st.epoch = p->epoch, st.batch = p->batch;
        return vkt_sft_pack_set_state(&d->records.train_pack, &st);
    }
    d->text.rng.s[0] = p->rng[0], d->text.rng.s[1] = p->rng[1];
    vkt_loader_state ls = vkt_loader_get_state(&d->text.train);
    ls.epoch = p->epoch, ls.batch = p->batch;
    return vkt_loader_set_state(&d->text.train, &ls);
}
