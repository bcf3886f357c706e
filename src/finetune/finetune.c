/* Fine-tuning runs (see finetune.h): the trainer extension for full and LoRA fine-tuning. */
#include "finetune/finetune.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dist/dist.h"
#include "finetune/ft_plan.h"
#include "finetune/lora.h"
#include "finetune/lora_peft.h"
#include "io/checkpoint.h"

typedef struct {
    const vkt_run_config *cfg; /* borrowed */
    const char *adapter;       /* borrowed: --adapter folder, or NULL */
    vkt_lora_cfg lora_cfg;
    vkt_qformat base_format;
    vkt_lora *lora;      /* owned (method lora), made by attach */
    bool *frozen;        /* owned (method full): per model table entry */
    vkt_gen_adapter gen; /* generation during the run: the live adapter mirrored into the inference models */
} ft_run;

static vkt_status gen_attach(void *ctx, vkt_model *m, void **handle) {
    return vkt_lora_mirror_create(((ft_run *)ctx)->lora, m, (vkt_lora_mirror **)handle);
}

static void gen_release(void *ctx, void *handle) { vkt_lora_mirror_destroy(handle); }

static bool method_is(const vkt_run_config *c, const char *m) { return strcmp(c->ft_method, m) == 0; }

/* Adapters on a frozen base: lora, and qlora (lora over an NF4 base by default). */
static bool method_adapters(const vkt_run_config *c) { return method_is(c, "lora") || method_is(c, "qlora"); }

vkt_status vkt_finetune_base_format(const vkt_run_config *c, vkt_qformat *out) {
    *out = method_is(c, "qlora") ? VKT_QFORMAT_NF4 : VKT_QFORMAT_F32;
    if (!c->ft_base_format[0]) return VKT_OK;
    if (!vkt_qformat_parse(c->ft_base_format, out)) {
        vkt_log_error("finetune.base_format \"%s\": choose f32, f16, bf16, int8 or nf4 (storage of the frozen base's "
                      "linear weights)",
                      c->ft_base_format);
        return VKT_ERR_ARG;
    }
    if (*out != VKT_QFORMAT_F32 && method_is(c, "full")) {
        vkt_log_error("finetune.base_format \"%s\" with method \"full\": quantized weights cannot train; use "
                      "base_format \"f32\", or method \"lora\" / \"qlora\" to train adapters over a quantized base",
                      c->ft_base_format);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

/* finetune.modules_to_save: a list of module names (PEFT's), "score" only for the reward objective, whose
 * score head it already is. The names are matched against the model when the adapter is built. */
static vkt_status modules_to_save(const vkt_run_config *c, vkt_lora_cfg *out) {
    cJSON *ms = cJSON_Parse(c->ft_modules_to_save[0] ? c->ft_modules_to_save : "null"), *it;
    vkt_status s = cJSON_IsNull(ms) || cJSON_IsArray(ms) ? VKT_OK : VKT_ERR_ARG;
    if (s != VKT_OK)
        vkt_log_error("finetune.modules_to_save must be a list of module names, e.g. [\"lm_head\", \"embed_tokens\"]");
    bool reward = c->ft_objective == VKT_FT_REWARD;
    const cJSON *list = cJSON_IsArray(ms) ? ms : NULL;
    cJSON_ArrayForEach(it, list) {
        if (s != VKT_OK) break;
        if (!cJSON_IsString(it)) {
            vkt_log_error("finetune.modules_to_save must hold strings (module names)");
            s = VKT_ERR_ARG;
        } else if (!strcmp(it->valuestring, "score") && !reward) {
            vkt_log_error("finetune.modules_to_save \"score\": the score head belongs to objective \"reward\" (which "
                          "trains it already)");
            s = VKT_ERR_ARG;
        } else if (strcmp(it->valuestring, "score") != 0) {
            s = vkt_lora_cfg_add_save(out, it->valuestring);
        }
    }
    cJSON_Delete(ms);
    return s;
}

/* The finetune section as a LoRA config. */
vkt_status vkt_finetune_lora_cfg(const vkt_run_config *c, vkt_lora_cfg *out) {
    *out = vkt_lora_cfg_default();
    out->r = c->ft_r, out->lora_alpha = c->ft_lora_alpha, out->use_rslora = c->ft_use_rslora;
    out->lora_dropout = c->ft_lora_dropout, out->seed = c->seed;
    out->score_head = c->ft_objective == VKT_FT_REWARD; /* PEFT's SEQ_CLS modules_to_save ["score"] */
    snprintf(out->base_model, sizeof out->base_model, "%s", c->model_from);
    cJSON *init = cJSON_Parse(c->ft_init);
    bool ok = init && (cJSON_IsBool(init) || (cJSON_IsString(init) && !strcmp(init->valuestring, "gaussian")));
    out->init = cJSON_IsString(init)  ? VKT_LORA_INIT_GAUSSIAN
                : cJSON_IsFalse(init) ? VKT_LORA_INIT_NONE
                                      : VKT_LORA_INIT_DEFAULT;
    cJSON_Delete(init);
    if (!ok) {
        vkt_log_error("finetune.init_lora_weights %s: use true (Kaiming-uniform A, zero B), \"gaussian\" or false",
                      c->ft_init);
        return VKT_ERR_ARG;
    }
    cJSON *tm = cJSON_Parse(c->ft_target_modules[0] ? c->ft_target_modules : "null"), *it;
    vkt_status s = VKT_OK;
    if (cJSON_IsString(tm) && !strcmp(tm->valuestring, "all-linear"))
        out->all_linear = true;
    else if (cJSON_IsString(tm))
        snprintf(out->target_regex, sizeof out->target_regex, "%s", tm->valuestring);
    else if (cJSON_IsArray(tm)) {
        cJSON_ArrayForEach(it, tm) s =
            s == VKT_OK && cJSON_IsString(it) ? vkt_lora_cfg_add_target(out, it->valuestring) : VKT_ERR_ARG;
    }
    cJSON_Delete(tm);
    if (s != VKT_OK) {
        vkt_log_error("finetune.target_modules must be a list of module names, \"all-linear\" or a regex string");
        return s;
    }
    VKT_TRY(modules_to_save(c, out));
    return vkt_lora_cfg_check(out);
}

/* GRPO's keys agree with each other and the method; the group and batch arithmetic is checked with the data
 * (train/grpo_train.c). */
static vkt_status check_grpo(const vkt_run_config *c) {
    int lt = vkt_run_config_ft_loss_type(c);
    if (lt < VKT_FT_LOSS_DAPO) {
        vkt_log_error("finetune.loss_type \"%s\" with objective grpo: GRPO's loss types are dapo (default), grpo, bnpo "
                      "and dr_grpo",
                      lt == VKT_FT_LOSS_ROBUST ? "robust" : "sigmoid");
        return VKT_ERR_ARG;
    }
    if (c->ft_label_smoothing > 0 || c->ft_precompute_ref_log_probs) {
        vkt_log_error("finetune.%s with objective grpo: it is a DPO option; remove it",
                      c->ft_label_smoothing > 0 ? "label_smoothing" : "precompute_ref_log_probs");
        return VKT_ERR_ARG;
    }
    if (vkt_run_config_ft_beta(c) > 0 && method_is(c, "full")) {
        vkt_log_error("finetune.beta = %g with method \"full\": GRPO's KL penalty needs a reference model, which for "
                      "full fine-tuning would be a second copy of the weights; use method \"lora\" / \"qlora\" (the "
                      "base without its adapters is the reference) or beta 0 (TRL's default)",
                      c->ft_beta);
        return VKT_ERR_ARG;
    }
    if (c->ft_num_generations < 2 && c->ft_scale_rewards != 2) {
        vkt_log_error("finetune.num_generations = %lld: advantages are normalised within each prompt's group of "
                      "completions, which needs at least 2 (TRL's default 8); or set scale_rewards \"none\"",
                      (long long)c->ft_num_generations);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

/* The objective's keys (finetune.objective, beta, label_smoothing, loss_type, precompute_ref_log_probs) agree
 * with each other; their ranges were checked when they were read. */
static vkt_status check_objective(const vkt_run_config *c) {
    const char *obj = vkt_run_config_ft_objective_name(c);
    if (c->ft_objective == VKT_FT_GRPO) return check_grpo(c);
    bool dpo = c->ft_objective == VKT_FT_DPO, with_ref = dpo || c->ft_objective == VKT_FT_IPO;
    double beta = vkt_run_config_ft_beta(c);
    int loss_type = vkt_run_config_ft_loss_type(c);
    if (with_ref && beta <= 0) {
        vkt_log_error("finetune.beta = 0 with objective %s: beta scales the log-ratios and must be > 0 (TRL's "
                      "default 0.1)",
                      obj);
        return VKT_ERR_ARG;
    }
    if (c->ft_label_smoothing > 0 && !dpo) {
        vkt_log_error("finetune.label_smoothing = %g with objective %s: label smoothing is a DPO option (cDPO, "
                      "loss_type robust); set it to 0",
                      c->ft_label_smoothing, obj);
        return VKT_ERR_ARG;
    }
    if (c->ft_label_smoothing >= 0.5) {
        vkt_log_error("finetune.label_smoothing = %g: it is the probability that a label is flipped and must be below "
                      "0.5",
                      c->ft_label_smoothing);
        return VKT_ERR_ARG;
    }
    if (loss_type > VKT_FT_LOSS_ROBUST) {
        vkt_log_error("finetune.loss_type with objective %s: dapo, grpo, bnpo and dr_grpo are GRPO's loss types; use "
                      "sigmoid or robust (DPO) or remove loss_type",
                      obj);
        return VKT_ERR_ARG;
    }
    if (loss_type != VKT_FT_LOSS_SIGMOID && !dpo) {
        vkt_log_error("finetune.loss_type \"robust\" with objective %s: loss types are DPO's; use objective dpo or "
                      "remove loss_type",
                      obj);
        return VKT_ERR_ARG;
    }
    if (c->ft_center_rewards_coef != 0 && c->ft_objective != VKT_FT_REWARD) {
        vkt_log_error("finetune.center_rewards_coefficient with objective %s: it is the reward model's option "
                      "(objective \"reward\")",
                      obj);
        return VKT_ERR_ARG;
    }
    if (c->ft_precompute_ref_log_probs && !with_ref) {
        vkt_log_error("finetune.precompute_ref_log_probs with objective %s: only dpo and ipo use a reference model",
                      obj);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

vkt_status vkt_finetune_check(const vkt_run_config *cfg) {
    if (!method_adapters(cfg) && !method_is(cfg, "full")) {
        vkt_log_error("finetune.method \"%s\": choose \"lora\" (adapters on a frozen base), \"qlora\" (adapters on an "
                      "NF4 base) or \"full\" (every weight)",
                      cfg->ft_method);
        return VKT_ERR_ARG;
    }
    if (!cfg->model_from[0] && !cfg->model_keys) {
        vkt_log_error("fine-tuning needs a base model: set model.path to a Hugging Face folder, a llama2.c .bin or an "
                      "llm.c GPT-2 .bin (or give a \"model\" section with the shape for a randomly initialised base)");
        return VKT_ERR_ARG;
    }
    vkt_qformat f;
    VKT_TRY(vkt_finetune_base_format(cfg, &f));
    VKT_TRY(check_objective(cfg));
    VKT_TRY(vkt_run_config_check_precision(cfg));
    bool saved = cfg->ft_modules_to_save[0] && strcmp(cfg->ft_modules_to_save, "null") != 0;
    if (saved && method_is(cfg, "full")) {
        vkt_log_error("finetune.modules_to_save with method \"full\": every weight already trains; it is for method "
                      "\"lora\" / \"qlora\" (modules trained in full beside the adapters)");
        return VKT_ERR_ARG;
    }
    if (method_adapters(cfg)) {
        vkt_lora_cfg lc;
        return vkt_finetune_lora_cfg(cfg, &lc);
    }
    return VKT_OK;
}

static vkt_status plan(void *ctx, vkt_device *dev, const vkt_model_config *mc, int64_t B, int64_t T) {
    ft_run *f = ctx;
    VKT_ASSERT(T == f->cfg->seq_len);
    vkt_run_config c = *f->cfg; /* a read-only shallow copy: B is this rank's share of optim.batch_size */
    c.batch_size = B;
    vkt_ft_plan p;
    VKT_TRY(vkt_ft_plan_make(dev, &c, mc, f->base_format, &p));
    vkt_ft_plan_print(&p);
    return vkt_ft_plan_check(&p, f->cfg);
}

typedef struct {
    char s[800];
} names_buf;

static names_buf saved_str(const vkt_lora_cfg *c) {
    names_buf b = {"["};
    for (int k = 0; k < c->n_save; k++)
        snprintf(b.s + strlen(b.s), sizeof b.s - strlen(b.s), "%s\"%s\"", k ? ", " : "", c->modules_to_save[k]);
    snprintf(b.s + strlen(b.s), sizeof b.s - strlen(b.s), "]");
    return b;
}

/* The loaded adapter's modules_to_save are the config's (as a set: PEFT matches each name once). */
static bool same_saved(const vkt_lora *l, const vkt_lora_cfg *want) {
    if (l->cfg.n_save != want->n_save) return false;
    for (int k = 0; k < want->n_save; k++) {
        bool found = false;
        for (int j = 0; j < l->cfg.n_save; j++) found |= !strcmp(l->cfg.modules_to_save[j], want->modules_to_save[k]);
        if (!found) return false;
    }
    return true;
}

static vkt_status lora_attach(void *ctx, vkt_model *m, const char *resume, vkt_trainable *train) {
    ft_run *f = ctx;
    const char *from = resume ? resume : f->adapter;
    if (from) {
        char ck[1024];
        snprintf(ck, sizeof ck, "%s", from);
        if (resume) VKT_TRY(vkt_checkpoint_resolve(resume, ck, sizeof ck));
        VKT_TRY(vkt_lora_load_peft(m, ck, true, &f->lora));
        if (resume) {
            /* Dropout masks follow the micro-batches run: the resumed run draws the ones it would have. */
            vkt_checkpoint_state st;
            VKT_TRY(vkt_checkpoint_read_state(ck, &st));
            VKT_TRY(vkt_lora_set_pass_counter(f->lora, (uint32_t)(st.step * f->cfg->grad_accum)));
        }
        if (f->lora->cfg.score_head != f->lora_cfg.score_head) {
            vkt_log_error("%s: the adapter %s a score head (modules_to_save \"score\"), but finetune.objective is %s",
                          ck, f->lora->cfg.score_head ? "has" : "has no",
                          f->lora_cfg.score_head ? "\"reward\"" : "not \"reward\"");
            return VKT_ERR_ARG;
        }
        if (!same_saved(f->lora, &f->lora_cfg)) {
            vkt_log_error("%s: the adapter trains modules_to_save %s but finetune.modules_to_save selects %s; make "
                          "them agree (the saved copies and their optimizer state belong to the adapter)",
                          ck, saved_str(&f->lora->cfg).s, saved_str(&f->lora_cfg).s);
            return VKT_ERR_ARG;
        }
        snprintf(f->lora->cfg.base_model, sizeof f->lora->cfg.base_model, "%s", f->cfg->model_from);
        f->lora->cfg.seed = f->cfg->seed; /* the run's seed draws the dropout masks (PEFT's config has none) */
        vkt_log_info("LoRA: adapter loaded from %s", ck);
    } else {
        VKT_TRY(vkt_lora_create(m, &f->lora_cfg, &f->lora));
    }
    vkt_lora *l = f->lora;
    vkt_lora_set_dropout_row0(l, vkt_dist_rank() * m->B * m->T); /* masks as one process would draw them */
    vkt_lora_attach(l);
    *train = (vkt_trainable){.table = &l->table, .params = l->params, .grads = l->grads, .params_half = l->params_half};
    for (int j = 0; j < l->n_saved; j++)
        vkt_log_info("modules_to_save: %s trains in full as a copy (%lld parameters)%s",
                     l->table.p[l->saved_first + j].name, (long long)l->table.p[l->saved_first + j].numel,
                     vkt_lora_unties(l) ? "; the tied embeddings untie, as PEFT's copy does" : "");
    vkt_log_info("LoRA: %d modules (%s ...), r %lld, alpha %g, scale %g%s: %lld trainable parameters (base frozen, "
                 "%.2f%%), adapter memory %.1f MiB",
                 l->n_mods, l->mods[0].module, (long long)l->cfg.r, l->cfg.lora_alpha, l->scale,
                 l->cfg.use_rslora ? " (rsLoRA)" : "", (long long)vkt_params_count(&l->table),
                 100.0 * (double)vkt_params_count(&l->table) / (double)vkt_params_count(&m->table),
                 (double)(2 * l->table.total * 4) / (1 << 20));
    return VKT_OK;
}

static vkt_status lora_write(void *ctx, const char *dir) { return vkt_lora_save_peft(((ft_run *)ctx)->lora, dir); }

static vkt_status lora_before_sample(void *ctx, vkt_model *m) {
    ft_run *f = ctx;
    (void)m;
    if (vkt_lora_unties(f->lora)) {
        vkt_log_info("closing samples skipped: modules_to_save untie this model's embeddings, which the tied model "
                     "cannot take in place (sample with `vktrain sample MODEL --adapter DIR`)");
        return VKT_ERR_UNSUPPORTED;
    }
    VKT_TRY(vkt_lora_merge_into_model(f->lora));
    vkt_lora_detach(f->lora);
    return VKT_OK;
}

static size_t lora_memory(void *ctx) {
    const vkt_lora *l = ((ft_run *)ctx)->lora;
    if (!l) return 0;
    size_t half = l->half_arena ? vkt_arena_capacity(l->half_arena) : 0;
    return vkt_arena_capacity(l->params_arena) + vkt_arena_capacity(l->grads_arena) + vkt_arena_capacity(l->acts_arena) +
           half;
}

static void lora_release(void *ctx) {
    ft_run *f = ctx;
    vkt_lora_destroy(f->lora);
    f->lora = NULL;
}

static vkt_status full_attach(void *ctx, vkt_model *m, const char *resume, vkt_trainable *train) {
    ft_run *f = ctx;
    (void)resume;
    *train = vkt_step_trainable_model(m);
    bool reward = f->cfg->ft_objective == VKT_FT_REWARD; /* its LM head gets no gradient: frozen, not decayed */
    if (!f->cfg->ft_freeze_embeddings && f->cfg->ft_freeze_layers == 0 && !reward) return VKT_OK;
    if (f->cfg->ft_freeze_layers > m->cfg.n_layer) {
        vkt_log_error("finetune.freeze_layers %lld is more than the model's %lld layers",
                      (long long)f->cfg->ft_freeze_layers, (long long)m->cfg.n_layer);
        return VKT_ERR_ARG;
    }
    f->frozen = calloc((size_t)m->table.n, sizeof *f->frozen);
    if (!f->frozen) return VKT_ERR_OOM;
    int64_t n = 0;
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        bool emb = e->role == VKT_ROLE_WTE || e->role == VKT_ROLE_WPE;
        f->frozen[i] = (f->cfg->ft_freeze_embeddings && emb) ||
                       (e->layer >= 0 && e->layer < f->cfg->ft_freeze_layers) ||
                       (reward && e->role == VKT_ROLE_LM_HEAD);
        n += f->frozen[i] ? e->numel : 0;
    }
    train->frozen = f->frozen;
    vkt_log_info("full fine-tuning: %lld of %lld parameters frozen (embeddings %s, first %lld layers%s)", (long long)n,
                 (long long)vkt_params_count(&m->table), f->cfg->ft_freeze_embeddings ? "frozen" : "trained",
                 (long long)f->cfg->ft_freeze_layers, reward ? ", the LM head of a reward model" : "");
    return VKT_OK;
}

static void full_release(void *ctx) {
    ft_run *f = ctx;
    free(f->frozen);
    f->frozen = NULL;
}

vkt_status vkt_finetune(vkt_device *dev, vkt_run_config *cfg, const char *adapter, const vkt_train_opts *opts) {
    VKT_TRY(vkt_finetune_check(cfg));
    bool lora = method_adapters(cfg);
    if (adapter && !lora) {
        vkt_log_error("--adapter continues training a LoRA adapter: it needs finetune.method \"lora\" or \"qlora\"");
        return VKT_ERR_ARG;
    }
    if (adapter && !vkt_lora_is_peft_dir(adapter)) {
        vkt_log_error("--adapter %s: no adapter_config.json there (a PEFT LoRA adapter folder is expected)", adapter);
        return VKT_ERR_ARG;
    }
    vkt_train_ext ext;
    VKT_TRY(vkt_finetune_ext_create(cfg, adapter, &ext));
    if (ext.base_format != VKT_QFORMAT_F32 && cfg->sample_tokens > 0) {
        /* Sampling merges the adapter into the base, which a quantized base cannot take in place. */
        vkt_log_info("closing samples skipped: the base is stored as %s (sample with `vktrain sample MODEL --adapter "
                     "DIR` on the full-precision base)",
                     vkt_qformat_name(ext.base_format));
        cfg->sample_tokens = 0;
    }
    vkt_train_opts o = *opts;
    o.ext = &ext;
    vkt_status st = vkt_train(dev, cfg, &o);
    vkt_finetune_ext_free(&ext);
    return st;
}

vkt_status vkt_finetune_ext_create(const vkt_run_config *cfg, const char *adapter, vkt_train_ext *ext) {
    memset(ext, 0, sizeof *ext);
    VKT_TRY(vkt_finetune_check(cfg));
    ft_run *f = calloc(1, sizeof *f);
    if (!f) return VKT_ERR_OOM;
    *f = (ft_run){.cfg = cfg, .adapter = adapter, .gen = {.attach = gen_attach, .release = gen_release}};
    f->gen.ctx = f;
    bool lora = method_adapters(cfg);
    vkt_status s = lora ? vkt_finetune_lora_cfg(cfg, &f->lora_cfg) : VKT_OK;
    if (s == VKT_OK) s = vkt_finetune_base_format(cfg, &f->base_format);
    if (s != VKT_OK) {
        free(f);
        return s;
    }
    *ext = (vkt_train_ext){.ctx = f,
                           .mode = lora ? VKT_MODEL_FROZEN : VKT_MODEL_TRAIN,
                           .base_format = f->base_format,
                           .plan = plan,
                           .base_from_model = lora,
                           .attach = lora ? lora_attach : full_attach,
                           .write = lora ? lora_write : NULL,
                           .before_sample = lora ? lora_before_sample : NULL,
                           .memory = lora ? lora_memory : NULL,
                           .release = lora ? lora_release : full_release,
                           .gen_adapter = lora ? &f->gen : NULL};
    return VKT_OK;
}

void vkt_finetune_ext_free(vkt_train_ext *ext) {
    free(ext->ctx);
    memset(ext, 0, sizeof *ext);
}
