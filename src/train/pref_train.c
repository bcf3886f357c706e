/* Preference objectives in a run (see pref_train.h). */
#include "train/pref_train.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"

vkt_pref_opts vkt_pref_train_opts(const vkt_run_config *cfg) {
    vkt_pref_loss_type type = cfg->ft_objective == VKT_FT_ORPO                         ? VKT_PREF_ORPO
                              : cfg->ft_objective == VKT_FT_IPO                        ? VKT_PREF_IPO
                              : vkt_run_config_ft_loss_type(cfg) == VKT_FT_LOSS_ROBUST ? VKT_PREF_DPO_ROBUST
                                                                                       : VKT_PREF_DPO_SIGMOID;
    vkt_pref_opts o = vkt_pref_opts_default(type);
    double beta = vkt_run_config_ft_beta(cfg);
    o.beta = (float)beta, o.orpo_lambda = (float)beta;
    o.label_smoothing = (float)cfg->ft_label_smoothing;
    return o;
}

vkt_pref_ref_mode vkt_pref_train_ref_mode(const vkt_run_config *cfg, bool adapters) {
    if (cfg->ft_objective == VKT_FT_ORPO || cfg->ft_objective == VKT_FT_REWARD) return VKT_PREF_REF_NONE;
    return adapters && !cfg->ft_precompute_ref_log_probs ? VKT_PREF_REF_MODEL : VKT_PREF_REF_HOST;
}

vkt_status vkt_pref_train_create(vkt_model *m, const vkt_run_config *cfg, bool adapters, const vkt_train_data *d,
                                 vkt_pref_step **out) {
    VKT_ASSERT(d->kind == VKT_DATA_PREF);
    vkt_pref_step_cfg pc = {.loss = vkt_pref_train_opts(cfg),
                            .ref = vkt_pref_train_ref_mode(cfg, adapters),
                            .max_pairs = d->pairs.max_pairs};
    static const char *const refs[] = {"none", "the base model without its adapters, per step",
                                       "precomputed once from the initial weights"};
    static const char *const losses[] = {"dpo (sigmoid)", "dpo (robust)", "ipo", "orpo (beta is lambda)"};
    vkt_log_info("preference objective: %s, beta %g%s; reference: %s", losses[pc.loss.type],
                 vkt_run_config_ft_beta(cfg), cfg->ft_label_smoothing > 0 ? " with label smoothing" : "", refs[pc.ref]);
    return vkt_pref_step_create(m, &pc, out);
}

/* A (1, cols) view of a flat f32 tensor at element offset. */
static vkt_tensor row_view(const vkt_tensor *flat, int64_t offset, int64_t cols) {
    vkt_tensor t = *flat;
    t.offset += (size_t)offset * 4;
    t.shape[0] = 1, t.shape[1] = cols, t.shape[2] = t.shape[3] = 1;
    return t;
}

vkt_status vkt_reward_train_create(vkt_model *m, const vkt_run_config *cfg, const vkt_trainable *train,
                                   const vkt_train_data *d, vkt_reward_step **out) {
    VKT_ASSERT(d->kind == VKT_DATA_PREF);
    int i = vkt_score_head_find(train->table);
    if (i < 0) {
        vkt_log_error("reward model: the trained parameters hold no score head (score.weight)");
        return VKT_ERR_ARG;
    }
    const vkt_param *e = &train->table->p[i];
    vkt_reward_step_cfg rc = {.center_rewards_coef = (float)cfg->ft_center_rewards_coef,
                              .max_pairs = d->pairs.max_pairs,
                              .w = row_view(&train->params, e->offset, e->numel),
                              .dw = row_view(&train->grads, e->offset, e->numel)};
    vkt_log_info("reward model: Bradley-Terry loss on a score head (%s, 1 x %lld)%s", e->name, (long long)e->numel,
                 cfg->ft_center_rewards_coef > 0 ? ", with center_rewards_coefficient" : "");
    return vkt_reward_step_create(m, &rc, out);
}

/* One split's reference pass; *mean gets the mean reference log p of its chosen sequences. */
static vkt_status pass(vkt_pref_step *ps, vkt_train_data *d, bool val, int64_t *pairs, double *mean) {
    int64_t n;
    VKT_TRY(vkt_pref_source_ref_pass_begin(&d->pairs, val, &n));
    float *seq = malloc((size_t)(2 * d->pairs.max_pairs) * sizeof *seq);
    if (!seq) return VKT_ERR_OOM;
    vkt_status st = VKT_OK;
    double sum = 0;
    for (int64_t i = 0; i < n && st == VKT_OK; i++) {
        const vkt_pref_slot *slot;
        st = vkt_pref_step_reference(ps, vkt_train_data_ref_batch, d, seq, &slot);
        if (st == VKT_OK) st = vkt_pref_source_ref_store(&d->pairs, val, slot->pair_index, slot->n_pairs, seq);
        for (int32_t k = 0; st == VKT_OK && k < slot->n_pairs; k++) sum += seq[2 * k], ++*pairs;
    }
    free(seq);
    *mean = *pairs ? sum / (double)*pairs : 0;
    return st;
}

vkt_status vkt_pref_train_reference(vkt_pref_step *ps, vkt_train_data *d) {
    if (vkt_pref_step_cfg_of(ps)->ref != VKT_PREF_REF_HOST) return VKT_OK;
    double t0 = vkt_now_s(), mean_train = 0, mean_val = 0;
    int64_t n_train = 0, n_val = 0;
    VKT_TRY(pass(ps, d, false, &n_train, &mean_train));
    VKT_TRY(pass(ps, d, true, &n_val, &mean_val));
    vkt_log_info("reference log-probabilities of %lld training and %lld validation pairs computed in %.1f s "
                 "(mean chosen log p: training %.2f, validation %.2f)",
                 (long long)n_train, (long long)n_val, vkt_now_s() - t0, mean_train, mean_val);
    return VKT_OK;
}
