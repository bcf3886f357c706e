/* `vktrain bench --tune`: re-measures the matmul tile choices (ops/matmul_tune.h) for the shape classes of
 * the Linear layers' forward (NT), input gradient (NN) and weight gradient (TN) products (attention q|k|v
 * and output, MLP in and out) of the models the README benchmarks (GPT-2 small, nanoGPT Shakespeare-char)
 * plus a configuration's own shapes when given, stores them in the device's tune cache and prints every
 * candidate's rate. */
#ifndef VKT_BENCH_TUNE_H
#define VKT_BENCH_TUNE_H

#include <stdint.h>
#include <stdio.h>

#include "vktrain/device.h"

/* rows, width and hidden: one extra model shape (B*T rows, C, the MLP's hidden size); 0 for none. */
vkt_status vkt_bench_tune(vkt_device *dev, int64_t rows, int64_t width, int64_t hidden, FILE *out);

#endif
