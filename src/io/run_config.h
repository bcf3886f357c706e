/* A training run's configuration: strict JSON files (see configs/) plus command-line overrides.
 *
 * {
 *   "model":    {"preset": "gpt2-tiny", <Hugging Face config.json keys>}  or  {"from": "model/dir"},
 *   "tokenizer":{"type": "byte" | "gpt2" | "file", "path": "..."},
 *   "data":     {"train": "text file or folder", "val": "...", "val_fraction": 0.1, "shuffle": true,
 *                "objective": "clm" | "mlm" | "fim", "mask_prob": 0.15, "fim_rate": 0.5,
 *                "format": "auto" | "text" | "sft", and for sft (instruction / chat records, src/sft):
 *                "chat_template", "loss_on": "assistant" | "last" | "all", "packing", "truncation":
 *                "right" | "left" | "drop", "bad_records": "fail" | "skip", "parse_special",
 *                "retrieve": INDEX, "retrieve_k", "retrieve_p_no_gold", "retrieve_into": "user" | "system",
 *                "retrieve_hard", and for preference pairs "max_prompt_tokens", "max_completion_tokens"},
 *   "optim":    {"batch_size", "seq_len", "grad_accum", "steps", "lr", "lr_min", "warmup_steps",
 *                "weight_decay", "beta1", "beta2", "eps", "grad_clip", "seed", "recompute", "max_bad_steps",
 *                "zero_stage", "bucket_mb", "deterministic_reduce", "precision": "f32" | "bf16" | "f16",
 *                and for f16 "loss_scale_init", "loss_scale_growth_interval", "loss_scale_factor"},
 *   "eval":     {"interval", "steps", "generations", "gen_tokens"},
 *   "log":      {"interval"},
 *   "output":   {"dir", "checkpoint_interval", "keep"},
 *   "sample":   {"tokens", "temperature", "top_k", "top_p", "prompt"},
 *   "finetune": {"method": "full" | "lora" | "qlora", "r", "lora_alpha", "use_rslora", "lora_dropout",
 *                "target_modules": ["q_proj", ...] | "all-linear" | "regex", "init_lora_weights": true |
 *                false | "gaussian", "modules_to_save": ["lm_head", ...], "freeze_embeddings", "freeze_layers",
 *                "base_format",
 *                "objective": "sft" | "dpo" | "ipo" | "orpo" | "grpo" | "reward", "beta", "label_smoothing",
 * "loss_type": "sigmoid" | "robust" (DPO) | "dapo" | "grpo" | "bnpo" | "dr_grpo" (GRPO), "precompute_ref_log_probs",
 * and for GRPO (TRL's GRPOConfig names): "num_generations", "prompts_per_step", "max_prompt_length",
 * "max_completion_length", "temperature", "top_p", "top_k", "epsilon", "epsilon_high", "scale_rewards": "group" |
 * "batch" | "none", "rewards" (a reward spec, src/rl/reward.h: JSON, or a file holding it), "answer_key",
 * "eval_temperature"} (vktrain finetune only)
 * }
 * "model.path" is another name for "model.from" (fine-tuning configs name the base model so).
 * Unknown keys, wrong types and impossible values are errors naming the key. Overrides are
 * "section.key=value" strings (e.g. "optim.lr=3e-4", "model.n_layer=2"). */
#ifndef VKT_RUN_CONFIG_H
#define VKT_RUN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model_config.h"
#include "vktrain/tensor.h"

/* optim.precision, in the order of its names. */
typedef enum { VKT_PRECISION_F32 = 0, VKT_PRECISION_BF16 = 1, VKT_PRECISION_F16 = 2 } vkt_precision;

typedef struct cJSON cJSON;

typedef enum { VKT_OBJ_CLM = 0, VKT_OBJ_MLM = 1, VKT_OBJ_FIM = 2 } vkt_objective;

/* finetune.objective: what a fine-tuning run optimises (src/train/pref_train.h for the preference ones). */
typedef enum {
    VKT_FT_SFT = 0,    /* next-token loss on the data's answer tokens (or all text) */
    VKT_FT_DPO = 1,    /* direct preference optimisation against a reference model */
    VKT_FT_IPO = 2,    /* identity preference optimisation (DPO's squared variant) */
    VKT_FT_ORPO = 3,   /* odds-ratio preference optimisation: NLL on chosen + odds-ratio term, no reference */
    VKT_FT_GRPO = 4,   /* online RL with verifiable rewards (src/train/grpo_train.h) */
    VKT_FT_REWARD = 5, /* reward model: a score head trained with the Bradley-Terry loss on the pairs */
} vkt_ft_objective;

/* finetune.loss_type: DPO's (TRL's DPOConfig.loss_type values implemented), then GRPO's (GRPOConfig's, in
 * the order of vkt_grpo_agg). VKT_FT_LOSS_DEFAULT: not set, the objective's default (sigmoid, dapo). */
typedef enum {
    VKT_FT_LOSS_DEFAULT = -1,
    VKT_FT_LOSS_SIGMOID = 0,
    VKT_FT_LOSS_ROBUST = 1,
    VKT_FT_LOSS_DAPO = 2,
    VKT_FT_LOSS_GRPO = 3,
    VKT_FT_LOSS_BNPO = 4,
    VKT_FT_LOSS_DR_GRPO = 5,
} vkt_ft_loss_type;

typedef struct {
    vkt_model_config model; /* resolved by vkt_run_config_validate from preset + model keys */
    cJSON *model_keys;      /* owned: the "model" section's Hugging Face keys, applied over the preset */
    char model_from[512];   /* "" or a model directory / llama2.c / llm.c file to import */
    char model_preset[64];
    char tokenizer_type[16]; /* byte, gpt2, file */
    char tokenizer_path[512];
    char data_train[512], data_val[512];
    double val_fraction;
    bool shuffle;
    vkt_objective objective;
    double mask_prob, fim_rate;
    /* SFT data (data.format sft, or auto with .json / .jsonl data): see src/sft/sft_source.h */
    char data_format[8];     /* auto | text | sft | pref (preference pairs, src/sft/pref_source.h) */
    char chat_template[512]; /* "" (the model's own) | chatml | llama3 | a .jinja or tokenizer_config.json */
    char loss_on[16];        /* assistant | last | all */
    bool packing;
    char truncation[8];  /* right | left | drop */
    char bad_records[8]; /* fail | skip */
    bool parse_special;  /* special-token text in plain prompt / completion / text strings */
    char retrieve[512];  /* "" or a retrieval index (vktrain index) for RAG + FT */
    int64_t retrieve_k;
    double retrieve_p_no_gold;
    char retrieve_into[8];         /* user | system */
    bool retrieve_hard;            /* RAFT distractors: the question's best non-gold passages */
    int64_t max_prompt_tokens;     /* preference pairs: a longer prompt keeps its end (0: no limit) */
    int64_t max_completion_tokens; /* preference pairs: a longer completion keeps its start (0: no limit) */
    int64_t batch_size, seq_len, grad_accum, steps, warmup_steps;
    double lr, lr_min, weight_decay, beta1, beta2, eps, grad_clip;
    uint64_t seed;
    bool recompute;
    int64_t zero_stage;         /* data parallel (mpirun): 1 shards the AdamW moments over the ranks (ZeRO-1) */
    double bucket_mb;           /* data parallel: gradient buckets of about this many MiB reduced during the
                                 * backward (default 25); 0: one all-reduce after the backward */
    bool deterministic_reduce;  /* data parallel: rank-order sums, so a run repeats bit for bit */
    int precision;              /* vkt_precision: f32, or mixed precision (model.h: f32 master weights, 16-bit
                                 * weight copy and activations); read it with vkt_run_config_precision */
    double loss_scale_init;     /* f16 dynamic loss scaling (sched/step.h): GradScaler's 65536, */
    int64_t loss_scale_growth_interval; /* 2000 */
    double loss_scale_factor;   /* and 2 */
    int64_t max_bad_steps;      /* steps in a row with a non-finite loss or gradient norm (each skipped on
                                 * the device) that stop the run as diverged; default 20 */
    int64_t eval_interval, eval_steps, log_interval;
    int64_t eval_generations, eval_gen_tokens; /* SFT: held-out prompts answered at each evaluation */
    char out_dir[512];
    int64_t checkpoint_interval, keep;
    int64_t sample_tokens, top_k;
    double temperature, top_p;
    char sample_prompt[512];
    /* finetune section (src/finetune/finetune.h reads it; `vktrain train` refuses a config that sets method) */
    char ft_method[16]; /* "" (not fine-tuning), full, lora, qlora */
    int64_t ft_r;
    double ft_lora_alpha, ft_lora_dropout;
    bool ft_use_rslora, ft_freeze_embeddings;
    int64_t ft_freeze_layers;
    char ft_target_modules[1024];     /* the JSON value as given (a list or a string), "" when unset */
    char ft_modules_to_save[512];     /* the JSON list as given ("lm_head", "embed_tokens", ...), "" when unset */
    char ft_init[32];                 /* init_lora_weights as JSON: true, false or "gaussian" */
    char ft_base_format[16];          /* "" (the method's default) or f32 | f16 | bf16 | int8 | nf4 */
    int ft_objective;                 /* vkt_ft_objective (default sft) */
    double ft_beta;                   /* DPO / IPO beta, ORPO's lambda, GRPO's KL weight (TRL names all `beta`); < 0:
                                       * not set, read it with vkt_run_config_ft_beta */
    double ft_label_smoothing;        /* DPO: cDPO / robust label smoothing e in [0, 0.5) */
    int ft_loss_type;                 /* vkt_ft_loss_type; read it with vkt_run_config_ft_loss_type */
    double ft_center_rewards_coef;    /* reward: TRL's center_rewards_coefficient (default 0: off) */
    bool ft_precompute_ref_log_probs; /* LoRA / QLoRA DPO / IPO: reference log-probs computed once before
                                       * training instead of a reference forward per step (full: always) */
    /* GRPO (finetune.objective grpo; TRL's GRPOConfig defaults unless said) */
    int64_t ft_num_generations;         /* G, completions per prompt (8) */
    int64_t ft_prompts_per_step;        /* prompts per optimizer step; 0: batch_size * grad_accum / G (TRL) */
    int64_t ft_max_prompt_length;       /* a longer prompt keeps its end; 0: seq_len + 1 - max_completion_length */
    int64_t ft_max_completion_length;   /* (256) */
    double ft_temperature, ft_top_p;    /* rollout sampling (1, 1) */
    int64_t ft_top_k;                   /* 0: none */
    double ft_epsilon, ft_epsilon_high; /* clip range (0.2; epsilon_high < 0: = epsilon) */
    int ft_scale_rewards;               /* vkt_grpo_scale order: group (default), batch, none */
    char ft_rewards[2048];              /* reward spec as JSON text (rl/reward.h), a JSON string naming a file
                                         * holding one, or "": exact_match */
    char ft_answer_key[32];             /* the records' reference answer field ("answer") */
    double ft_eval_temperature;         /* validation rollouts: 0 greedy (default) */
} vkt_run_config;

/* Defaults: a small GPT at character level (the shape of nanoGPT's shakespeare-char). */
void vkt_run_config_defaults(vkt_run_config *c);
/* Applies a JSON file on top of c. */
vkt_status vkt_run_config_load(const char *path, vkt_run_config *c);
/* Applies a parsed config object on top of c; `where` names its source in messages. */
vkt_status vkt_run_config_apply(vkt_run_config *c, const cJSON *root, const char *where);
/* Applies one "section.key=value" override. */
vkt_status vkt_run_config_set(vkt_run_config *c, const char *assignment);
void vkt_run_config_free(vkt_run_config *c);
/* Resolves the model (preset + keys) and runs cross-field checks (seq_len <= model max, batch > 0...). */
vkt_status vkt_run_config_validate(vkt_run_config *c);
/* optim.precision's storage dtype (F32, BF16 or F16) and name. */
vkt_dtype vkt_run_config_precision(const vkt_run_config *c);
const char *vkt_run_config_precision_name(const vkt_run_config *c);
/* VKT_ERR_ARG, with the message, where optim.precision is 16-bit for an objective that has no 16-bit path yet
 * (the reward model's score head); VKT_OK otherwise. Checked by `finetune` before planning and by the trainer. */
vkt_status vkt_run_config_check_precision(const vkt_run_config *c);
/* finetune.beta and loss_type as the objective reads them: the value set, else its default (beta 0.1 for the
 * preference objectives, 0 for GRPO; loss_type sigmoid for DPO, dapo for GRPO). */
double vkt_run_config_ft_beta(const vkt_run_config *c);
int vkt_run_config_ft_loss_type(const vkt_run_config *c);
/* finetune.objective's name as configs spell it ("sft", "dpo", ...). */
const char *vkt_run_config_ft_objective_name(const vkt_run_config *c);
/* Prints every effective value, one per line, to stderr. */
void vkt_run_config_print(const vkt_run_config *c);

#endif
