/* `vktrain bench --train --profile` (vkt_train_bench with profile_top): a tiny GPT-2 step runs, the report
 * and the profile are printed, and the profile lists the step's commands (matmuls with a FLOP rate, the
 * cross-entropy, attention) with shares that add up to the whole step; a smaller top prints that many
 * rows. Timings are not checked (they depend on the machine and its load); what is checked is that the
 * option runs and reports what it says. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "train/train_bench.h"

/* Runs the bench with stdout sent to `path`; returns its status. */
static vkt_status bench_to_file(vkt_test *t, vkt_run_config *cfg, int top, const char *path,
                                vkt_train_bench_result *res) {
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(path, "w");
    if (saved < 0 || !f || dup2(fileno(f), 1) < 0) {
        vkt_test_fail(t, "cannot redirect stdout to %s", path);
        return VKT_ERR_IO;
    }
    vkt_status s = vkt_train_bench(t->dev, cfg, 1, NULL, top, res);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    return s;
}

/* What one profile printed: its lines, checked as they are read. */
typedef struct {
    int ranks, with_rate;
    bool report, profile;
    double share_sum;
} profile_lines;

static profile_lines read_profile(vkt_test *t, const char *path) {
    profile_lines p = {0};
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        fputs(line, stdout);
        p.report |= strstr(line, "op=train_step") != NULL;
        p.profile |= strncmp(line, "profile: forward + backward", 27) == 0;
        int rank, count;
        char name[64], rest[256];
        /* rank name detail... ms share count [gflops of_peak | - -]; the detail may be empty or have spaces */
        if (sscanf(line, " %d %63s %255[^\n]", &rank, name, rest) == 3 && rank == p.ranks + 1) {
            p.ranks++;
            /* The last 5 fields: ms share count gflops of_peak. */
            char *tok[32];
            int n = 0;
            for (char *q = strtok(rest, " "); q && n < 32; q = strtok(NULL, " ")) tok[n++] = q;
            double share = n >= 5 ? atof(tok[n - 4]) : -1;
            count = n >= 5 ? atoi(tok[n - 3]) : 0;
            if (!(share >= 0 && share <= 1) || count < 1)
                vkt_test_fail(t, "profile row %d: share %g, count %d", rank, share, count);
            p.share_sum += share;
            if (n >= 5 && strcmp(tok[n - 2], "-") != 0 && strstr(name, "matmul")) p.with_rate++;
        }
    }
    if (f) fclose(f);
    printf("   report line %s, profile header %s, %d ranked rows, %d matmul rows with a rate, shares sum %.3f\n",
           p.report ? "yes" : "no", p.profile ? "yes" : "no", p.ranks, p.with_rate, p.share_sum);
    if (!p.report || !p.profile) vkt_test_fail(t, "the report or the profile header is missing (see above)");
    return p;
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "train_bench");
    char dir[64] = "/tmp/vkt_tbench_XXXXXX", cfg_path[128], out_path[128];
    if (!mkdtemp(dir)) return 1;
    snprintf(cfg_path, sizeof cfg_path, "%s/bench.json", dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    FILE *f = fopen(cfg_path, "w");
    fprintf(f, "{\"model\": {\"preset\": \"gpt2-tiny\", \"n_embd\": 32, \"n_layer\": 2, \"n_head\": 2, "
               "\"n_positions\": 16, \"vocab_size\": 37},\n \"optim\": {\"batch_size\": 2, \"seq_len\": 16}}\n");
    fclose(f);
    vkt_run_config cfg;
    vkt_run_config_defaults(&cfg);
    VKT_TEST_TRY(&t, vkt_run_config_load(cfg_path, &cfg));
    VKT_TEST_TRY(&t, vkt_run_config_validate(&cfg));
    vkt_train_bench_result res;

    /* Every row (more than the step has): the matmuls carry a rate, and the shares add up to the whole step.
     * Which rows lead depends on the machine (on a tiny model the per-dispatch cost does), so only the
     * complete list can promise a matmul row. */
    VKT_TEST_TRY(&t, bench_to_file(&t, &cfg, 1000, out_path, &res));
    profile_lines all = read_profile(&t, out_path);
    if (all.ranks < 10) vkt_test_fail(&t, "%d profile rows in all, want at least 10", all.ranks);
    if (all.with_rate < 1) vkt_test_fail(&t, "no matmul row carries a FLOP rate");
    if (fabs(all.share_sum - 1.0) > 1e-2) vkt_test_fail(&t, "all the rows' shares sum to %.3f, not 1", all.share_sum);
    if (!(res.step_ms > 0 && res.tokens_per_s > 0)) vkt_test_fail(&t, "step_ms %g tokens/s %g", res.step_ms, res.tokens_per_s);

    /* The top 4 only: exactly 4 rows, a part of the step. */
    const int top = 4;
    VKT_TEST_TRY(&t, bench_to_file(&t, &cfg, top, out_path, &res));
    profile_lines some = read_profile(&t, out_path);
    if (some.ranks != top) vkt_test_fail(&t, "%d profile rows, want %d", some.ranks, top);
    if (!(some.share_sum < all.share_sum)) vkt_test_fail(&t, "the top %d rows' shares sum to %.3f", top, some.share_sum);

    vkt_run_config_free(&cfg);
    remove(cfg_path), remove(out_path), rmdir(dir);
    return vkt_test_finish(&t);
}
