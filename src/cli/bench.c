/* `vktrain bench`: measured ceilings and validated kernel timings on one device (src/bench). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/bench_tune.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "finetune/finetune.h"
#include "train/train_bench.h"

static void help(void) {
    printf("usage: vktrain bench [--device INDEX|NAME] [--filter SUBSTR] [--quick] [--json FILE] [--tune]\n"
           "                     [--reps N] [--warmup N] [--peak-gflops X] [--peak-gbps X]\n\n"
           "Measures the device's ceilings (an FMA-bound shader in GFLOP/s, a streaming copy in GB/s, read +\n"
           "write bytes), then validates and times every kernel case against them. One line per case:\n"
           "  device driver op dtype shape variant wg median_ms min_ms gflops|gbps peak of_peak timer\n"
           "A case whose output does not match its reference prints FAILED and no rate (exit code 1).\n\n"
           "  --device INDEX|NAME  device index or name substring (default: VKT_DEVICE, else the best one)\n"
           "  --filter SUBSTR      only cases whose line contains SUBSTR (e.g. op=residual, M=768)\n"
           "  --quick              small shapes (seconds on a CPU driver)\n"
           "  --json FILE          write device info, ceilings and all figures to FILE\n"
           "  --reps N             timed repetitions of each case (default and minimum 20; the ceilings\n"
           "                       always take 20)\n"
           "  --warmup N           warm-up submits (default and minimum 3)\n"
           "  --peak-gflops X      datasheet FP32 peak, printed beside the measured one as stated\n"
           "  --peak-gbps X        datasheet memory bandwidth, printed the same way\n"
           "  --tune               re-measure the matmul tile choices (the tuner that otherwise runs the first\n"
           "                       time a shape class is seen; VKT_TUNE=0 turns it off) for GPT-2 small's and\n"
           "                       Shakespeare-char's Linear layers (and --train CONFIG's), store them in the\n"
           "                       tune cache beside the pipeline cache and print each candidate's GFLOP/s\n\n"
           "usage: vktrain bench --train CONFIG.json [section.key=value ...] [--steps N] [--profile]\n"
           "                     [--profile-top N] [--device ...]\n\n"
           "Times whole training steps of CONFIG's model and batch shape on random tokens: tokens/s, model\n"
           "FLOP utilisation against the FMA ceiling measured in the same run, forward/backward/optimizer\n"
           "device ms, host ms per step and device memory. --steps N timed steps (default 10). A config with a\n"
           "finetune section times fine-tuning steps (method lora | qlora | full, finetune.base_format) on a\n"
           "randomly initialised model of its \"model\" section (model.path is not read), after printing the\n"
           "memory plan. --profile then times one forward + backward + optimizer update command by command\n"
           "(serialised, so its total is above fwd_ms + bwd_ms + optim_ms) and prints the 20 slowest (--profile-top N: N) by name and shape:\n"
           "ms, share of the profiled step, and GFLOP/s with of_peak where the op counts its FLOPs.\n");
}

int vkt_cli_bench(int argc, char **argv) {
    vkt_bench_opts opts = {0};
    vkt_device_opts dopts = vkt_device_opts_default();
    const char *json = NULL, *train = NULL;
    bool tune = false;
    int64_t train_steps = 10;
    int profile_top = 0;
    vkt_run_config cfg;
    vkt_run_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            opts.quick = true;
        } else if (strcmp(a, "--tune") == 0) {
            tune = true;
        } else if (vkt_cli_opt(argc, argv, &i, "--device")) {
            vkt_cli_device_arg(argv[i], &dopts);
        } else if (vkt_cli_opt(argc, argv, &i, "--train")) {
            train = argv[i];
            if (vkt_run_config_load(train, &cfg) != VKT_OK) return 2;
        } else if (strcmp(a, "--profile") == 0) {
            profile_top = 20;
        } else if (vkt_cli_opt(argc, argv, &i, "--profile-top")) {
            profile_top = (int)vkt_cli_i64("--profile-top", argv[i], 1, 1 << 20);
        } else if (vkt_cli_opt(argc, argv, &i, "--steps")) {
            train_steps = vkt_cli_i64("--steps", argv[i], 1, INT32_MAX);
        } else if (train && strchr(a, '=') && a[0] != '-') {
            if (vkt_run_config_set(&cfg, a) != VKT_OK) return 2;
        } else if (vkt_cli_opt(argc, argv, &i, "--filter")) {
            opts.filter = argv[i];
        } else if (vkt_cli_opt(argc, argv, &i, "--json")) {
            json = argv[i];
        } else if (vkt_cli_opt(argc, argv, &i, "--reps")) {
            opts.reps = (int)vkt_cli_i64("--reps", argv[i], 1, 1 << 20);
        } else if (vkt_cli_opt(argc, argv, &i, "--warmup")) {
            opts.warmup = (int)vkt_cli_i64("--warmup", argv[i], 0, 1 << 20);
        } else if (vkt_cli_opt(argc, argv, &i, "--peak-gflops")) {
            opts.stated_gflops = vkt_cli_f64("--peak-gflops", argv[i], 0, 1e12);
        } else if (vkt_cli_opt(argc, argv, &i, "--peak-gbps")) {
            opts.stated_gbps = vkt_cli_f64("--peak-gbps", argv[i], 0, 1e12);
        } else {
            fprintf(stderr, "vktrain bench: unknown argument '%s' (try --help)\n", a);
            return 2;
        }
    }
    vkt_device *dev;
    if (tune) {
        /* The configuration (when given) adds its own model's shapes. */
        int64_t rows = 0, width = 0, hidden = 0;
        int rc = train && vkt_run_config_validate(&cfg) != VKT_OK ? 2 : 0;
        if (rc == 0 && train)
            rows = cfg.batch_size * cfg.seq_len, width = cfg.model.n_embd, hidden = cfg.model.n_inner;
        vkt_run_config_free(&cfg);
        if (rc) return rc;
        if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
        rc = vkt_bench_tune(dev, rows, width, hidden, stdout) == VKT_OK ? 0 : 1;
        vkt_device_destroy(dev);
        return rc;
    }
    if (train) {
        int rc = vkt_run_config_validate(&cfg) == VKT_OK ? 0 : 2;
        /* A finetune section benchmarks fine-tuning steps: frozen or quantized base, adapters. */
        vkt_train_ext ext = {0};
        bool ft = cfg.ft_method[0] != 0;
        if (rc == 0 && ft && vkt_finetune_ext_create(&cfg, NULL, &ext) != VKT_OK) rc = 2;
        if (rc == 0 && vkt_device_create(&dopts, &dev) != VKT_OK) rc = 1;
        if (rc == 0) {
            rc = vkt_train_bench(dev, &cfg, train_steps > 0 ? train_steps : 1, ft ? &ext : NULL, profile_top,
                                 NULL) == VKT_OK ? 0 : 1;
            vkt_device_destroy(dev);
        }
        vkt_finetune_ext_free(&ext);
        vkt_run_config_free(&cfg);
        return rc;
    }
    vkt_run_config_free(&cfg);
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
    vkt_bench *b = NULL;
    vkt_status s = vkt_bench_create(dev, &opts, &b);
    if (s == VKT_OK) s = vkt_bench_run_all(b);
    if (s == VKT_OK && json) s = vkt_bench_write_json(b, json);
    int rc = s != VKT_OK ? 1 : 0;
    if (b && b->n_failed) {
        fprintf(stderr, "vktrain bench: %u case(s) failed validation and have no rate\n", b->n_failed);
        rc = 1;
    }
    if (b && b->n_results <= 2 && opts.filter)
        fprintf(stderr, "vktrain bench: no case matched --filter '%s'\n", opts.filter);
    vkt_bench_destroy(b);
    vkt_device_destroy(dev);
    return rc;
}
