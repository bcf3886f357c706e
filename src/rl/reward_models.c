/* Reward-model terms of a reward spec (see reward_models.h). */
#include "rl/reward_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "train/reward_model.h"

struct vkt_reward_models {
    const vkt_reward *reward;  /* borrowed */
    vkt_reward_model **models; /* owned (n_terms): NULL for the terms of other types */
    int n_terms;
};

static vkt_status load_term(vkt_device *dev, const vkt_reward_model_term *t, const char *name,
                            const vkt_reward_models_opts *o, vkt_reward_model **out) {
    char fields[4][600];
    snprintf(fields[0], sizeof fields[0], "%s.path", t->where);
    snprintf(fields[1], sizeof fields[1], "%s.adapter", t->where);
    snprintf(fields[2], sizeof fields[2], "%s.tokenizer", t->where);
    snprintf(fields[3], sizeof fields[3], "%s.template", t->where);
    vkt_reward_model_opts ro = {.path = t->path,
                                .adapter = t->adapter,
                                .tokenizer = t->tokenizer,
                                .template_spec = t->template_spec,
                                .batch = t->batch_size,
                                .max_length = t->max_length,
                                .default_length = o->default_length,
                                .parse_special = o->parse_special,
                                .keep_end = true,
                                .need_template = o->conversations,
                                .path_field = fields[0],
                                .adapter_field = fields[1],
                                .tokenizer_field = fields[2],
                                .template_field = fields[3]};
    VKT_TRY(vkt_reward_model_load(dev, &ro, out));
    const vkt_model *m = vkt_reward_model_score_opts(*out)->model;
    vkt_log_info("reward model \"%s\": %s%s%s, frozen, %.2f MiB on the device (%lld completions of up to %lld tokens "
                 "scored at once)",
                 name, t->path, t->adapter ? " + adapter " : "", t->adapter ? t->adapter : "",
                 (double)vkt_reward_model_memory(*out) / (1024.0 * 1024.0), (long long)m->B, (long long)m->T);
    return VKT_OK;
}

vkt_status vkt_reward_models_load(vkt_device *dev, const vkt_reward *reward, const vkt_reward_models_opts *o,
                                  vkt_reward_models **out) {
    *out = NULL;
    if (!vkt_reward_has_model(reward)) return VKT_OK;
    vkt_reward_models *rms = calloc(1, sizeof *rms);
    int n = vkt_reward_n_terms(reward);
    if (!rms || !(rms->models = calloc((size_t)n, sizeof *rms->models))) {
        free(rms);
        return VKT_ERR_OOM;
    }
    rms->reward = reward, rms->n_terms = n;
    vkt_status s = VKT_OK;
    for (int k = 0; k < n && s == VKT_OK; k++) {
        const vkt_reward_model_term *t = vkt_reward_term_model(reward, k);
        if (t) s = load_term(dev, t, vkt_reward_term_name(reward, k), o, &rms->models[k]);
    }
    if (s != VKT_OK) {
        vkt_reward_models_destroy(rms);
        return s;
    }
    *out = rms;
    return VKT_OK;
}

void vkt_reward_models_destroy(vkt_reward_models *rms) {
    if (!rms) return;
    for (int k = 0; k < rms->n_terms; k++) vkt_reward_model_destroy(rms->models[k]);
    free(rms->models);
    free(rms);
}

size_t vkt_reward_models_memory(const vkt_reward_models *rms) {
    size_t total = 0;
    for (int k = 0; rms && k < rms->n_terms; k++)
        if (rms->models[k]) total += vkt_reward_model_memory(rms->models[k]);
    return total;
}

/* Completion text after prompt p as one record: the assistant's answer to a conversation, or prompt +
 * completion. */
static vkt_status make_record(const vkt_rl_prompt *p, const char *text, vkt_sft_example *e) {
    if (!p->messages) {
        e->kind = VKT_SFT_PROMPT_COMPLETION, e->format = VKT_SFT_FMT_PROMPT_COMPLETION;
        e->prompt = strdup(p->text ? p->text : "");
        e->completion = strdup(text);
        return e->prompt && e->completion ? VKT_OK : VKT_ERR_OOM;
    }
    e->kind = VKT_SFT_CHAT, e->format = VKT_SFT_FMT_MESSAGES;
    e->messages = cJSON_Duplicate(p->messages, true);
    cJSON *answer = cJSON_CreateObject();
    if (!e->messages || !answer || !cJSON_AddStringToObject(answer, "role", "assistant") ||
        !cJSON_AddStringToObject(answer, "content", text) || !cJSON_AddItemToArray(e->messages, answer)) {
        cJSON_Delete(answer);
        return VKT_ERR_OOM;
    }
    int n = cJSON_GetArraySize(e->messages);
    if (p->tools && !(e->tools = cJSON_Duplicate(p->tools, true))) return VKT_ERR_OOM;
    if (!(e->train = calloc((size_t)n, 1))) return VKT_ERR_OOM;
    e->train[n - 1] = 1;
    return VKT_OK;
}

/* Every completion of set as a record of an in-memory data set ("completion:I" in messages). */
static vkt_status make_records(const vkt_rollout_set *set, const vkt_rl_prompt *prompts, vkt_sft_dataset *d) {
    int64_t n = vkt_rollout_set_size(set);
    d->files = calloc(1, sizeof *d->files);
    d->ex = calloc((size_t)(n > 0 ? n : 1), sizeof *d->ex);
    if (!d->files || !(d->files[0] = strdup("completion")) || !d->ex) return VKT_ERR_OOM;
    d->n_files = 1, d->cap = n;
    for (; d->n < n; d->n++) {
        const vkt_completion *c = &set->c[d->n];
        d->ex[d->n].line = d->n;
        VKT_TRY(make_record(&prompts[c->prompt], c->text, &d->ex[d->n]));
    }
    return VKT_OK;
}

vkt_status vkt_reward_models_score(vkt_reward_models *rms, const vkt_rollout_set *set, const vkt_rl_prompt *prompts,
                                   float *given) {
    int64_t n = vkt_rollout_set_size(set);
    vkt_sft_dataset d = {0};
    double *scores = calloc((size_t)(n > 0 ? n : 1), sizeof *scores);
    vkt_status s = scores ? make_records(set, prompts, &d) : VKT_ERR_OOM;
    for (int k = 0; k < rms->n_terms && s == VKT_OK; k++) {
        if (!rms->models[k]) continue;
        int64_t cut = 0;
        s = vkt_score_dataset(vkt_reward_model_score_opts(rms->models[k]), &d, scores, &cut);
        for (int64_t i = 0; s == VKT_OK && i < n; i++) given[i * rms->n_terms + k] = (float)scores[i];
        if (s == VKT_OK && cut)
            vkt_log_warn("reward model \"%s\": %lld of %lld completions were longer than its rows and were scored on "
                         "their last tokens (raise the term's max_length)",
                         vkt_reward_term_name(rms->reward, k), (long long)cut, (long long)n);
    }
    vkt_sft_dataset_free(&d);
    free(scores);
    return s;
}
