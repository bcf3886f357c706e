/* Per-device matmul tuning: which tile (ops/matmul_tile.h) each class of problems runs with.
 *
 * The first time a (device + driver, kernel, layout, dtype, M/N/K bucket) class is recorded, every candidate
 * tile valid on the device runs a representative problem of that class (the shape that triggered it, cut
 * to at most VKT_MATMUL_TUNE_FLOPS by halving its largest dimension) with GPU timestamps: one warm-up, then
 * VKT_MATMUL_TUNE_ROUNDS (up to 3x as many within 0.1 s) rounds over the candidates in turn, keeping each
 * one's fastest time (robust to other processes sharing the machine). The fastest candidate, when it beats the
 * default by VKT_MATMUL_TUNE_MARGIN (else the default), is stored in the device's tune cache (vk/tune_cache.h)
 * and reused by this and later runs. With VKT_TUNE=0 every class uses the default tile and nothing is measured.
 * A kernel with a single candidate (coopmat) is never measured. */
#ifndef VKT_OP_MATMUL_TUNE_H
#define VKT_OP_MATMUL_TUNE_H

#include "ops/matmul_tile.h"
#include "vk/vk.h"
#include "vktrain/tensor.h"

#define VKT_MATMUL_TUNE_FLOPS 4.0e7
#define VKT_MATMUL_TUNE_ROUNDS 4
#define VKT_MATMUL_TUNE_MARGIN 0.03

typedef struct {
    vkt_matmul_tile tile;
    double ms;     /* fastest time of the representative problem */
    double gflops; /* its work / ms */
} vkt_matmul_tune_row;

/* One class's measurement, for `vktrain bench --tune`. */
typedef struct {
    char key[96];         /* vkt_matmul_class_key */
    int64_t m, n, k;      /* the representative problem */
    int n_rows, best;     /* rows[best] was chosen */
    vkt_matmul_tune_row rows[VKT_MATMUL_MAX_CANDIDATES];
} vkt_matmul_tune_report;

/* The tile for an (m, n, k) problem of `kernel` with inputs of dtype dt: the cached choice of its class,
 * else (tuning on) measured now and cached, else the default. Measuring records and submits on its own
 * command buffer and memory, so it may run while another recording of the same device is open. */
vkt_status vkt_matmul_tile_for(vkt_device *dev, vkt_mm_kernel kernel, bool trans_a, bool trans_b, vkt_dtype dt,
                               int64_t m, int64_t n, int64_t k, vkt_matmul_tile *out);

/* Measures the class of (kernel, trans_a, trans_b, dt, m, n, k) now, whatever the cache holds or VKT_TUNE
 * says, stores the choice and fills rep (may be NULL). */
vkt_status vkt_matmul_tune(vkt_device *dev, vkt_mm_kernel kernel, bool trans_a, bool trans_b, vkt_dtype dt,
                           int64_t m, int64_t n, int64_t k, vkt_matmul_tune_report *rep);

#endif
