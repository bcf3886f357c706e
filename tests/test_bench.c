/* `vktrain bench --quick` through the library: ceilings and cases complete with sane numbers, a case
 * that fails validation gets no rate, --filter selects, --json writes parseable figures. */
#include <cjson/cJSON.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/bench_groups.h"
#include "harness.h"

static bool sane_result(vkt_test *t, const vkt_bench *b, const vkt_bench_result *r) {
    bool ok = r->ok && r->min_ms > 0 && r->median_ms >= r->min_ms && isfinite(r->median_ms) && isfinite(r->of_peak) &&
              r->of_peak > 0 && (r->gflops > 0 || r->gbps > 0);
    /* A case can beat its ceiling (noise, or a quick bandwidth-bound case running from the caches: a 256 x 768
     * f32 tensor is 768 KiB), but not by far: that would mean wrong work counts or a broken timer. The
     * ceilings are measured while the other tests load the machine, though, and a loaded CI machine measured
     * the copy ceiling at 0.63 and 0.21 GB/s instead of ~9 (swiglu then showed 3.7x and 31x) and the FMA
     * ceiling at 17 GFLOP/s instead of ~70. So the bound is 3x the FMA ceiling, or 20x the copy ceiling for a
     * bandwidth-bound case (the roofline's call: AdamW counts FLOPs but is bandwidth-bound), taking each
     * ceiling as at least 50 GFLOP/s or 10 GB/s, below any machine the suite runs on when idle. */
    double flops_cap = 3.0 * fmax(b->peak_gflops, 50.0), bytes_cap = 20.0 * fmax(b->peak_gbps, 10.0);
    ok &= r->memory_bound ? r->gbps < bytes_cap : r->gflops < flops_cap;
    if (!ok)
        vkt_test_fail(t, "case op=%s %s: ok=%d median_ms=%g min_ms=%g gflops=%g gbps=%g of_peak=%g (%s)", r->op,
                      r->shape, r->ok, r->median_ms, r->min_ms, r->gflops, r->gbps, r->of_peak, r->why);
    return ok;
}

/* A case whose check always fails: the runner must refuse to time it. */
static vkt_status bad_setup(vkt_bench *b, void *c) { return vkt_bench_upload(b, NULL, 256, 1, 1, 1, c); }
static vkt_status bad_record(vkt_rec *r, void *c) { return vkt_rec_fill(r, c, 0x7fc00000u); }
static bool bad_check(vkt_bench *b, void *c, char *why, size_t why_size) {
    float *y = vkt_bench_download(b, c);
    double ref[256] = {0};
    bool ok = vkt_bench_compare(y, ref, 256, 1e-6, why, why_size); /* NaN output: must be false */
    free(y);
    return ok;
}

static const vkt_bench_result *find(const vkt_bench *b, const char *op) {
    for (uint32_t i = 0; i < b->n_results; i++)
        if (strcmp(b->results[i].op, op) == 0) return &b->results[i];
    return NULL;
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "bench");
    vkt_bench_opts opts = {.quick = true};
    vkt_bench *b;
    VKT_TEST_TRY(&t, vkt_bench_create(t.dev, &opts, &b));
    VKT_TEST_TRY(&t, vkt_bench_run_all(b));
    printf("   ceilings: %.2f GFLOP/s, %.2f GB/s, timer=%s\n", b->peak_gflops, b->peak_gbps,
           b->gpu_timer ? "gpu" : "wall");
    if (!(b->peak_gflops > 0.1 && isfinite(b->peak_gflops)) || !(b->peak_gbps > 0.01 && isfinite(b->peak_gbps)))
        vkt_test_fail(&t, "ceilings not measured: %g GFLOP/s, %g GB/s", b->peak_gflops, b->peak_gbps);
    if (b->n_failed) vkt_test_fail(&t, "%u case(s) failed validation", b->n_failed);
    for (uint32_t i = 0; i < b->n_results; i++) sane_result(&t, b, &b->results[i]);
    const char *expected[] = {"peak_fma", "peak_copy", "residual_fwd"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!find(b, expected[i])) vkt_test_fail(&t, "no result for %s", expected[i]);
    const vkt_bench_result *fma = find(b, "peak_fma");
    if (fma && fma->of_peak > 1.0 + 1e-9)
        vkt_test_fail(&t, "the FMA ceiling is its best rate, so its median cannot exceed it (of_peak=%g)",
                      fma->of_peak);

    char path[] = "/tmp/vkt_bench_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        vkt_test_fail(&t, "mkstemp failed");
    else
        close(fd);
    VKT_TEST_TRY(&t, vkt_bench_write_json(b, path));
    FILE *f = fopen(path, "rb");
    long len = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) len = ftell(f), rewind(f);
    char *text = calloc((size_t)(len > 0 ? len : 0) + 1, 1);
    if (f && text && len > 0 && fread(text, 1, (size_t)len, f) != (size_t)len) len = 0;
    if (f) fclose(f);
    remove(path);
    cJSON *root = cJSON_Parse(text);
    cJSON *cases = root ? cJSON_GetObjectItem(root, "cases") : NULL;
    cJSON *peaks = root ? cJSON_GetObjectItem(root, "peaks") : NULL;
    if (!len || !cases || cJSON_GetArraySize(cases) != (int)b->n_results || !peaks ||
        !cJSON_GetObjectItem(root, "device") || !cJSON_GetObjectItem(peaks, "gflops") ||
        fabs(cJSON_GetObjectItem(peaks, "gflops")->valuedouble - b->peak_gflops) > 1e-6 * b->peak_gflops)
        vkt_test_fail(&t, "--json output incomplete (%ld bytes)", len);
    cJSON_Delete(root);
    free(text);

    uint32_t before = b->n_results;
    vkt_tensor bad;
    vkt_bench_case c = {.op = "always_wrong",
                        .dtype = "f32",
                        .variant = "-",
                        .wg = 1,
                        .bytes = 1024,
                        .setup = bad_setup,
                        .record = bad_record,
                        .check = bad_check,
                        .ctx = &bad};
    snprintf(c.shape, sizeof c.shape, "n=256");
    VKT_TEST_TRY(&t, vkt_bench_run(b, &c));
    const vkt_bench_result *r = &b->results[b->n_results - 1];
    if (b->n_results != before + 1 || r->ok || r->median_ms != 0 || r->gbps != 0 || b->n_failed != 1)
        vkt_test_fail(&t, "a failing case was timed or not reported (ok=%d median_ms=%g failed=%u)", r->ok,
                      r->median_ms, b->n_failed);
    else
        printf("   failing case refused as expected: %s\n", r->why);

    /* The wall-clock fallback (devices without timestamps) on the same cases. */
    b->gpu_timer = false;
    before = b->n_results;
    VKT_TEST_TRY(&t, vkt_bench_group_residual(b));
    if (b->n_results != before + 1)
        vkt_test_fail(&t, "wall-clock run gave %u results", b->n_results - before);
    else if (sane_result(&t, b, &b->results[before]))
        printf("   wall-clock fallback: residual median %.4f ms\n", b->results[before].median_ms);
    vkt_bench_destroy(b);

    opts.filter = "op=no_such_op";
    opts.quiet = true;
    VKT_TEST_TRY(&t, vkt_bench_create(t.dev, &opts, &b));
    VKT_TEST_TRY(&t, vkt_bench_run_all(b));
    /* Ceilings always run; nothing else matches. */
    if (b->n_results != 2 || find(b, "residual_fwd"))
        vkt_test_fail(&t, "--filter op=no_such_op ran %u case(s)", b->n_results);
    vkt_bench_destroy(b);
    return vkt_test_finish(&t);
}
