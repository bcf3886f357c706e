/* GRPO prompts (see grpo_source.h). */
#include "rl/grpo_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/log.h"
#include "core/rng.h"
#include "sft/json_records.h"
#include "sft/record_split.h"
#include "sft/sft_record.h"
#include "sft/sft_source.h"

bool vkt_grpo_source_wanted(const vkt_run_config *cfg) { return cfg->ft_objective == VKT_FT_GRPO; }

static void record_free(vkt_grpo_record *r) {
    cJSON_Delete(r->messages), cJSON_Delete(r->tools);
    free(r->text), free(r->answer);
    memset(r, 0, sizeof *r);
}

static void records_free(vkt_grpo_records *set) {
    for (int64_t i = 0; i < set->n; i++) record_free(&set->r[i]);
    free(set->r);
    for (int32_t i = 0; i < set->n_files; i++) free(set->files[i]);
    free(set->files);
    memset(set, 0, sizeof *set);
}

const char *vkt_grpo_record_where(const vkt_grpo_records *set, int64_t i, char *buf, size_t len) {
    const vkt_grpo_record *r = &set->r[i];
    snprintf(buf, len, "%s:%lld", r->file >= 0 && r->file < set->n_files ? set->files[r->file] : "?",
             (long long)r->line);
    return buf;
}

vkt_rl_prompt vkt_grpo_record_prompt(const vkt_grpo_records *set, int64_t i, int64_t id) {
    const vkt_grpo_record *r = &set->r[i];
    return (vkt_rl_prompt){.id = id, .messages = r->messages, .tools = r->tools, .text = r->text};
}

typedef struct {
    vkt_grpo_records *set;
    const char *answer_key;
} reader_t;

/* The prompt of a record: a string, or messages ending on a user or tool turn. */
static vkt_status take_prompt(const cJSON *rec, vkt_grpo_record *out, char *why, size_t why_len) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, "prompt");
    if (cJSON_IsString(p)) return (out->text = strdup(p->valuestring)) ? VKT_OK : VKT_ERR_OOM;
    if (!cJSON_IsArray(p)) {
        char keys[256];
        snprintf(why, why_len, "\"prompt\" is %s (a string or a message list is expected; the record's keys: %s)",
                 vkt_sft_json_type_name(p), vkt_sft_json_keys(rec, keys, sizeof keys));
        return VKT_ERR_FORMAT;
    }
    VKT_TRY(vkt_sft_messages_from_json(p, "prompt", &out->messages, why, why_len));
    const cJSON *last = cJSON_GetArrayItem(out->messages, cJSON_GetArraySize(out->messages) - 1);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(last, "role");
    if (!cJSON_IsString(role) || (strcmp(role->valuestring, "user") && strcmp(role->valuestring, "tool"))) {
        snprintf(why, why_len, "\"prompt\" must end on a user or tool message (the model answers it), not %s",
                 cJSON_IsString(role) ? role->valuestring : "an empty list");
        return VKT_ERR_FORMAT;
    }
    return vkt_sft_tools_from_json(rec, &out->tools, why, why_len);
}

static vkt_status take_answer(const cJSON *rec, const char *key, vkt_grpo_record *out, char *why, size_t why_len) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!a || cJSON_IsNull(a)) return VKT_OK;
    if (cJSON_IsString(a))
        out->answer = strdup(a->valuestring);
    else if (cJSON_IsNumber(a))
        out->answer = cJSON_PrintUnformatted(a);
    else {
        snprintf(why, why_len,
                 "\"%s\" (the reference answer, finetune.answer_key) is %s; a string or a number is "
                 "expected",
                 key, vkt_sft_json_type_name(a));
        return VKT_ERR_FORMAT;
    }
    return out->answer ? VKT_OK : VKT_ERR_OOM;
}

static vkt_status take_record(void *ctx, const cJSON *rec, int64_t line, char *why, size_t why_len) {
    reader_t *rd = ctx;
    vkt_grpo_records *set = rd->set;
    if (!cJSON_IsObject(rec)) {
        snprintf(why, why_len, "a record must be a JSON object with \"prompt\"");
        return VKT_ERR_FORMAT;
    }
    vkt_grpo_record r = {.file = set->n_files - 1, .line = line};
    vkt_status st = take_prompt(rec, &r, why, why_len);
    if (st == VKT_OK) st = take_answer(rec, rd->answer_key, &r, why, why_len);
    if (st == VKT_OK && set->n == set->cap) {
        int64_t cap = set->cap ? 2 * set->cap : 64;
        vkt_grpo_record *g = realloc(set->r, (size_t)cap * sizeof *g);
        if (g)
            set->r = g, set->cap = cap;
        else
            st = VKT_ERR_OOM;
    }
    if (st != VKT_OK) {
        record_free(&r);
        return st;
    }
    set->r[set->n++] = r;
    return VKT_OK;
}

typedef struct {
    reader_t rd;
    bool skip_bad;
} loader_t;

static vkt_status load_file(void *ctx, const char *text, size_t len, const char *name) {
    loader_t *l = ctx;
    vkt_grpo_records *set = l->rd.set;
    char **f = realloc(set->files, (size_t)(set->n_files + 1) * sizeof *f);
    if (!f) return VKT_ERR_OOM;
    set->files = f;
    if (!(set->files[set->n_files] = strdup(name))) return VKT_ERR_OOM;
    set->n_files++;
    vkt_json_records w = {name, l->skip_bad, take_record, &l->rd, set->n_skipped};
    vkt_status s = vkt_json_records_read(&w, text, len);
    set->n_skipped = w.n_skipped;
    return s;
}

static vkt_status load(const char *path, const vkt_run_config *cfg, bool skip_bad, vkt_grpo_records *set) {
    loader_t l = {{set, cfg->ft_answer_key}, skip_bad};
    VKT_TRY(vkt_json_records_load(path, "GRPO prompts", load_file, &l, &set->n_skipped));
    if (set->n == 0) {
        vkt_log_error("GRPO prompts '%s': no usable record (%lld skipped)", path, (long long)set->n_skipped);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

/* Moves the records flagged (or not) in is_val from all into out; the files are copied. */
static vkt_status take_split(vkt_grpo_records *all, const uint8_t *is_val, bool val, vkt_grpo_records *out) {
    out->files = calloc((size_t)all->n_files, sizeof *out->files);
    out->r = calloc((size_t)all->n, sizeof *out->r);
    if (!out->files || !out->r) return VKT_ERR_OOM;
    for (int32_t i = 0; i < all->n_files; i++)
        if (!(out->files[out->n_files++] = strdup(all->files[i]))) return VKT_ERR_OOM;
    for (int64_t i = 0; i < all->n; i++)
        if ((is_val[i] != 0) == val) out->r[out->n++] = all->r[i], memset(&all->r[i], 0, sizeof all->r[i]);
    out->cap = all->n;
    return VKT_OK;
}

static vkt_status load_split(vkt_grpo_source *s, const vkt_run_config *cfg, bool skip_bad) {
    if (cfg->data_val[0] || cfg->val_fraction <= 0) {
        VKT_TRY(load(cfg->data_train, cfg, skip_bad, &s->train));
        if (cfg->data_val[0]) VKT_TRY(load(cfg->data_val, cfg, skip_bad, &s->val));
        return VKT_OK;
    }
    vkt_grpo_records all = {0};
    uint8_t *is_val = NULL;
    vkt_status st = load(cfg->data_train, cfg, skip_bad, &all);
    if (st == VKT_OK) st = vkt_record_split(all.n, cfg->val_fraction, cfg->seed, "GRPO prompts", &is_val);
    if (st == VKT_OK) st = take_split(&all, is_val, false, &s->train);
    if (st == VKT_OK) st = take_split(&all, is_val, true, &s->val);
    free(is_val);
    records_free(&all);
    return st;
}

static bool has_chat(const vkt_grpo_records *set) {
    for (int64_t i = 0; i < set->n; i++)
        if (set->r[i].messages) return true;
    return false;
}

static vkt_status check_answers(const vkt_grpo_records *set, const char *key) {
    for (int64_t i = 0; i < set->n; i++)
        if (!set->r[i].answer) {
            char at[600];
            vkt_log_error("%s: no \"%s\" (the reference answer the reward's exact_match term compares with); add "
                          "it, set finetune.answer_key to the record's answer field, or use rewards that need none",
                          vkt_grpo_record_where(set, i, at, sizeof at), key);
            return VKT_ERR_FORMAT;
        }
    return VKT_OK;
}

static void shuffle_epoch(vkt_grpo_source *s) {
    int64_t n = s->train.n;
    for (int64_t i = 0; i < n; i++) s->order[i] = i;
    if (!s->shuffle) return;
    vkt_rng rng;
    vkt_rng_init(&rng, s->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(s->epoch + 1)));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(vkt_rng_u64(&rng) % (uint64_t)(i + 1)), t = s->order[i];
        s->order[i] = s->order[j], s->order[j] = t;
    }
}

vkt_status vkt_grpo_source_check_answers(const vkt_grpo_source *s, const char *key) {
    VKT_TRY(check_answers(&s->train, key));
    return check_answers(&s->val, key);
}

vkt_status vkt_grpo_source_init(vkt_grpo_source *s, const vkt_run_config *cfg, vkt_tokenizer *tok) {
    memset(s, 0, sizeof *s);
    static const char *const bad[] = {"fail", "skip"};
    int b;
    VKT_TRY(vkt_config_choose("data.bad_records", cfg->bad_records, bad, 2, &b));
    VKT_TRY(load_split(s, cfg, b == 1));
    s->has_val = s->val.n > 0, s->shuffle = cfg->shuffle, s->seed = cfg->seed;
    if (has_chat(&s->train) || has_chat(&s->val)) {
        const char *spec = cfg->chat_template[0] ? cfg->chat_template : NULL;
        VKT_TRY(vkt_chat_template_resolve(spec, cfg->tokenizer_path, tok, &s->tmpl));
        vkt_log_info("chat template: %s", vkt_chat_template_name(s->tmpl));
    }
    s->order = malloc((size_t)s->train.n * sizeof *s->order);
    if (!s->order) return VKT_ERR_OOM;
    shuffle_epoch(s);
    vkt_log_info("GRPO prompts: %lld training and %lld validation prompts from %s (%lld malformed skipped)",
                 (long long)s->train.n, (long long)s->val.n, cfg->data_train,
                 (long long)(s->train.n_skipped + s->val.n_skipped));
    return VKT_OK;
}

void vkt_grpo_source_free(vkt_grpo_source *s) {
    records_free(&s->train);
    records_free(&s->val);
    vkt_chat_template_free(s->tmpl);
    free(s->order);
    memset(s, 0, sizeof *s);
}

void vkt_grpo_source_next(vkt_grpo_source *s, int64_t n, vkt_rl_prompt *prompts, const char **answers) {
    for (int64_t k = 0; k < n; k++) {
        if (s->taken == s->train.n) {
            s->epoch++, s->taken = 0;
            shuffle_epoch(s);
        }
        int64_t i = s->order[s->taken++];
        prompts[k] = vkt_grpo_record_prompt(&s->train, i, i);
        answers[k] = s->train.r[i].answer;
    }
}

void vkt_grpo_source_get_pos(const vkt_grpo_source *s, int64_t *epoch, int64_t *taken) {
    *epoch = s->epoch, *taken = s->taken;
}

vkt_status vkt_grpo_source_set_pos(vkt_grpo_source *s, int64_t epoch, int64_t taken) {
    if (epoch < 0 || taken < 0 || taken > s->train.n) {
        vkt_log_error("GRPO prompts: the checkpoint's position (epoch %lld, prompt %lld) does not fit the %lld "
                      "training prompts; was the data changed?",
                      (long long)epoch, (long long)taken, (long long)s->train.n);
        return VKT_ERR_ARG;
    }
    s->epoch = epoch, s->taken = taken;
    shuffle_epoch(s);
    return VKT_OK;
}
