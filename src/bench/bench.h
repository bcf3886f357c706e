/* Kernel benchmarks: measured device ceilings, then op cases timed against them.
 *
 * A run first measures the device's own ceilings (bench_peak.c): an FMA-bound shader (GFLOP/s) and a
 * streaming copy shader (GB/s, bytes read + bytes written). Every case is then validated against a
 * reference and timed with GPU timestamps (wall clock when the queue has none, and the output says so).
 * A case that fails validation gets no rate. It does not use datasheet peaks except to print them beside
 * the measured ones, labelled as stated.
 *
 * Timing: each case is recorded once as [timestamp, the case's dispatches, timestamp] and replayed:
 * one submit to validate, >= 3 warm-up submits, then >= 20 timed submits. Every submit begins with a
 * full barrier (vkt_rec_begin), so repetitions never overlap. Outside --quick, a case shorter than
 * ~5 ms is recorded several times per sample ("passes", hazard barriers between them) and the times
 * are divided by the pass count. Reported: median and min ms per pass; the rate is work / median; the
 * ceilings are work / min of the peak shaders (their best observed rate).
 *
 * Adding cases (other files, no central list to edit beyond one line):
 *   1. Write src/bench/bench_<op>.c with a group function `void vkt_bench_group_<op>(vkt_bench *b)`.
 *      For each shape, fill a vkt_bench_case (op, dtype, shape text, variant, wg, flops, bytes and the
 *      setup/record/check/teardown callbacks) and call vkt_bench_run(b, &c). Pick shapes with
 *      b->quick (small, for the test) or the training shapes otherwise.
 *   2. Declare the function in bench_groups.h and add one row to the table in bench_groups.c.
 *   See bench_residual.c for a complete example and src/bench/README.md for the rules.
 * Count work per STYLE.md: matmul is 2*M*N*K FLOPs; bytes are the minimum that must move (each input
 * read once, each output written once). */
#ifndef VKT_BENCH_H
#define VKT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "vk/record.h"
#include "vktrain/device.h"
#include "vktrain/tensor.h"

typedef struct {
    bool quick;           /* small shapes (seconds on a CPU driver): used by tests */
    const char *filter;   /* run only cases whose line text contains this substring (NULL: all) */
    int warmup, reps;     /* submits before timing (>= 3) and timed submits (>= 20); 0: defaults */
    double stated_gflops; /* datasheet peaks printed beside the measured ones (0: none) */
    double stated_gbps;
    bool quiet;    /* no per-case lines on stdout */
    uint64_t seed; /* input data (0: default) */
} vkt_bench_opts;

typedef struct vkt_bench vkt_bench;

/* One case. The callbacks get `ctx`; strings are borrowed for the duration of vkt_bench_run. */
typedef struct {
    const char *op;      /* "residual_fwd" */
    const char *dtype;   /* "f32", "f16", "bf16" */
    char shape[96];      /* space-separated key=value: "n=1048576" or "M=768 N=3072 K=4096" */
    const char *variant; /* kernel variant name, "-" when there is none */
    uint32_t wg;         /* workgroup size the op dispatches with (invocations) */
    double flops;        /* floating-point operations of one repetition (0: not counted) */
    double bytes;        /* minimum bytes one repetition must move */
    /* Only the ceiling shaders set this: their best rate (work / min) becomes b->peak_gflops or
     * b->peak_gbps before their own line is printed. */
    enum { VKT_BENCH_CASE = 0, VKT_BENCH_SETS_PEAK_FLOPS, VKT_BENCH_SETS_PEAK_BYTES } role;
    /* Allocate tensors from b->arena and upload inputs. */
    vkt_status (*setup)(vkt_bench *b, void *ctx);
    /* Record one repetition. Replays must give the same output (no accumulation across replays, or
     * reset it inside the recording), because the output is checked after the first replay. */
    vkt_status (*record)(vkt_rec *r, void *ctx);
    /* After one replay: true when the output matches the reference; otherwise write why into `why`. */
    bool (*check)(vkt_bench *b, void *ctx, char *why, size_t why_size);
    /* Free host memory (device tensors go with the arena reset). May be NULL. */
    void (*teardown)(void *ctx);
    void *ctx;
} vkt_bench_case;

/* Figures of one case, kept for --json and tests. */
typedef struct {
    char op[48], dtype[8], shape[96], variant[48];
    uint32_t wg;
    double flops, bytes;
    uint32_t passes;          /* recordings per timed sample (>1 only outside --quick for short cases) */
    double median_ms, min_ms; /* per pass */
    double gflops, gbps;      /* work / median */
    bool memory_bound;        /* by the roofline of the measured ceilings */
    double of_peak;           /* rate / ceiling of the bound resource */
    bool ok;                  /* validated; false: no rate (fields above are 0) */
    char why[160];            /* failure reason when !ok */
} vkt_bench_result;

struct vkt_bench {
    vkt_device *dev;  /* borrowed */
    vkt_arena *arena; /* owned: case tensors, reset after every case */
    vkt_rec *rec;     /* owned: two timestamp slots */
    vkt_bench_opts opts;
    bool quick;     /* == opts.quick */
    bool gpu_timer; /* false: wall-clock fallback */
    vkt_rng rng;
    double peak_gflops, peak_gbps; /* measured ceilings (0 until measured) */
    vkt_bench_result *results;     /* owned */
    uint32_t n_results, cap_results;
    uint32_t n_failed;
};

/* Creates the bench context on dev (the device must outlive it). */
vkt_status vkt_bench_create(vkt_device *dev, const vkt_bench_opts *opts, vkt_bench **out);
void vkt_bench_destroy(vkt_bench *b);
/* Measures the ceilings, then runs every selected case of every group. A failing case is counted in
 * b->n_failed and does not stop the run; device errors do. */
vkt_status vkt_bench_run_all(vkt_bench *b);
/* Measures the two ceilings only (part of vkt_bench_run_all; bench_peak.c). */
vkt_status vkt_bench_peaks(vkt_bench *b);
/* Validates and times one case (skipped when the filter does not select it). Returns a status only for
 * device errors; a case that fails validation is recorded as failed and VKT_OK is returned. */
vkt_status vkt_bench_run(vkt_bench *b, const vkt_bench_case *c);
/* Writes device info, ceilings and every result as JSON. */
vkt_status vkt_bench_write_json(const vkt_bench *b, const char *path);

/* Helpers for case files. */
/* Seeded host floats in [lo, hi); caller frees. */
float *vkt_bench_rand(vkt_bench *b, size_t n, float lo, float hi);
/* Allocates an f32 tensor from b->arena and uploads host data (n = d0*d1*d2*d3 floats; host may be NULL). */
vkt_status vkt_bench_upload(vkt_bench *b, const float *host, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                            vkt_tensor *out);
/* Allocates an (n) tensor of dt (f32, f16, bf16) and uploads host into it; for 16 bits host is rounded in place
 * to the stored values, so a check against it sees what the device holds. */
vkt_status vkt_bench_upload_as(vkt_bench *b, float *host, int64_t n, vkt_dtype dt, vkt_tensor *out);
/* Downloads an f32, f16 or bf16 tensor as floats; NULL on failure. Caller frees. */
float *vkt_bench_download(vkt_bench *b, const vkt_tensor *t);
/* Compares y to r per element with |y-r| / (|r| + 1e-3 * rms(r)) (STYLE.md metric). True when every
 * value is finite and the worst error is <= bound; otherwise describes the worst element in `why`. */
bool vkt_bench_compare(const float *y, const double *r, size_t n, double bound, char *why, size_t why_size);

#endif
