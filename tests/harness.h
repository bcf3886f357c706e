/* Test harness: device with validation, seeded inputs, poisoned and guarded outputs, error metrics.
 *
 * Exit codes: 0 pass, 1 fail, 77 skip (an optional device feature is missing; never for a missing
 * device). Every failure prints the seed, the shape and the first bad index. */
#ifndef VKT_HARNESS_H
#define VKT_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/rng.h"
#include "vk/record.h"
#include "vktrain/device.h"
#include "vktrain/tensor.h"

#define VKT_TEST_SKIP 77

/* Test context: a device with validation on, one arena, one recorder, the seed. */
typedef struct {
    vkt_device *dev;   /* owned */
    vkt_arena *arena;  /* owned: all test tensors */
    vkt_rec *rec;      /* owned */
    uint64_t seed;
    vkt_rng rng;
    int failures;
    const char *name;
} vkt_test;

/* Creates the device (validation and sync validation on), a 256 MiB arena (VKT_TEST_ARENA_MB overrides)
 * and a recorder. Prints the test name and seed (VKT_SEED overrides). Exits 1 on failure.
 * Validation: on when VKT_VALIDATION is unset (a binary run by hand) or 1 (CTest); VKT_VALIDATION=0 or
 * VKT_NO_VALIDATION fail the test unless VKT_TEST_ALLOW_NO_VALIDATION=1 says it is on purpose. The layer
 * must actually load: a missing layer or debug messenger fails the test rather than running without it. */
void vkt_test_init(vkt_test *t, const char *name);
/* Checks validation messages, frees everything, and returns the exit code (0, or 1 on any failure). */
int vkt_test_finish(vkt_test *t);

/* Records a failure with a printf-style message. */
void vkt_test_fail(vkt_test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Aborts the test on a failing status (device errors are not recoverable in a test). */
#define VKT_TEST_TRY(t, call)                                                                      \
    do {                                                                                           \
        vkt_status s_ = (call);                                                                    \
        if (s_ != VKT_OK) {                                                                        \
            fprintf(stderr, "FAIL %s: %s -> %s (%s:%d)\n", (t)->name, #call, vkt_status_name(s_),  \
                    __FILE__, __LINE__);                                                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Host arrays of random values. Caller frees. */
float *vkt_test_rand(vkt_test *t, size_t n, float lo, float hi);
float *vkt_test_randn(vkt_test *t, size_t n, float scale);
double *vkt_test_to_double(const float *x, size_t n);

/* A device tensor filled from host data (f32). */
vkt_tensor vkt_test_upload(vkt_test *t, const float *x, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
vkt_tensor vkt_test_upload_i32(vkt_test *t, const int32_t *x, int64_t n);

/* An output tensor surrounded by guard words and poisoned with NaN. vkt_test_read_output checks the
 * guards and returns the values (caller frees). */
typedef struct {
    vkt_tensor view;   /* what the op writes */
    vkt_tensor outer;  /* view plus guards */
    int64_t guard;     /* guard elements on each side */
} vkt_test_out;
vkt_test_out vkt_test_output(vkt_test *t, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Like vkt_test_output but pre-filled with `init` (for accumulating outputs) instead of NaN. */
vkt_test_out vkt_test_output_init(vkt_test *t, const float *init, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
float *vkt_test_read_output(vkt_test *t, const vkt_test_out *o, const char *what);

/* Downloads a whole tensor (f32). Caller frees. */
float *vkt_test_download(vkt_test *t, const vkt_tensor *x);

/* Records with fn(rec, ctx), submits, waits. */
void vkt_test_run(vkt_test *t, vkt_status (*fn)(vkt_rec *r, void *ctx), void *ctx);
/* vkt_test_run with profiling on (same results; serialised) that fails the test unless every command named
 * `name` (at least one) carries the profile detail `detail` (ops that choose among kernels note the variant
 * there); `label` names the case in the output. */
void vkt_test_run_expect_variant(vkt_test *t, vkt_status (*fn)(vkt_rec *r, void *ctx), void *ctx, const char *name,
                                 const char *detail, const char *label);

/* Max over i of |y-r| / (|r| + atol); *bad gets its index (-1 if none). NaN/inf disagreement: INFINITY. */
double vkt_cmp(const float *y, const double *r, size_t n, double atol, long *bad);
double vkt_rms(const double *r, size_t n);
double vkt_nmse(const float *y, const double *r, size_t n);
/* Compares y to r with atol = 1e-3 * rms(r), prints the result line, records a failure above bound. */
bool vkt_check(vkt_test *t, const char *what, const float *y, const double *r, size_t n, double bound);
/* vkt_check with an explicit atol, for ops whose per-op comment justifies a different absolute floor. */
bool vkt_check_atol(vkt_test *t, const char *what, const float *y, const double *r, size_t n, double atol,
                    double bound);
/* vkt_check's bound for an f32 dot product of k terms (matmul and its relatives): 1.2e-4 sqrt(max(k, 16)),
 * derived in tests/test_op_matmul.c's header. */
static inline double vkt_matmul_bound(int64_t k) { return 1.2e-4 * sqrt((double)(k > 16 ? k : 16)); }
/* Double-vs-double variant for checking the reference backward against finite differences. */
bool vkt_check_d(vkt_test *t, const char *what, const double *y, const double *r, size_t n, double bound);

/* Central finite difference of the scalar f over x[i]: h = 1e-5 * max(1, |x[i]|). */
double vkt_fd_grad(double (*f)(const double *x, void *ctx), double *x, size_t i, void *ctx);
/* Checks analytic gradient g (length n) of f against finite differences on up to 64 sampled indices. */
bool vkt_check_fd(vkt_test *t, const char *what, double (*f)(const double *x, void *ctx), double *x,
                  const double *g, size_t n, void *ctx, double bound);

/* Relative error in norm, sqrt(sum (y - r)^2 / sum r^2) (absolute when r is all zero): whole-model
 * gradients and logits are judged per tensor with it. */
double vkt_rel_norm_err(const float *y, const double *r, int64_t n);
/* A random well-formed document-start table (ops/seg_start.h) of B rows of T: each row packs documents of
 * odd lengths (about a quarter of length 1, others up to about T / 3), the last one cut at the row's end;
 * row 1 (when B >= 2) stays one document, so packed and unpacked rows mix in one batch. */
void vkt_test_random_seg_start(vkt_rng *rng, int64_t B, int64_t T, int32_t *seg);
/* n random tokens below V and targets, about one in seven of them -100 (no loss). */
void vkt_test_random_batch(vkt_rng *rng, int64_t n, int64_t V, int32_t *tokens, int32_t *targets);
/* Train losses by step from a run's metrics.jsonl, as printed (%.9g keeps every float bit): losses[step]
 * for steps below max; returns how many were read. */
int vkt_test_read_losses(const char *dir, char losses[][32], int max);
/* True when dir/name exists. */
bool vkt_test_file_exists(const char *dir, const char *name);
/* A toy training corpus: n_words words of a ten-word vocabulary drawn with `seed`, twelve per line. */
void vkt_test_write_word_corpus(const char *path, int n_words, uint64_t seed);

/* Path of a file the repository ships under data/ (every test may rely on it). Static buffer. */
const char *vkt_test_data(const char *relative);
/* Path of an optional extra file under the shared data folder beside the clone, or NULL when it is not
 * there (a user's clone has none): tests use it for extra checks only and say when they skip them. */
const char *vkt_test_shared_data(const char *relative);

#endif
