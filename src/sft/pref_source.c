/* Preference data of a run (see pref_source.h). */
#include "sft/pref_source.h"

#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/log.h"
#include "sft/sft_source.h"

bool vkt_pref_source_wanted(const vkt_run_config *cfg) {
    return cfg->ft_objective == VKT_FT_DPO || cfg->ft_objective == VKT_FT_IPO || cfg->ft_objective == VKT_FT_ORPO ||
           cfg->ft_objective == VKT_FT_REWARD;
}

static vkt_status options(const vkt_run_config *cfg, vkt_pref_tok_opts *o) {
    static const char *const trunc[] = {"right", "drop", "left"};
    static const char *const bad[] = {"fail", "skip"};
    int t, b;
    VKT_TRY(vkt_config_choose("data.truncation", cfg->truncation, trunc, 3, &t));
    VKT_TRY(vkt_config_choose("data.bad_records", cfg->bad_records, bad, 2, &b));
    if (t == 2) {
        vkt_log_error(
            "config: data.truncation \"left\" does not apply to preference pairs: \"right\" bounds the prompt "
            "by data.max_prompt_tokens (keeping its end) and then cuts the completion's end, \"drop\" drops "
            "pairs longer than optim.seq_len + 1 tokens");
        return VKT_ERR_FORMAT;
    }
    o->truncation = t == 0 ? VKT_PREF_TRUNC_CUT : VKT_PREF_TRUNC_DROP, o->skip_bad = b == 1;
    /* A reward model's sequences get a placeholder appended (one input per token): seq_len tokens each. */
    o->max_tokens = cfg->seq_len + (cfg->ft_objective == VKT_FT_REWARD ? 0 : 1), o->parse_special = cfg->parse_special;
    o->max_prompt_tokens = cfg->max_prompt_tokens, o->max_completion_tokens = cfg->max_completion_tokens;
    return VKT_OK;
}

static bool has_chat(const vkt_pref_dataset *d) {
    for (int64_t i = 0; i < d->n; i++)
        if (d->ex[i].kind == VKT_PREF_CHAT) return true;
    return false;
}

static vkt_status load(vkt_pref_source *s, const vkt_run_config *cfg, bool skip_bad) {
    vkt_pref_load_opts lo = {.skip_bad = skip_bad};
    vkt_pref_dataset all = {0};
    vkt_status st = vkt_pref_dataset_load(cfg->data_train, &lo, &all);
    if (st != VKT_OK) {
        vkt_pref_dataset_free(&all);
        return st;
    }
    if (cfg->data_val[0]) {
        s->train_ds = all;
        st = vkt_pref_dataset_load(cfg->data_val, &lo, &s->val_ds);
    } else if (cfg->val_fraction > 0) {
        st = vkt_pref_dataset_split(&all, cfg->val_fraction, cfg->seed, &s->train_ds, &s->val_ds);
        vkt_pref_dataset_free(&all);
    } else {
        s->train_ds = all;
    }
    s->has_val = st == VKT_OK && s->val_ds.n > 0;
    return st;
}

/* Positions of the shortest pair (chosen + rejected, each n - 1). */
static int64_t shortest_pair(const vkt_pref_tokenized *t) {
    int64_t best = INT64_MAX;
    for (int64_t i = 0; i < t->n_pairs; i++) {
        int64_t n = t->start[2 * i + 2] - t->start[2 * i] - 2;
        if (n < best) best = n;
    }
    return best;
}

/* The pair rows a batch needs: packed, no batch can hold more pairs than B*T over the shortest pair's
 * positions (a bound that never binds the plan but keeps the loss op's pair table small). */
static int64_t batch_pairs(const vkt_pref_source *s, const vkt_run_config *cfg) {
    if (!cfg->packing) return 0; /* the packer's B / 2 */
    int64_t shortest = shortest_pair(&s->train);
    if (s->has_val && shortest_pair(&s->val) < shortest) shortest = shortest_pair(&s->val);
    int64_t room = s->B * s->T, bound = room / (shortest > 2 ? shortest : 2);
    return bound < room / 2 ? bound : room / 2;
}

static vkt_status plan(vkt_pref_pack *p, const vkt_pref_tokenized *data, const vkt_pref_source *s,
                       const vkt_run_config *cfg, int32_t pad, bool shuffle) {
    vkt_pref_pack_opts po = {.data = data,
                             .B = s->B,
                             .T = s->T,
                             .pack = cfg->packing,
                             .shuffle = shuffle,
                             .seed = cfg->seed,
                             .max_pairs = s->max_pairs,
                             .pad_id = pad};
    return vkt_pref_pack_init(p, &po);
}

vkt_status vkt_pref_source_init(vkt_pref_source *s, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    memset(s, 0, sizeof *s);
    s->B = cfg->batch_size, s->T = cfg->seq_len;
    vkt_pref_tok_opts to = {.tok = tok};
    VKT_TRY(options(cfg, &to));
    VKT_TRY(load(s, cfg, to.skip_bad));
    if (has_chat(&s->train_ds) || has_chat(&s->val_ds)) {
        const char *spec = cfg->chat_template[0] ? cfg->chat_template : NULL;
        VKT_TRY(vkt_chat_template_resolve(spec, cfg->tokenizer_path, tok, &s->tmpl));
        vkt_log_info("chat template: %s", vkt_chat_template_name(s->tmpl));
    }
    to.chat = s->tmpl;
    VKT_TRY(vkt_pref_tokenize(&to, &s->train_ds, &s->train));
    if (s->has_val) VKT_TRY(vkt_pref_tokenize(&to, &s->val_ds, &s->val));
    int32_t pad = vkt_tok_pad(tok) >= 0 ? vkt_tok_pad(tok) : 0;
    if (cfg->ft_objective == VKT_FT_REWARD) {
        VKT_TRY(vkt_pref_tokenized_append(&s->train, pad));
        if (s->has_val) VKT_TRY(vkt_pref_tokenized_append(&s->val, pad));
    }
    s->max_pairs = batch_pairs(s, cfg);
    VKT_TRY(plan(&s->train_pack, &s->train, s, cfg, pad, cfg->shuffle));
    s->max_pairs = vkt_pref_pack_max_pairs(&s->train_pack);
    if (s->has_val) VKT_TRY(plan(&s->val_pack, &s->val, s, cfg, pad, false));
    vkt_log_info("preference data: %lld training and %lld validation pairs, %lld training batches per epoch "
                 "(%.1f pairs each, at most %lld)",
                 (long long)s->train.n_pairs, (long long)s->val.n_pairs, (long long)s->train_pack.n_batches,
                 s->train_pack.stats.pairs_per_batch, (long long)s->max_pairs);
    return VKT_OK;
}

void vkt_pref_source_free(vkt_pref_source *s) {
    vkt_pref_pack_free(&s->ref_pack);
    vkt_pref_pack_free(&s->val_pack);
    vkt_pref_pack_free(&s->train_pack);
    vkt_pref_tokenized_free(&s->val);
    vkt_pref_tokenized_free(&s->train);
    vkt_pref_dataset_free(&s->val_ds);
    vkt_pref_dataset_free(&s->train_ds);
    vkt_chat_template_free(s->tmpl);
    free(s->ref[0]), free(s->ref[1]);
    memset(s, 0, sizeof *s);
}

/* The stored reference log-probs of b's sequences into ref (2 max_pairs). */
static vkt_status fill_ref(const vkt_pref_source *s, int split, const vkt_pref_batch *b, float *ref) {
    if (!s->ref[split]) {
        vkt_log_error("preference data: no reference log-probabilities were computed for the %s pairs",
                      split ? "validation" : "training");
        return VKT_ERR_ARG;
    }
    memset(ref, 0, (size_t)(2 * s->max_pairs) * sizeof *ref);
    for (int32_t k = 0; k < b->n_pairs; k++)
        for (int side = 0; side < 2; side++) ref[2 * k + side] = s->ref[split][2 * b->pair_index[k] + side];
    return VKT_OK;
}

vkt_status vkt_pref_source_train_batch(vkt_pref_source *s, vkt_pref_batch *b, float *ref) {
    VKT_TRY(vkt_pref_pack_next(&s->train_pack, b));
    return ref ? fill_ref(s, 0, b, ref) : VKT_OK;
}

vkt_status vkt_pref_source_val_batch(vkt_pref_source *s, vkt_pref_batch *b, float *ref) {
    if (!s->has_val) {
        vkt_log_error("preference data: no validation pairs");
        return VKT_ERR_ARG;
    }
    VKT_TRY(vkt_pref_pack_next(&s->val_pack, b));
    return ref ? fill_ref(s, 1, b, ref) : VKT_OK;
}

void vkt_pref_source_reset_val(vkt_pref_source *s) {
    if (!s->has_val) return;
    vkt_pref_pack_state st = vkt_pref_pack_get_state(&s->val_pack);
    st.epoch = 0, st.batch = 0;
    vkt_pref_pack_set_state(&s->val_pack, &st);
}

int64_t vkt_pref_source_val_batches(const vkt_pref_source *s) { return s->has_val ? s->val_pack.n_batches : 0; }

vkt_status vkt_pref_source_ref_pass_begin(vkt_pref_source *s, bool val, int64_t *n_batches) {
    const vkt_pref_tokenized *data = val ? &s->val : &s->train;
    *n_batches = 0;
    if (val && !s->has_val) return VKT_OK;
    if (!s->ref[val]) {
        s->ref[val] = calloc((size_t)(2 * data->n_pairs), sizeof *s->ref[val]);
        if (!s->ref[val]) return VKT_ERR_OOM;
    }
    vkt_pref_pack_opts po = s->train_pack.o;
    po.data = data, po.shuffle = false;
    vkt_pref_pack_free(&s->ref_pack);
    VKT_TRY(vkt_pref_pack_init(&s->ref_pack, &po));
    *n_batches = s->ref_pack.n_batches;
    return VKT_OK;
}

vkt_status vkt_pref_source_ref_pass_batch(vkt_pref_source *s, vkt_pref_batch *b) {
    return vkt_pref_pack_next(&s->ref_pack, b);
}

vkt_status vkt_pref_source_ref_store(vkt_pref_source *s, bool val, const int64_t *pair_index, int32_t n_pairs,
                                     const float *seq_logps) {
    const vkt_pref_tokenized *data = val ? &s->val : &s->train;
    for (int32_t k = 0; k < n_pairs; k++) {
        int64_t i = pair_index[k];
        VKT_ASSERT(s->ref[val] && i >= 0 && i < data->n_pairs);
        s->ref[val][2 * i] = seq_logps[2 * k], s->ref[val][2 * i + 1] = seq_logps[2 * k + 1];
    }
    return VKT_OK;
}
