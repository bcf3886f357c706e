/* optim.precision through the real trainer (config, checkpoints, metrics): a bf16 run resumed from its
 * step-20 checkpoint repeats the uninterrupted run's losses bit for bit (the half weight copy is rebuilt
 * from the f32 master weights with the same rounding AdamW uses); an f16 run logs its loss scale and skipped
 * steps, an overflow injected at step 10 (VKT_TEST_OVERFLOW_STEP) is skipped and halves the scale, and a
 * resume restores the scale the run had reached (losses again bit for bit); the memory plan halves the
 * activations; recomputation changes no bit; `vktrain finetune` in bf16 (LoRA resumed bit for bit, full, QLoRA) runs;
 * bad precision settings are errors naming the key. */
#include <string.h>

#include "finetune/finetune.h"
#include "finetune/ft_plan.h"
#include "harness.h"
#include "run_testutil.h"
#include "train/trainer.h"

#define STEPS 40

static void base_config(vkt_run_config *c, const char *corpus, const char *out, const char *precision) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"model.n_embd=32",
                          "model.n_layer=2",
                          "model.n_head=2",
                          "model.n_positions=32",
                          "optim.batch_size=4",
                          "optim.seq_len=16",
                          "optim.steps=40",
                          "optim.lr=0.003",
                          "optim.warmup_steps=5",
                          "eval.interval=0",
                          "eval.steps=2",
                          "log.interval=100",
                          "output.checkpoint_interval=20",
                          "output.keep=2",
                          "sample.tokens=0"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) vkt_run_config_set(c, sets[i]);
    char p[64];
    snprintf(p, sizeof p, "optim.precision=%s", precision);
    vkt_run_config_set(c, p);
    snprintf(c->data_train, sizeof c->data_train, "%s", corpus);
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out);
}

static vkt_status train(vkt_test *t, vkt_run_config *c, const char *resume) {
    vkt_train_opts o = {.resume = resume, .peak_gflops = 1, .no_sample = true};
    VKT_TEST_TRY(t, vkt_run_config_validate(c));
    return vkt_train(t->dev, c, &o);
}

/* Per train step of dir/metrics.jsonl: the loss text, the loss scale, skipped_steps and the skipped flag. */
typedef struct {
    char loss[STEPS][32];
    double scale[STEPS];
    long skipped_total[STEPS];
    bool skipped[STEPS];
    int n;
} metrics;

static void read_metrics(const char *dir, metrics *m) {
    memset(m, 0, sizeof *m);
    char path[300], line[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        long step;
        if (sscanf(line, "{\"step\":%ld,\"kind\":\"train\"", &step) != 1 || step < 0 || step >= STEPS) continue;
        const char *l = strstr(line, "\"loss\":"), *s = strstr(line, "\"loss_scale\":");
        const char *k = strstr(line, "\"skipped_steps\":");
        if (l) sscanf(l + 7, "%31[^,}]", m->loss[step]);
        m->scale[step] = s ? atof(s + 13) : 0;
        m->skipped_total[step] = k ? atol(k + 16) : -1;
        m->skipped[step] = strstr(line, "\"skipped\":true") != NULL;
        m->n++;
    }
    if (f) fclose(f);
}

/* An uninterrupted run and one resumed at step 20 in another folder; steps 20..39 must repeat exactly. */
static void resume_case(vkt_test *t, const char *dir, const char *corpus, const char *precision, metrics *full) {
    char run1[200], run2[200], ck[260];
    snprintf(run1, sizeof run1, "%s/%s_1", dir, precision);
    snprintf(run2, sizeof run2, "%s/%s_2", dir, precision);
    vkt_run_config c;
    base_config(&c, corpus, run1, precision);
    VKT_TEST_TRY(t, train(t, &c, NULL));
    vkt_run_config_free(&c);
    read_metrics(run1, full);
    snprintf(ck, sizeof ck, "%s/step-000020", run1);
    base_config(&c, corpus, run2, precision);
    VKT_TEST_TRY(t, train(t, &c, ck));
    vkt_run_config_free(&c);
    metrics res;
    read_metrics(run2, &res);
    int same = 0;
    for (int s = 20; s < STEPS; s++) same += strcmp(full->loss[s], res.loss[s]) == 0 && full->scale[s] == res.scale[s];
    printf("   %s: loss %s -> %s; resumed at 20: %d of 20 steps identical (losses and scales)\n", precision,
           full->loss[0], full->loss[STEPS - 1], same);
    if (full->n != STEPS || res.n != 20 || same != 20)
        vkt_test_fail(t, "%s resume diverged: step 20 %s vs %s, step 39 %s vs %s", precision, full->loss[20],
                      res.loss[20], full->loss[39], res.loss[39]);
    if (!(atof(full->loss[STEPS - 1]) < atof(full->loss[0]) - 2.0))
        vkt_test_fail(t, "%s: the loss did not fall (%s -> %s)", precision, full->loss[0], full->loss[STEPS - 1]);
}

/* Activations planned for GPT-2 at B 4 x T 64 in f32 and in 16 bits: the model's and the fine-tuning plan's. */
static void memory_case(vkt_test *t) {
    vkt_run_config c;
    base_config(&c, "unused", "unused", "f32");
    vkt_run_config_set(&c, "optim.seq_len=32");
    VKT_TEST_TRY(t, vkt_run_config_validate(&c));
    size_t acts[3], half_copy[3];
    for (int p = 0; p < 3; p++) {
        c.precision = p;
        snprintf(c.ft_method, sizeof c.ft_method, "full");
        vkt_ft_plan fp;
        VKT_TEST_TRY(t, vkt_ft_plan_make(t->dev, &c, &c.model, VKT_QFORMAT_F32, &fp));
        acts[p] = fp.activations, half_copy[p] = fp.half_copy;
    }
    printf("   memory plan (GPT-2 32 x 2, B 4 x T 32): activations f32 %.1f KiB, bf16 %.1f KiB (%.2fx), f16 %.1f KiB; "
           "half weight copy %.1f KiB\n",
           acts[0] / 1024.0, acts[1] / 1024.0, (double)acts[1] / (double)acts[0], acts[2] / 1024.0,
           half_copy[1] / 1024.0);
    if (!(acts[1] == acts[2] && (double)acts[1] <= 0.55 * (double)acts[0]) || half_copy[0] != 0 || half_copy[1] == 0)
        vkt_test_fail(t, "the 16-bit plans do not halve the activations");
    vkt_run_config_free(&c);
}

/* `vktrain finetune` on stories260K (llama2.c) in bf16: LoRA (dropout 0.1) resumed from its step-3 checkpoint
 * repeats the losses bit for bit; full fine-tuning and QLoRA (NF4 base) run and learn. */
static void ft_config(vkt_run_config *c, const char *dir, const char *corpus, const char *out, const char *method) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"tokenizer.type=file",   "optim.batch_size=2",
                          "optim.seq_len=32",      "optim.steps=6",
                          "optim.lr=0.01",         "optim.warmup_steps=1",
                          "eval.interval=0",       "eval.steps=2",
                          "log.interval=100",      "output.checkpoint_interval=3",
                          "output.keep=3",         "sample.tokens=0",
                          "finetune.r=4",          "finetune.lora_dropout=0.1",
                          "finetune.lora_alpha=8", "finetune.target_modules=all-linear",
                          "optim.precision=bf16"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    ft_test_use_stories260k(c, corpus, dir, out, method);
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c, const char *resume) {
    return ft_test_run(t, c, resume, NULL, false);
}

static void finetune_case(vkt_test *t, const char *dir, const char *corpus) {
    vkt_run_config c;
    char run[200], ck[260];
    static char a[STEPS][32], b[STEPS][32];
    ft_config(&c, dir, corpus, "ft_lora1", "lora");
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    snprintf(run, sizeof run, "%s/ft_lora1", dir);
    int na = vkt_test_read_losses(run, a, STEPS);
    snprintf(ck, sizeof ck, "%s/step-000003", run);
    ft_config(&c, dir, corpus, "ft_lora2", "lora");
    VKT_TEST_TRY(t, finetune(t, &c, ck));
    snprintf(run, sizeof run, "%s/ft_lora2", dir);
    int nb = vkt_test_read_losses(run, b, STEPS), same = 0;
    for (int s = 3; s < 6; s++) same += strcmp(a[s], b[s]) == 0;
    printf("   finetune lora bf16: loss %s -> %s; resumed at 3: %d of 3 steps identical\n", a[0], a[5], same);
    if (na != 6 || nb != 3 || same != 3) vkt_test_fail(t, "bf16 LoRA resume diverged (%s vs %s)", a[5], b[5]);

    ft_config(&c, dir, corpus, "ft_full", "full");
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    snprintf(run, sizeof run, "%s/ft_full", dir);
    na = vkt_test_read_losses(run, a, STEPS);
    printf("   finetune full bf16: loss %s -> %s\n", a[0], a[5]);
    if (na != 6 || !(atof(a[5]) < atof(a[0]))) vkt_test_fail(t, "bf16 full fine-tuning did not learn");

    ft_config(&c, dir, corpus, "ft_qlora", "qlora"); /* NF4 base: qmatmul on 16-bit activations */
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    snprintf(run, sizeof run, "%s/ft_qlora", dir);
    na = vkt_test_read_losses(run, a, STEPS);
    printf("   finetune qlora bf16: loss %s -> %s\n", a[0], a[5]);
    if (na != 6 || !(atof(a[5]) < atof(a[0]))) vkt_test_fail(t, "bf16 QLoRA did not learn");
}

static void config_errors(vkt_test *t) {
    vkt_run_config c;
    printf("   expected errors follow:\n");
    vkt_run_config_defaults(&c);
    if (vkt_run_config_set(&c, "optim.precision=fp16") == VKT_OK) vkt_test_fail(t, "optim.precision=fp16 accepted");
    if (vkt_run_config_set(&c, "optim.precision=bf16") != VKT_OK || c.precision != VKT_PRECISION_BF16)
        vkt_test_fail(t, "optim.precision=bf16 refused");
    vkt_run_config_set(&c, "optim.loss_scale_init=1024");
    if (vkt_run_config_validate(&c) == VKT_OK) vkt_test_fail(t, "a loss scale with bf16 accepted");
    vkt_run_config_free(&c);
    vkt_run_config_defaults(&c);
    vkt_run_config_set(&c, "optim.precision=f16");
    vkt_run_config_set(&c, "optim.loss_scale_init=1024");
    if (vkt_run_config_validate(&c) != VKT_OK || c.loss_scale_init != 1024) vkt_test_fail(t, "f16 loss scale refused");
    if (vkt_run_config_set(&c, "optim.loss_scale_factor=1") == VKT_OK) vkt_test_fail(t, "loss scale factor 1 accepted");
    vkt_run_config_free(&c);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "train_precision_run");
    char dir[] = "/tmp/vkt_train_prec_XXXXXX", corpus[128];
    if (!mkdtemp(dir)) return 1;
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    vkt_test_write_word_corpus(corpus, 6000, 7);
    setenv("VKT_CACHE_DIR", dir, 1);

    metrics bf16, f16, rec;
    resume_case(&t, dir, corpus, "bf16", &bf16);
    if (bf16.scale[0] != 0) vkt_test_fail(&t, "bf16 logged a loss scale");

    /* Activation recomputation in bf16: each block's 16-bit forward again in the backward, same bits. */
    vkt_run_config c;
    char run[200];
    snprintf(run, sizeof run, "%s/bf16_recompute", dir);
    base_config(&c, corpus, run, "bf16");
    vkt_run_config_set(&c, "optim.recompute=true");
    VKT_TEST_TRY(&t, train(&t, &c, NULL));
    vkt_run_config_free(&c);
    read_metrics(run, &rec);
    int same = 0;
    for (int s = 0; s < STEPS; s++) same += strcmp(rec.loss[s], bf16.loss[s]) == 0;
    printf("   bf16 with optim.recompute: %d of %d losses identical to the run without\n", same, STEPS);
    if (same != STEPS)
        vkt_test_fail(&t, "bf16 recompute changed the losses (step 39 %s vs %s)", rec.loss[39], bf16.loss[39]);

    setenv("VKT_TEST_OVERFLOW_STEP", "10", 1);
    resume_case(&t, dir, corpus, "f16", &f16);
    unsetenv("VKT_TEST_OVERFLOW_STEP");
    int skipped = 0;
    for (int s = 0; s < STEPS; s++) skipped += f16.skipped[s];
    printf("   f16: scale %g at step 9, %g at step 10 (skipped: %d), %d skipped in all, skipped_steps %ld at the end\n",
           f16.scale[9], f16.scale[10], f16.skipped[10], skipped, f16.skipped_total[STEPS - 1]);
    if (!f16.skipped[10] || skipped != 1 || f16.scale[10] != f16.scale[9] / 2 || f16.skipped_total[STEPS - 1] != 1)
        vkt_test_fail(&t, "f16 injected overflow: not exactly step 10 skipped with the scale halved");

    finetune_case(&t, dir, corpus);
    memory_case(&t);
    config_errors(&t);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) vkt_test_fail(&t, "cleanup failed");
    return vkt_test_finish(&t);
}
