/* The benchmark runner: validation gate, timestamp timing, one line per case, JSON output.
 * It does not know any op: cases come from the group table (bench_groups.c). */
#include "bench/bench.h"

#include "core/clock.h"
#include "core/half.h"
#include "io/device_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_QUICK_MB 64
#define ARENA_FULL_MB  1024
/* Outside --quick, a timed sample repeats the case's recording until it lasts about this long, so that
 * fast GPUs reach their steady clocks and launch overhead does not dominate microsecond kernels. */
#define SAMPLE_TARGET_MS 5.0
#define MAX_PASSES       1000

static double now_ms(void) { return 1e3 * vkt_now_s(); }

vkt_status vkt_bench_create(vkt_device *dev, const vkt_bench_opts *opts, vkt_bench **out) {
    vkt_bench *b = calloc(1, sizeof *b);
    if (!b) return VKT_ERR_OOM;
    b->dev = dev;
    b->opts = *opts;
    b->quick = opts->quick;
    if (b->opts.warmup < 3) b->opts.warmup = 3;
    if (b->opts.reps < 20) b->opts.reps = 20;
    vkt_rng_init(&b->rng, opts->seed ? opts->seed : 20261129ull);
    const vkt_device_info *info = vkt_device_get_info(dev);
    size_t mb = b->quick ? ARENA_QUICK_MB : ARENA_FULL_MB;
    /* Leave room for the rest of the process on small devices. */
    while (!b->quick && mb > ARENA_QUICK_MB && (uint64_t)mb << 20 > info->device_local_bytes / 2) mb /= 2;
    vkt_status s = vkt_arena_create(dev, "bench", mb << 20, &b->arena);
    if (s == VKT_OK) s = vkt_rec_create(dev, 2, &b->rec);
    if (s != VKT_OK) {
        vkt_bench_destroy(b);
        return s;
    }
    b->gpu_timer = info->timestamp_period_ns > 0;
    if (!b->gpu_timer)
        vkt_log_warn("bench: the compute queue has no timestamps (timestampValidBits = 0); timing with the "
                     "wall clock around each submit, which includes submission overhead (timer=wall)");
    *out = b;
    return VKT_OK;
}

void vkt_bench_destroy(vkt_bench *b) {
    if (!b) return;
    vkt_rec_destroy(b->rec);
    vkt_arena_destroy(b->arena);
    free(b->results);
    free(b);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One replay; *ms is the GPU time between the two timestamps, or the wall time of the submit. */
static vkt_status replay(vkt_bench *b, double *ms) {
    double t0 = now_ms();
    VKT_TRY(vkt_rec_submit_wait(b->rec));
    double wall = now_ms() - t0;
    if (b->gpu_timer) return vkt_rec_elapsed_ms(b->rec, 0, 1, ms);
    *ms = wall;
    return VKT_OK;
}

/* [timestamp, passes x the case's dispatches, timestamp]; passes after the first are ordered by the
 * recorder's own hazard barriers, as consecutive uses of an op in a step would be. */
static vkt_status record_case(vkt_bench *b, const vkt_bench_case *c, uint32_t passes) {
    VKT_TRY(vkt_rec_begin(b->rec));
    int s0 = vkt_rec_timestamp(b->rec);
    for (uint32_t i = 0; i < passes; i++) VKT_TRY(c->record(b->rec, c->ctx));
    int s1 = vkt_rec_timestamp(b->rec);
    VKT_ASSERT(!b->gpu_timer || (s0 == 0 && s1 == 1));
    return vkt_rec_end(b->rec);
}

static vkt_bench_result *push_result(vkt_bench *b) {
    if (b->n_results == b->cap_results) {
        uint32_t cap = b->cap_results ? 2 * b->cap_results : 32;
        vkt_bench_result *grown = realloc(b->results, cap * sizeof *grown);
        if (!grown) return NULL;
        b->results = grown, b->cap_results = cap;
    }
    vkt_bench_result *r = &b->results[b->n_results++];
    memset(r, 0, sizeof *r);
    return r;
}

static void print_line(const vkt_bench *b, const vkt_bench_result *r) {
    if (b->opts.quiet) return;
    const vkt_device_info *d = vkt_device_get_info(b->dev);
    printf("device=\"%s\" driver=\"%s %s\" op=%s dtype=%s %s variant=%s wg=%u", d->name, d->driver_name,
           d->driver_info[0] ? d->driver_info : d->driver_version, r->op, r->dtype, r->shape, r->variant, r->wg);
    if (!r->ok) {
        printf(" FAILED (no rate): %s\n", r->why);
        fflush(stdout);
        return;
    }
    if (r->passes > 1) printf(" passes=%u", r->passes);
    printf(" median_ms=%.4f min_ms=%.4f", r->median_ms, r->min_ms);
    if (r->memory_bound) {
        printf(" gbps=%.2f peak_gbps=%.2f", r->gbps, b->peak_gbps);
        if (b->opts.stated_gbps > 0) printf(" stated_peak_gbps=%.1f", b->opts.stated_gbps);
    } else {
        printf(" gflops=%.2f peak_gflops=%.2f", r->gflops, b->peak_gflops);
        if (b->opts.stated_gflops > 0) printf(" stated_peak_gflops=%.1f", b->opts.stated_gflops);
    }
    printf(" of_peak=%.3f timer=%s\n", r->of_peak, b->gpu_timer ? "gpu" : "wall");
    fflush(stdout);
}

static bool selected(const vkt_bench *b, const vkt_bench_case *c) {
    /* Ceilings always run: every other case's of_peak needs them. */
    if (c->role != VKT_BENCH_CASE || !b->opts.filter || !*b->opts.filter) return true;
    char label[256];
    snprintf(label, sizeof label, "op=%s dtype=%s %s variant=%s", c->op, c->dtype, c->shape, c->variant);
    return strstr(label, b->opts.filter) != NULL;
}

/* Rates and the roofline: the bound resource is the one whose ceiling allows the least speed. */
static void finish_rates(const vkt_bench *b, vkt_bench_result *r) {
    double sec = r->median_ms * 1e-3;
    r->gflops = r->flops > 0 ? r->flops / sec * 1e-9 : 0;
    r->gbps = r->bytes > 0 ? r->bytes / sec * 1e-9 : 0;
    double t_flop = r->flops > 0 && b->peak_gflops > 0 ? r->flops / (b->peak_gflops * 1e9) : 0;
    double t_byte = r->bytes > 0 && b->peak_gbps > 0 ? r->bytes / (b->peak_gbps * 1e9) : 0;
    r->memory_bound = t_byte >= t_flop;
    double t_best = r->memory_bound ? t_byte : t_flop;
    r->of_peak = t_best > 0 ? t_best / sec : 0;
}

vkt_status vkt_bench_run(vkt_bench *b, const vkt_bench_case *c) {
    if (!selected(b, c)) return VKT_OK;
    vkt_bench_result *r = push_result(b);
    if (!r) return VKT_ERR_OOM;
    snprintf(r->op, sizeof r->op, "%s", c->op);
    snprintf(r->dtype, sizeof r->dtype, "%s", c->dtype);
    snprintf(r->shape, sizeof r->shape, "%s", c->shape);
    snprintf(r->variant, sizeof r->variant, "%s", c->variant ? c->variant : "-");
    r->wg = c->wg, r->flops = c->flops, r->bytes = c->bytes;

    /* The ceilings take a fixed 20 (each runs for a quarter of a second on a CPU driver): --reps N is for
     * the cases, e.g. to keep one repeating while a profiler samples it (scripts/jit_profile.sh). */
    int n = c->role == VKT_BENCH_CASE ? b->opts.reps : 20;
    double *ms = malloc((size_t)n * sizeof *ms);
    vkt_status s = ms ? VKT_OK : VKT_ERR_OOM;
    if (s == VKT_OK && c->setup) s = c->setup(b, c->ctx);
    r->passes = 1;
    if (s == VKT_OK) s = record_case(b, c, 1);
    double first = 0;
    if (s == VKT_OK) s = replay(b, &first);
    if (s == VKT_OK) {
        r->ok = c->check(b, c->ctx, r->why, sizeof r->why);
        if (!r->ok && !r->why[0]) snprintf(r->why, sizeof r->why, "output differs from the reference");
    }
    if (s == VKT_OK && r->ok && !b->quick && first < SAMPLE_TARGET_MS) {
        double want = first > 0 ? SAMPLE_TARGET_MS / first : MAX_PASSES;
        r->passes = want > MAX_PASSES ? MAX_PASSES : (uint32_t)want + 1;
        s = record_case(b, c, r->passes);
    }
    for (int i = 0; s == VKT_OK && r->ok && i < b->opts.warmup; i++) s = replay(b, &first);
    for (int i = 0; s == VKT_OK && r->ok && i < n; i++) {
        s = replay(b, &ms[i]);
        ms[i] /= r->passes;
    }
    if (s == VKT_OK && r->ok) {
        qsort(ms, (size_t)n, sizeof *ms, cmp_double);
        r->median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
        r->min_ms = ms[0];
        if (!(r->min_ms > 0)) {
            r->ok = false;
            snprintf(r->why, sizeof r->why, "timer gave %.3g ms (too short to measure)", r->min_ms);
        } else {
            if (c->role == VKT_BENCH_SETS_PEAK_FLOPS) b->peak_gflops = c->flops / (r->min_ms * 1e6);
            if (c->role == VKT_BENCH_SETS_PEAK_BYTES) b->peak_gbps = c->bytes / (r->min_ms * 1e6);
            finish_rates(b, r);
        }
    }
    if (s != VKT_OK) {
        r->ok = false;
        snprintf(r->why, sizeof r->why, "device error %s", vkt_status_name(s));
    }
    if (!r->ok) {
        b->n_failed++;
        r->median_ms = r->min_ms = 0;
    }
    print_line(b, r);
    if (c->teardown) c->teardown(c->ctx);
    vkt_arena_reset(b->arena);
    free(ms);
    return s;
}

float *vkt_bench_rand(vkt_bench *b, size_t n, float lo, float hi) {
    float *x = malloc(n * sizeof *x);
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = vkt_rng_range(&b->rng, lo, hi);
    return x;
}

vkt_status vkt_bench_upload(vkt_bench *b, const float *host, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                            vkt_tensor *out) {
    VKT_TRY(vkt_tensor_alloc(b->arena, VKT_DTYPE_F32, d0, d1, d2, d3, out));
    if (host) VKT_TRY(vkt_tensor_upload(b->dev, out, host, vkt_tensor_bytes(out)));
    return VKT_OK;
}

vkt_status vkt_bench_upload_as(vkt_bench *b, float *host, int64_t n, vkt_dtype dt, vkt_tensor *out) {
    if (dt == VKT_DTYPE_F32) return vkt_bench_upload(b, host, n, 1, 1, 1, out);
    uint16_t *h = malloc((size_t)n * sizeof *h);
    if (!h) return VKT_ERR_OOM;
    for (int64_t i = 0; i < n; i++) {
        h[i] = dt == VKT_DTYPE_F16 ? vkt_f32_to_f16(host[i]) : vkt_f32_to_bf16(host[i]);
        host[i] = dt == VKT_DTYPE_F16 ? vkt_f16_to_f32(h[i]) : vkt_bf16_to_f32(h[i]);
    }
    vkt_status s = vkt_tensor_alloc(b->arena, dt, n, 1, 1, 1, out);
    if (s == VKT_OK) s = vkt_tensor_upload(b->dev, out, h, (size_t)n * sizeof *h);
    free(h);
    return s;
}

float *vkt_bench_download(vkt_bench *b, const vkt_tensor *t) {
    size_t n = (size_t)vkt_tensor_numel(t);
    float *y = malloc(n * sizeof *y);
    if (y && vkt_tensor_download(b->dev, t, y, vkt_tensor_bytes(t)) != VKT_OK) {
        free(y);
        return NULL;
    }
    if (y && t->dtype != VKT_DTYPE_F32) { /* widen in place from the back: the 16-bit words fill the first half */
        const uint16_t *h = (const uint16_t *)y;
        for (size_t i = n; i-- > 0;) {
            uint16_t v = h[i];
            y[i] = t->dtype == VKT_DTYPE_F16 ? vkt_f16_to_f32(v) : vkt_bf16_to_f32(v);
        }
    }
    return y;
}

bool vkt_bench_compare(const float *y, const double *r, size_t n, double bound, char *why, size_t why_size) {
    if (!y) {
        snprintf(why, why_size, "could not read the output");
        return false;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += r[i] * r[i];
    double atol = n ? 1e-3 * sqrt(ss / (double)n) : 0;
    if (atol == 0) atol = 1e-30;
    double worst = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            snprintf(why, why_size, "non-finite output %g at index %zu (want %.9g)", y[i], i, r[i]);
            return false;
        }
        double e = fabs((double)y[i] - r[i]) / (fabs(r[i]) + atol);
        if (e > worst) worst = e, bad = i;
    }
    if (worst <= bound) return true;
    snprintf(why, why_size, "max relative error %.3e > %.1e at index %zu (got %.9g, want %.9g)", worst, bound, bad,
             y[bad], r[bad]);
    return false;
}

static cJSON *result_json(const vkt_bench_result *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "op", r->op);
    cJSON_AddStringToObject(o, "dtype", r->dtype);
    cJSON_AddStringToObject(o, "shape", r->shape);
    cJSON_AddStringToObject(o, "variant", r->variant);
    cJSON_AddNumberToObject(o, "wg", r->wg);
    cJSON_AddNumberToObject(o, "flops", r->flops);
    cJSON_AddNumberToObject(o, "bytes", r->bytes);
    cJSON_AddBoolToObject(o, "ok", r->ok);
    if (!r->ok) {
        cJSON_AddStringToObject(o, "error", r->why);
        return o;
    }
    cJSON_AddNumberToObject(o, "passes", r->passes);
    cJSON_AddNumberToObject(o, "median_ms", r->median_ms);
    cJSON_AddNumberToObject(o, "min_ms", r->min_ms);
    cJSON_AddNumberToObject(o, "gflops", r->gflops);
    cJSON_AddNumberToObject(o, "gbps", r->gbps);
    cJSON_AddStringToObject(o, "bound", r->memory_bound ? "memory" : "compute");
    cJSON_AddNumberToObject(o, "of_peak", r->of_peak);
    return o;
}

vkt_status vkt_bench_write_json(const vkt_bench *b, const char *path) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "device", vkt_device_info_json(vkt_device_get_info(b->dev)));
    cJSON_AddStringToObject(root, "timer", b->gpu_timer ? "gpu" : "wall");
    cJSON_AddBoolToObject(root, "quick", b->quick);
    cJSON_AddNumberToObject(root, "warmup", b->opts.warmup);
    cJSON_AddNumberToObject(root, "reps", b->opts.reps);
    cJSON *peaks = cJSON_AddObjectToObject(root, "peaks");
    cJSON_AddNumberToObject(peaks, "gflops", b->peak_gflops);
    cJSON_AddNumberToObject(peaks, "gbps", b->peak_gbps);
    if (b->opts.stated_gflops > 0) cJSON_AddNumberToObject(peaks, "stated_gflops", b->opts.stated_gflops);
    if (b->opts.stated_gbps > 0) cJSON_AddNumberToObject(peaks, "stated_gbps", b->opts.stated_gbps);
    cJSON *cases = cJSON_AddArrayToObject(root, "cases");
    for (uint32_t i = 0; i < b->n_results; i++) cJSON_AddItemToArray(cases, result_json(&b->results[i]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return VKT_ERR_OOM;
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f) ok &= fclose(f) == 0;
    free(text);
    if (!ok) {
        vkt_log_error("bench: cannot write %s (check the directory exists and is writable)", path);
        return VKT_ERR_IO;
    }
    return VKT_OK;
}
