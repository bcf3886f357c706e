/* No silent data loss in training, on a tiny model:
 *   - a step with a NaN loss / gradient norm is skipped on the device: params and AdamW moments keep
 *     their bits, the step counts as skipped, optimizer_step counts only applied updates (and survives a
 *     checkpoint round trip);
 *   - optim.max_bad_steps bad steps in a row stop the run with VKT_ERR_NONFINITE, no checkpoint written,
 *     and every metrics.jsonl line stays valid JSON (null for the NaNs);
 *   - a checkpoint with a NaN weight is refused and the good one is kept;
 *   - rotation keeps the checkpoint just written, and a resume drops the abandoned metrics lines;
 *   - an output folder holding a run is refused unless resumed or overwritten (which leaves other files),
 *     and a bad output folder fails before the model is built;
 *   - resuming with optim.steps at or below the checkpoint's step, or a damaged optimizer_step, is an error. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "sched/step.h"
#include "train/trainer.h"

static char g_dir[64];

static void base_config(vkt_run_config *c, const char *corpus, const char *out) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"model.n_embd=32",
                          "model.n_layer=2",
                          "model.n_head=2",
                          "model.n_positions=32",
                          "optim.batch_size=4",
                          "optim.seq_len=16",
                          "optim.steps=4",
                          "optim.lr=0.003",
                          "optim.warmup_steps=2",
                          "eval.interval=0",
                          "eval.steps=0",
                          "log.interval=100",
                          "output.checkpoint_interval=2",
                          "output.keep=2",
                          "sample.tokens=0"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) vkt_run_config_set(c, sets[i]);
    snprintf(c->data_train, sizeof c->data_train, "%s", corpus);
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out);
}

static vkt_status train(vkt_test *t, vkt_run_config *c, const char *resume, bool overwrite, vkt_train_outcome *o) {
    vkt_train_opts opts = {.resume = resume, .overwrite = overwrite, .peak_gflops = 1, .no_sample = true, .outcome = o};
    VKT_TEST_TRY(t, vkt_run_config_validate(c));
    vkt_status s = vkt_train(t->dev, c, &opts);
    vkt_run_config_free(c);
    return s;
}

static int count_steps(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strncmp(e->d_name, "step-", 5) == 0;
    if (d) closedir(d);
    return n;
}

static bool exists(const char *dir, const char *name) {
    char p[400];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void sh(vkt_test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(vkt_test *t, const char *fmt, ...) {
    char cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) vkt_test_fail(t, "shell: %s failed", cmd);
}

/* metrics.jsonl: every line must parse as JSON. Counts train lines, lines with a null loss, skipped ones;
 * train_steps[s] counts how often step s was logged. */
typedef struct {
    int lines, train, null_loss, skipped, bad_json, train_steps[64];
} metrics_summary;

static metrics_summary read_metrics(const char *dir) {
    metrics_summary m = {0};
    char path[300], line[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        m.lines++;
        cJSON *o = cJSON_Parse(line);
        if (!o) {
            m.bad_json++;
            printf("   not JSON: %s", line);
            continue;
        }
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        if (cJSON_IsString(kind) && strcmp(kind->valuestring, "train") == 0) {
            m.train++;
            if (cJSON_IsNumber(step) && step->valueint >= 0 && step->valueint < 64) m.train_steps[step->valueint]++;
        }
        m.null_loss += cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "loss"));
        m.skipped += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "skipped"));
        cJSON_Delete(o);
    }
    if (f) fclose(f);
    return m;
}

/* Sets element k of tensor `name` in a safetensors file (f32) to NaN. */
static void poison_tensor(vkt_test *t, const char *file, const char *name, int64_t k) {
    FILE *f = fopen(file, "r+b");
    uint64_t hlen = 0;
    if (!f || fread(&hlen, 8, 1, f) != 1 || hlen > 1 << 20) {
        vkt_test_fail(t, "%s: cannot read the header", file);
        if (f) fclose(f);
        return;
    }
    char *h = calloc(hlen + 1, 1);
    if (fread(h, 1, hlen, f) != hlen) vkt_test_fail(t, "%s: short header", file);
    cJSON *root = cJSON_Parse(h);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, name);
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off)) {
        vkt_test_fail(t, "%s: no tensor %s", file, name);
    } else {
        long pos = (long)(8 + hlen + (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble + 4 * (uint64_t)k);
        float nan = NAN;
        if (fseek(f, pos, SEEK_SET) != 0 || fwrite(&nan, 4, 1, f) != 1) vkt_test_fail(t, "%s: write failed", file);
    }
    cJSON_Delete(root);
    free(h);
    fclose(f);
}

static int64_t state_field(const char *ck, const char *key) {
    char p[400];
    snprintf(p, sizeof p, "%s/trainer_state.json", ck);
    cJSON *o = NULL;
    if (vkt_json_read(p, &o) != VKT_OK) return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    int64_t x = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
    cJSON_Delete(o);
    return x;
}

typedef struct {
    vkt_rng rng;
    int64_t n, V;
} fill_ctx;

static vkt_status fill(void *ctx, const vkt_batch *batch) {
    fill_ctx *c = ctx;
    for (int64_t i = 0; i < c->n; i++)
        batch->tokens[i] = (int32_t)vkt_rng_below(&c->rng, (uint64_t)c->V),
        batch->targets[i] = (int32_t)vkt_rng_below(&c->rng, (uint64_t)c->V);
    return VKT_OK;
}

/* The optimizer step itself: NaN in a weight the forward uses -> the device skips the update. */
static void test_step_skip(vkt_test *t, const char *ck_dir) {
    vkt_run_config rc;
    base_config(&rc, "unused", "unused");
    VKT_TEST_TRY(t, vkt_run_config_validate(&rc));
    vkt_model_config mc = rc.model;
    mc.vocab_size = 64;
    vkt_run_config_free(&rc);
    const int64_t B = 2, T = 8;
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_ex(t->dev, &mc, B, T, true, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, 5));
    vkt_step_cfg sc = {.adamw = vkt_adamw_cfg_default(),
                       .max_grad_norm = 1.0f,
                       .accum = 1,
                       .total_steps = 10,
                       .schedule = {.lr_max = 1e-2, .lr_min = 1e-3, .warmup = 0, .total = 10}};
    vkt_step *s;
    VKT_TEST_TRY(t, vkt_step_create(m, &sc, 0, &s));
    fill_ctx fc = {.n = B * T, .V = mc.vocab_size};
    vkt_rng_init(&fc.rng, 11);
    int64_t total = m->table.total;
    size_t bytes = (size_t)total * sizeof(float);
    float *p0 = malloc(bytes), *p1 = malloc(bytes), *m0 = malloc(bytes), *v0 = malloc(bytes), *m1 = malloc(bytes),
          *v1 = malloc(bytes);
    int64_t step = -1, updates = -1;
    vkt_step_result res;

    VKT_TEST_TRY(t, vkt_step_submit(s, fill, &fc, &res));
    VKT_TEST_TRY(t, vkt_step_drain(s, &res));
    if (res.skipped || !isfinite(res.loss)) vkt_test_fail(t, "a finite step 0 was flagged (loss %g)", res.loss);

    /* Poison the final norm's first weight: every logit, the loss and every gradient become NaN. */
    const vkt_param *lnf = vkt_params_find(&m->table, "transformer.ln_f.weight");
    if (!lnf) {
        vkt_test_fail(t, "no transformer.ln_f.weight in the table");
        return;
    }
    VKT_TEST_TRY(t, vkt_model_download_params(m, p0));
    float saved = p0[lnf->offset];
    p0[lnf->offset] = NAN;
    VKT_TEST_TRY(t, vkt_model_upload_params(m, p0));
    VKT_TEST_TRY(t, vkt_step_download_state(s, m0, v0, &step, &updates));
    VKT_TEST_TRY(t, vkt_step_submit(s, fill, &fc, &res));
    VKT_TEST_TRY(t, vkt_step_drain(s, &res));
    VKT_TEST_TRY(t, vkt_model_download_params(m, p1));
    VKT_TEST_TRY(t, vkt_step_download_state(s, m1, v1, &step, &updates));
    bool same = memcmp(p0, p1, bytes) == 0 && memcmp(m0, m1, bytes) == 0 && memcmp(v0, v1, bytes) == 0;
    printf("   NaN weight: step %lld loss %g norm %g skipped %d; params, m, v bit-identical: %s; step %lld, "
           "updates %lld\n",
           (long long)res.step, res.loss, res.grad_norm, res.skipped, same ? "yes" : "NO", (long long)step,
           (long long)updates);
    if (!res.skipped || isfinite(res.loss) || isfinite(res.grad_norm))
        vkt_test_fail(t, "the poisoned step was not flagged (skipped %d loss %g norm %g)", res.skipped, res.loss,
                      res.grad_norm);
    if (!same) vkt_test_fail(t, "a skipped step changed params or moments");
    if (step != 2 || updates != 1)
        vkt_test_fail(t, "after one skip: step %lld (want 2), updates %lld (want 1)", (long long)step,
                      (long long)updates);

    /* Healed: the next step applies (bias correction t = 2) and changes the weights. */
    p0[lnf->offset] = saved;
    VKT_TEST_TRY(t, vkt_model_upload_params(m, p0));
    VKT_TEST_TRY(t, vkt_step_submit(s, fill, &fc, &res));
    VKT_TEST_TRY(t, vkt_step_drain(s, &res));
    VKT_TEST_TRY(t, vkt_model_download_params(m, p1));
    VKT_TEST_TRY(t, vkt_step_download_state(s, m1, v1, &step, &updates));
    if (res.skipped || memcmp(p0, p1, bytes) == 0 || step != 3 || updates != 2)
        vkt_test_fail(t, "healed step: skipped %d, params changed %d, step %lld (3), updates %lld (2)", res.skipped,
                      memcmp(p0, p1, bytes) != 0, (long long)step, (long long)updates);

    /* optimizer_step = updates applied, written and read back through a checkpoint. */
    vkt_checkpoint_state st = {.step = 3}, back;
    char saved_dir[400];
    VKT_TEST_TRY(t, vkt_checkpoint_save(ck_dir, 2, m, s, &st, NULL, saved_dir, sizeof saved_dir));
    VKT_TEST_TRY(t, vkt_checkpoint_read_state(saved_dir, &back));
    vkt_step *s2;
    VKT_TEST_TRY(t, vkt_step_create(m, &sc, 0, &s2));
    VKT_TEST_TRY(t, vkt_checkpoint_load_optimizer(saved_dir, m, s2, &back));
    VKT_TEST_TRY(t, vkt_step_download_state(s2, m0, v0, &step, &updates));
    printf("   checkpoint: step %lld optimizer_step %lld; reloaded step %lld updates %lld, moments equal %d\n",
           (long long)back.step, (long long)back.optimizer_step, (long long)step, (long long)updates,
           memcmp(m0, m1, bytes) == 0 && memcmp(v0, v1, bytes) == 0);
    if (back.step != 3 || back.optimizer_step != 2 || step != 3 || updates != 2 || memcmp(m0, m1, bytes) != 0)
        vkt_test_fail(t, "optimizer_step round trip: %lld/%lld", (long long)back.step, (long long)back.optimizer_step);
    vkt_step_destroy(s2);

    /* A weight that is NaN (here: set by hand) makes the save fail and write nothing. */
    p0[lnf->offset] = NAN;
    VKT_TEST_TRY(t, vkt_model_upload_params(m, p0));
    printf("   expected error follows:\n");
    vkt_checkpoint_state st4 = {.step = 4};
    vkt_status rs = vkt_checkpoint_save(ck_dir, 2, m, s, &st4, NULL, saved_dir, sizeof saved_dir);
    if (rs != VKT_ERR_NONFINITE || exists(ck_dir, "step-000004") || exists(ck_dir, ".step-000004.tmp") ||
        !exists(ck_dir, "step-000003"))
        vkt_test_fail(t, "a NaN checkpoint: %s, step-000004 written %d, step-000003 kept %d", vkt_status_name(rs),
                      exists(ck_dir, "step-000004"), exists(ck_dir, "step-000003"));
    free(p0), free(p1), free(m0), free(v0), free(m1), free(v1);
    vkt_step_destroy(s);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "train_guard");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_guard_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    char corpus[128], run0[128], run1[128], poison[128], ck[200], p[300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", g_dir);
    snprintf(run0, sizeof run0, "%s/run0", g_dir);
    snprintf(run1, sizeof run1, "%s/run1", g_dir);
    snprintf(poison, sizeof poison, "%s/poison", g_dir);
    vkt_test_write_word_corpus(corpus, 3000, 7);
    setenv("VKT_CACHE_DIR", g_dir, 1);
    vkt_run_config c;
    vkt_train_outcome o;

    snprintf(p, sizeof p, "%s/ckpt", g_dir);
    test_step_skip(&t, p);

    /* A clean run: checkpoints at 2 and 4, optimizer_step == step. */
    base_config(&c, corpus, run0);
    VKT_TEST_TRY(&t, train(&t, &c, NULL, false, &o));
    snprintf(ck, sizeof ck, "%s/step-000004", run0);
    printf("   clean run: %d checkpoints, step %lld optimizer_step %lld, %lld skipped\n", count_steps(run0),
           (long long)state_field(ck, "step"), (long long)state_field(ck, "optimizer_step"),
           (long long)o.steps_skipped);
    if (count_steps(run0) != 2 || state_field(ck, "optimizer_step") != 4 || o.steps_skipped != 0 || o.signal)
        vkt_test_fail(&t, "clean run: %d checkpoints, optimizer_step %lld", count_steps(run0),
                      (long long)state_field(ck, "optimizer_step"));

    printf("   expected errors follow:\n");
    /* A second run into the same folder is refused and changes nothing. */
    metrics_summary before = read_metrics(run0);
    base_config(&c, corpus, run0);
    vkt_status s = train(&t, &c, NULL, false, &o);
    metrics_summary after = read_metrics(run0);
    if (s != VKT_ERR_ARG || after.lines != before.lines || count_steps(run0) != 2)
        vkt_test_fail(&t, "a folder holding a run: %s, metrics %d -> %d lines", vkt_status_name(s), before.lines,
                      after.lines);

    /* --resume with optim.steps at or below the checkpoint's step. */
    for (int steps = 4; steps >= 3; steps--) {
        base_config(&c, corpus, run0);
        c.steps = steps;
        s = train(&t, &c, ck, false, &o);
        if (s != VKT_ERR_ARG) vkt_test_fail(&t, "resume at step 4 with steps=%d: %s", steps, vkt_status_name(s));
    }
    /* --resume together with --overwrite. */
    base_config(&c, corpus, run0);
    c.steps = 6;
    if ((s = train(&t, &c, ck, true, &o)) != VKT_ERR_ARG)
        vkt_test_fail(&t, "--resume --overwrite: %s", vkt_status_name(s));

    /* A damaged optimizer_step (above step) is refused on resume. */
    snprintf(p, sizeof p, "%s/bad_state", g_dir);
    sh(&t, "cp -r %s %s", ck, p);
    sh(&t, "sed -i 's/\"optimizer_step\":[^,]*/\"optimizer_step\":\t9/' %s/trainer_state.json", p);
    base_config(&c, corpus, run1);
    c.steps = 6;
    if ((s = train(&t, &c, p, false, &o)) != VKT_ERR_FORMAT)
        vkt_test_fail(&t, "optimizer_step 9 > step 4 accepted: %s", vkt_status_name(s));

    /* A bad output folder fails before setup: the model asked for here would not even fit in memory. */
    snprintf(p, sizeof p, "%s/out", corpus);
    base_config(&c, corpus, p);
    vkt_run_config_set(&c, "model.n_embd=16384");
    vkt_run_config_set(&c, "model.n_layer=64");
    vkt_run_config_set(&c, "model.n_head=64");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s = train(&t, &c, NULL, false, &o);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("   unwritable output.dir: %s after %.3f s\n", vkt_status_name(s), secs);
    if (s != VKT_ERR_IO || secs > 2.0)
        vkt_test_fail(&t, "unwritable output.dir: %s after %.3f s", vkt_status_name(s), secs);

    /* --overwrite removes the old run's files only. */
    snprintf(p, sizeof p, "%s/notes.txt", run0);
    FILE *nf = fopen(p, "w");
    if (nf) fputs("mine\n", nf), fclose(nf);
    base_config(&c, corpus, run0);
    c.steps = 3;
    VKT_TEST_TRY(&t, train(&t, &c, NULL, true, &o));
    metrics_summary ow = read_metrics(run0);
    printf("   --overwrite: %d checkpoints (step-000003: %d), %d metrics lines, notes.txt kept: %d\n",
           count_steps(run0), exists(run0, "step-000003"), ow.lines, exists(run0, "notes.txt"));
    if (count_steps(run0) != 2 || !exists(run0, "step-000003") || exists(run0, "step-000004") || ow.train != 3 ||
        !exists(run0, "notes.txt"))
        vkt_test_fail(&t, "--overwrite left the wrong files");

    /* Resume in the same folder from step 2 up to 6 (keep=4: steps 2, 3, 4, 6 stay), then from step 2
     * again up to 3 with keep=1: the step-000003 just written must survive the older timeline's 4 and 6. */
    snprintf(ck, sizeof ck, "%s/step-000002", run0);
    base_config(&c, corpus, run0);
    c.steps = 6, c.keep = 4;
    VKT_TEST_TRY(&t, train(&t, &c, ck, false, &o));
    base_config(&c, corpus, run0);
    c.steps = 3, c.keep = 1;
    VKT_TEST_TRY(&t, train(&t, &c, ck, false, &o));
    char latest[400] = "";
    bool resolved = vkt_checkpoint_resolve_quiet(run0, latest, sizeof latest);
    metrics_summary rs = read_metrics(run0);
    printf("   resume at 2 to 3 with keep=1 beside step 6: latest %s exists %d; train lines %d (steps 0-2 once each: "
           "%d %d %d)\n",
           latest, resolved && exists(latest, "config.json"), rs.train, rs.train_steps[0], rs.train_steps[1],
           rs.train_steps[2]);
    if (!resolved || !exists(latest, "config.json") || !strstr(latest, "step-000003"))
        vkt_test_fail(&t, "rotation deleted the checkpoint just written (latest.json -> %s)", latest);
    if (rs.train != 3 || rs.train_steps[0] != 1 || rs.train_steps[1] != 1 || rs.train_steps[2] != 1)
        vkt_test_fail(&t, "resumed metrics: %d train lines", rs.train);

    /* NaN in a weight every step uses: each step skipped, the run stops after max_bad_steps = 3 with no
     * checkpoint; metrics lines valid JSON with null losses. */
    snprintf(ck, sizeof ck, "%s/step-000003", run0);
    sh(&t, "mkdir -p %s && cp %s/config.json %s/model.safetensors %s", poison, ck, ck, poison);
    snprintf(p, sizeof p, "%s/model.safetensors", poison);
    poison_tensor(&t, p, "transformer.ln_f.weight", 0);
    base_config(&c, corpus, run1);
    snprintf(c.model_from, sizeof c.model_from, "%s", poison);
    vkt_run_config_set(&c, "optim.max_bad_steps=3");
    c.steps = 10, c.checkpoint_interval = 0;
    s = train(&t, &c, NULL, false, &o);
    metrics_summary nm = read_metrics(run1);
    printf("   NaN weight run: %s after %lld steps, %lld skipped; %d metrics lines (%d not JSON, %d null losses, "
           "%d skipped); %d checkpoints\n",
           vkt_status_name(s), (long long)o.steps_done, (long long)o.steps_skipped, nm.lines, nm.bad_json, nm.null_loss,
           nm.skipped, count_steps(run1));
    if (s != VKT_ERR_NONFINITE || o.steps_skipped != 3 || nm.bad_json || nm.null_loss != 3 || nm.skipped != 3 ||
        count_steps(run1) != 0)
        vkt_test_fail(&t, "a diverged run was not stopped cleanly");

    /* NaN in a weight no step uses (position 30 of 32, seq_len 16): training stays finite, but the
     * checkpoint is refused and the run's good checkpoint survives rotation (keep=1). */
    sh(&t, "rm -rf %s && mkdir -p %s && cp -r %s/step-000003 %s/ck", poison, poison, run0, poison);
    {
        char pk[300], src[300];
        snprintf(src, sizeof src, "%s/ck", poison);
        snprintf(pk, sizeof pk, "%s/ck/model.safetensors", poison);
        poison_tensor(&t, pk, "transformer.wpe.weight", 30 * 32 + 5);
        base_config(&c, corpus, run0);
        c.steps = 6, c.keep = 1;
        s = train(&t, &c, src, false, &o);
    }
    resolved = vkt_checkpoint_resolve_quiet(run0, latest, sizeof latest);
    printf("   NaN in an unused weight: %s after %lld steps (%lld skipped); latest %s, has config.json %d\n",
           vkt_status_name(s), (long long)o.steps_done, (long long)o.steps_skipped, latest,
           resolved && exists(latest, "config.json"));
    if (s != VKT_ERR_NONFINITE || o.steps_skipped != 0 || !resolved || !strstr(latest, "step-000003") ||
        !exists(latest, "model.safetensors") || exists(run0, "step-000004"))
        vkt_test_fail(&t, "a NaN checkpoint was written or the good one lost");

    sh(&t, "rm -rf %s", g_dir);
    return vkt_test_finish(&t);
}
