/* Matmul tuning: measure each candidate tile of a class once, cache the fastest (matmul_tune.h). */
#include "ops/matmul_tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ops/matmul.h"
#include "vk/record.h"
#include "vk/tune_cache.h"

/* The representative problem: the triggering shape with its largest dimension halved (kept a multiple of 8
 * when it was one, so the aligned kernel stays eligible) until the work fits the budget. */
static void representative(int64_t *m, int64_t *n, int64_t *k) {
    for (;;) {
        if (2.0 * (double)*m * (double)*n * (double)*k <= VKT_MATMUL_TUNE_FLOPS) return;
        int64_t *big = *m >= *n && *m >= *k ? m : *n >= *k ? n : k;
        if (*big <= 16) return;
        int64_t half = *big / 2;
        if (*big % 8 == 0) half = half / 8 * 8;
        *big = half;
    }
}

/* A value of 1.0 in every element of a dtype (zeros or stale bits could take denormal slow paths). */
static uint32_t one_word(vkt_dtype dt) {
    return dt == VKT_DTYPE_F16 ? 0x3c003c00u : dt == VKT_DTYPE_BF16 ? 0x3f803f80u : 0x3f800000u;
}

typedef struct {
    vkt_arena *arena;
    vkt_tensor a, b, c;
    vkt_rec *rec[VKT_MATMUL_MAX_CANDIDATES];
    int t0[VKT_MATMUL_MAX_CANDIDATES], t1[VKT_MATMUL_MAX_CANDIDATES];
} tune_state;

static void tune_state_free(tune_state *s) {
    for (int i = 0; i < VKT_MATMUL_MAX_CANDIDATES; i++) vkt_rec_destroy(s->rec[i]);
    vkt_arena_destroy(s->arena);
}

/* Each candidate recorded once as [timestamp, matmul, timestamp]; then rounds over all of them in turn. */
static vkt_status measure(vkt_device *dev, tune_state *s, const vkt_matmul_desc *base, int n_cand,
                          const vkt_matmul_force *force, vkt_matmul_tune_row *rows, double *record_s) {
    const vkt_device_info *info = vkt_device_get_info(dev);
    bool gpu_timer = info->timestamp_period_ns > 0;
    *record_s = vkt_now_s();
    for (int i = 0; i < n_cand; i++) {
        VKT_TRY(vkt_rec_create(dev, 2, &s->rec[i]));
        VKT_TRY(vkt_rec_begin(s->rec[i]));
        s->t0[i] = vkt_rec_timestamp(s->rec[i]);
        vkt_matmul_desc d = *base;
        d.force = &force[i];
        VKT_TRY(vkt_op_matmul(s->rec[i], &s->a, &s->b, NULL, &s->c, &d));
        s->t1[i] = vkt_rec_timestamp(s->rec[i]);
        VKT_TRY(vkt_rec_end(s->rec[i]));
        VKT_TRY(vkt_rec_submit_wait(s->rec[i])); /* warm-up */
        rows[i] = (vkt_matmul_tune_row){.tile = force[i].tile, .ms = 1e30};
    }
    *record_s = vkt_now_s() - *record_s;
    /* At least VKT_MATMUL_TUNE_ROUNDS rounds; more, up to 3x, while the class has used under 0.1 s: on a
     * shared machine more samples make the minimum less noisy. */
    double start = vkt_now_s();
    for (int round = 0; round < 3 * VKT_MATMUL_TUNE_ROUNDS; round++) {
        if (round >= VKT_MATMUL_TUNE_ROUNDS && vkt_now_s() - start > 0.1) break;
        for (int i = 0; i < n_cand; i++) {
            double ms, w0 = vkt_now_s();
            VKT_TRY(vkt_rec_submit_wait(s->rec[i]));
            if (gpu_timer) VKT_TRY(vkt_rec_elapsed_ms(s->rec[i], s->t0[i], s->t1[i], &ms));
            else ms = 1e3 * (vkt_now_s() - w0);
            if (ms < rows[i].ms) rows[i].ms = ms;
        }
    }
    double flops = 2.0 * (double)base->m * (double)base->n * (double)base->k;
    for (int i = 0; i < n_cand; i++) rows[i].gflops = rows[i].ms > 0 ? flops / (rows[i].ms * 1e6) : 0;
    return VKT_OK;
}

static vkt_matmul_variant variant_of(vkt_mm_kernel k) {
    return k == VKT_MM_KERNEL_SMEM ? VKT_MATMUL_SMEM : k == VKT_MM_KERNEL_COOP ? VKT_MATMUL_COOPMAT : VKT_MATMUL_REG;
}

vkt_status vkt_matmul_tune(vkt_device *dev, vkt_mm_kernel kernel, bool trans_a, bool trans_b, vkt_dtype dt,
                           int64_t m, int64_t n, int64_t k, vkt_matmul_tune_report *rep) {
    const vkt_device_info *info = vkt_device_get_info(dev);
    vkt_matmul_class cls = vkt_matmul_class_of(kernel, trans_a, trans_b, dt, m, n, k);
    vkt_matmul_tune_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    vkt_matmul_class_key(&cls, rep->key, sizeof rep->key);
    vkt_matmul_tile tiles[VKT_MATMUL_MAX_CANDIDATES];
    int n_cand = vkt_matmul_tile_candidates(info, kernel, trans_a, tiles);
    vkt_matmul_force force[VKT_MATMUL_MAX_CANDIDATES];
    for (int i = 0; i < n_cand; i++) force[i] = (vkt_matmul_force){kernel, tiles[i]};
    representative(&m, &n, &k);
    rep->m = m, rep->n = n, rep->k = k, rep->n_rows = n_cand;

    tune_state s = {0};
    size_t es = vkt_dtype_size(dt), slack = 4096;
    /* Element counts rounded up to even: the fill below writes whole 4-byte words (16-bit inputs). */
    int64_t na = (m * k + 1) & ~(int64_t)1, nb = (k * n + 1) & ~(int64_t)1;
    size_t bytes = (size_t)(na + nb) * es + (size_t)(m * n) * 4 + 4 * slack;
    vkt_status st = vkt_arena_create(dev, "matmul_tune", bytes, &s.arena);
    if (st == VKT_OK) st = vkt_tensor_alloc(s.arena, dt, na, 1, 1, 1, &s.a);
    if (st == VKT_OK) st = vkt_tensor_alloc(s.arena, dt, nb, 1, 1, 1, &s.b);
    if (st == VKT_OK) st = vkt_tensor_alloc(s.arena, VKT_DTYPE_F32, m * n, 1, 1, 1, &s.c);
    if (st == VKT_OK) st = vkt_rec_create(dev, 0, &s.rec[0]);
    if (st == VKT_OK) st = vkt_rec_begin(s.rec[0]);
    if (st == VKT_OK) st = vkt_rec_fill(s.rec[0], &s.a, one_word(dt));
    if (st == VKT_OK) st = vkt_rec_fill(s.rec[0], &s.b, one_word(dt));
    if (st == VKT_OK) st = vkt_rec_end(s.rec[0]);
    if (st == VKT_OK) st = vkt_rec_submit_wait(s.rec[0]);
    vkt_rec_destroy(s.rec[0]);
    s.rec[0] = NULL;
    double t0 = vkt_now_s(), record_s = 0;
    vkt_matmul_desc base = {.m = m, .n = n, .k = k, .trans_a = trans_a, .trans_b = trans_b,
                            .variant = variant_of(kernel)};
    if (st == VKT_OK) st = measure(dev, &s, &base, n_cand, force, rep->rows, &record_s);
    tune_state_free(&s);
    if (st != VKT_OK) {
        vkt_log_warn("matmul tuner: measuring %s failed; using the default tile", rep->key);
        return st;
    }
    /* Another tile must beat the default by VKT_MATMUL_TUNE_MARGIN: noise alone should not move a choice. */
    for (int i = 1; i < n_cand; i++)
        if (rep->rows[i].ms < rep->rows[rep->best].ms && rep->rows[i].ms < (1 - VKT_MATMUL_TUNE_MARGIN) * rep->rows[0].ms)
            rep->best = i;
    char value[VKT_TUNE_VALUE_MAX];
    vkt_matmul_tile_format(&rep->rows[rep->best].tile, value, sizeof value);
    size_t len = strlen(value);
    snprintf(value + len, sizeof value - len, " # %.1f GFLOP/s at M=%lld N=%lld K=%lld, default %.1f",
             rep->rows[rep->best].gflops, (long long)m, (long long)n, (long long)k, rep->rows[0].gflops);
    vkt_log_info("matmul tuner: %s -> %s (%d candidates, %.2f s of which %.2f s recording and first runs)", rep->key,
                 value, n_cand, vkt_now_s() - t0, record_s);
    vkt_tune_cache *cache = vkt_device_tune_cache(dev);
    return cache ? vkt_tune_cache_put(cache, rep->key, value) : VKT_ERR_OOM;
}

vkt_status vkt_matmul_tile_for(vkt_device *dev, vkt_mm_kernel kernel, bool trans_a, bool trans_b, vkt_dtype dt,
                               int64_t m, int64_t n, int64_t k, vkt_matmul_tile *out) {
    const vkt_device_info *info = vkt_device_get_info(dev);
    *out = vkt_matmul_tile_default_for(kernel, trans_a, m, n, k);
    vkt_matmul_tile cand[VKT_MATMUL_MAX_CANDIDATES];
    if (!vkt_tune_enabled() || vkt_matmul_tile_candidates(info, kernel, trans_a, cand) < 2) return VKT_OK;
    vkt_tune_cache *cache = vkt_device_tune_cache(dev);
    if (!cache) return VKT_OK;
    vkt_matmul_class cls = vkt_matmul_class_of(kernel, trans_a, trans_b, dt, m, n, k);
    char key[96];
    vkt_matmul_class_key(&cls, key, sizeof key);
    const char *value = vkt_tune_cache_get(cache, key);
    vkt_matmul_tile t;
    if (value && vkt_matmul_tile_parse(value, &t) && vkt_matmul_tile_valid(info, kernel, trans_a, &t)) {
        *out = t;
        return VKT_OK;
    }
    if (value) vkt_log_warn("tune cache %s: '%s %s' is not a tile this device can run; measuring again",
                            vkt_tune_cache_path(cache), key, value);
    vkt_matmul_tune_report rep;
    /* A failed measurement leaves the default in place: tuning must never stop a run. */
    if (vkt_matmul_tune(dev, kernel, trans_a, trans_b, dt, m, n, k, &rep) == VKT_OK) *out = rep.rows[rep.best].tile;
    return VKT_OK;
}
