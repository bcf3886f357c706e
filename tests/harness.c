/* Test harness implementation (see harness.h). */
#include "harness.h"

#include <sys/stat.h>

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static bool env_set(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Tests run with the validation layer unless the opt-out is explicit: a test that passes without it has
 * not shown its synchronisation and API use are correct. VKT_VALIDATION unset (a test binary started by
 * hand rather than by CTest) turns it on, also for devices and child processes the test creates itself. */
static bool validation_wanted(const char *name) {
    const char *v = getenv("VKT_VALIDATION");
    bool off = (v && *v && strcmp(v, "0") == 0) || env_set("VKT_NO_VALIDATION");
    if (!off) {
        if (!v || !*v) printf("   VKT_VALIDATION was unset: validation on (as under ctest)\n");
        setenv("VKT_VALIDATION", "1", 1);
        return true;
    }
    if (!env_set("VKT_TEST_ALLOW_NO_VALIDATION")) {
        fprintf(stderr,
                "FAIL %s: validation is switched off (VKT_VALIDATION=0 or VKT_NO_VALIDATION set); tests run with the "
                "Vulkan validation layer. Unset those, or set VKT_TEST_ALLOW_NO_VALIDATION=1 to run without it "
                "on purpose (a pass then proves less)\n",
                name);
        exit(1);
    }
    printf("   WARNING: validation OFF (VKT_TEST_ALLOW_NO_VALIDATION=1): API and synchronisation errors go unseen\n");
    unsetenv("VKT_VALIDATION");
    return false;
}

void vkt_test_init(vkt_test *t, const char *name) {
    memset(t, 0, sizeof *t);
    t->name = name;
    const char *seed = getenv("VKT_SEED");
    t->seed = seed && *seed ? strtoull(seed, NULL, 10) : 20261129ull;
    vkt_rng_init(&t->rng, t->seed);
    printf("== %s (seed %llu; rerun with VKT_SEED=%llu)\n", name, (unsigned long long)t->seed,
           (unsigned long long)t->seed);
    vkt_device_opts opts = vkt_device_opts_default();
    opts.validation = validation_wanted(name);
    if (vkt_device_create(&opts, &t->dev) != VKT_OK) {
        fprintf(stderr, "FAIL %s: no Vulkan device (install mesa-vulkan-drivers and vulkan-validationlayers)\n",
                name);
        exit(1);
    }
    if (opts.validation && !vkt_device_validation_active(t->dev)) {
        fprintf(stderr, "FAIL %s: the validation layer was requested but is not active\n", name);
        exit(1);
    }
    const vkt_device_info *info = vkt_device_get_info(t->dev);
    printf("   device: %s (%s %s)\n", info->name, info->driver_name, info->driver_info);
    const char *mb = getenv("VKT_TEST_ARENA_MB");
    size_t bytes = (size_t)(mb && *mb ? atol(mb) : 256) << 20;
    VKT_TEST_TRY(t, vkt_arena_create(t->dev, "test", bytes, &t->arena));
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 64, &t->rec));
}

int vkt_test_finish(vkt_test *t) {
    uint32_t msgs = vkt_device_validation_messages(t->dev);
    if (msgs) vkt_test_fail(t, "%u validation message(s)", msgs);
    vkt_rec_destroy(t->rec);
    vkt_arena_destroy(t->arena);
    vkt_device_destroy(t->dev);
    printf("%s %s (%d failure(s))\n", t->failures ? "FAIL" : "PASS", t->name, t->failures);
    return t->failures ? 1 : 0;
}

void vkt_test_fail(vkt_test *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "FAIL %s (seed %llu): ", t->name, (unsigned long long)t->seed);
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
    t->failures++;
}

float *vkt_test_rand(vkt_test *t, size_t n, float lo, float hi) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = vkt_rng_range(&t->rng, lo, hi);
    return x;
}

float *vkt_test_randn(vkt_test *t, size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * vkt_rng_normal(&t->rng));
    return x;
}

double *vkt_test_to_double(const float *x, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

vkt_tensor vkt_test_upload(vkt_test *t, const float *x, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    vkt_tensor v;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, d0, d1, d2, d3, &v));
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &v, x, vkt_tensor_bytes(&v)));
    return v;
}

vkt_tensor vkt_test_upload_i32(vkt_test *t, const int32_t *x, int64_t n) {
    vkt_tensor v;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_I32, n, 1, 1, 1, &v));
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &v, x, vkt_tensor_bytes(&v)));
    return v;
}

#define GUARD_VALUE 1234.5f

static vkt_test_out make_output(vkt_test *t, const float *init, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    vkt_test_out o;
    int64_t n = d0 * d1 * d2 * d3;
    o.guard = 64; /* 256 bytes: keeps the inner view aligned for binding */
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, VKT_DTYPE_F32, n + 2 * o.guard, 1, 1, 1, &o.outer));
    o.view = o.outer;
    o.view.offset += (size_t)o.guard * 4;
    o.view.shape[0] = d0, o.view.shape[1] = d1, o.view.shape[2] = d2, o.view.shape[3] = d3;
    float *host = malloc((size_t)(n + 2 * o.guard) * sizeof *host);
    for (int64_t i = 0; i < n + 2 * o.guard; i++) host[i] = GUARD_VALUE;
    for (int64_t i = 0; i < n; i++) host[o.guard + i] = init ? init[i] : NAN;
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &o.outer, host, vkt_tensor_bytes(&o.outer)));
    free(host);
    return o;
}

vkt_test_out vkt_test_output(vkt_test *t, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    return make_output(t, NULL, d0, d1, d2, d3);
}

vkt_test_out vkt_test_output_init(vkt_test *t, const float *init, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    return make_output(t, init, d0, d1, d2, d3);
}

float *vkt_test_read_output(vkt_test *t, const vkt_test_out *o, const char *what) {
    float *all = vkt_test_download(t, &o->outer);
    int64_t n = vkt_tensor_numel(&o->view);
    for (int64_t i = 0; i < o->guard; i++) {
        if (all[i] != GUARD_VALUE || all[o->guard + n + i] != GUARD_VALUE) {
            vkt_test_fail(t, "%s: guard word %lld %s the output was overwritten", what, (long long)i,
                          all[i] != GUARD_VALUE ? "before" : "after");
            break;
        }
    }
    float *y = malloc((size_t)n * sizeof *y);
    memcpy(y, all + o->guard, (size_t)n * sizeof *y);
    free(all);
    return y;
}

float *vkt_test_download(vkt_test *t, const vkt_tensor *x) {
    float *y = malloc(vkt_tensor_bytes(x));
    VKT_TEST_TRY(t, vkt_tensor_download(t->dev, x, y, vkt_tensor_bytes(x)));
    return y;
}

void vkt_test_run(vkt_test *t, vkt_status (*fn)(vkt_rec *r, void *ctx), void *ctx) {
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, fn(t->rec, ctx));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
}

void vkt_test_run_expect_variant(vkt_test *t, vkt_status (*fn)(vkt_rec *r, void *ctx), void *ctx, const char *name,
                                 const char *detail, const char *label) {
    vkt_rec_set_profile(t->rec, true);
    vkt_test_run(t, fn, ctx);
    vkt_rec_profile_row *rows = NULL;
    int n = 0;
    double total;
    VKT_TEST_TRY(t, vkt_rec_profile_rows(t->rec, &rows, &n, &total));
    vkt_rec_set_profile(t->rec, false);
    int n_name = 0, n_detail = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].name, name) != 0) continue;
        n_name += rows[i].count;
        if (strcmp(rows[i].detail, detail) == 0) n_detail += rows[i].count;
    }
    free(rows);
    printf("   %s: %d of %d dispatches ran %s\n", label, n_detail, n_name, detail);
    if (n_name == 0 || n_detail != n_name) vkt_test_fail(t, "%s: not every dispatch ran %s", label, detail);
}

double vkt_cmp(const float *y, const double *r, size_t n, double atol, long *bad) {
    double worst = 0;
    *bad = -1;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]) != isnan(r[i]) || isinf(y[i]) != isinf(r[i])) {
            *bad = (long)i;
            return INFINITY;
        }
        if (isnan(r[i]) || isinf(r[i])) continue;
        double e = fabs((double)y[i] - r[i]) / (fabs(r[i]) + atol);
        if (e > worst) worst = e, *bad = (long)i;
    }
    return worst;
}

double vkt_rms(const double *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += r[i] * r[i];
    return n ? sqrt(s / (double)n) : 0;
}

double vkt_nmse(const float *y, const double *r, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += (y[i] - r[i]) * (y[i] - r[i]), den += r[i] * r[i];
    return den > 0 ? num / den : num;
}

bool vkt_check(vkt_test *t, const char *what, const float *y, const double *r, size_t n, double bound) {
    return vkt_check_atol(t, what, y, r, n, 1e-3 * vkt_rms(r, n), bound);
}

bool vkt_check_atol(vkt_test *t, const char *what, const float *y, const double *r, size_t n, double atol,
                    double bound) {
    if (atol == 0) atol = 1e-30;
    long bad;
    double err = vkt_cmp(y, r, n, atol, &bad);
    bool ok = err <= bound;
    printf("   %-40s n=%-8zu max_rel=%.3e nmse=%.3e bound=%.1e %s\n", what, n, err, vkt_nmse(y, r, n), bound,
           ok ? "ok" : "FAIL");
    if (!ok)
        vkt_test_fail(t, "%s: max relative error %.3e > %.1e at index %ld (got %.9g, want %.9g)", what, err, bound,
                      bad, bad >= 0 ? y[bad] : 0.0, bad >= 0 ? r[bad] : 0.0);
    return ok;
}

bool vkt_check_d(vkt_test *t, const char *what, const double *y, const double *r, size_t n, double bound) {
    float *yf = malloc(n * sizeof *yf);
    double rms = vkt_rms(r, n), atol = rms > 0 ? 1e-3 * rms : 1e-30, worst = 0;
    long bad = -1;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(y[i] - r[i]) / (fabs(r[i]) + atol);
        if (!(e <= worst)) worst = e, bad = (long)i;
        yf[i] = (float)y[i];
    }
    bool ok = worst <= bound;
    printf("   %-40s n=%-8zu max_rel=%.3e bound=%.1e %s\n", what, n, worst, bound, ok ? "ok" : "FAIL");
    if (!ok)
        vkt_test_fail(t, "%s: max relative error %.3e > %.1e at index %ld (got %.12g, want %.12g)", what, worst,
                      bound, bad, y[bad], r[bad]);
    free(yf);
    return ok;
}

double vkt_fd_grad(double (*f)(const double *x, void *ctx), double *x, size_t i, void *ctx) {
    double x0 = x[i], h = 1e-5 * fmax(1.0, fabs(x0));
    x[i] = x0 + h;
    double fp = f(x, ctx);
    x[i] = x0 - h;
    double fm = f(x, ctx);
    x[i] = x0;
    return (fp - fm) / (2.0 * h);
}

bool vkt_check_fd(vkt_test *t, const char *what, double (*f)(const double *x, void *ctx), double *x,
                  const double *g, size_t n, void *ctx, double bound) {
    size_t m = n < 64 ? n : 64;
    double *fd = malloc(m * sizeof *fd), *an = malloc(m * sizeof *an);
    for (size_t j = 0; j < m; j++) {
        size_t i = n <= 64 ? j : vkt_rng_below(&t->rng, (uint32_t)n);
        fd[j] = vkt_fd_grad(f, x, i, ctx);
        an[j] = g[i];
    }
    char label[128];
    snprintf(label, sizeof label, "fd %s", what);
    bool ok = vkt_check_d(t, label, an, fd, m, bound);
    free(fd);
    free(an);
    return ok;
}

const char *vkt_test_data(const char *relative) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", VKT_TEST_DATA, relative);
    return path;
}

const char *vkt_test_shared_data(const char *relative) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", VKT_SHARED_DATA, relative);
    if (access(path, R_OK) == 0) return path;
    printf("skip optional check: %s is not there (only a clone with ../shared has it)\n", relative);
    return NULL;
}

double vkt_rel_norm_err(const float *y, const double *r, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) num += (y[i] - r[i]) * (y[i] - r[i]), den += r[i] * r[i];
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

void vkt_test_random_seg_start(vkt_rng *rng, int64_t B, int64_t T, int32_t *seg) {
    for (int64_t b = 0; b < B; b++) {
        int32_t *row = seg + b * T;
        int64_t t = 0, longest = T / 6 + 1;
        while (t < T) {
            int64_t len = vkt_rng_below(rng, 4) == 0 ? 1 : 2 * (int64_t)vkt_rng_below(rng, (uint32_t)longest) + 1;
            if (b == 1 || len > T - t) len = T - t;
            for (int64_t i = 0; i < len; i++) row[t + i] = (int32_t)t;
            t += len;
        }
    }
}

void vkt_test_random_batch(vkt_rng *rng, int64_t n, int64_t V, int32_t *tokens, int32_t *targets) {
    for (int64_t i = 0; i < n; i++) {
        tokens[i] = (int32_t)vkt_rng_below(rng, (uint32_t)V);
        targets[i] = vkt_rng_below(rng, 7) == 0 ? -100 : (int32_t)vkt_rng_below(rng, (uint32_t)V);
    }
}

int vkt_test_read_losses(const char *dir, char losses[][32], int max) {
    char path[600], line[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        long step;
        char loss[32];
        if (sscanf(line, "{\"step\":%ld,\"kind\":\"train\",\"loss\":%31[^,}]", &step, loss) == 2 && step < max)
            snprintf(losses[step], 32, "%s", loss), n++;
    }
    if (f) fclose(f);
    return n;
}

bool vkt_test_file_exists(const char *dir, const char *name) {
    char p[800];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

void vkt_test_write_word_corpus(const char *path, int n_words, uint64_t seed) {
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "cat"};
    vkt_rng rng;
    vkt_rng_init(&rng, seed);
    for (int i = 0; i < n_words; i++)
        fprintf(f, "%s%s", words[vkt_rng_below(&rng, 10)], i % 12 == 11 ? ".\n" : " ");
    fclose(f);
}
