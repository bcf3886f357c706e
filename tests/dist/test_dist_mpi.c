/* Data-parallel training under `mpirun -np 2` (built and registered only with MPI), end to end on lavapipe:
 *   - 2 ranks with global batch 2B train as 1 process with batch 2B: the same losses, gradient norms,
 *     validation losses and final weights, for a GPT-2 shape, a Llama shape (GQA, SwiGLU, RoPE) and LoRA
 *     fine-tuning on chat records (answer-only targets, so the ranks' token counts differ);
 *     The 2-rank runs reduce the gradients in buckets during the backward (optim.bucket_mb tiny: one bucket
 *     per block, so several are in flight while the backward runs), and once after it (optim.bucket_mb=0);
 *   - the same with ZeRO-1 (optim.zero_stage=1: sharded AdamW moments, parameters all-gathered) and the
 *     deterministic reduction (optim.deterministic_reduce: rank-order sums);
 *   - gradient accumulation (2 micro-batches: the buckets leave during the second backward only);
 *   - the deterministic reduction on 3 ranks (where the order of a sum shows) repeats bit for bit: two runs
 *     log the same losses and norms and write the same weights;
 *   - resuming across rank counts (1 -> 2 and 2 -> 1, with and without ZeRO-1: the shards of the moments
 *     gathered into the checkpoint, and a full checkpoint split into shards) continues the 1-process curve;
 *   - ZeRO-1 under mixed precision (bf16, f16): 2 ranks with sharded moments log the same losses and norms and
 *     write the same weights, bit for bit, as 2 ranks without (both with the deterministic reduction): the
 *     16-bit weight copy every rank reads is refreshed from the gathered f32 weights after each step (rounded as
 *     AdamW rounds it in the unsharded update); a stale copy changes the losses from step 2 on;
 *   - a rank that fails (rank 1 given a missing data file) ends the job non-zero within seconds, with that
 *     rank's message, and no rank hangs.
 * mpirun runs loopback only (btl self,tcp on lo) and as root where CI runs as root.
 *
 * Tolerance: the two runs differ only in fp32 summation order: a weight gradient summed over 2B*T rows in
 * one matmul against two sums over B*T rows added after the all-reduce (relative differences ~1e-7 per
 * gradient, amplified by AdamW's g / sqrt(v) normalisation only for coordinates whose gradient is near 0).
 * After a few steps at lr 1e-3 that bounds a weight's difference by steps * lr * (a few 1e-4) ~ 1e-6; we
 * allow 2e-5 absolute (weights are O(0.1)) and 2e-5 relative on losses and norms. A wrong reduction (a sum
 * instead of a mean, a rank's own gradient, the wrong rows) moves the losses by > 1e-3 at the second step
 * and the weights by ~lr = 1e-3; a sum instead of the mean doubles the gradient norm (AdamW itself does
 * not care about the gradient's scale, clipping at 1 does). Buckets change none of this: each element is
 * still w0 g0 + w1 g1 rounded once (on 2 ranks every order of the sum gives the same float, so the bucketed,
 * one-piece and deterministic runs log the same numbers); a bucket copied before its layer's backward is
 * complete, or reduced twice, or not copied back, moves the weights by ~lr. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_failures;
static char g_dir[64];

#define FAIL(...) (fprintf(stderr, "FAIL dist_mpi: " __VA_ARGS__), fputc('\n', stderr), g_failures++)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs argv (NULL-terminated) with stdout and stderr into log; its exit code (1000 + signal when killed,
 * -1 after 300 s); *secs gets the wall time. */
static int run(const char *const *argv, const char *log, double *secs) {
    fflush(stdout), fflush(stderr);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0) _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0, rc = -1;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
            break;
        }
        if (now_s() - t0 > 300) {
            kill(pid, SIGKILL), waitpid(pid, &st, 0);
            break;
        }
        usleep(20000);
    }
    if (secs) *secs = now_s() - t0;
    return rc;
}

static bool log_has(const char *log, const char *needle) {
    FILE *f = fopen(log, "r");
    char line[8192];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

/* vktrain CMD with args under mpirun with `ranks` ranks (0: no mpirun, a plain process). */
static int vktrain(int ranks, const char *cmd, const char *const *args, const char *log, double *secs) {
    const char *argv[96];
    int n = 0;
    char np[8];
    snprintf(np, sizeof np, "%d", ranks);
    if (ranks > 0) {
        const char *mpi[] = {VKT_MPIEXEC,
                             "--allow-run-as-root",
                             "--oversubscribe",
                             "-np",
                             np,
                             "--mca",
                             "btl",
                             "self,tcp",
                             "--mca",
                             "btl_tcp_if_include",
                             "lo",
                             "--mca",
                             "oob_tcp_if_include",
                             "lo"};
        for (size_t i = 0; i < sizeof mpi / sizeof mpi[0]; i++) argv[n++] = mpi[i];
    }
    argv[n++] = VKT_BIN, argv[n++] = cmd;
    for (int i = 0; args[i]; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int rc = run(argv, log, secs);
    if (log_has(log, "validation:")) FAIL("validation messages in %s", log);
    return rc;
}

/* A run's metrics.jsonl: train loss and gradient norm by step (index step - 1), val losses in order. */
typedef struct {
    double loss[64], norm[64], val[16];
    int n_train, n_val;
} curve;

static bool read_curve(const char *dir, curve *c) {
    memset(c, 0, sizeof *c);
    char path[600], line[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *kind = cJSON_GetObjectItem(o, "kind"), *step = cJSON_GetObjectItem(o, "step");
        const cJSON *loss = cJSON_GetObjectItem(o, "loss"), *norm = cJSON_GetObjectItem(o, "grad_norm");
        if (o && cJSON_IsString(kind) && strcmp(kind->valuestring, "train") == 0 && step->valueint < 64) {
            c->loss[step->valueint] = loss->valuedouble, c->norm[step->valueint] = norm->valuedouble;
            if (step->valueint + 1 > c->n_train) c->n_train = step->valueint + 1;
        } else if (o && cJSON_IsString(kind) && c->n_val < 16) {
            c->val[c->n_val++] = loss->valuedouble;
        }
        cJSON_Delete(o);
    }
    fclose(f);
    return true;
}

static bool close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(1.0, fabs(b)); }

/* Train losses and norms of steps [from, to) (0-based), and val losses when check_val, within 2e-5. */
static void compare_curves(const char *what, const char *dir_a, const char *dir_b, int from, int to, bool check_val) {
    curve a, b;
    if (!read_curve(dir_a, &a) || !read_curve(dir_b, &b)) {
        FAIL("%s: no metrics.jsonl in %s or %s", what, dir_a, dir_b);
        return;
    }
    if (a.n_train < to || b.n_train < to) FAIL("%s: %d and %d steps logged, want %d", what, a.n_train, b.n_train, to);
    double worst = 0;
    for (int i = from; i < to && i < 64; i++) {
        worst = fmax(worst, fabs(a.loss[i] - b.loss[i]));
        if (!close_rel(a.loss[i], b.loss[i], 2e-5) || !close_rel(a.norm[i], b.norm[i], 2e-5))
            FAIL("%s: step %d: loss %.9g vs %.9g, norm %.9g vs %.9g", what, i + 1, a.loss[i], b.loss[i], a.norm[i],
                 b.norm[i]);
    }
    if (check_val) {
        if (a.n_val != b.n_val || a.n_val == 0) FAIL("%s: %d vs %d validation losses", what, a.n_val, b.n_val);
        for (int i = 0; i < a.n_val && i < b.n_val; i++)
            if (!close_rel(a.val[i], b.val[i], 2e-5))
                FAIL("%s: val loss %d: %.9g vs %.9g", what, i, a.val[i], b.val[i]);
    }
    printf("  %s: steps %d..%d, largest loss difference %.3g\n", what, from + 1, to, worst);
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)len + 1);
    if (d && fread(d, 1, (size_t)len, f) != (size_t)len) free(d), d = NULL;
    fclose(f);
    *n = (size_t)len;
    return d;
}

/* Two safetensors files of the same writer and shapes (f32 tensors): the same header, and every value
 * within tol absolute. */
static void compare_weights(const char *what, const char *a_path, const char *b_path, double tol) {
    size_t na = 0, nb = 0;
    uint8_t *a = read_all(a_path, &na), *b = read_all(b_path, &nb);
    uint64_t ha = 0, hb = 0;
    if (a && na >= 8) memcpy(&ha, a, 8);
    if (b && nb >= 8) memcpy(&hb, b, 8);
    if (!a || !b || na != nb || ha != hb || 8 + ha > na || memcmp(a, b, 8 + ha) != 0) {
        FAIL("%s: %s and %s differ in size or header", what, a_path, b_path);
    } else {
        size_t n = (na - 8 - ha) / 4;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            float x, y;
            memcpy(&x, a + 8 + ha + 4 * i, 4), memcpy(&y, b + 8 + ha + 4 * i, 4);
            double d = fabs((double)x - (double)y);
            if (!(d <= worst)) worst = d; /* NaN counts as the worst */
        }
        if (!(worst <= tol)) FAIL("%s: weights differ by up to %.3g (tolerance %.1g)", what, worst, tol);
        printf("  %s: %zu weights, largest difference %.3g\n", what, n, worst);
    }
    free(a), free(b);
}

#define TINY_GPT2 "model.n_embd=32", "model.n_layer=2", "model.n_head=2", "model.n_positions=32"
#define TINY_LLAMA                                                                                                     \
    "model.preset=llama-tiny", "model.hidden_size=32", "model.num_hidden_layers=2", "model.num_attention_heads=4",     \
        "model.num_key_value_heads=2", "model.intermediate_size=64"
#define COMMON                                                                                                         \
    "optim.batch_size=4", "optim.seq_len=16", "optim.lr=0.001", "optim.warmup_steps=1", "eval.interval=2",             \
        "eval.steps=2", "log.interval=1", "--no-sample", data, out

/* Runs of one config: 1 process x 4 rows, then 2 ranks x 2 rows (optim.batch_size is the global batch), each
 * compared with the first: buckets per block; ZeRO-1 with the deterministic reduction; one reduction after
 * the backward. */
#define N_VARIANTS 4
static const char *const g_variants[N_VARIANTS] = {"1 process", "2 ranks, a bucket per block",
                                                   "2 ranks, ZeRO-1, deterministic reduction",
                                                   "2 ranks, one reduction after the backward"};
#define PER_BLOCK "optim.bucket_mb=0.0001" /* smaller than any block: a bucket per block */
static const char *const g_variant_args[N_VARIANTS][3] = {
    {"optim.zero_stage=0", "optim.bucket_mb=25", "optim.deterministic_reduce=false"},
    {"optim.zero_stage=0", PER_BLOCK, "optim.deterministic_reduce=false"},
    {"optim.zero_stage=1", PER_BLOCK, "optim.deterministic_reduce=true"},
    {"optim.zero_stage=0", "optim.bucket_mb=0", "optim.deterministic_reduce=false"}};

static void check_same_as_one(const char *name, const char *const *shape, int n_shape) {
    char data[600], out[600], dir[N_VARIANTS][512], log[600], what[200], w[N_VARIANTS][600];
    snprintf(data, sizeof data, "data.train=%s/tinyshakespeare.txt", VKT_TEST_DATA);
    const char *args[40];
    for (int k = 0; k < N_VARIANTS; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/%s_%d", g_dir, name, k);
        snprintf(out, sizeof out, "output.dir=%s", dir[k]);
        int n = 0;
        for (int i = 0; i < n_shape; i++) args[n++] = shape[i];
        const char *rest[] = {COMMON,
                              "optim.steps=4",
                              "output.checkpoint_interval=0",
                              g_variant_args[k][0],
                              g_variant_args[k][1],
                              g_variant_args[k][2],
                              NULL};
        for (int i = 0; rest[i]; i++) args[n++] = rest[i];
        args[n] = NULL;
        snprintf(log, sizeof log, "%s/%s_%d.log", g_dir, name, k);
        int rc = vktrain(k ? 2 : 0, "train", args, log, NULL);
        if (rc != 0) FAIL("%s, %s: exit %d (see %s)", name, g_variants[k], rc, log);
        snprintf(w[k], sizeof w[k], "%s/step-000004/model.safetensors", dir[k]);
        if (k == 0) continue;
        snprintf(what, sizeof what, "%s, %s", name, g_variants[k]);
        compare_curves(what, dir[0], dir[k], 0, 4, true);
        compare_weights(what, w[0], w[k], 2e-5);
    }
}

static void write_records(const char *path) {
    static const char *things[] = {"sky", "grass", "sun", "snow", "sea", "night", "rose", "coal"};
    static const char *colors[] = {"blue", "green", "yellow", "white", "blue", "black", "red", "black"};
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < 48; i++) /* uneven answer lengths: the ranks' token counts differ */
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"What color is the %s?\"},{\"role\":\"assistant\","
                "\"content\":\"The %s is %s%s.\"}]}\n",
                things[i % 8], things[i % 8], colors[i % 8], i % 3 ? "" : ", as everyone knows");
    if (f) fclose(f);
}

/* LoRA with dropout on chat records (targets only on answers) from the stories260K base. */
static void check_lora(void) {
    char records[512], data[600], tmpl[600], base[600], tok[600], out[600], dir[3][512], log[600], w[3][600];
    /* 1 process; 2 ranks, a bucket per block; 2 ranks, ZeRO-1, deterministic reduction */
    char what[200];
    snprintf(records, sizeof records, "%s/records.jsonl", g_dir);
    write_records(records);
    snprintf(data, sizeof data, "data.train=%s", records);
    snprintf(tmpl, sizeof tmpl, "data.chat_template=%s/configs/templates/simple.jinja", VKT_SOURCE_DIR);
    snprintf(base, sizeof base, "model.path=%s/models/stories260K/stories260K.bin", VKT_TEST_DATA);
    snprintf(tok, sizeof tok, "tokenizer.path=%s/models/stories260K/tok512.bin", VKT_TEST_DATA);
    for (int k = 0; k < 3; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/lora_%d", g_dir, k + 1);
        snprintf(out, sizeof out, "output.dir=%s", dir[k]);
        const char *args[] = {"finetune.method=lora",
                              "finetune.r=4",
                              "finetune.lora_alpha=8",
                              "finetune.lora_dropout=0.1", /* ranks draw the masks one process would */
                              "finetune.target_modules=all-linear",
                              "tokenizer.type=file",
                              tok,
                              base,
                              tmpl,
                              data,
                              "optim.batch_size=4",
                              "optim.seq_len=64",
                              "optim.lr=0.001",
                              "optim.warmup_steps=1",
                              "optim.steps=3",
                              "data.val_fraction=0.2",
                              "eval.interval=0",
                              "eval.generations=0",
                              "log.interval=1",
                              "output.checkpoint_interval=0",
                              "--no-sample",
                              out,
                              g_variant_args[k][0],
                              g_variant_args[k][1],
                              g_variant_args[k][2],
                              NULL};
        snprintf(log, sizeof log, "%s/lora_%d.log", g_dir, k + 1);
        int rc = vktrain(k ? 2 : 0, "finetune", args, log, NULL);
        if (rc != 0) FAIL("lora, %s: exit %d (see %s)", g_variants[k], rc, log);
        snprintf(w[k], sizeof w[k], "%s/step-000003/adapter_model.safetensors", dir[k]);
        if (k == 0) continue;
        snprintf(what, sizeof what, "lora on chat records, %s", g_variants[k]);
        compare_curves(what, dir[0], dir[k], 0, 3, true);
        compare_weights(what, w[0], w[k], 2e-5);
    }
}

/* One process, 6 steps with a checkpoint at 3 (constant lr, so a run to 3 is the same run), against
 * 1 -> 2 ranks (resume the 1-process checkpoint on 2) and 2 -> 1 (3 steps on 2 ranks, resumed on 1). */
static void check_resume_across_ranks(void) {
    char data[600], out[600], ref[512], log[600], cmd[1800], resume[600];
    snprintf(data, sizeof data, "data.train=%s/tinyshakespeare.txt", VKT_TEST_DATA);
    snprintf(ref, sizeof ref, "%s/resume_ref", g_dir);
    snprintf(out, sizeof out, "output.dir=%s", ref);
    const char *fixed[] = {TINY_GPT2,
                           "optim.batch_size=4",
                           "optim.seq_len=16",
                           "optim.lr=0.001",
                           "optim.lr_min=0.001",
                           "optim.warmup_steps=0",
                           "eval.interval=0",
                           "eval.steps=0",
                           "log.interval=1",
                           "output.checkpoint_interval=3",
                           "output.keep=5",
                           "--no-sample",
                           data};
    const char *args[40];
    int nf = (int)(sizeof fixed / sizeof fixed[0]);
#define ARGS(...)                                                                                                      \
    do {                                                                                                               \
        int n_ = 0;                                                                                                    \
        for (int i = 0; i < nf; i++) args[n_++] = fixed[i];                                                            \
        const char *more_[] = {__VA_ARGS__, NULL};                                                                     \
        for (int i = 0; more_[i]; i++) args[n_++] = more_[i];                                                          \
        args[n_] = NULL;                                                                                               \
    } while (0)
    ARGS("optim.steps=6", out);
    snprintf(log, sizeof log, "%s/resume_ref.log", g_dir);
    if (vktrain(0, "train", args, log, NULL) != 0) FAIL("resume reference run failed (see %s)", log);

    for (int zero = 0; zero <= 1; zero++) {
        const char *zs = zero ? "optim.zero_stage=1" : "optim.zero_stage=0";
        char what[100];
        /* 1 -> 2: a copy of the reference run resumed from its step 3 on 2 ranks. */
        char dir12[512];
        snprintf(dir12, sizeof dir12, "%s/resume_1to2_zero%d", g_dir, zero);
        snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", dir12, ref, dir12);
        if (system(cmd) != 0) FAIL("%s", cmd);
        snprintf(out, sizeof out, "output.dir=%s", dir12);
        snprintf(resume, sizeof resume, "%s/step-000003", dir12);
        ARGS("optim.steps=6", out, "--resume", resume, zs);
        snprintf(log, sizeof log, "%s/resume_1to2_zero%d.log", g_dir, zero);
        if (vktrain(2, "train", args, log, NULL) != 0) FAIL("1 -> 2 ranks resume failed (see %s)", log);
        snprintf(what, sizeof what, "resume 1 -> 2 ranks%s", zero ? ", ZeRO-1" : "");
        compare_curves(what, ref, dir12, 3, 6, false);

        /* 2 -> 1: 3 steps on 2 ranks, resumed on 1 process. */
        char dir21[512];
        snprintf(dir21, sizeof dir21, "%s/resume_2to1_zero%d", g_dir, zero);
        snprintf(out, sizeof out, "output.dir=%s", dir21);
        ARGS("optim.steps=3", out, zs);
        snprintf(log, sizeof log, "%s/resume_2to1_zero%d_a.log", g_dir, zero);
        if (vktrain(2, "train", args, log, NULL) != 0) FAIL("2-rank run to step 3 failed (see %s)", log);
        snprintf(resume, sizeof resume, "%s/step-000003", dir21);
        ARGS("optim.steps=6", out, "--resume", resume);
        snprintf(log, sizeof log, "%s/resume_2to1_zero%d_b.log", g_dir, zero);
        if (vktrain(0, "train", args, log, NULL) != 0) FAIL("2 -> 1 resume failed (see %s)", log);
        snprintf(what, sizeof what, "resume 2%s -> 1 rank", zero ? " (ZeRO-1)" : "");
        compare_curves(what, ref, dir21, 0, 6, false);
    }
#undef ARGS
}

/* Gradient accumulation: 1 process x 4 rows x 2 micro-batches against 2 ranks x 2 rows x 2, buckets per block
 * (their copies are recorded into the micro-batch that ends a step only). */
static void check_accumulation(void) {
    char data[600], out[600], dir[2][512], log[600], w[2][600];
    snprintf(data, sizeof data, "data.train=%s/tinyshakespeare.txt", VKT_TEST_DATA);
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/accum_%d", g_dir, k);
        snprintf(out, sizeof out, "output.dir=%s", dir[k]);
        const char *args[] = {TINY_GPT2, COMMON, "optim.grad_accum=2", "optim.steps=3", "output.checkpoint_interval=0",
                              PER_BLOCK, NULL};
        snprintf(log, sizeof log, "%s/accum_%d.log", g_dir, k);
        int rc = vktrain(2 * k, "train", args, log, NULL);
        if (rc != 0) FAIL("grad_accum 2, %s: exit %d (see %s)", k ? "2 ranks" : "1 process", rc, log);
        snprintf(w[k], sizeof w[k], "%s/step-000003/model.safetensors", dir[k]);
    }
    compare_curves("grad_accum 2, 2 ranks, a bucket per block", dir[0], dir[1], 0, 3, true);
    compare_weights("grad_accum 2, 2 ranks, a bucket per block", w[0], w[1], 2e-5);
}

/* Two runs on 3 ranks with the deterministic reduction and a bucket per block: the same metrics.jsonl
 * losses and norms, bit for bit, and the same weights. */
static void check_deterministic(void) {
    char data[600], out[600], dir[2][512], log[600], w[2][600];
    snprintf(data, sizeof data, "data.train=%s/tinyshakespeare.txt", VKT_TEST_DATA);
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/ordered_%d", g_dir, k);
        snprintf(out, sizeof out, "output.dir=%s", dir[k]);
        const char *args[] = {TINY_GPT2,
                              "optim.batch_size=6",
                              "optim.seq_len=16",
                              "optim.lr=0.001",
                              "optim.warmup_steps=1",
                              "optim.steps=3",
                              "eval.interval=0",
                              "log.interval=1",
                              "--no-sample",
                              data,
                              out,
                              "output.checkpoint_interval=0",
                              PER_BLOCK,
                              "optim.deterministic_reduce=true",
                              NULL};
        snprintf(log, sizeof log, "%s/ordered_%d.log", g_dir, k);
        int rc = vktrain(3, "train", args, log, NULL);
        if (rc != 0) FAIL("deterministic reduction, 3 ranks, run %d: exit %d (see %s)", k + 1, rc, log);
        snprintf(w[k], sizeof w[k], "%s/step-000003/model.safetensors", dir[k]);
    }
    curve a, b;
    if (!read_curve(dir[0], &a) || !read_curve(dir[1], &b) || a.n_train != 3 || b.n_train != 3) {
        FAIL("deterministic reduction: 3 steps each expected in %s and %s", dir[0], dir[1]);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (a.loss[i] != b.loss[i] || a.norm[i] != b.norm[i])
            FAIL("deterministic reduction, 3 ranks: step %d: loss %.9g vs %.9g, norm %.9g vs %.9g", i + 1, a.loss[i],
                 b.loss[i], a.norm[i], b.norm[i]);
    compare_weights("deterministic reduction, 3 ranks, run 1 vs run 2", w[0], w[1], 0);
}

static void check_zero1_precision(void) {
    char data[600], out[600], prec[64], dir[2][512], log[600], w[2][600], what[200];
    snprintf(data, sizeof data, "data.train=%s/tinyshakespeare.txt", VKT_TEST_DATA);
    const char *precs[] = {"bf16", "f16"};
    for (int p = 0; p < 2; p++) {
        snprintf(prec, sizeof prec, "optim.precision=%s", precs[p]);
        for (int k = 0; k < 2; k++) {
            snprintf(dir[k], sizeof dir[k], "%s/zero%d_%s", g_dir, k, precs[p]);
            snprintf(out, sizeof out, "output.dir=%s", dir[k]);
            const char *args[] = {TINY_GPT2,
                                  "optim.batch_size=4",
                                  "optim.seq_len=16",
                                  "optim.lr=0.01",
                                  "optim.warmup_steps=1",
                                  "optim.steps=4",
                                  "eval.interval=0",
                                  "log.interval=1",
                                  "--no-sample",
                                  data,
                                  out,
                                  prec,
                                  "output.checkpoint_interval=0",
                                  PER_BLOCK,
                                  "optim.deterministic_reduce=true",
                                  k ? "optim.zero_stage=1" : "optim.zero_stage=0",
                                  NULL};
            snprintf(log, sizeof log, "%s/zero%d_%s.log", g_dir, k, precs[p]);
            int rc = vktrain(2, "train", args, log, NULL);
            if (rc != 0) FAIL("%s, 2 ranks, zero_stage %d: exit %d (see %s)", precs[p], k, rc, log);
            snprintf(w[k], sizeof w[k], "%s/step-000004/model.safetensors", dir[k]);
        }
        curve a, b;
        if (!read_curve(dir[0], &a) || !read_curve(dir[1], &b) || a.n_train != 4 || b.n_train != 4) {
            FAIL("ZeRO-1 %s: 4 steps each expected in %s and %s", precs[p], dir[0], dir[1]);
            continue;
        }
        int same = 0;
        for (int i = 0; i < 4; i++) same += a.loss[i] == b.loss[i] && a.norm[i] == b.norm[i];
        printf("  ZeRO-1 %s, 2 ranks: losses %.9g .. %.9g; %d of 4 steps' losses and norms identical to zero_stage 0\n",
               precs[p], b.loss[0], b.loss[3], same);
        if (same != 4) FAIL("ZeRO-1 %s: the losses or norms differ from the unsharded run", precs[p]);
        snprintf(what, sizeof what, "ZeRO-1 %s vs zero_stage 0, 2 ranks", precs[p]);
        compare_weights(what, w[0], w[1], 0);
    }
}

/* Rank 1 is given a data file that does not exist (mpirun's MPMD form: one command per rank). */
static void check_failing_rank(void) {
    char out[600], log[600], good[600], bad[600];
    snprintf(good, sizeof good, "data.train=%s/tinyshakespeare.txt", VKT_TEST_DATA);
    snprintf(bad, sizeof bad, "data.train=%s/no_such_shard.bin", g_dir);
    snprintf(out, sizeof out, "output.dir=%s/failing", g_dir);
    snprintf(log, sizeof log, "%s/failing.log", g_dir);
    const char *argv[] = {VKT_MPIEXEC,
                          "--allow-run-as-root",
                          "--oversubscribe",
                          "--mca",
                          "btl",
                          "self,tcp",
                          "--mca",
                          "btl_tcp_if_include",
                          "lo",
                          "--mca",
                          "oob_tcp_if_include",
                          "lo",
                          "-np",
                          "1",
                          VKT_BIN,
                          "train",
                          TINY_GPT2,
                          "optim.batch_size=4",
                          "optim.seq_len=16",
                          "optim.steps=200",
                          "eval.interval=0",
                          "eval.steps=0",
                          "--no-sample",
                          good,
                          out,
                          ":",
                          "-np",
                          "1",
                          VKT_BIN,
                          "train",
                          TINY_GPT2,
                          "optim.batch_size=4",
                          "optim.seq_len=16",
                          "optim.steps=200",
                          "eval.interval=0",
                          "eval.steps=0",
                          "--no-sample",
                          bad,
                          out,
                          NULL};
    double secs = 0;
    int rc = run(argv, log, &secs);
    if (rc == 0 || rc < 0) FAIL("a failing rank 1: the job exited %d (want non-zero, see %s)", rc, log);
    if (secs > 60) FAIL("a failing rank 1: the job took %.1f s to end", secs);
    if (!log_has(log, "[rank 1] error:") || !log_has(log, "no_such_shard.bin"))
        FAIL("a failing rank 1: its message (tagged [rank 1], naming the file) is not in %s", log);
    printf("  failing rank 1: exit %d after %.1f s\n", rc, secs);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_dist_mpi_%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", g_dir, g_dir);
    if (system(cmd) != 0) return 1;
    const char *gpt2[] = {TINY_GPT2}, *llama[] = {TINY_LLAMA};
    check_same_as_one("gpt2", gpt2, 4);
    check_same_as_one("llama", llama, 6);
    check_lora();
    check_accumulation();
    check_deterministic();
    check_zero1_precision();
    check_resume_across_ranks();
    check_failing_rank();
    if (g_failures) {
        fprintf(stderr, "dist_mpi: %d failure(s); logs in %s\n", g_failures, g_dir);
        return 1;
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) return 1;
    printf("dist_mpi: all passed\n");
    return 0;
}
