/* Training-step benchmark (see train_bench.h). */
#include "train/train_bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "core/clock.h"
#include "core/log.h"
#include "model/model.h"
#include "sched/step.h"
#include "train/trainer.h"

typedef struct {
    vkt_rng rng;
    int64_t n, V;
} random_batches;

static vkt_status fill_random(void *ctx, const vkt_batch *batch) {
    random_batches *b = ctx;
    for (int64_t i = 0; i < b->n; i++) {
        batch->tokens[i] = (int32_t)vkt_rng_below(&b->rng, (uint32_t)b->V);
        batch->targets[i] = (int32_t)vkt_rng_below(&b->rng, (uint32_t)b->V);
    }
    return VKT_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Device time of forward, backward and optimizer from timestamps, median of 5 synchronous runs. */
static vkt_status phase_times(vkt_model *m, vkt_step *st, random_batches *rb, int reps, vkt_train_bench_result *res) {
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(m->dev, 8, &r));
    vkt_model_use_slot(m, 0);
    vkt_status s = vkt_rec_begin(r);
    int t0 = vkt_rec_timestamp(r);
    if (s == VKT_OK) s = vkt_model_record_forward(m, r, VKT_FWD_LOSS_GRAD);
    int t1 = vkt_rec_timestamp(r);
    if (s == VKT_OK) s = vkt_model_record_backward(m, r);
    int t2 = vkt_rec_timestamp(r);
    if (s == VKT_OK) s = vkt_model_record_zero_grads(m, r);
    if (s == VKT_OK) s = vkt_rec_end(r);
    double f[5], b[5];
    for (int i = 0; i < reps && s == VKT_OK; i++) {
        s = vkt_step_fill_batch(m, 0, fill_random, rb);
        if (s == VKT_OK) s = vkt_rec_submit_wait(r);
        if (s == VKT_OK) s = vkt_rec_elapsed_ms(r, t0, t1, &f[i]);
        if (s == VKT_OK) s = vkt_rec_elapsed_ms(r, t1, t2, &b[i]);
    }
    vkt_rec_destroy(r);
    if (s != VKT_OK) return s;
    qsort(f, (size_t)reps, sizeof *f, cmp_double);
    qsort(b, (size_t)reps, sizeof *b, cmp_double);
    res->fwd_ms = f[reps / 2], res->bwd_ms = b[reps / 2];
    res->optim_ms = vkt_step_optim_ms(st);
    return VKT_OK;
}

/* One synchronous forward + backward + optimizer update with every command timed on its own (vkt_rec_set_profile): the
 * `top` commands by device time, grouped by name and shape, with their share of the profiled step and,
 * where the op states its FLOPs, their rate and share of the measured FMA peak. */
static vkt_status profile_step(vkt_model *m, vkt_step *st, random_batches *rb, double peak_gflops, int top) {
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(m->dev, VKT_REC_PROFILE_MAX, &r));
    vkt_rec_set_profile(r, true);
    vkt_model_use_slot(m, 0);
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_model_record_forward(m, r, VKT_FWD_LOSS_GRAD);
    if (s == VKT_OK) s = vkt_model_record_backward(m, r);
    if (s == VKT_OK) s = vkt_step_record_update(st, r);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_step_fill_batch(m, 0, fill_random, rb);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_profile_row *rows = NULL;
    int n = 0;
    double total = 0, flops = 0;
    if (s == VKT_OK) s = vkt_rec_profile_rows(r, &rows, &n, &total);
    if (s == VKT_OK) {
        for (int k = 0; k < n; k++) flops += rows[k].flops;
        printf("profile: forward + backward + optimizer, %u commands timed one at a time: %.2f ms, %.1f GFLOP/s, of_peak %.3f "
               "(ops' own FLOP counts)\n  %-4s %-22s %-30s %10s %6s %5s %8s %7s\n",
               vkt_rec_dispatch_count(r), total, total > 0 ? flops / total * 1e-6 : 0,
               total > 0 && peak_gflops > 0 ? flops / total * 1e-6 / peak_gflops : 0, "rank", "name", "detail", "ms",
               "share", "count", "gflops", "of_peak");
        for (int k = 0; k < n && k < top; k++) {
            const vkt_rec_profile_row *w = &rows[k];
            printf("  %-4d %-22s %-30s %10.3f %6.3f %5d", k + 1, w->name, w->detail, w->ms, w->ms / total, w->count);
            if (w->flops > 0 && w->ms > 0)
                printf(" %8.1f %7.3f\n", w->flops / w->ms * 1e-6, w->flops / w->ms * 1e-6 / peak_gflops);
            else
                printf(" %8s %7s\n", "-", "-");
        }
    }
    free(rows);
    vkt_rec_destroy(r);
    return s;
}

vkt_status vkt_train_bench(vkt_device *dev, const vkt_run_config *cfg, int64_t steps, const vkt_train_ext *ext,
                           int profile_top, vkt_train_bench_result *out) {
    vkt_train_bench_result res = {0};
    const vkt_model_config *mc = &cfg->model;
    vkt_model *m = NULL;
    vkt_step *st = NULL;
    if (ext && ext->plan) VKT_TRY(ext->plan(ext->ctx, dev, mc, cfg->batch_size, cfg->seq_len));
    vkt_model_opts mo = {.mode = ext ? ext->mode : VKT_MODEL_TRAIN,
                         .recompute = cfg->recompute,
                         .base_format = ext ? ext->base_format : VKT_QFORMAT_F32,
                         .precision = vkt_run_config_precision(cfg)};
    VKT_TRY(vkt_model_create_opts(dev, mc, cfg->batch_size, cfg->seq_len, &mo, &m));
    vkt_step_cfg sc = {.adamw = vkt_adamw_cfg_default(),
                       .max_grad_norm = (float)cfg->grad_clip,
                       .accum = cfg->grad_accum,
                       .total_steps = steps + 8,
                       .schedule = {.lr_max = cfg->lr, .lr_min = cfg->lr_min, .warmup = 1, .total = steps + 8}};
    if (cfg->precision == VKT_PRECISION_F16)
        sc.loss_scale = (vkt_loss_scale_cfg){.enabled = true,
                                             .init = (float)cfg->loss_scale_init,
                                             .growth_interval = cfg->loss_scale_growth_interval,
                                             .factor = (float)cfg->loss_scale_factor};
    double t_init = vkt_now_s();
    vkt_status s = vkt_model_init_weights(m, cfg->seed);
    t_init = vkt_now_s() - t_init;
    vkt_trainable train = {0};
    bool attached = false;
    if (s == VKT_OK && ext)
        s = ext->attach(ext->ctx, m, NULL, &train), attached = true;
    else if (s == VKT_OK)
        train = vkt_step_trainable_model(m);
    sc.train = &train;
    if (s == VKT_OK) s = vkt_step_create(m, &sc, 0, &st);
    random_batches rb = {.n = cfg->batch_size * cfg->seq_len, .V = mc->vocab_size};
    vkt_rng_init(&rb.rng, cfg->seed);
    vkt_step_result done;
    /* Warm-up: up to 3 steps, fewer when few are timed (a step of a 1B model on a CPU driver takes minutes). */
    int warm = steps < 3 ? (int)steps : 3, reps = steps < 5 ? 1 : 5;
    vkt_log_info("bench: model initialised and stored in %.1f s; %d warm-up and %lld timed steps", t_init, warm,
                 (long long)steps);
    for (int i = 0; i < warm && s == VKT_OK; i++) s = vkt_step_submit(st, fill_random, &rb, &done);
    if (s == VKT_OK) s = vkt_step_drain(st, &done);
    double t0 = vkt_now_s(), host = 0;
    for (int64_t i = 0; i < steps && s == VKT_OK; i++) {
        double h = vkt_now_s();
        s = vkt_step_submit(st, fill_random, &rb, &done);
        host += vkt_now_s() - h - vkt_step_last_wait_s(st);
    }
    if (s == VKT_OK) s = vkt_step_drain(st, &done);
    double elapsed = vkt_now_s() - t0;
    if (s == VKT_OK) s = phase_times(m, st, &rb, reps, &res);
    vkt_bench *b = NULL;
    vkt_bench_opts bo = {.quick = true, .quiet = true};
    if (s == VKT_OK) s = vkt_bench_create(dev, &bo, &b);
    if (s == VKT_OK) s = vkt_bench_peaks(b);
    if (s == VKT_OK) {
        double tokens = (double)(steps * cfg->batch_size * cfg->seq_len * cfg->grad_accum);
        size_t pb, gb, ab;
        vkt_model_memory(m, &pb, &gb, &ab);
        res.peak_gflops = b->peak_gflops;
        res.flops_per_token = vkt_train_flops_per_token(mc, cfg->seq_len);
        res.tokens_per_s = tokens / elapsed;
        res.step_ms = 1e3 * elapsed / (double)steps;
        res.host_ms = 1e3 * host / (double)steps;
        res.gflops = res.tokens_per_s * res.flops_per_token * 1e-9;
        res.util = res.peak_gflops > 0 ? res.gflops / res.peak_gflops : 0;
        /* Executed work: 6 N per token less the weight gradients (2 N) a frozen base skips, plus a
         * forward (2 N) when recomputing; attention is scaled the same way. */
        double exec = (m->grads_arena ? 6.0 : 4.0) + (m->recompute ? 2.0 : 0.0);
        res.exec_util = res.util * exec / 6.0;
        res.params = vkt_params_count(&m->table);
        res.device_bytes =
            (int64_t)(pb + gb + ab + vkt_step_memory(st) + (ext && ext->memory ? ext->memory(ext->ctx) : 0));
        const vkt_device_info *info = vkt_device_get_info(dev);
        printf("device=\"%s\" driver=\"%s %s\" op=train_step model=%s method=%s base=%s precision=%s recompute=%d "
               "params=%lld trainable=%lld L=%lld C=%lld V=%lld B=%lld T=%lld accum=%lld\n  tokens_per_s=%.2f "
               "step_ms=%.2f fwd_ms=%.2f bwd_ms=%.2f optim_ms=%.2f host_ms=%.3f model_gflops=%.1f peak_gflops=%.1f "
               "util=%.3f "
               "exec_util=%.3f memory_mib=%.1f acts_mib=%.1f timer=gpu\n",
               info->name, info->driver_name, info->driver_info, mc->model_type,
               cfg->ft_method[0] ? cfg->ft_method : "pretrain", vkt_qformat_name(m->base.format),
               vkt_run_config_precision_name(cfg), (int)m->recompute,
               (long long)res.params, (long long)vkt_params_count(train.table), (long long)mc->n_layer,
               (long long)mc->n_embd, (long long)mc->vocab_size, (long long)cfg->batch_size, (long long)cfg->seq_len,
               (long long)cfg->grad_accum, res.tokens_per_s, res.step_ms, res.fwd_ms, res.bwd_ms, res.optim_ms,
               res.host_ms, res.gflops, res.peak_gflops, res.util, res.exec_util, (double)res.device_bytes / (1 << 20),
               (double)ab / (1 << 20));
    }
    if (s == VKT_OK && profile_top > 0) s = profile_step(m, st, &rb, res.peak_gflops, profile_top);
    vkt_bench_destroy(b);
    vkt_step_destroy(st);
    if (attached && ext->release) ext->release(ext->ctx);
    vkt_model_destroy(m);
    if (out) *out = res;
    return s;
}
