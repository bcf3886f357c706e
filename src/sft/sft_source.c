/* SFT data of a run (see sft_source.h). */
#include "sft/sft_source.h"

#include <dirent.h>
#include <string.h>

#include "chat/chat.h"
#include "core/log.h"
#include "io/file.h"
#include "sft/sft_retrieve.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_records(const char *name) { return ends_with(name, ".json") || ends_with(name, ".jsonl"); }

/* A folder is SFT data when it holds .json / .jsonl files and no .txt / .bin (text corpus) file. */
static bool folder_of_records(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return false;
    bool records = false, text = false;
    for (struct dirent *e; (e = readdir(d));) {
        records |= is_records(e->d_name);
        text |= ends_with(e->d_name, ".txt") || ends_with(e->d_name, ".bin");
    }
    closedir(d);
    return records && !text;
}

bool vkt_sft_source_wanted(const vkt_run_config *cfg) {
    if (strcmp(cfg->data_format, "sft") == 0) return true;
    if (strcmp(cfg->data_format, "auto") != 0) return false;
    return vkt_path_is_dir(cfg->data_train) ? folder_of_records(cfg->data_train) : is_records(cfg->data_train);
}

vkt_status vkt_config_choose(const char *key, const char *value, const char *const *names, int n, int *out) {
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(value, names[i]) == 0) return *out = i, VKT_OK;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    vkt_log_error("config: %s \"%s\" is not one of %s", key, value, list);
    return VKT_ERR_FORMAT;
}

static vkt_status options(const vkt_run_config *cfg, vkt_sft_tok_opts *o) {
    static const char *const loss[] = {"assistant", "last", "all"};
    static const char *const trunc[] = {"drop", "right", "left"};
    static const char *const bad[] = {"fail", "skip"};
    int l, t, b;
    VKT_TRY(vkt_config_choose("data.loss_on", cfg->loss_on, loss, 3, &l));
    VKT_TRY(vkt_config_choose("data.truncation", cfg->truncation, trunc, 3, &t));
    VKT_TRY(vkt_config_choose("data.bad_records", cfg->bad_records, bad, 2, &b));
    o->loss = (vkt_sft_loss_mode)l, o->truncation = (vkt_sft_truncation)t, o->skip_bad = b == 1;
    o->max_tokens = cfg->seq_len + 1, o->parse_special = cfg->parse_special;
    return VKT_OK;
}

static bool has_chat(const vkt_sft_dataset *d) {
    for (int64_t i = 0; i < d->n; i++)
        if (d->ex[i].kind == VKT_SFT_CHAT) return true;
    return false;
}

static vkt_status load(vkt_sft_source *s, const vkt_run_config *cfg, bool skip_bad) {
    vkt_sft_load_opts lo = {.skip_bad = skip_bad};
    vkt_sft_dataset all = {0};
    VKT_TRY(vkt_sft_dataset_load(cfg->data_train, &lo, &all));
    vkt_status st = VKT_OK;
    if (cfg->data_val[0]) {
        s->train_ds = all;
        st = vkt_sft_dataset_load(cfg->data_val, &lo, &s->val_ds);
    } else if (cfg->val_fraction > 0) {
        st = vkt_sft_dataset_split(&all, cfg->val_fraction, cfg->seed, &s->train_ds, &s->val_ds);
        vkt_sft_dataset_free(&all);
    } else {
        s->train_ds = all;
    }
    s->has_val = st == VKT_OK && s->val_ds.n > 0;
    return st;
}

static vkt_status retrieve(vkt_sft_source *s, const vkt_run_config *cfg) {
    vkt_sft_retrieve_opts ro = {.raft = vkt_rag_raft_defaults(), .training = true};
    VKT_TRY(vkt_context_place_parse(cfg->retrieve_into, "data.retrieve_into", &ro.place));
    VKT_TRY(vkt_rag_index_open(cfg->retrieve, &s->index));
    ro.index = s->index;
    ro.raft.k = (int32_t)cfg->retrieve_k, ro.raft.p_no_gold = cfg->retrieve_p_no_gold;
    ro.raft.hard_distractors = cfg->retrieve_hard, ro.raft.seed = cfg->seed;
    vkt_sft_retrieve_stats tr, va = {0};
    VKT_TRY(vkt_sft_retrieve(&s->train_ds, &ro, &tr));
    ro.training = false;
    if (s->has_val) VKT_TRY(vkt_sft_retrieve(&s->val_ds, &ro, &va));
    vkt_log_info("retrieval (%s, top %d): training %lld RAFT contexts (%lld with the gold passage) and %lld "
                 "top-k; validation %lld top-k, the gold document retrieved for %lld of the %lld that name one",
                 cfg->retrieve, (int)ro.raft.k, (long long)tr.n_raft, (long long)tr.n_gold_kept, (long long)tr.n_topk,
                 (long long)va.n_topk, (long long)va.n_gold_hit, (long long)va.n_gold_named);
    return VKT_OK;
}

static vkt_status plan(vkt_sft_pack *p, const vkt_sft_tokenized *data, const vkt_run_config *cfg, vkt_tokenizer *tok,
                       bool shuffle) {
    int32_t pad = vkt_tok_pad(tok) >= 0 ? vkt_tok_pad(tok) : 0;
    vkt_sft_pack_opts po = {.data = data, .B = cfg->batch_size, .T = cfg->seq_len, .pack = cfg->packing,
                            .shuffle = shuffle, .seed = cfg->seed, .pad_id = pad};
    return vkt_sft_pack_init(p, &po);
}

vkt_status vkt_sft_source_init(vkt_sft_source *s, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    memset(s, 0, sizeof *s);
    s->B = cfg->batch_size, s->T = cfg->seq_len;
    vkt_sft_tok_opts to = {.tok = tok};
    VKT_TRY(options(cfg, &to));
    VKT_TRY(load(s, cfg, to.skip_bad));
    if (has_chat(&s->train_ds) || has_chat(&s->val_ds)) {
        const char *spec = cfg->chat_template[0] ? cfg->chat_template : NULL;
        VKT_TRY(vkt_chat_template_resolve(spec, cfg->tokenizer_path, tok, &s->tmpl));
        vkt_log_info("chat template: %s", vkt_chat_template_name(s->tmpl));
    }
    to.chat = s->tmpl;
    if (cfg->retrieve[0]) VKT_TRY(retrieve(s, cfg));
    VKT_TRY(vkt_sft_tokenize(&to, &s->train_ds, &s->train));
    VKT_TRY(plan(&s->train_pack, &s->train, cfg, tok, cfg->shuffle));
    if (s->has_val) {
        VKT_TRY(vkt_sft_tokenize(&to, &s->val_ds, &s->val));
        VKT_TRY(plan(&s->val_pack, &s->val, cfg, tok, false));
    }
    return VKT_OK;
}

void vkt_sft_source_free(vkt_sft_source *s) {
    vkt_sft_pack_free(&s->val_pack);
    vkt_sft_pack_free(&s->train_pack);
    vkt_sft_tokenized_free(&s->val);
    vkt_sft_tokenized_free(&s->train);
    vkt_sft_dataset_free(&s->val_ds);
    vkt_sft_dataset_free(&s->train_ds);
    vkt_chat_template_free(s->tmpl);
    vkt_rag_index_close(s->index);
    memset(s, 0, sizeof *s);
}

vkt_status vkt_sft_source_train_batch(void *ctx, int32_t *tokens, int32_t *targets, int32_t *seg_start) {
    return vkt_sft_pack_next(&((vkt_sft_source *)ctx)->train_pack, tokens, targets, seg_start);
}

vkt_status vkt_sft_source_val_batch(void *ctx, int32_t *tokens, int32_t *targets, int32_t *seg_start) {
    vkt_sft_source *s = ctx;
    if (!s->has_val) {
        vkt_log_error("sft: no validation data");
        return VKT_ERR_ARG;
    }
    return vkt_sft_pack_next(&s->val_pack, tokens, targets, seg_start);
}

void vkt_sft_source_reset_val(vkt_sft_source *s) {
    if (!s->has_val) return;
    vkt_sft_pack_state st = vkt_sft_pack_get_state(&s->val_pack);
    st.epoch = 0, st.batch = 0;
    vkt_sft_pack_set_state(&s->val_pack, &st);
}

int64_t vkt_sft_source_val_batches(const vkt_sft_source *s) { return s->has_val ? s->val_pack.stats.n_batches : 0; }
