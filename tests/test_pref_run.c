/* `vktrain finetune` with finetune.objective dpo, ipo, orpo and reward, end to end on stories260K (data/models) over
 * a small generated set of preference pairs (TRL's explicit-prompt text form):
 *  - DPO with LoRA: the first step's loss is ln 2 (a fresh adapter: policy == reference), metrics.jsonl
 *    holds TRL's metric names for training and validation, and a run resumed from its step-3 checkpoint
 *    repeats the uninterrupted run's losses and adapter bit for bit;
 *  - DPO with full fine-tuning (reference log-probs precomputed from the base, again on resume, before the
 *    checkpoint's weights are loaded): the same resume check on model.safetensors;
 *  - the reward model with LoRA and with full fine-tuning (its score.weight in model.safetensors): the first
 *    loss is ln 2 (the head starts at zero), the same resume check, and RewardTrainer's metric names;
 *  - ORPO with QLoRA and gradient accumulation, IPO with LoRA and precompute_ref_log_probs: they run, and
 *    ORPO logs nll_loss;
 *  - optim.precision bf16 and f16 (mixed precision): DPO with LoRA starts at ln 2 exactly (the reference and
 *    the policy with a zero adapter are the same 16-bit forward) and follows the f32 run's losses step by step,
 *    DPO with full fine-tuning (reference precomputed by the 16-bit forward) and ORPO with LoRA too; the reward
 *    objective is still refused under bf16;
 *  - bad configs and bad data are errors before anything runs, naming the key or FILE:LINE: an unknown
 *    objective, beta 0, label smoothing outside DPO, center_rewards_coefficient outside reward, loss_type
 *    robust with ipo, precompute with orpo, data.format text, truncation left, `vktrain train` with a
 *    preference objective, identical chosen and rejected, empty completions, and a set whose every prompt is
 *    longer than seq_len. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune/finetune.h"
#include "harness.h"
#include "io/file.h"
#include "io_testutil.h"
#include "run_testutil.h"

static char g_dir[64], g_pairs[128];

/* 24 pairs of short stories: the chosen answer ends the story kindly, the rejected one does not. */
static void write_pairs(const char *path) {
    const char *who[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Mia"};
    const char *what[] = {"a red ball", "a little dog", "a big cake", "a blue kite"};
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    for (int i = 0; i < 24; i++)
        fprintf(f,
                "{\"prompt\": \"Once upon a time, %s found %s.\", \"chosen\": \" %s was happy and shared it with a "
                "friend.\", \"rejected\": \" %s was sad.\"}\n",
                who[i % 6], what[i % 4], who[i % 6], who[i % 6]);
    fclose(f);
}

static void config(vkt_run_config *c, const char *out, const char *method, const char *objective) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"tokenizer.type=file",
                          "optim.batch_size=2",
                          "optim.seq_len=40",
                          "optim.steps=6",
                          "optim.lr=0.01",
                          "optim.warmup_steps=1",
                          "eval.interval=3",
                          "log.interval=100",
                          "output.checkpoint_interval=3",
                          "output.keep=3",
                          "sample.tokens=0",
                          "finetune.r=4",
                          "finetune.lora_alpha=8",
                          "finetune.target_modules=all-linear",
                          "data.val_fraction=0.2"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    ft_test_use_stories260k(c, g_pairs, g_dir, out, method);
    char obj[64];
    snprintf(obj, sizeof obj, "finetune.objective=%s", objective);
    VKT_ASSERT(vkt_run_config_set(c, obj) == VKT_OK);
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c, const char *resume) {
    return ft_test_run(t, c, resume, NULL, false);
}

/* A run of 6 steps of objective, then the same run resumed at step 3: losses and the given checkpoint file
 * identical; metrics.jsonl holds the keys. */
static void check_resume_of(vkt_test *t, const char *name, const char *method, const char *objective, const char *file,
                            const char *const *keys, int n_keys) {
    vkt_run_config c;
    char run1[128], run2[128], ck[160], a1[300], a2[300];
    snprintf(run1, sizeof run1, "%s/%s1", g_dir, name);
    snprintf(run2, sizeof run2, "%s/%s2", g_dir, name);
    snprintf(ck, sizeof ck, "%s/step-000003", run1);
    snprintf(a1, sizeof a1, "%s1", name);
    config(&c, a1, method, objective);
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    snprintf(a2, sizeof a2, "%s2", name);
    config(&c, a2, method, objective);
    VKT_TEST_TRY(t, finetune(t, &c, ck));
    static char l1[6][32], l2[6][32];
    int n1 = vkt_test_read_losses(run1, l1, 6), n2 = vkt_test_read_losses(run2, l2, 6), same = 0;
    for (int s = 3; s < 6; s++) same += strcmp(l1[s], l2[s]) == 0;
    printf("-- %s %s: losses %s .. %s; resumed at 3: %d of 3 losses identical\n", objective, method, l1[0], l1[5],
           same);
    if (n1 != 6 || n2 != 3 || same != 3)
        vkt_test_fail(t, "%s %s resume diverged (%s vs %s at step 6)", objective, method, l1[5], l2[5]);
    /* ln 2 exactly: DPO's fresh adapter leaves policy == reference; a reward model's head starts at zero. */
    bool ln2 = (!strcmp(objective, "dpo") && !strcmp(method, "lora")) || !strcmp(objective, "reward");
    if (ln2 && strcmp(l1[0], "0.693147182") != 0)
        vkt_test_fail(t, "%s %s: the first step's loss is %s, want ln 2 = 0.693147182", objective, method, l1[0]);
    snprintf(a1, sizeof a1, "%s/step-000006/%s", run1, file);
    snprintf(a2, sizeof a2, "%s/step-000006/%s", run2, file);
    bool eq = ft_test_same_file(a1, a2);
    printf("   resumed step 6 %s: %s\n", file, eq ? "byte-identical" : "DIFFERS");
    if (!eq) vkt_test_fail(t, "resumed %s %s run: %s differs at step 6", objective, method, file);
    if (ft_test_metrics_have(run1, keys, n_keys) != n_keys)
        vkt_test_fail(t, "%s %s: metrics.jsonl lacks TRL's metric names", objective, method);
}

static void check_resume(vkt_test *t, const char *name, const char *method, const char *file) {
    const char *keys[] = {"\"rewards/chosen\"", "\"rewards/rejected\"", "\"rewards/margins\"", "\"rewards/accuracies\"",
                          "\"logps/chosen\"",   "\"logps/rejected\"",   "\"kind\":\"val\""};
    check_resume_of(t, name, method, "dpo", file, keys, 7);
}

/* The reward model (LoRA + its score head): resumed bit for bit, TRL RewardTrainer's metric names. */
static void check_reward(vkt_test *t) {
    const char *keys[] = {"\"rewards/chosen\"", "\"rewards/rejected\"", "\"margin\"",     "\"accuracy\"",
                          "\"min_reward\"",     "\"mean_reward\"",      "\"max_reward\"", "\"kind\":\"val\""};
    check_resume_of(t, "reward", "lora", "reward", "adapter_model.safetensors", keys, 8);
    check_resume_of(t, "rewardfull", "full", "reward", "model.safetensors", keys, 8);
}

static void check_runs(vkt_test *t) {
    vkt_run_config c;
    config(&c, "orpo", "qlora", "orpo");
    vkt_run_config_set(&c, "optim.grad_accum=2");
    vkt_status s = finetune(t, &c, NULL);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/orpo", g_dir);
    const char *keys[] = {"\"nll_loss\"", "\"log_odds_ratio\"", "\"rewards/accuracies\""};
    printf("-- ORPO qlora, grad_accum 2: %s\n", vkt_status_name(s));
    if (s != VKT_OK || ft_test_metrics_have(dir, keys, 3) != 3) vkt_test_fail(t, "ORPO qlora run: %s", vkt_status_name(s));
    config(&c, "ipo", "lora", "ipo");
    vkt_run_config_set(&c, "finetune.precompute_ref_log_probs=true");
    s = finetune(t, &c, NULL);
    printf("-- IPO lora, precomputed reference: %s\n", vkt_status_name(s));
    if (s != VKT_OK) vkt_test_fail(t, "IPO lora run: %s", vkt_status_name(s));
}

/* A bad setting (or bad data in file `data`) fails with want, before training, and the log names `word`. */
/* The 6-step run of objective / method in prec against the same run in f32 (run f32 first: "<name>_f32").
 *  - step 0, before any update (the same master weights; the 16-bit run reads them rounded): the loss and the
 *    gradient norm within k unit roundoffs u of f32's, relative (test_train_precision's 5 u for bf16, 10 u for
 *    f16). The logged norm is the unscaled one: a dropped or doubled f16 loss scale in the sequence backward
 *    puts it 65536 or 2 times off; DPO with a fresh LoRA adapter starts at ln 2 exactly (the reference and the
 *    zero-adapter policy are the same 16-bit forward).
 *  - the end: lr 0.01 makes these runs chaotic step by step (full fine-tuning's first AdamW step moves each
 *    weight by about +-lr whatever its gradient's size, so a gradient near 0 whose sign rounding flips moves the
 *    other way: measured step-1 losses 1.126 bf16 vs 1.054 f32), so the per-step bound is on step 0 and the
 *    run must end where f32's does: |final - final32| within 2% of f32's loss decrease (measured 0.01-0.3%). A
 *    stale 16-bit weight copy leaves the loss near its start (100% off). */
static void precision_run(vkt_test *t, const char *name, const char *method, const char *objective, const char *prec) {
    vkt_run_config c;
    char out[64], set[64], run[160], run32[160];
    snprintf(out, sizeof out, "%s_%s", name, prec);
    config(&c, out, method, objective);
    vkt_run_config_set(&c, "eval.interval=0");
    vkt_run_config_set(&c, "output.checkpoint_interval=0");
    snprintf(set, sizeof set, "optim.precision=%s", prec);
    vkt_run_config_set(&c, set);
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    if (!strcmp(prec, "f32")) return;
    static char l32[6][32], l16[6][32];
    snprintf(run32, sizeof run32, "%s/%s_f32", g_dir, name);
    snprintf(run, sizeof run, "%s/%s", g_dir, out);
    int n32 = vkt_test_read_losses(run32, l32, 6), n16 = vkt_test_read_losses(run, l16, 6);
    double u = !strcmp(prec, "bf16") ? 1.0 / 256 : 1.0 / 2048, k = !strcmp(prec, "bf16") ? 5 : 10;
    double loss0 = fabs(ft_test_step0_metric(run, "loss") / ft_test_step0_metric(run32, "loss") - 1);
    double norm0 = fabs(ft_test_step0_metric(run, "grad_norm") / ft_test_step0_metric(run32, "grad_norm") - 1);
    double end = n32 == 6 && n16 == 6 ? fabs(atof(l16[5]) - atof(l32[5])) / (atof(l32[0]) - atof(l32[5])) : NAN;
    printf("-- %s %s %s: losses %s .. %s (f32 %s .. %s); step 0: loss off by %.2g, grad_norm by %.2g relative "
           "(bound %g u = %.2g); the end off by %.2g of f32's decrease (bound 0.02)\n",
           objective, method, prec, l16[0], l16[5], l32[0], l32[5], loss0, norm0, k, k * u, end);
    if (!(loss0 <= k * u) || !(norm0 <= k * u) || !(end <= 0.02))
        vkt_test_fail(t, "%s %s %s: off the f32 run (step-0 loss %.2g, grad_norm %.2g, end %.2g)", objective, method,
                      prec, loss0, norm0, end);
    if (!strcmp(method, "lora") && !strcmp(objective, "dpo") && strcmp(l16[0], "0.693147182") != 0)
        vkt_test_fail(t, "%s %s %s: the first step's loss is %s, want ln 2", objective, method, prec, l16[0]);
}

static void check_precision(vkt_test *t) {
    const char *runs[][3] = {{"pdpo", "lora", "dpo"}, {"pdpofull", "full", "dpo"}, {"porpo", "lora", "orpo"}};
    for (int i = 0; i < 3; i++) {
        precision_run(t, runs[i][0], runs[i][1], runs[i][2], "f32");
        precision_run(t, runs[i][0], runs[i][1], runs[i][2], "bf16");
        precision_run(t, runs[i][0], runs[i][1], runs[i][2], "f16");
    }
}

static void expect(vkt_test *t, const char *what, const char *objective, const char *set, const char *data,
                   vkt_status want, const char *word) {
    vkt_run_config c;
    config(&c, "bad", "lora", objective);
    tu_capture_begin();
    vkt_status s = set ? vkt_run_config_set(&c, set) : VKT_OK;
    if (data) snprintf(c.data_train, sizeof c.data_train, "%s", data);
    if (s == VKT_OK) s = vkt_finetune_check(&c);
    if (s == VKT_OK)
        s = finetune(t, &c, NULL);
    else
        vkt_run_config_free(&c);
    const char *log = tu_capture_end();
    bool ok = s == want && strstr(log, word);
    printf("   %-44s %s: %s", what, vkt_status_name(s), log[0] ? strstr(log, word) ? strstr(log, word) : log : "\n");
    if (!ok)
        vkt_test_fail(t, "%s: got %s, want %s with \"%s\" in: %s", what, vkt_status_name(s), vkt_status_name(want),
                      word, log);
}

/* A JSONL file of lines in dir. */
static const char *write_file(const char *name, const char *text) {
    static char path[6][160];
    static int k;
    char *p = path[k++ % 6];
    snprintf(p, 160, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    VKT_ASSERT(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void check_errors(vkt_test *t) {
    printf("-- bad configs and data\n");
    expect(t, "objective kto", "dpo", "finetune.objective=kto", NULL, VKT_ERR_FORMAT, "finetune.objective");
    expect(t, "reward with optim.precision bf16", "reward", "optim.precision=bf16", NULL, VKT_ERR_ARG,
           "optim.precision");
    expect(t, "center_rewards_coefficient with dpo", "dpo", "finetune.center_rewards_coefficient=0.01", NULL,
           VKT_ERR_ARG, "center_rewards_coefficient");
    expect(t, "beta 0 with dpo", "dpo", "finetune.beta=0", NULL, VKT_ERR_ARG, "finetune.beta");
    expect(t, "label_smoothing with orpo", "orpo", "finetune.label_smoothing=0.1", NULL, VKT_ERR_ARG,
           "finetune.label_smoothing");
    expect(t, "label_smoothing 0.5", "dpo", "finetune.label_smoothing=0.5", NULL, VKT_ERR_ARG,
           "finetune.label_smoothing");
    expect(t, "loss_type robust with ipo", "ipo", "finetune.loss_type=robust", NULL, VKT_ERR_ARG, "finetune.loss_type");
    expect(t, "loss_type hinge", "dpo", "finetune.loss_type=hinge", NULL, VKT_ERR_FORMAT, "finetune.loss_type");
    expect(t, "precompute with orpo", "orpo", "finetune.precompute_ref_log_probs=true", NULL, VKT_ERR_ARG,
           "precompute_ref_log_probs");
    expect(t, "data.format text", "dpo", "data.format=text", NULL, VKT_ERR_FORMAT, "data.format");
    expect(t, "data.truncation left", "dpo", "data.truncation=left", NULL, VKT_ERR_FORMAT, "data.truncation");
    const char *same =
        write_file("same.jsonl", "{\"prompt\": \"Hi.\", \"chosen\": \" Yes.\", \"rejected\": \" No.\"}\n"
                                 "{\"prompt\": \"Hi.\", \"chosen\": \" Yes.\", \"rejected\": \" Yes.\"}\n");
    expect(t, "identical chosen and rejected", "dpo", NULL, same, VKT_ERR_FORMAT, "same.jsonl:2");
    const char *empty = write_file("empty.jsonl", "{\"prompt\": \"Hi.\", \"chosen\": \"\", \"rejected\": \"\"}\n");
    expect(t, "empty completions", "dpo", NULL, empty, VKT_ERR_FORMAT, "empty.jsonl:1");
    char longp[1024] = "{\"prompt\": \"";
    for (int i = 0; i < 40; i++) strcat(longp, "Once upon a time. ");
    strcat(longp, "\", \"chosen\": \" Yes.\", \"rejected\": \" No.\"}\n");
    const char *lng = write_file("long.jsonl", longp);
    expect(t, "every prompt longer than seq_len", "dpo", NULL, lng, VKT_ERR_FORMAT, "long.jsonl:1");

    vkt_run_config c;
    config(&c, "train", "", "dpo");
    tu_capture_begin();
    vkt_train_opts o = {.peak_gflops = 1, .no_sample = true};
    vkt_status s = vkt_run_config_validate(&c);
    if (s == VKT_OK) s = vkt_train(t->dev, &c, &o);
    vkt_run_config_free(&c);
    const char *log = tu_capture_end();
    printf("   %-44s %s\n", "vktrain train with objective dpo", vkt_status_name(s));
    if (s != VKT_ERR_ARG || !strstr(log, "vktrain finetune"))
        vkt_test_fail(t, "vktrain train with objective dpo: got %s: %s", vkt_status_name(s), log);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "pref_run");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_pref_run_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    setenv("VKT_CACHE_DIR", g_dir, 1);
    snprintf(g_pairs, sizeof g_pairs, "%s/pairs.jsonl", g_dir);
    write_pairs(g_pairs);
    check_resume(&t, "lora", "lora", "adapter_model.safetensors");
    check_resume(&t, "full", "full", "model.safetensors");
    check_reward(&t);
    check_runs(&t);
    check_precision(&t);
    check_errors(&t);
    return vkt_test_finish(&t);
}
