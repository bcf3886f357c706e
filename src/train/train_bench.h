/* `vktrain bench --train CONFIG`: the throughput of whole training steps for a run configuration, on
 * random tokens: tokens/s, model-FLOP utilisation against the FMA ceiling measured in the same run, the
 * device time of forward, backward and optimizer, host time per step, and device memory. */
#ifndef VKT_TRAIN_BENCH_H
#define VKT_TRAIN_BENCH_H

#include "io/run_config.h"
#include "vktrain/device.h"

typedef struct {
    double tokens_per_s, step_ms, fwd_ms, bwd_ms, optim_ms, host_ms, util, peak_gflops, gflops;
    double flops_per_token;
    int64_t params, device_bytes;
} vkt_train_bench_result;

/* Runs `steps` timed steps (after warm-up) of cfg's model and batch shape; prints a report to stdout. */
vkt_status vkt_train_bench(vkt_device *dev, const vkt_run_config *cfg, int64_t steps, vkt_train_bench_result *out);

#endif
