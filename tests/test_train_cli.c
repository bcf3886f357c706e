/* The vktrain program's exit codes for a training run, end to end (the binary is run as a child):
 *   SIGTERM and SIGINT each save a checkpoint and exit 143 and 130 (128 + signal), also in a resumed run;
 *   a second run into a folder that holds one exits 1 and says why; resuming with optim.steps at or below
 *   the checkpoint's step exits 1 and says why; --overwrite starts again and exits 0.
 * Every child runs with the validation layer (VKT_VALIDATION=1 from CTest); a validation message in its
 * output fails the test. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/checkpoint.h"

static int g_failures;

#define FAIL(...) (fprintf(stderr, "FAIL train_cli: " __VA_ARGS__), fputc('\n', stderr), g_failures++)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts VKT_BIN train with the common tiny-model arguments plus `extra` (NULL-terminated); output goes
 * to log. */
static pid_t spawn(const char *corpus, const char *out, const char *log, const char *const *extra) {
    static char data[300], dir[300];
    snprintf(data, sizeof data, "data.train=%s", corpus);
    snprintf(dir, sizeof dir, "output.dir=%s", out);
    const char *base[] = {VKT_BIN,
                          "train",
                          "model.n_embd=32",
                          "model.n_layer=2",
                          "model.n_head=2",
                          "model.n_positions=32",
                          "optim.batch_size=4",
                          "optim.seq_len=16",
                          "eval.interval=0",
                          "eval.steps=0",
                          "log.interval=1",
                          "output.checkpoint_interval=0",
                          "--no-sample",
                          data,
                          dir};
    const char *argv[40];
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) argv[n++] = base[i];
    for (int i = 0; extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    fflush(stdout); /* else the child inherits and repeats what is buffered */
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
        execv(VKT_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Exit code of pid (128 + signal if a signal killed it), or -1 after 120 s (then it is killed). */
static int wait_exit(pid_t pid) {
    double t0 = now_s();
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : -1;
        if (now_s() - t0 > 120) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        sleep_ms(20);
    }
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    int n = 0;
    for (int c; f && (c = fgetc(f)) != EOF;) n += c == '\n';
    if (f) fclose(f);
    return n;
}

static bool log_has(const char *log, const char *needle) {
    FILE *f = fopen(log, "r");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

static void check_log(const char *log, const char *what) {
    if (log_has(log, "validation:")) FAIL("%s: validation messages in %s", what, log);
}

/* Step of the checkpoint out/latest.json names (-1 if none or incomplete). */
static long latest_step(const char *out) {
    char ck[1024], p[1100];
    if (!vkt_checkpoint_resolve_quiet(out, ck, sizeof ck)) return -1;
    snprintf(p, sizeof p, "%s/trainer_state.json", ck);
    struct stat st;
    if (stat(p, &st) != 0) return -1;
    const char *s = strrchr(ck, '-');
    return s ? strtol(s + 1, NULL, 10) : -1;
}

/* Runs a long training, signals it once metrics.jsonl has `min_lines` lines, checks the exit code and
 * the checkpoint it saved. Returns the checkpoint's step. */
static long interrupt_run(const char *corpus, const char *out, const char *log, const char *const *extra, int sig,
                          int min_lines) {
    char metrics[400];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
    int before = count_lines(metrics);
    pid_t pid = spawn(corpus, out, log, extra);
    double t0 = now_s();
    while (count_lines(metrics) < before + min_lines && now_s() - t0 < 120) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            FAIL("%s run ended before it was signalled (see %s)", strsignal(sig), log);
            return -1;
        }
        sleep_ms(20);
    }
    kill(pid, sig);
    int code = wait_exit(pid), want = 128 + sig;
    long step = latest_step(out);
    printf("   %s after %d logged steps: exit %d (want %d), checkpoint at step %ld, log says %s: %s\n",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", count_lines(metrics) - before, code, want, step,
           sig == SIGTERM ? "SIGTERM" : "SIGINT", log_has(log, sig == SIGTERM ? "SIGTERM:" : "SIGINT:") ? "yes" : "no");
    if (code != want) FAIL("%s: exit code %d, want %d (see %s)", strsignal(sig), code, want, log);
    if (step < 1 || !log_has(log, "checkpoint (interrupted)"))
        FAIL("%s: no interrupted checkpoint in %s", strsignal(sig), out);
    check_log(log, strsignal(sig));
    return step;
}

int main(void) {
    char dir[64] = "/tmp/vkt_cli_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char corpus[128], out[128], log[128], cmd[200];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    setenv("VKT_CACHE_DIR", dir, 1);
    FILE *f = fopen(corpus, "w");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "%s ", (const char *[]){"the", "quick", "brown", "fox", "jumps"}[i * 7 % 5]);
    fclose(f);

    const char *long_run[] = {"optim.steps=1000000", NULL};
    long s1 = interrupt_run(corpus, out, log, long_run, SIGTERM, 2);
    char resume[160];
    snprintf(resume, sizeof resume, "%s", out);
    const char *resumed[] = {"optim.steps=1000000", "--resume", resume, NULL};
    long s2 = interrupt_run(corpus, out, log, resumed, SIGINT, 2);
    if (s1 >= 0 && s2 <= s1) FAIL("the resumed run's checkpoint (step %ld) is not past the first one (%ld)", s2, s1);

    /* A new run into the folder: refused. */
    const char *again[] = {"optim.steps=3", NULL};
    int code = wait_exit(spawn(corpus, out, log, again));
    bool said = log_has(log, "already holds a run");
    printf("   new run into a used folder: exit %d (want 1), message: %s\n", code, said ? "yes" : "no");
    if (code != 1 || !said) FAIL("a used output folder: exit %d (see %s)", code, log);
    check_log(log, "used folder");

    /* Resume with nothing left to train. */
    const char *nothing[] = {"optim.steps=1", "--resume", resume, NULL};
    code = wait_exit(spawn(corpus, out, log, nothing));
    said = log_has(log, "nothing to train");
    printf("   resume with optim.steps=1: exit %d (want 1), message: %s\n", code, said ? "yes" : "no");
    if (code != 1 || !said) FAIL("resume below the checkpoint: exit %d (see %s)", code, log);

    /* --overwrite starts again. */
    const char *over[] = {"optim.steps=3", "--overwrite", NULL};
    code = wait_exit(spawn(corpus, out, log, over));
    long s3 = latest_step(out);
    printf("   --overwrite: exit %d (want 0), latest step %ld (want 3)\n", code, s3);
    if (code != 0 || s3 != 3) FAIL("--overwrite: exit %d, latest step %ld (see %s)", code, s3, log);
    check_log(log, "--overwrite");

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (g_failures == 0 && system(cmd) != 0) FAIL("cleanup of %s", dir);
    printf("%s train_cli (%d failure(s))\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
