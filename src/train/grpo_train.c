/* GRPO in a training run (see grpo_train.h). */
#include "train/grpo_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/file.h"
#include "ops/seq_sum.h"
#include "rl/grpo_batch.h"
#include "rl/reward.h"
#include "rl/reward_models.h"

enum { MAX_EXTRA = VKT_GRPO_STEP_MAX_EXTRA };

struct vkt_grpo_train {
    vkt_model *m;           /* borrowed */
    vkt_run_config *cfg;    /* borrowed */
    vkt_grpo_source *src;   /* borrowed: the run data's prompts */
    vkt_tokenizer *tok;     /* borrowed */
    vkt_reward *reward;     /* owned */
    vkt_reward_models *rms; /* owned or NULL: the reward models of "model" terms */
    int n_terms, n_extra;
    char extra_names[MAX_EXTRA][96];
    const char *extra[MAX_EXTRA];
    vkt_grpo_opts loss;
    vkt_grpo_step *step;  /* owned */
    vkt_rollout *rollout; /* owned, made by start */
    vkt_rollout_opts ro;
    int64_t P, G, B, T;
    int32_t pad;
    /* the step being filled */
    vkt_rollout_set set;
    vkt_rl_prompt *prompts;       /* owned (P) */
    const char **answers;         /* owned (P), borrowing the records' answers */
    float *rewards, *adv, *terms; /* owned: (P G), (P G), (P G n_terms) */
    float *given;                 /* owned (P G n_terms) when there are reward models: their scores */
    float stats[3], term_means[MAX_EXTRA];
    int64_t next, n_tokens;
};

/* The reward spec of finetune.rewards: inline JSON, a JSON string naming a file, or exact_match by default. */
static vkt_status make_reward(const vkt_run_config *cfg, vkt_reward **out) {
    bool unset = !cfg->ft_rewards[0] || strcmp(cfg->ft_rewards, "\"\"") == 0; /* "" given: the default */
    const char *spec = unset ? "{\"type\": \"exact_match\", \"name\": \"accuracy\"}" : cfg->ft_rewards;
    cJSON *j = cJSON_Parse(spec);
    if (!j) {
        vkt_log_error("config: finetune.rewards is not valid JSON: %s", spec);
        return VKT_ERR_FORMAT;
    }
    vkt_status s;
    if (cJSON_IsString(j)) {
        vkt_file_map f = {0};
        s = vkt_file_map_open(j->valuestring, &f);
        if (s != VKT_OK)
            vkt_log_error("config: finetune.rewards names the file %s, which cannot be read", j->valuestring);
        else
            s = vkt_reward_parse((const char *)f.data, f.size, j->valuestring, out);
        vkt_file_map_close(&f);
    } else {
        s = vkt_reward_from_json(j, "config: finetune.rewards", out);
    }
    cJSON_Delete(j);
    return s;
}

/* TRL's batch arithmetic (see grpo_train.h): prompts per step and micro-batches per step. */
static vkt_status batch_plan(vkt_grpo_train *g, vkt_run_config *cfg) {
    int64_t G = g->G, B = g->B;
    if (cfg->ft_prompts_per_step == 0) {
        int64_t n = B * cfg->grad_accum;
        if (n % G) {
            vkt_log_error(
                "config: a step trains on optim.batch_size x optim.grad_accum = %lld completions, which is not "
                "a multiple of finetune.num_generations (%lld): change one of them, or set "
                "finetune.prompts_per_step",
                (long long)n, (long long)G);
            return VKT_ERR_ARG;
        }
        g->P = n / G;
        return VKT_OK;
    }
    int64_t n = cfg->ft_prompts_per_step * G;
    if (n % B || (cfg->grad_accum != 1 && cfg->grad_accum != n / B)) {
        vkt_log_error("config: finetune.prompts_per_step %lld x num_generations %lld = %lld completions per step must "
                      "fill whole micro-batches of optim.batch_size %lld%s",
                      (long long)cfg->ft_prompts_per_step, (long long)G, (long long)n, (long long)B,
                      n % B ? "" : " (then grad_accum follows: leave optim.grad_accum at 1)");
        return VKT_ERR_ARG;
    }
    g->P = cfg->ft_prompts_per_step;
    cfg->grad_accum = n / B;
    return VKT_OK;
}

/* Prompt and completion lengths against a row (seq_len + 1 tokens) and the model's context. */
static vkt_status length_plan(vkt_grpo_train *g, const vkt_run_config *cfg) {
    int64_t context = g->T + 1 < g->m->cfg.max_seq_len ? g->T + 1 : g->m->cfg.max_seq_len;
    int64_t mc = cfg->ft_max_completion_length, mp = cfg->ft_max_prompt_length;
    if (mp == 0) mp = context - mc;
    if (mp < 1 || mp + mc > context) {
        vkt_log_error("config: finetune.max_prompt_length (%lld%s) + max_completion_length (%lld) must fit a training "
                      "row of optim.seq_len + 1 = %lld tokens (and the model's context %lld), with room for a prompt: "
                      "lower them or raise optim.seq_len",
                      (long long)mp, cfg->ft_max_prompt_length ? "" : ", the room left", (long long)mc,
                      (long long)(g->T + 1), (long long)g->m->cfg.max_seq_len);
        return VKT_ERR_ARG;
    }
    g->ro = vkt_rollout_opts_default();
    g->ro.group_size = g->G, g->ro.max_completion_tokens = mc, g->ro.max_prompt_tokens = mp;
    g->ro.sampler =
        (vkt_sampler_opts){.temperature = cfg->ft_temperature, .top_k = cfg->ft_top_k, .top_p = cfg->ft_top_p};
    g->ro.seed = cfg->seed, g->ro.context = context, g->ro.parse_special = cfg->parse_special;
    return VKT_OK;
}

static vkt_grpo_opts loss_opts(const vkt_run_config *cfg) {
    vkt_grpo_opts o = vkt_grpo_opts_default((int32_t)cfg->ft_num_generations);
    o.scale = (vkt_grpo_scale)cfg->ft_scale_rewards;
    o.epsilon_low = (float)cfg->ft_epsilon;
    o.epsilon_high = (float)(cfg->ft_epsilon_high >= 0 ? cfg->ft_epsilon_high : cfg->ft_epsilon);
    o.beta = (float)vkt_run_config_ft_beta(cfg);
    o.agg = (vkt_grpo_agg)(vkt_run_config_ft_loss_type(cfg) - VKT_FT_LOSS_DAPO);
    o.max_completion_length = (int32_t)cfg->ft_max_completion_length;
    return o;
}

static vkt_status alloc(vkt_grpo_train *g) {
    size_t n = (size_t)(g->P * g->G);
    g->prompts = calloc((size_t)g->P, sizeof *g->prompts);
    g->answers = calloc((size_t)g->P, sizeof *g->answers);
    g->rewards = calloc(n, sizeof *g->rewards);
    g->adv = calloc(n, sizeof *g->adv);
    g->terms = calloc(n * (size_t)g->n_terms, sizeof *g->terms);
    if (g->rms) g->given = calloc(n * (size_t)g->n_terms, sizeof *g->given);
    return g->prompts && g->answers && g->rewards && g->adv && g->terms && (g->given || !g->rms) ? VKT_OK : VKT_ERR_OOM;
}

static vkt_status create(vkt_grpo_train *g) {
    vkt_run_config *cfg = g->cfg;
    VKT_TRY(batch_plan(g, cfg));
    VKT_TRY(length_plan(g, cfg));
    VKT_TRY(make_reward(cfg, &g->reward));
    if (vkt_reward_needs_answer(g->reward)) VKT_TRY(vkt_grpo_source_check_answers(g->src, cfg->ft_answer_key));
    g->n_terms = vkt_reward_n_terms(g->reward);
    /* Reward-model rows hold a training row's tokens by default: prompt + completion as the policy saw them. */
    vkt_reward_models_opts rmo = {
        .default_length = g->T + 1, .conversations = g->src->tmpl != NULL, .parse_special = cfg->parse_special};
    VKT_TRY(vkt_reward_models_load(g->m->dev, g->reward, &rmo, &g->rms));
    g->n_extra = g->n_terms < MAX_EXTRA ? g->n_terms : MAX_EXTRA;
    for (int i = 0; i < g->n_extra; i++) {
        snprintf(g->extra_names[i], sizeof g->extra_names[i], "rewards/%s/mean", vkt_reward_term_name(g->reward, i));
        g->extra[i] = g->extra_names[i];
    }
    VKT_TRY(alloc(g));
    g->loss = loss_opts(cfg);
    vkt_grpo_step_cfg sc = {.loss = g->loss, .max_seqs = g->B, .n_extra = g->n_extra, .extra_names = g->extra};
    VKT_TRY(vkt_grpo_step_create(g->m, &sc, &g->step));
    static const char *const aggs[] = {"dapo", "grpo", "bnpo", "dr_grpo"}, *const scales[] = {"group", "batch", "none"};
    vkt_log_info("GRPO: %lld prompts x %lld completions per step in %lld micro-batches of %lld; completions up to %lld "
                 "tokens after prompts of up to %lld; temperature %g, top_p %g, top_k %lld; loss %s, epsilon [%g, %g], "
                 "beta %g%s, advantages scaled by %s; %d reward term(s)",
                 (long long)g->P, (long long)g->G, (long long)cfg->grad_accum, (long long)g->B,
                 (long long)g->ro.max_completion_tokens, (long long)g->ro.max_prompt_tokens, g->ro.sampler.temperature,
                 g->ro.sampler.top_p, (long long)g->ro.sampler.top_k, aggs[g->loss.agg], (double)g->loss.epsilon_low,
                 (double)g->loss.epsilon_high, (double)g->loss.beta,
                 g->loss.beta > 0 ? " (reference: the base without its adapters)" : "", scales[g->loss.scale],
                 g->n_terms);
    return VKT_OK;
}

vkt_status vkt_grpo_train_create(vkt_model *m, vkt_run_config *cfg, vkt_train_data *d, vkt_tokenizer *tok,
                                 vkt_grpo_train **out) {
    *out = NULL;
    VKT_ASSERT(d->kind == VKT_DATA_GRPO);
    vkt_grpo_train *g = calloc(1, sizeof *g);
    if (!g) return VKT_ERR_OOM;
    *g = (vkt_grpo_train){.m = m,
                          .cfg = cfg,
                          .src = &d->prompts,
                          .tok = tok,
                          .G = cfg->ft_num_generations,
                          .B = cfg->batch_size,
                          .T = cfg->seq_len};
    g->pad = vkt_tok_pad(tok) >= 0 ? vkt_tok_pad(tok) : 0;
    vkt_status s = create(g);
    if (s != VKT_OK) {
        vkt_grpo_train_destroy(g);
        return s;
    }
    *out = g;
    return VKT_OK;
}

void vkt_grpo_train_destroy(vkt_grpo_train *g) {
    if (!g) return;
    vkt_rollout_set_free(&g->set);
    vkt_rollout_destroy(g->rollout);
    vkt_grpo_step_destroy(g->step);
    vkt_reward_models_destroy(g->rms);
    vkt_reward_free(g->reward);
    free(g->prompts), free(g->answers), free(g->rewards), free(g->adv), free(g->terms), free(g->given);
    free(g);
}

const vkt_step_program *vkt_grpo_train_program(vkt_grpo_train *g) { return vkt_grpo_step_program(g->step); }

const char *const *vkt_grpo_train_progress_labels(const vkt_grpo_train *g) {
    return vkt_grpo_step_progress_labels(g->step);
}

bool vkt_grpo_train_has_reference(const vkt_grpo_train *g) { return g->loss.beta > 0; }

size_t vkt_grpo_train_memory(const vkt_grpo_train *g) {
    return vkt_grpo_step_memory(g->step) + vkt_reward_models_memory(g->rms);
}

/* Encodes every prompt of set once: errors name FILE:LINE; prompts cut to max_prompt_length are counted. */
static vkt_status check_prompts(vkt_grpo_train *g, const vkt_grpo_records *set, const char *what) {
    int64_t cut = 0;
    for (int64_t i = 0; i < set->n; i++) {
        vkt_tok_ids ids = {0};
        bool truncated = false;
        vkt_rl_prompt p = vkt_grpo_record_prompt(set, i, i);
        vkt_status s = vkt_rollout_encode_prompt(g->rollout, &p, &ids, &truncated);
        vkt_tok_ids_free(&ids);
        if (s != VKT_OK) {
            char at[600];
            vkt_log_error("%s: this %s prompt cannot be generated from (above)",
                          vkt_grpo_record_where(set, i, at, sizeof at), what);
            return s;
        }
        cut += truncated;
    }
    if (cut)
        vkt_log_warn("%lld of %lld %s prompts are longer than finetune.max_prompt_length (%lld tokens) and keep their "
                     "last tokens",
                     (long long)cut, (long long)set->n, what, (long long)g->ro.max_prompt_tokens);
    return VKT_OK;
}

vkt_status vkt_grpo_train_start(vkt_grpo_train *g, vkt_device *dev, const vkt_gen_adapter *adapter, bool full) {
    g->ro.reload_params = full;
    VKT_TRY(vkt_rollout_create(dev, g->m, adapter, g->tok, g->src->tmpl, &g->ro, &g->rollout));
    VKT_TRY(check_prompts(g, &g->src->train, "training"));
    return check_prompts(g, &g->src->val, "validation");
}

/* The step's micro-batches: completions in set order, one per row (vkt_batch.aux: the slot's vkt_grpo_slot). */
static vkt_status fill(void *ctx, const vkt_batch *b) {
    vkt_grpo_train *g = ctx;
    vkt_grpo_slot *slot = b->aux;
    if (!slot || g->next >= vkt_rollout_set_size(&g->set)) {
        vkt_log_error("grpo: a micro-batch was asked for with %s", slot ? "every completion placed" : "no GRPO slot");
        return VKT_ERR_ARG;
    }
    vkt_grpo_batch batch = {.tokens = b->tokens,
                            .targets = b->targets,
                            .seg_start = b->seg_start,
                            .seq_id = slot->seq_id,
                            .completion = slot->completion,
                            .group = slot->group,
                            .rewards = slot->rewards,
                            .advantages = slot->advantages};
    vkt_grpo_batch_opts o = {.B = g->B, .T = g->T, .max_seqs = g->B, .pack = false, .pad_id = g->pad};
    VKT_TRY(vkt_grpo_batch_fill(&g->set, g->rewards, g->adv, g->next, &o, &batch, &g->next));
    slot->n_seqs = batch.n_seqs;
    slot->norm[0] = (float)(g->n_tokens > 0 ? g->n_tokens : 1);
    memcpy(slot->metrics, g->stats, sizeof g->stats);
    memcpy(slot->metrics + 3, g->term_means, sizeof g->term_means);
    return vkt_seq_ids_check(slot->seq_id, g->B * g->T, g->T, g->B, "grpo batch seq_id");
}

/* Rewards of set's n completions of prompts: totals into rewards, terms (n x n_terms), each term's mean into means;
 * given (n x n_terms) the reward models' scores when there are some. */
static vkt_status score(vkt_grpo_train *g, const vkt_rollout_set *set, const vkt_rl_prompt *prompts,
                        const char *const *answers, float *given, float *rewards, float *terms, float *means) {
    int64_t n = vkt_rollout_set_size(set);
    if (g->rms) VKT_TRY(vkt_reward_models_score(g->rms, set, prompts, given));
    VKT_TRY(vkt_grpo_score(g->reward, set, answers, g->rms ? given : NULL, rewards, terms));
    for (int k = 0; k < g->n_extra; k++) {
        double sum = 0;
        for (int64_t i = 0; i < n; i++) sum += terms[i * g->n_terms + k];
        means[k] = n ? (float)(sum / (double)n) : 0;
    }
    return VKT_OK;
}

vkt_status vkt_grpo_train_step(vkt_grpo_train *g, vkt_step *s, int64_t step, vkt_step_result *done) {
    VKT_TRY(vkt_step_drain(s, done)); /* the rollout reads the weights the last step wrote */
    vkt_rollout_set_free(&g->set);
    vkt_grpo_source_next(g->src, g->P, g->prompts, g->answers);
    VKT_TRY(vkt_rollout_generate(g->rollout, step, g->prompts, g->P, &g->set));
    int64_t n = vkt_rollout_set_size(&g->set);
    VKT_TRY(score(g, &g->set, g->prompts, g->answers, g->given, g->rewards, g->terms, g->term_means));
    vkt_grpo_group_advantages(g->rewards, n, g->G, g->loss.scale, g->adv, g->stats);
    g->next = 0, g->n_tokens = 0;
    for (int64_t i = 0; i < n; i++) g->n_tokens += g->set.c[i].n;
    vkt_step_result none;
    return vkt_step_submit(s, fill, g, &none);
}

/* dir/generations/step-NNNNNN.jsonl with the first n_write completions of set. */
static vkt_status write_generations(const vkt_grpo_train *g, const vkt_rollout_set *set, const float *rewards,
                                    int64_t n_write, const char *dir, int64_t step) {
    char path[1200];
    snprintf(path, sizeof path, "%s/generations", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("%s: cannot make the generations folder (%s)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    snprintf(path, sizeof path, "%s/generations/step-%06lld.jsonl", dir, (long long)step);
    FILE *f = fopen(path, "w");
    if (!f) {
        vkt_log_error("%s: cannot write the evaluation generations (%s)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    const vkt_grpo_records *val = &g->src->val;
    bool ok = true;
    for (int64_t i = 0; i < n_write && ok; i++) {
        const vkt_grpo_record *r = &val->r[i];
        char at[600];
        cJSON *line = cJSON_CreateObject();
        cJSON_AddStringToObject(line, "record", vkt_grpo_record_where(val, i, at, sizeof at));
        if (r->messages)
            cJSON_AddItemToObject(line, "prompt", cJSON_Duplicate(r->messages, true));
        else
            cJSON_AddStringToObject(line, "prompt", r->text);
        if (r->answer) cJSON_AddStringToObject(line, "reference", r->answer);
        cJSON_AddStringToObject(line, "generated", set->c[i].text);
        cJSON_AddNumberToObject(line, "reward", rewards[i]);
        char *text = cJSON_PrintUnformatted(line);
        ok = text && fprintf(f, "%s\n", text) >= 0;
        free(text);
        cJSON_Delete(line);
    }
    ok &= fclose(f) == 0;
    if (!ok) return VKT_ERR_IO;
    vkt_log_info("evaluation generations: %s", path);
    return VKT_OK;
}

vkt_status vkt_grpo_train_evaluate(vkt_grpo_train *g, vkt_metrics *metrics, const char *dir, int64_t step) {
    const vkt_grpo_records *val = &g->src->val;
    int64_t cap = g->cfg->eval_steps * g->B, n = val->n < cap ? val->n : cap;
    if (n <= 0) return VKT_OK;
    vkt_rl_prompt *prompts = calloc((size_t)n, sizeof *prompts);
    const char **answers = calloc((size_t)n, sizeof *answers);
    float *rewards = calloc((size_t)n, sizeof *rewards), *terms = calloc((size_t)(n * g->n_terms), sizeof *terms);
    float *given = calloc((size_t)(n * g->n_terms), sizeof *given);
    vkt_rollout_set set = {0};
    vkt_status s = prompts && answers && rewards && terms && given ? VKT_OK : VKT_ERR_OOM;
    for (int64_t i = 0; s == VKT_OK && i < n; i++)
        prompts[i] = vkt_grpo_record_prompt(val, i, i), answers[i] = val->r[i].answer;
    const vkt_sampler_opts eval = {
        .temperature = g->cfg->ft_eval_temperature, .top_k = g->ro.sampler.top_k, .top_p = g->ro.sampler.top_p};
    vkt_rollout_set_sampling(g->rollout, 1, &eval);
    if (s == VKT_OK) s = vkt_rollout_generate(g->rollout, step, prompts, n, &set);
    vkt_rollout_set_sampling(g->rollout, g->G, &g->ro.sampler);
    float means[MAX_EXTRA] = {0};
    if (s == VKT_OK) s = score(g, &set, prompts, answers, given, rewards, terms, means);
    if (s == VKT_OK) {
        double sum = 0, sq = 0, len = 0;
        for (int64_t i = 0; i < n; i++) sum += rewards[i], len += (double)set.c[i].n;
        double mean = sum / (double)n;
        for (int64_t i = 0; i < n; i++) sq += (rewards[i] - mean) * (rewards[i] - mean);
        double sd = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;
        char extra[1024], num[3][32], line[512];
        int k = snprintf(extra, sizeof extra, "\"reward\":%s,\"reward_std\":%s,\"completions/mean_length\":%s",
                         vkt_metrics_num(num[0], 32, mean), vkt_metrics_num(num[1], 32, sd),
                         vkt_metrics_num(num[2], 32, len / (double)n));
        int l = snprintf(line, sizeof line, "step %lld | val reward %.4f (%s, %lld prompts)", (long long)step, mean,
                         eval.temperature > 0 ? "sampled" : "greedy", (long long)n);
        for (int t = 0; t < g->n_extra; t++) {
            k += snprintf(extra + k, sizeof extra - (size_t)k, ",\"%s\":%s", g->extra[t],
                          vkt_metrics_num(num[0], 32, means[t]));
            l += snprintf(line + l, sizeof line - (size_t)l, " | %s %.4f", vkt_reward_term_name(g->reward, t),
                          (double)means[t]);
        }
        printf("%s | mean length %.1f\n", line, len / (double)n);
        fflush(stdout);
        s = vkt_metrics_log(metrics, step, "val", NAN, extra);
    }
    int64_t n_write = g->cfg->eval_generations < n ? g->cfg->eval_generations : n;
    if (s == VKT_OK && n_write > 0) s = write_generations(g, &set, rewards, n_write, dir, step);
    vkt_rollout_set_free(&set);
    free(prompts), free(answers), free(rewards), free(terms), free(given);
    return s;
}
