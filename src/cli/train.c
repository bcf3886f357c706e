/* `vktrain train`: a training run from a JSON config plus section.key=value overrides. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/ranks.h"
#include "core/log.h"
#include "finetune/finetune.h"
#include "train/trainer.h"

static void help(void) {
    printf("usage: vktrain train [CONFIG.json] [section.key=value ...] [--resume DIR | --overwrite]\n"
           "                     [--device INDEX|NAME] [--no-sample] [--print-config]\n\n"
           "Trains a model as CONFIG describes (defaults: a small character-level GPT, see configs/), with any\n"
           "key overridden on the command line, e.g.\n"
           "  vktrain train configs/shakespeare_char.json optim.steps=500 data.train=input.txt\n\n"
           "Sections and keys: model (preset, from, and Hugging Face config.json keys), tokenizer (type, path),\n"
           "data (train, val, val_fraction, shuffle, objective clm|mlm|fim, mask_prob, fim_rate), optim\n"
           "(batch_size, seq_len, grad_accum, steps, lr, lr_min, warmup_steps, weight_decay, beta1, beta2, eps,\n"
           "grad_clip, seed, recompute, max_bad_steps, zero_stage, precision f32|bf16|f16, and for f16\n"
           "loss_scale_init, loss_scale_growth_interval, loss_scale_factor), eval (interval, steps), log\n"
           "(interval), output (dir, checkpoint_interval, keep), sample (tokens, temperature, top_k, top_p,\n"
           "prompt).\n\n"
           "Writes to output.dir: metrics.jsonl, loss.svg, step-NNNNNN/ checkpoints (Hugging Face format) and\n"
           "latest.json. A folder that already holds a run is refused: --resume DIR continues from a checkpoint\n"
           "(a step folder or a run folder; optim.steps must be above its step), --overwrite deletes the old\n"
           "run's files (only those) and starts again.\n\n"
           "A step with a non-finite loss or gradient norm is skipped on the device and logged;\n"
           "optim.max_bad_steps (default 20) of them in a row stop the run (exit 1) without saving. Checkpoints\n"
           "with non-finite weights are never written (exit 1). Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits with 130 or 143.\n\n"
           "Data parallel: `mpirun -np N vktrain train CONFIG` (a build with MPI) trains on N ranks, one device\n"
           "each; optim.batch_size is the global batch (a multiple of N), so the run is the same for any N.\n");
}

static void help_finetune(void) {
    printf("usage: vktrain finetune CONFIG.json [section.key=value ...] [--resume DIR | --overwrite]\n"
           "                        [--adapter DIR] [--device INDEX|NAME] [--no-sample] [--print-config]\n\n"
           "Fine-tunes the base model that model.path names (a Hugging Face folder, a llama2.c .bin or an llm.c\n"
           "GPT-2 .bin) as `vktrain train` trains, with a finetune section:\n"
           "  method             \"lora\" (adapters on a frozen base), \"qlora\" (adapters on an NF4 base),\n"
           "                     \"full\" (every weight)\n"
           "  r, lora_alpha      rank and scale numerator (PEFT defaults 8, 8); use_rslora: alpha / sqrt(r)\n"
           "  target_modules     [\"q_proj\", \"v_proj\", ...] (module-name suffixes, as PEFT), \"all-linear\", or a\n"
           "                     regex matching whole module names; GPT-2: c_attn, c_proj, c_fc\n"
           "  init_lora_weights  true (Kaiming-uniform A, zero B), \"gaussian\" or false\n"
           "  modules_to_save    [\"lm_head\", \"embed_tokens\"] (GPT-2: \"wte\", \"wpe\"): trained in full beside\n"
           "                     the adapters, as PEFT's modules_to_save (a tied head unties)\n"
           "  lora_dropout       dropout on the adapter input while training (PEFT's), default 0\n"
           "  freeze_embeddings, freeze_layers N   (method full) weights the optimizer leaves alone\n"
           "  objective          \"sft\" (default), on preference pairs \"dpo\", \"ipo\", \"orpo\", or \"grpo\"\n"
           "                     (online RL on prompt records with verifiable rewards)\n"
           "  beta               DPO / IPO beta, ORPO's lambda, GRPO's KL weight (TRL's beta), default 0.1\n"
           "                     (GRPO: 0)\n"
           "  label_smoothing, loss_type (\"sigmoid\" | \"robust\")   DPO options\n"
           "  precompute_ref_log_probs   reference log-probs once before training (lora/qlora; full always)\n"
           "  GRPO (TRL's GRPOConfig names): num_generations (8), prompts_per_step (0: batch_size x grad_accum /\n"
           "                     num_generations), max_prompt_length, max_completion_length (256), temperature,\n"
           "                     top_p, top_k, epsilon, epsilon_high, loss_type (\"dapo\" | \"grpo\" | \"bnpo\" |\n"
           "                     \"dr_grpo\"), scale_rewards (\"group\" | \"batch\" | \"none\"), rewards (a reward\n"
           "                     spec, src/rl/reward.h, or a file with one; default exact_match on answer_key),\n"
           "                     answer_key (\"answer\"), eval_temperature (0: greedy validation)\n\n"
           "LoRA checkpoints (output.dir/step-NNNNNN/) are PEFT adapter folders (adapter_config.json,\n"
           "adapter_model.safetensors) plus AdamW moments and trainer_state.json; --resume DIR continues bit for\n"
           "bit, reloading the base from model.path. --adapter DIR continues training an existing PEFT adapter.\n"
           "Use an adapter with `vktrain sample BASE --adapter DIR` or `vktrain eval BASE --adapter DIR`.\n");
}

/* A CONFIG argument: an existing file, or a *.json name (whose absence the loader reports). Anything
 * else without '=' is most likely an override missing its '=' (optim.steps 500), not a file. */
static bool is_config_file(const char *a) {
    struct stat st;
    size_t n = strlen(a);
    return stat(a, &st) == 0 || (n > 5 && strcmp(a + n - 5, ".json") == 0);
}

static int train_main(int argc, char **argv, bool finetune) {
    const char *cmd = finetune ? "vktrain finetune" : "vktrain train", *adapter = NULL;
    vkt_run_config cfg;
    vkt_run_config_defaults(&cfg);
    vkt_device_opts dopts = vkt_device_opts_default();
    vkt_train_outcome outcome = {0};
    vkt_train_opts topts = {.outcome = &outcome};
    bool print_only = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (vkt_cli_is_help(a)) {
            finetune ? help_finetune() : help();
            vkt_run_config_free(&cfg);
            return 0;
        } else if (vkt_cli_opt(argc, argv, &i, "--device")) {
            vkt_cli_device_arg(argv[i], &dopts);
        } else if (vkt_cli_opt(argc, argv, &i, "--resume")) {
            topts.resume = argv[i];
        } else if (finetune && vkt_cli_opt(argc, argv, &i, "--adapter")) {
            adapter = argv[i];
        } else if (strcmp(a, "--overwrite") == 0) {
            topts.overwrite = true;
        } else if (strcmp(a, "--no-sample") == 0) {
            topts.no_sample = true;
        } else if (strcmp(a, "--print-config") == 0) {
            print_only = true;
        } else if (strchr(a, '=') && a[0] != '-') {
            if (vkt_run_config_set(&cfg, a) != VKT_OK) rc = 2;
        } else if (a[0] != '-' && !is_config_file(a)) {
            fprintf(stderr, "%s: '%s' is no config file (none by that name) and no override: an override "
                    "needs '=', as in %s%s\n", cmd, a, strchr(a, '.') ? a : "optim.steps", "=VALUE");
            rc = 2;
        } else if (a[0] != '-') {
            if (vkt_run_config_load(a, &cfg) != VKT_OK) rc = 2;
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", cmd, a);
            rc = 2;
        }
    }
    if (rc == 0 && vkt_run_config_validate(&cfg) != VKT_OK) rc = 2;
    if (rc == 0 && !finetune && cfg.ft_method[0]) {
        fprintf(stderr, "vktrain train: the config sets finetune.method: run it with `vktrain finetune`\n");
        rc = 2;
    }
    if (rc == 0 && finetune && !cfg.ft_method[0]) {
        fprintf(stderr, "vktrain finetune: set finetune.method (\"lora\" or \"full\") in the config or as an "
                "override\n");
        rc = 2;
    }
    if (rc == 0 && finetune && vkt_finetune_check(&cfg) != VKT_OK) rc = 2;
    if (rc == 0 && !print_only) rc = vkt_cli_ranks_begin(&dopts); /* before any output: rank 0 alone reports */
    if (rc == 0) {
        vkt_log_info("configuration:");
        vkt_run_config_print(&cfg);
    }
    if (rc == 0 && !print_only) {
        vkt_device *dev;
        if (vkt_device_create(&dopts, &dev) != VKT_OK) {
            rc = 1;
        } else {
            const vkt_device_info *info = vkt_device_get_info(dev);
            vkt_log_info("device: %s (%s %s)", info->name, info->driver_name, info->driver_info);
            vkt_status s = finetune ? vkt_finetune(dev, &cfg, adapter, &topts) : vkt_train(dev, &cfg, &topts);
            if (s != VKT_OK) rc = 1;
            else if (outcome.signal) rc = 128 + outcome.signal; /* the shell's code for a run a signal ended */
            vkt_device_destroy(dev);
        }
    }
    vkt_run_config_free(&cfg);
    return vkt_cli_ranks_end(rc);
}

int vkt_cli_train(int argc, char **argv) { return train_main(argc, argv, false); }

int vkt_cli_finetune(int argc, char **argv) { return train_main(argc, argv, true); }
