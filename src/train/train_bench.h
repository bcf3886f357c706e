/* `vktrain bench --train CONFIG`: the throughput of whole training steps for a run configuration, on
 * random tokens: tokens/s, model-FLOP utilisation against the FMA ceiling measured in the same run, the
 * device time of forward, backward and optimizer, host time per step, and device memory. */
#ifndef VKT_TRAIN_BENCH_H
#define VKT_TRAIN_BENCH_H

#include "io/run_config.h"
#include "train/trainer.h"
#include "vktrain/device.h"

typedef struct {
    double tokens_per_s, step_ms, fwd_ms, bwd_ms, optim_ms, host_ms, util, peak_gflops, gflops;
    double flops_per_token, exec_util;
    int64_t params, device_bytes;
} vkt_train_bench_result;

/* Runs `steps` timed steps (after min(steps, 3) warm-up steps) of cfg's model and batch shape on a
 * randomly initialised model; prints a report to stdout. ext: a fine-tuning extension
 * (finetune/finetune.h vkt_finetune_ext_create: frozen or quantized base, adapters, memory plan) or NULL
 * for pre-training. Utilisation: model_gflops counts 6 N + attention per token (as for training from
 * scratch, so runs compare by tokens/s); exec_util counts what the step executes (a frozen base has no
 * weight gradients: 4 N; recomputation adds a forward, 2 N).
 * profile_top > 0: then profiles one forward + backward + optimizer update command by command and prints the profile_top
 * slowest (name and shape, ms, share of the profiled step, GFLOP/s and share of the FMA peak where the op
 * counts its FLOPs). */
vkt_status vkt_train_bench(vkt_device *dev, const vkt_run_config *cfg, int64_t steps, const vkt_train_ext *ext,
                           int profile_top, vkt_train_bench_result *out);

#endif
