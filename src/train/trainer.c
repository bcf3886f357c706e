/* The training run (see trainer.h). Everything per step is queued without waiting (sched/step.c); this
 * file only decides what to run when and reports it. */
#include "train/trainer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/clock.h"
#include "core/log.h"
#include "data/tokenizer.h"
#include "dist/dist.h"
#include "io/checkpoint.h"
#include "model/model.h"
#include "sched/pref_step.h"
#include "sched/reward_step.h"
#include "sched/step.h"
#include "sft/sft_eval_gen.h"
#include "train/generate.h"
#include "train/grpo_train.h"
#include "train/metrics.h"
#include "train/pref_train.h"
#include "train/rank_slice.h"
#include "train/run_dir.h"
#include "train/sampler.h"
#include "train/train_data.h"

static volatile sig_atomic_t g_interrupted; /* the signal that asked the run to stop, or 0 */

static void on_signal(int sig) { g_interrupted = sig; }

double vkt_train_flops_per_token(const vkt_model_config *c, int64_t T) {
    int64_t n = vkt_model_config_n_params(c);
    n -= c->vocab_size * c->n_embd * (c->tie_word_embeddings ? 1 : 2); /* embeddings are lookups ... */
    n += c->vocab_size * c->n_embd;                                    /* ... but the LM head is a matmul */
    if (c->arch == VKT_ARCH_GPT2) n -= c->max_seq_len * c->n_embd;
    return 6.0 * (double)n + 12.0 * (double)(c->n_layer * T * c->n_head * c->head_dim);
}

static void format_eta(double s, char *out, size_t n) {
    if (s < 0 || s > 1e7)
        snprintf(out, n, "?");
    else if (s >= 3600)
        snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

typedef struct {
    vkt_device *dev;
    vkt_run_config *cfg;
    const vkt_train_ext *ext; /* borrowed, NULL: pre-training */
    vkt_tokenizer *tok;
    vkt_train_data data;
    vkt_rank_slice train_rows, val_rows; /* this rank's rows of data's global batches (dist/dist.h) */
    vkt_model *model;
    vkt_step *step;
    vkt_pref_step *pref;     /* preference objectives: the step's micro-batch program, else NULL */
    vkt_grpo_train *grpo;    /* GRPO: rollouts, rewards and the step's program, else NULL */
    vkt_reward_step *reward; /* reward model (finetune.objective reward): its program, else NULL */
    vkt_metrics metrics;     /* opened on rank 0 only: the other ranks write no files */
    double peak_gflops, flops_per_token;
    size_t device_bytes;
    int64_t bad_in_row, skipped; /* steps skipped for a non-finite loss or gradient norm */
    int64_t reported;            /* steps whose results were logged */
} run;

static vkt_status load_tokenizer(const vkt_run_config *cfg, vkt_tokenizer **tok) {
    if (strcmp(cfg->tokenizer_type, "byte") == 0 || strcmp(cfg->tokenizer_type, "bytes") == 0)
        return vkt_tok_init_bytes(tok);
    if (!cfg->tokenizer_path[0]) {
        vkt_log_error("config: tokenizer.type \"%s\" needs tokenizer.path (a tokenizer.json, a folder with "
                      "encoder.json + vocab.bpe, or a llama2.c tokenizer .bin)",
                      cfg->tokenizer_type);
        return VKT_ERR_FORMAT;
    }
    return vkt_tok_load(cfg->tokenizer_path, tok);
}

static vkt_status sample_text(run *r, vkt_device *dev) {
    const vkt_run_config *cfg = r->cfg;
    if (cfg->sample_tokens <= 0 || !vkt_dist_is_root()) return VKT_OK;
    vkt_sampler_opts so = {.temperature = cfg->temperature, .top_k = cfg->top_k, .top_p = cfg->top_p};
    vkt_generate_opts go = {.max_tokens = cfg->sample_tokens, .sampler = so, .seed = cfg->seed, .stream = stdout};
    vkt_status bs = r->ext && r->ext->before_sample ? r->ext->before_sample(r->ext->ctx, r->model) : VKT_OK;
    if (bs == VKT_ERR_UNSUPPORTED) return VKT_OK; /* no sample of this model (the extension said why) */
    VKT_TRY(bs);
    printf("\n--- sample (%lld tokens, temperature %g, top-k %lld, top-p %g) ---\n", (long long)cfg->sample_tokens,
           cfg->temperature, (long long)cfg->top_k, cfg->top_p);
    vkt_status s = vkt_generate(dev, r->model, r->tok, cfg->sample_prompt, &go);
    printf("\n---\n");
    return s;
}

static vkt_status save(run *r, int64_t step, const char *why) {
    VKT_TRY(vkt_step_gather_state(r->step)); /* ZeRO-1: rank 0 collects the moments' shards from every rank */
    if (!vkt_dist_is_root()) return VKT_OK;  /* the ranks' weights are the same */
    char path[1024];
    vkt_train_data_pos pos = vkt_train_data_get_pos(&r->data);
    vkt_checkpoint_state st = {
        .step = step, .data_rng = {pos.rng[0], pos.rng[1]}, .data_epoch = pos.epoch, .data_batch = pos.batch};
    vkt_checkpoint_weights w = {r->ext ? r->ext->write : NULL, r->ext ? r->ext->ctx : NULL};
    VKT_TRY(vkt_checkpoint_save_with(r->cfg->out_dir, r->cfg->keep, r->model, r->step, &st, r->cfg, w.write ? &w : NULL,
                                     path, sizeof path));
    vkt_log_info("checkpoint (%s): %s", why, path);
    return VKT_OK;
}

static vkt_status report(run *r, const vkt_step_result *res, double step_s, double host_s, double t_elapsed,
                         int64_t first_step, bool print);

/* The step program's metrics (preference runs: TRL's names) as ",\"name\":value" fields into json and as
 * " | label value" for the progress line (the metrics with a short label); both empty without a program. */
static void metrics_text(const run *r, const double *values, char *json, size_t json_n, char *line, size_t line_n) {
    json[0] = line[0] = 0;
    if (!r->pref && !r->grpo && !r->reward) return;
    const vkt_step_program *p = r->pref   ? vkt_pref_step_program(r->pref)
                                : r->grpo ? vkt_grpo_train_program(r->grpo)
                                          : vkt_reward_step_program(r->reward);
    const char *const *labels = r->pref   ? vkt_pref_step_progress_labels(r->pref)
                                : r->grpo ? vkt_grpo_train_progress_labels(r->grpo)
                                          : vkt_reward_step_progress_labels(r->reward);
    for (int i = 0; i < p->n_metrics; i++) {
        char num[32];
        size_t k = strlen(json);
        snprintf(json + k, json_n - k, ",\"%s\":%s", p->metric_names[i], vkt_metrics_num(num, sizeof num, values[i]));
        k = strlen(line);
        if (labels[i]) snprintf(line + k, line_n - k, " | %s %.4g", labels[i], values[i]);
    }
}

/* Evaluation drains the queue; the training result that completes on the way is reported first. */
static vkt_status evaluate(run *r, int64_t step, double *loss, double t_elapsed, int64_t first) {
    if (!vkt_train_data_has_val(&r->data)) return VKT_OK; /* said at start-up; no loss is labelled val */
    if (r->grpo) {                                        /* validation is the rewards of the model's own answers */
        vkt_step_result done;
        VKT_TRY(vkt_step_drain(r->step, &done));
        if (done.step >= 0) VKT_TRY(report(r, &done, 0, 0, t_elapsed, first, true));
        VKT_TRY(vkt_grpo_train_evaluate(r->grpo, &r->metrics, r->cfg->out_dir, step));
        return vkt_metrics_write_svg(&r->metrics);
    }
    vkt_train_data_reset_val(&r->data);
    vkt_step_result done;
    vkt_step_micro mean;
    int64_t n = vkt_train_data_val_batches(&r->data, r->cfg->eval_steps);
    VKT_TRY(vkt_step_eval_metrics(r->step, vkt_rank_slice_fill, &r->val_rows, n, &mean, &done));
    *loss = mean.loss;
    if (done.step >= 0) VKT_TRY(report(r, &done, 0, 0, t_elapsed, first, true));
    char extra[1024] = "", line[256] = "";
    metrics_text(r, mean.metrics, extra, sizeof extra, line, sizeof line);
    VKT_TRY(vkt_metrics_log(&r->metrics, step, "val", *loss, extra[0] ? extra + 1 : NULL));
    VKT_TRY(vkt_metrics_write_svg(&r->metrics));
    if (r->pref || r->reward)
        printf("step %lld | val loss %.4f%s\n", (long long)step, *loss, line);
    else
        printf("step %lld | val loss %.4f | perplexity %.2f%s\n", (long long)step, *loss, exp(*loss),
               r->data.kind == VKT_DATA_SFT ? " (answer tokens)" : "");
    fflush(stdout);
    if (r->data.kind != VKT_DATA_SFT || r->cfg->eval_generations <= 0 || !vkt_dist_is_root()) return VKT_OK;
    vkt_sft_eval_gen g = {.dev = r->dev,
                          .model = r->model,
                          .adapter = r->ext ? r->ext->gen_adapter : NULL,
                          .tok = r->tok,
                          .tmpl = r->data.records.tmpl,
                          .val = &r->data.records.val_ds,
                          .n = r->cfg->eval_generations,
                          .max_tokens = r->cfg->eval_gen_tokens};
    return vkt_sft_eval_generate(&g, r->cfg->out_dir, step);
}

/* Counts a step the device skipped; VKT_ERR_NONFINITE once optim.max_bad_steps are skipped in a row. */
static vkt_status account(run *r, const vkt_step_result *res) {
    bool bad = res->skipped || !isfinite(res->loss);
    if (!bad) {
        r->bad_in_row = 0;
        return VKT_OK;
    }
    int64_t max = r->cfg->max_bad_steps;
    r->skipped += res->skipped;
    r->bad_in_row++;
    if (res->skipped && r->cfg->precision == VKT_PRECISION_F16 && isfinite(res->loss))
        vkt_log_info("step %lld: f16 gradients overflowed: the update was skipped and the loss scale lowered to %g "
                     "(%lld in a row; the run stops at optim.max_bad_steps=%lld in a row)",
                     (long long)res->step + 1, res->loss_scale, (long long)r->bad_in_row, (long long)max);
    else if (!res->skipped) /* a finite gradient norm with a non-finite loss: an overflow of the loss sum */
        vkt_log_warn("step %lld: loss %g is not finite but the gradient norm %g is: the update was applied",
                     (long long)res->step + 1, res->loss, res->grad_norm);
    else
        vkt_log_warn("step %lld: loss %g, gradient norm %g: not finite, the update was skipped (%lld in a row, %lld "
                     "in all; the run stops at optim.max_bad_steps=%lld in a row)",
                     (long long)res->step + 1, res->loss, res->grad_norm, (long long)r->bad_in_row,
                     (long long)r->skipped, (long long)max);
    if (r->bad_in_row < max) return VKT_OK;
    char last[1100], advice[1300] = "No checkpoint was saved before; check the data and the model's weights, "
                                    "or lower optim.lr";
    if (vkt_checkpoint_resolve_quiet(r->cfg->out_dir, last, sizeof last))
        snprintf(advice, sizeof advice,
                 "The last checkpoint is %s: resume from it with a lower optim.lr or "
                 "optim.grad_clip, or check the data",
                 last);
    vkt_log_error("step %lld: %lld steps in a row had a non-finite loss or gradient norm (optim.max_bad_steps=%lld): "
                  "the run has diverged and stops without saving. %s",
                  (long long)res->step + 1, (long long)r->bad_in_row, (long long)max, advice);
    return VKT_ERR_NONFINITE;
}

/* Data parallelism: the communication of the step just queued, appended to the progress line's speed text
 * and as metrics.jsonl fields: comm_ms the reductions in flight, comm_hidden the share of that behind the
 * backward, comm_wait_ms what the step waited for (step.h's vkt_step_comm), gather_ms ZeRO-1's gather. */
static void comm_text(const run *r, char *speed, size_t cap, char *json, size_t json_cap) {
    vkt_step_comm c = vkt_step_last_comm(r->step);
    double hidden = c.reduce_s > 0 ? 1 - c.exposed_s / c.reduce_s : 0;
    char how[96], gather[48] = "";
    if (c.gather_s > 0) snprintf(gather, sizeof gather, ", gather %.1f", 1e3 * c.gather_s);
    if (c.n_buckets > 0)
        snprintf(how, sizeof how, "%.1f ms, %.0f%% hidden (%d bucket%s%s; waited %.1f%s)", 1e3 * c.reduce_s,
                 100 * hidden, c.n_buckets, c.n_buckets == 1 ? "" : "s", c.ordered ? ", ordered" : "",
                 1e3 * c.total_s, gather);
    else
        snprintf(how, sizeof how, "%.1f ms (copy %.1f, all-reduce %.1f%s)", 1e3 * c.total_s, 1e3 * c.copy_s,
                 1e3 * c.reduce_s, gather);
    size_t k = strlen(speed);
    snprintf(speed + k, cap - k, " | comm %s of %.1f MiB x %d ranks", how, (double)c.bytes / (1 << 20),
             vkt_dist_size());
    snprintf(json, json_cap, ",\"comm_ms\":%.2f,\"comm_hidden\":%.4f,\"comm_wait_ms\":%.2f,\"gather_ms\":%.2f",
             1e3 * c.reduce_s, hidden, 1e3 * c.total_s, 1e3 * c.gather_s);
}

/* Logs every step to metrics.jsonl and counts skipped steps; prints the progress line when print is set. */
static vkt_status report(run *r, const vkt_step_result *res, double step_s, double host_s, double t_elapsed,
                         int64_t first_step, bool print) {
    const vkt_run_config *cfg = r->cfg;
    double tok_per_step = (double)(cfg->batch_size * cfg->seq_len * cfg->grad_accum);
    double tps = step_s > 0 ? tok_per_step / step_s : 0;
    double util = r->peak_gflops > 0 ? tps * r->flops_per_token / (r->peak_gflops * 1e9) : 0;
    char eta[32], speed[448] = "";
    int64_t done = res->step + 1 - first_step, left = cfg->steps - res->step - 1;
    format_eta(done > 0 ? t_elapsed / (double)done * (double)left : -1, eta, sizeof eta);
    if (step_s > 0 && r->data.kind != VKT_DATA_TEXT) /* the answer tokens (those with a loss) are the ones that teach */
        snprintf(speed, sizeof speed, " | %.0f tok/s, %.0f %s tok/s | util %.1f%% | host %.1f ms", tps,
                 (double)res->tokens / step_s,
                 r->pref || r->grpo ? "completion"
                 : r->reward        ? "sequence"
                                    : "answer",
                 100 * util, 1e3 * host_s);
    else if (step_s > 0)
        snprintf(speed, sizeof speed, " | %.0f tok/s | util %.1f%% | host %.1f ms", tps, 100 * util, 1e3 * host_s);
    char fields[1024], line[256];
    metrics_text(r, res->metrics, fields, sizeof fields, line, sizeof line);
    char comm_json[160] = "";
    if (step_s > 0 && vkt_dist_size() > 1) comm_text(r, speed, sizeof speed, comm_json, sizeof comm_json);
    if (print) {
        char scale[64] = "";
        if (cfg->precision == VKT_PRECISION_F16)
            snprintf(scale, sizeof scale, " | scale %g (%lld skipped)", res->loss_scale, (long long)res->n_skipped);
        printf("step %5lld/%lld | loss %.4f%s | lr %.2e | norm %.3f%s%s | mem %.0f MiB | eta %s\n",
               (long long)res->step + 1, (long long)cfg->steps, res->loss, line, res->lr, res->grad_norm, scale, speed,
               (double)r->device_bytes / (1 << 20), eta);
        fflush(stdout);
    }
    char extra[1500], lr[32], norm[32], scaling[96] = "";
    if (cfg->precision == VKT_PRECISION_F16) /* dynamic loss scaling: the scale after this step */
        snprintf(scaling, sizeof scaling, ",\"loss_scale\":%.9g,\"skipped_steps\":%lld", res->loss_scale,
                 (long long)res->n_skipped);
    snprintf(extra, sizeof extra, "\"lr\":%s,\"grad_norm\":%s,\"tok_per_s\":%.1f,\"util\":%.4f%s%s%s%s",
             vkt_metrics_num(lr, sizeof lr, res->lr), vkt_metrics_num(norm, sizeof norm, res->grad_norm), tps, util,
             fields, comm_json, scaling, res->skipped ? ",\"skipped\":true" : "");
    vkt_metrics_log(&r->metrics, res->step, "train", res->loss, extra);
    if (print) vkt_metrics_write_svg(&r->metrics); /* keep the curve current for whoever watches it */
    r->reported = res->step + 1 - first_step;
    return account(r, res);
}

/* Before anything expensive: the output folder and, when resuming, the checkpoint's step. */
static vkt_status preflight(const vkt_run_config *cfg, const vkt_train_opts *opts) {
    if (opts->resume && opts->overwrite) {
        vkt_log_error("--resume and --overwrite contradict each other: resume continues the run in output.dir, "
                      "overwrite deletes it; pass one of them");
        return VKT_ERR_ARG;
    }
    if (opts->resume) {
        vkt_checkpoint_state st;
        VKT_TRY(vkt_checkpoint_read_state(opts->resume, &st));
        if (cfg->steps <= st.step) {
            vkt_log_error("--resume %s: the checkpoint is at step %lld and optim.steps is %lld, so there is nothing "
                          "to train; set optim.steps above %lld (e.g. optim.steps=%lld) to continue the run",
                          opts->resume, (long long)st.step, (long long)cfg->steps, (long long)st.step,
                          (long long)(2 * st.step > st.step ? 2 * st.step : st.step + 1));
            return VKT_ERR_ARG;
        }
    }
    vkt_run_dir_mode mode = opts->resume      ? VKT_RUN_DIR_RESUME
                            : opts->overwrite ? VKT_RUN_DIR_OVERWRITE
                                              : VKT_RUN_DIR_NEW;
    return vkt_dist_is_root() ? vkt_run_dir_prepare(cfg->out_dir, mode) : VKT_OK;
}

static vkt_status setup(run *r, vkt_device *dev, const vkt_train_opts *opts, int64_t *first_step) {
    vkt_run_config *cfg = r->cfg;
    VKT_TRY(load_tokenizer(cfg, &r->tok));
    VKT_TRY(vkt_train_data_init(&r->data, cfg, r->tok));
    int64_t B; /* this rank's rows of the global batch optim.batch_size */
    VKT_TRY(vkt_rank_slice_rows(cfg->batch_size, vkt_dist_size(), &B));
    if ((r->data.kind == VKT_DATA_PREF || r->data.kind == VKT_DATA_GRPO) && vkt_dist_size() > 1) {
        vkt_log_error("finetune.objective %s does not run on several ranks yet: run without mpirun",
                      vkt_run_config_ft_objective_name(cfg));
        return VKT_ERR_UNSUPPORTED;
    }
    VKT_TRY(vkt_rank_slice_init(&r->train_rows, vkt_train_data_train_batch, &r->data, cfg->batch_size, cfg->seq_len,
                                vkt_dist_rank(), vkt_dist_size()));
    VKT_TRY(vkt_rank_slice_init(&r->val_rows, vkt_train_data_val_batch, &r->data, cfg->batch_size, cfg->seq_len,
                                vkt_dist_rank(), vkt_dist_size()));
    if ((r->data.kind == VKT_DATA_PREF || r->data.kind == VKT_DATA_GRPO) && !r->ext) {
        vkt_log_error("finetune.objective dpo, ipo, orpo, reward and grpo are fine-tuning objectives: run `vktrain "
                      "finetune` with a finetune.method (full, lora or qlora)");
        return VKT_ERR_ARG;
    }
    if (!vkt_train_data_has_val(&r->data))
        vkt_log_info("no validation data (data.val_fraction is 0 and data.val is empty): no validation loss will be "
                     "reported");

    vkt_model_config mc = cfg->model;
    bool imported = cfg->model_from[0] || opts->resume;
    bool base_from_model = r->ext && r->ext->base_from_model;
    if (opts->resume && !base_from_model)
        VKT_TRY(vkt_checkpoint_read_config(opts->resume, &mc));
    else if (cfg->model_from[0])
        VKT_TRY(vkt_import_config(cfg->model_from, &mc));
    /* A fully fine-tuned reward model carries its score head in its own table (LoRA: in the adapter). */
    if (cfg->ft_objective == VKT_FT_REWARD && !(r->ext && r->ext->mode == VKT_MODEL_FROZEN)) mc.num_labels = 1;
    int64_t need = vkt_train_data_vocab(&r->data, r->tok);
    if (!imported && !(cfg->model_keys && cJSON_GetObjectItemCaseSensitive(cfg->model_keys, "vocab_size")))
        mc.vocab_size = need; /* a new model's vocabulary follows its tokenizer */
    if (mc.vocab_size < need) {
        vkt_log_error("the model's vocab_size (%lld) is smaller than the tokenizer's with the objective's "
                      "sentinels (%lld)",
                      (long long)mc.vocab_size, (long long)need);
        return VKT_ERR_FORMAT;
    }
    if (cfg->seq_len > mc.max_seq_len) {
        vkt_log_error("optim.seq_len %lld is over the model's context %lld", (long long)cfg->seq_len,
                      (long long)mc.max_seq_len);
        return VKT_ERR_FORMAT;
    }
    if (r->ext && r->ext->plan) VKT_TRY(r->ext->plan(r->ext->ctx, dev, &mc, B, cfg->seq_len));
    VKT_TRY(vkt_run_config_check_precision(r->cfg));
    vkt_model_opts mo = {.mode = r->ext ? r->ext->mode : VKT_MODEL_TRAIN,
                         .recompute = cfg->recompute,
                         .base_format = r->ext ? r->ext->base_format : VKT_QFORMAT_F32,
                         .precision = vkt_run_config_precision(cfg)};
    VKT_TRY(vkt_model_create_opts(dev, &mc, B, cfg->seq_len, &mo, &r->model));
    r->model->bidirectional = cfg->objective == VKT_OBJ_MLM;
    vkt_log_info("model: %s, %lld parameters (%d tensors), %lld layers, width %lld, %lld heads (%lld kv)",
                 mc.model_type, (long long)vkt_params_count(&r->model->table), r->model->table.n, (long long)mc.n_layer,
                 (long long)mc.n_embd, (long long)mc.n_head, (long long)mc.n_kv_head);

    vkt_step_cfg sc = {
        .adamw = vkt_adamw_cfg_default(),
        .max_grad_norm = (float)cfg->grad_clip,
        .accum = cfg->grad_accum,
        .total_steps = cfg->steps,
        .schedule = {.lr_max = cfg->lr, .lr_min = cfg->lr_min, .warmup = cfg->warmup_steps, .total = cfg->steps}};
    sc.adamw.beta1 = (float)cfg->beta1, sc.adamw.beta2 = (float)cfg->beta2, sc.adamw.eps = (float)cfg->eps;
    sc.adamw.weight_decay = (float)cfg->weight_decay;
    sc.zero_stage = (int)cfg->zero_stage;
    sc.bucket_mb = cfg->bucket_mb, sc.ordered_reduce = cfg->deterministic_reduce;
    if (cfg->precision == VKT_PRECISION_F16)
        sc.loss_scale = (vkt_loss_scale_cfg){.enabled = true,
                                             .init = (float)cfg->loss_scale_init,
                                             .growth_interval = cfg->loss_scale_growth_interval,
                                             .factor = (float)cfg->loss_scale_factor};
    *first_step = 0;
    vkt_checkpoint_state st = {0};
    /* The base weights go in first unless a resumed run's checkpoint holds all of them; a precomputed
     * preference reference is computed from them before the checkpoint's weights replace them. */
    bool adapters = r->ext && r->ext->mode == VKT_MODEL_FROZEN;
    bool host_ref = r->data.kind == VKT_DATA_PREF && vkt_pref_train_ref_mode(cfg, adapters) == VKT_PREF_REF_HOST;
    bool ckpt_weights = opts->resume && !base_from_model;
    if (opts->resume && !ckpt_weights) VKT_TRY(vkt_checkpoint_read_state(opts->resume, &st));
    if (!ckpt_weights || host_ref) {
        if (cfg->model_from[0])
            VKT_TRY(vkt_import_params(cfg->model_from, r->model));
        else
            VKT_TRY(vkt_model_init_weights(r->model, cfg->seed)); /* a random base (drawn again on resume) */
    }
    bool reward = r->cfg->ft_objective == VKT_FT_REWARD; /* its program needs the head the attach makes */
    if (r->data.kind == VKT_DATA_PREF && !reward) {
        VKT_TRY(vkt_pref_train_create(r->model, cfg, adapters, &r->data, &r->pref));
        VKT_TRY(vkt_pref_train_reference(r->pref, &r->data));
        sc.program = vkt_pref_step_program(r->pref);
    }
    if (r->data.kind == VKT_DATA_GRPO) {
        VKT_TRY(vkt_grpo_train_create(r->model, cfg, &r->data, r->tok, &r->grpo));
        sc.program = vkt_grpo_train_program(r->grpo);
        sc.accum = cfg->grad_accum; /* the step's completions decide it */
    }
    if (ckpt_weights) VKT_TRY(vkt_checkpoint_load_params(opts->resume, r->model, &st));
    if (opts->resume) {
        *first_step = st.step;
        vkt_train_data_pos pos = {
            .epoch = st.data_epoch, .batch = st.data_batch, .rng = {st.data_rng[0], st.data_rng[1]}};
        VKT_TRY(vkt_train_data_set_pos(&r->data, &pos));
    }
    vkt_trainable train = {0};
    if (r->ext)
        VKT_TRY(r->ext->attach(r->ext->ctx, r->model, opts->resume, &train));
    else
        train = vkt_step_trainable_model(r->model);
    if (r->grpo) VKT_TRY(vkt_grpo_train_start(r->grpo, dev, r->ext->gen_adapter, r->ext->mode == VKT_MODEL_TRAIN));
    sc.train = &train;
    if (reward) {
        VKT_TRY(vkt_reward_train_create(r->model, cfg, &train, &r->data, &r->reward));
        sc.program = vkt_reward_step_program(r->reward);
    }
    VKT_TRY(vkt_step_create(r->model, &sc, *first_step, &r->step));
    if (opts->resume) VKT_TRY(vkt_checkpoint_load_optimizer(opts->resume, r->model, r->step, &st));

    size_t pb, gb, ab;
    vkt_model_memory(r->model, &pb, &gb, &ab);
    r->device_bytes = pb + gb + ab + vkt_step_memory(r->step) + (r->pref ? vkt_pref_step_memory(r->pref) : 0) +
                      (r->grpo ? vkt_grpo_train_memory(r->grpo) : 0) +
                      (r->reward ? vkt_reward_step_memory(r->reward) : 0);
    char prec[64] = "";
    if (cfg->precision != VKT_PRECISION_F32)
        snprintf(prec, sizeof prec, " (f32 master + %s copy)", vkt_run_config_precision_name(cfg));
    vkt_log_info("memory plan: parameters %.1f MiB%s, gradients %.1f MiB, optimizer %.1f MiB, activations %.1f MiB%s "
                 "(total %.1f MiB)",
                 (double)pb / (1 << 20), prec, (double)gb / (1 << 20), (double)vkt_step_memory(r->step) / (1 << 20),
                 (double)ab / (1 << 20), cfg->precision != VKT_PRECISION_F32 ? " (16-bit)" : "",
                 (double)r->device_bytes / (1 << 20));
    r->flops_per_token = vkt_train_flops_per_token(&mc, cfg->seq_len);
    if ((r->pref && vkt_pref_step_cfg_of(r->pref)->ref == VKT_PREF_REF_MODEL) ||
        (r->grpo && vkt_grpo_train_has_reference(r->grpo)))
        r->flops_per_token *= 8.0 / 6.0; /* a reference forward (2 per parameter) beside forward + backward (6) */
    r->peak_gflops = opts->peak_gflops;
    if (r->peak_gflops <= 0) {
        vkt_bench *b;
        vkt_bench_opts bo = {.quick = true, .quiet = true};
        if (vkt_bench_create(dev, &bo, &b) == VKT_OK) {
            if (vkt_bench_peaks(b) == VKT_OK) r->peak_gflops = b->peak_gflops;
            vkt_bench_destroy(b);
        }
        vkt_log_info("device FMA peak (measured now): %.1f GFLOP/s", r->peak_gflops);
    }
    if (vkt_dist_size() > 1) {
        vkt_step_comm c = vkt_step_last_comm(r->step);
        char how[96];
        const char *order = c.ordered ? ", deterministic order" : "";
        if (c.n_buckets > 1) snprintf(how, sizeof how, "in %d buckets during the backward%s", c.n_buckets, order);
        else snprintf(how, sizeof how, "after the backward%s", order);
        vkt_log_info("data parallel: %d ranks x %lld rows = global batch %lld; gradients averaged every step "
                     "(%.1f MiB per rank, %s); optimizer moments %.1f MiB per rank%s",
                     vkt_dist_size(), (long long)B, (long long)cfg->batch_size,
                     (double)vkt_tensor_bytes(&train.grads) / (1 << 20), how,
                     (double)vkt_step_memory(r->step) / (1 << 20),
                     vkt_step_sharded(r->step) ? " (ZeRO-1: this rank's shard; parameters all-gathered every step)"
                                               : " (every rank holds all: optim.zero_stage=1 shards them)");
    }
    if (!vkt_dist_is_root()) return VKT_OK;
    if (opts->resume) return vkt_metrics_open_resume(&r->metrics, cfg->out_dir, *first_step);
    return vkt_metrics_open(&r->metrics, cfg->out_dir);
}

static void teardown(run *r) {
    vkt_step_destroy(r->step);
    vkt_pref_step_destroy(r->pref);
    vkt_grpo_train_destroy(r->grpo);
    vkt_reward_step_destroy(r->reward);
    if (r->ext && r->ext->release) r->ext->release(r->ext->ctx);
    vkt_model_destroy(r->model);
    vkt_rank_slice_free(&r->train_rows);
    vkt_rank_slice_free(&r->val_rows);
    vkt_train_data_free(&r->data);
    vkt_tok_free(r->tok);
    vkt_metrics_close(&r->metrics);
}

/* Stops on a signal: the queued steps finish and are logged, then a checkpoint is saved. */
static vkt_status stop_on_signal(run *r, int64_t done, double t_elapsed, int64_t first) {
    vkt_step_result last;
    VKT_TRY(vkt_step_drain(r->step, &last));
    if (last.step >= 0) VKT_TRY(report(r, &last, 0, 0, t_elapsed, first, true));
    vkt_log_info("%s: saving a checkpoint at step %lld, then stopping", g_interrupted == SIGTERM ? "SIGTERM" : "SIGINT",
                 (long long)done);
    return save(r, done, "interrupted");
}

static vkt_status train_loop(run *r, vkt_device *dev, const vkt_train_opts *opts, int64_t first) {
    vkt_run_config *cfg = r->cfg;
    vkt_status s = VKT_OK;
    double t0 = vkt_now_s(), t_prev = t0, val = 0;
    /* Fine-tuning starts from a trained model: its validation loss before any step is the baseline. */
    if (r->ext && first == 0 && cfg->eval_steps > 0) s = evaluate(r, 0, &val, 0, first);
    for (int64_t step = first; step < cfg->steps && s == VKT_OK; step++) {
        double h0 = vkt_now_s();
        vkt_step_result res;
        s = r->grpo ? vkt_grpo_train_step(r->grpo, r->step, step, &res)
                    : vkt_step_submit(r->step, vkt_rank_slice_fill, &r->train_rows, &res);
        double host = vkt_now_s() - h0 - vkt_step_last_wait_s(r->step);
        if (s == VKT_OK && res.step >= 0) {
            double t = vkt_now_s();
            bool print = (res.step + 1) % cfg->log_interval == 0 || res.step == first;
            s = report(r, &res, t - t_prev, host, t - t0, first, print);
            t_prev = t;
        }
        int64_t done = step + 1;
        if (s == VKT_OK && cfg->eval_interval > 0 && done % cfg->eval_interval == 0 && done < cfg->steps)
            s = evaluate(r, done, &val, vkt_now_s() - t0, first);
        if (s == VKT_OK && cfg->checkpoint_interval > 0 && done % cfg->checkpoint_interval == 0 && done < cfg->steps)
            s = save(r, done, "interval");
        if (s == VKT_OK && vkt_dist_size() > 1) g_interrupted = vkt_dist_max_int(g_interrupted); /* all stop */
        if (s == VKT_OK && g_interrupted) {
            if (opts->outcome) opts->outcome->signal = g_interrupted;
            return stop_on_signal(r, done, vkt_now_s() - t0, first);
        }
    }
    vkt_step_result last;
    if (s == VKT_OK) s = vkt_step_drain(r->step, &last);
    if (s == VKT_OK && last.step >= 0) s = report(r, &last, 0, 0, vkt_now_s() - t0, first, true);
    double elapsed = vkt_now_s() - t0;
    if (s == VKT_OK && cfg->eval_steps > 0) s = evaluate(r, cfg->steps, &val, elapsed, first);
    if (s == VKT_OK) {
        double tokens = (double)((cfg->steps - first) * cfg->batch_size * cfg->seq_len * cfg->grad_accum);
        char skipped[96] = "";
        if (r->skipped)
            snprintf(skipped, sizeof skipped, " (%lld skipped: non-finite loss or gradient norm)",
                     (long long)r->skipped);
        printf("done: %lld steps%s in %.1f s, %.0f tok/s, util %.1f%% of %.1f GFLOP/s measured peak\n",
               (long long)(cfg->steps - first), skipped, elapsed, tokens / elapsed,
               r->peak_gflops > 0 ? 100 * tokens / elapsed * r->flops_per_token / (r->peak_gflops * 1e9) : 0,
               r->peak_gflops);
    }
    if (s == VKT_OK) s = save(r, cfg->steps, "final");
    if (s == VKT_OK && !opts->no_sample) s = sample_text(r, dev);
    return s;
}

vkt_status vkt_train(vkt_device *dev, vkt_run_config *cfg, const vkt_train_opts *opts) {
    run r = {.dev = dev, .cfg = cfg, .ext = opts->ext};
    int64_t first = 0;
    if (opts->outcome) *opts->outcome = (vkt_train_outcome){0};
    vkt_status s = preflight(cfg, opts);
    if (s == VKT_OK) s = setup(&r, dev, opts, &first);
    if (s == VKT_OK) {
        g_interrupted = 0;
        void (*old_int)(int) = signal(SIGINT, on_signal);
        void (*old_term)(int) = signal(SIGTERM, on_signal);
        s = train_loop(&r, dev, opts, first);
        signal(SIGINT, old_int);
        signal(SIGTERM, old_term);
    }
    if (opts->outcome) opts->outcome->steps_skipped = r.skipped, opts->outcome->steps_done = r.reported;
    teardown(&r);
    return s;
}
