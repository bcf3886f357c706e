/* `vktrain finetune` with finetune.objective grpo, end to end on stories260K (data/models) over a small
 * generated set of story prompts with a regular-expression reward (the model writes stories, so some
 * completions match and some do not: the groups have a learning signal):
 *  - LoRA with beta > 0 (the reference forward of the base without adapters), prompts_per_step with gradient
 *    accumulation: metrics.jsonl holds TRL's GRPO metric names for training steps, and the validation rewards
 *    (kind "val"); the held-out generations are written; a run resumed from its step-2 checkpoint repeats the
 *    uninterrupted run's losses and adapter bit for bit (rollouts are seeded per step, prompt and completion);
 *  - conversational prompts through a chat template with an exact_match reward read from a spec file: it runs and
 *    logs the term's metric;
 *  - full fine-tuning with beta 0 (the sampler reloads the weights every step): it runs;
 *  - optim.precision bf16 and f16 (LoRA, beta 0.04): the first step samples the same completions as f32 (the
 *    sampler's f32 copy of the same master weights: the same step-0 reward), its gradient norm is within 5 (bf16)
 *    / 10 (f16) unit roundoffs of f32's (a dropped or doubled f16 loss scale puts it 65536 or 2 times off), and
 *    the run completes with finite losses (the later rollouts sample from slightly different weights, so they
 *    differ: no step-by-step bound);
 *  - bad configs and data are errors before training, naming the key or FILE:LINE: num_generations 1 with group
 *    scaling, prompt + completion lengths over the row, a DPO loss type, beta with full fine-tuning, a batch that
 *    is not a multiple of the group, a bad reward spec or a missing spec file, a record without the answer
 *    exact_match needs, a prompt that is neither text nor messages, and `vktrain train` with objective grpo. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune/finetune.h"
#include "harness.h"
#include "io/file.h"
#include "io_testutil.h"
#include "run_testutil.h"

static char g_dir[64], g_prompts[128];

static void write_prompts(const char *path) {
    const char *who[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Mia"};
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"prompt\": \"Once upon a time, %s\", \"answer\": \"happy\"}\n", who[i % 6]);
    fclose(f);
}

static void config(vkt_run_config *c, const char *out, const char *method) {
    vkt_run_config_defaults(c);
    const char *sets[] = {
        "tokenizer.type=file",
        "optim.batch_size=4",
        "optim.seq_len=24",
        "optim.steps=3",
        "optim.lr=0.01",
        "optim.warmup_steps=1",
        "eval.interval=2",
        "eval.steps=1",
        "eval.generations=2",
        "log.interval=100",
        "output.checkpoint_interval=0",
        "sample.tokens=0",
        "finetune.r=4",
        "finetune.lora_alpha=8",
        "finetune.target_modules=all-linear",
        "finetune.objective=grpo",
        "finetune.num_generations=4",
        "finetune.prompts_per_step=2",
        "finetune.max_completion_length=5",
        "finetune.rewards={\"type\": \"regex\", \"pattern\": \"\\\\b(was|the)\\\\b\", \"name\": \"words\"}",
        "data.val_fraction=0.25"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    ft_test_use_stories260k(c, g_prompts, g_dir, out, method);
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c) { return ft_test_run(t, c, NULL, NULL, false); }

/* A LoRA run of 4 steps (checkpoint at 2), then the same run resumed at step 2: losses and adapter identical
 * (the prompt position is in the checkpoint, the rollouts are seeded per step, prompt and completion). */
static void check_lora(vkt_test *t) {
    vkt_run_config c;
    char dir[2][128], ck[160], a[2][300];
    static char losses[2][4][32];
    for (int k = 0; k < 2; k++) {
        char out[16];
        snprintf(out, sizeof out, "lora%d", k);
        snprintf(dir[k], sizeof dir[k], "%s/%s", g_dir, out);
        config(&c, out, "lora");
        VKT_ASSERT(vkt_run_config_set(&c, "finetune.beta=0.04") == VKT_OK);
        VKT_ASSERT(vkt_run_config_set(&c, "optim.steps=4") == VKT_OK);
        VKT_ASSERT(vkt_run_config_set(&c, "output.checkpoint_interval=2") == VKT_OK);
        snprintf(ck, sizeof ck, "%s/step-000002", dir[0]);
        vkt_train_opts o = {.peak_gflops = 1, .no_sample = true, .resume = k ? ck : NULL};
        vkt_status s = vkt_run_config_validate(&c);
        if (s == VKT_OK) s = vkt_finetune(t->dev, &c, NULL, &o);
        vkt_run_config_free(&c);
        if (s != VKT_OK) vkt_test_fail(t, "GRPO LoRA run %d: %s", k, vkt_status_name(s));
        snprintf(a[k], sizeof a[k], "%s/step-000004/adapter_model.safetensors", dir[k]);
    }
    int n0 = vkt_test_read_losses(dir[0], losses[0], 4), n1 = vkt_test_read_losses(dir[1], losses[1], 4), same = 0;
    for (int s = 2; s < 4; s++) same += strcmp(losses[0][s], losses[1][s]) == 0;
    const char *keys[] = {"\"reward\"",
                          "\"reward_std\"",
                          "\"frac_reward_zero_std\"",
                          "\"completions/mean_length\"",
                          "\"kl\"",
                          "\"clip_ratio/low_mean\"",
                          "\"clip_ratio/high_mean\"",
                          "\"clip_ratio/region_mean\"",
                          "\"rewards/words/mean\"",
                          "\"kind\":\"val\""};
    int found = ft_test_metrics_have(dir[0], keys, 10);
    char gen[300];
    snprintf(gen, sizeof gen, "%s/generations/step-000002.jsonl", dir[0]);
    struct stat st;
    bool has_gen = stat(gen, &st) == 0 && st.st_size > 0, eq = ft_test_same_file(a[0], a[1]);
    printf("-- GRPO LoRA, beta 0.04, 2 prompts x 4 per step in 2 micro-batches: losses %s %s %s %s; %d of 10 metric "
           "names; resumed at 2: %d of 2 losses identical, adapter at 4 %s; generations %s\n",
           losses[0][0], losses[0][1], losses[0][2], losses[0][3], found, same, eq ? "byte-identical" : "DIFFERS",
           has_gen ? "written" : "MISSING");
    if (n0 != 4 || n1 != 2 || found != 10 || same != 2 || !eq || !has_gen)
        vkt_test_fail(t, "GRPO LoRA run: metrics, resume or generations");
}

/* Conversational prompts (message lists) through a chat template, with an exact_match reward on the records'
 * answers from a spec file, in one micro-batch of 8 (prompts_per_step 0: batch_size x grad_accum / G = 2). */
static void check_chat(vkt_test *t) {
    char path[160];
    snprintf(path, sizeof path, "%s/chat.jsonl", g_dir);
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    for (int i = 0; i < 8; i++)
        fprintf(f,
                "{\"prompt\": [{\"role\": \"system\", \"content\": \"Answer with a number.\"}, {\"role\": "
                "\"user\", \"content\": \"What is %d + 1?\"}], \"answer\": %d}\n",
                i, i + 1);
    fclose(f);
    char spec[160], set_spec[200];
    snprintf(spec, sizeof spec, "%s/rewards.json", g_dir);
    f = fopen(spec, "w");
    VKT_ASSERT(f);
    fputs("[{\"type\": \"exact_match\", \"name\": \"accuracy\", \"extract\": \"last_number\"}]\n", f);
    fclose(f);
    snprintf(set_spec, sizeof set_spec, "finetune.rewards=%s", spec); /* not JSON: a file naming the spec */
    vkt_run_config c;
    config(&c, "chat", "lora");
    const char *sets[] = {set_spec, "finetune.prompts_per_step=0", "optim.batch_size=8", "optim.steps=2",
                          "optim.seq_len=32"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) VKT_ASSERT(vkt_run_config_set(&c, sets[i]) == VKT_OK);
    snprintf(c.data_train, sizeof c.data_train, "%s", path);
    snprintf(c.chat_template, sizeof c.chat_template, "%s", VKT_TEST_DATA "/../configs/templates/simple.jinja");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/chat", g_dir);
    vkt_status s = finetune(t, &c);
    const char *keys[] = {"\"rewards/accuracy/mean\"", "\"kind\":\"val\""};
    int found = ft_test_metrics_have(dir, keys, 2);
    printf("-- GRPO on conversational prompts (simple.jinja), exact_match from a spec file: %s, %d of 2 metric names\n",
           vkt_status_name(s), found);
    if (s != VKT_OK || found != 2) vkt_test_fail(t, "GRPO chat run: %s", vkt_status_name(s));
}

static void check_full(vkt_test *t) {
    vkt_run_config c;
    config(&c, "full", "full");
    vkt_status s = finetune(t, &c);
    printf("-- GRPO full fine-tuning, beta 0: %s\n", vkt_status_name(s));
    if (s != VKT_OK) vkt_test_fail(t, "GRPO full run: %s", vkt_status_name(s));
}

static void check_precision(vkt_test *t) {
    char run32[128];
    snprintf(run32, sizeof run32, "%s/prec_f32", g_dir);
    const char *precs[] = {"f32", "bf16", "f16"};
    for (int i = 0; i < 3; i++) {
        vkt_run_config c;
        char out[32], set[48], run[128];
        snprintf(out, sizeof out, "prec_%s", precs[i]);
        snprintf(run, sizeof run, "%s/%s", g_dir, out);
        config(&c, out, "lora");
        VKT_ASSERT(vkt_run_config_set(&c, "finetune.beta=0.04") == VKT_OK);
        VKT_ASSERT(vkt_run_config_set(&c, "eval.interval=0") == VKT_OK);
        snprintf(set, sizeof set, "optim.precision=%s", precs[i]);
        VKT_ASSERT(vkt_run_config_set(&c, set) == VKT_OK);
        vkt_status s = finetune(t, &c);
        if (s != VKT_OK) vkt_test_fail(t, "GRPO LoRA %s: %s", precs[i], vkt_status_name(s));
        if (i == 0) continue;
        static char l[3][32];
        int n = vkt_test_read_losses(run, l, 3);
        double u = i == 1 ? 1.0 / 256 : 1.0 / 2048, k = i == 1 ? 5 : 10;
        double r0 = ft_test_step0_metric(run, "reward"), r32 = ft_test_step0_metric(run32, "reward");
        double norm0 = fabs(ft_test_step0_metric(run, "grad_norm") / ft_test_step0_metric(run32, "grad_norm") - 1);
        bool finite = n == 3 && isfinite(atof(l[0])) && isfinite(atof(l[1])) && isfinite(atof(l[2]));
        printf("-- GRPO LoRA %s: losses %s %s %s; step 0: reward %g (f32 %g), grad_norm off f32's by %.2g "
               "(bound %g u = %.2g)\n",
               precs[i], l[0], l[1], l[2], r0, r32, norm0, k, k * u);
        if (!finite || r0 != r32 || !(norm0 <= k * u))
            vkt_test_fail(t, "GRPO LoRA %s: off the f32 run (reward %g vs %g, grad_norm %.2g)", precs[i], r0, r32,
                          norm0);
    }
}

/* A bad setting (or bad data in file `data`) fails with want before training, and the log names `word`. */
static void expect(vkt_test *t, const char *what, const char *method, const char *set, const char *data,
                   vkt_status want, const char *word) {
    vkt_run_config c;
    config(&c, "bad", method);
    tu_capture_begin();
    vkt_status s = set ? vkt_run_config_set(&c, set) : VKT_OK;
    if (data) snprintf(c.data_train, sizeof c.data_train, "%s", data);
    if (s == VKT_OK)
        s = finetune(t, &c);
    else
        vkt_run_config_free(&c);
    const char *log = tu_capture_end();
    bool ok = s == want && strstr(log, word);
    printf("   %-44s %s: %s", what, vkt_status_name(s), log[0] ? strstr(log, word) ? strstr(log, word) : log : "\n");
    if (!ok)
        vkt_test_fail(t, "%s: got %s, want %s with \"%s\" in: %s", what, vkt_status_name(s), vkt_status_name(want),
                      word, log);
}

static void check_errors(vkt_test *t) {
    printf("-- bad configs and data\n");
    expect(t, "num_generations 1", "lora", "finetune.num_generations=1", NULL, VKT_ERR_ARG, "num_generations");
    expect(t, "prompt + completion over seq_len + 1", "lora", "finetune.max_prompt_length=21", NULL, VKT_ERR_ARG,
           "max_prompt_length");
    expect(t, "completion leaves no room for a prompt", "lora", "finetune.max_completion_length=25", NULL, VKT_ERR_ARG,
           "max_completion_length");
    expect(t, "loss_type sigmoid", "lora", "finetune.loss_type=sigmoid", NULL, VKT_ERR_ARG, "loss_type");
    expect(t, "beta with full fine-tuning", "full", "finetune.beta=0.1", NULL, VKT_ERR_ARG, "finetune.beta");
    expect(t, "completions not whole micro-batches", "lora", "optim.batch_size=3", NULL, VKT_ERR_ARG,
           "prompts_per_step");
    expect(t, "bad reward spec", "lora", "finetune.rewards={\"type\": \"exact\"}", NULL, VKT_ERR_FORMAT,
           "finetune.rewards");
    expect(t, "a reward spec file that is not there", "lora", "finetune.rewards=/nonexistent/rewards.json", NULL,
           VKT_ERR_IO, "finetune.rewards");
    char path[160];
    snprintf(path, sizeof path, "%s/noanswer.jsonl", g_dir);
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    fputs("{\"prompt\": \"One\", \"answer\": \"1\"}\n{\"prompt\": \"Two\"}\n{\"prompt\": \"Three\", \"answer\": 3}\n"
          "{\"prompt\": \"Four\", \"answer\": 4}\n",
          f);
    fclose(f);
    expect(t, "a record without an answer (exact_match)", "lora", "finetune.rewards=", path, VKT_ERR_FORMAT,
           "noanswer.jsonl:2");
    snprintf(path, sizeof path, "%s/badprompt.jsonl", g_dir);
    f = fopen(path, "w");
    VKT_ASSERT(f);
    fputs("{\"prompt\": \"One\"}\n{\"prompt\": 7}\n", f);
    fclose(f);
    expect(t, "a prompt that is a number", "lora", NULL, path, VKT_ERR_FORMAT, "badprompt.jsonl:2");

    vkt_run_config c;
    config(&c, "train", "");
    tu_capture_begin();
    vkt_train_opts o = {.peak_gflops = 1, .no_sample = true};
    vkt_status s = vkt_run_config_validate(&c);
    if (s == VKT_OK) s = vkt_train(t->dev, &c, &o);
    vkt_run_config_free(&c);
    const char *log = tu_capture_end();
    printf("   %-44s %s\n", "vktrain train with objective grpo", vkt_status_name(s));
    if (s != VKT_ERR_ARG || !strstr(log, "vktrain finetune"))
        vkt_test_fail(t, "vktrain train with objective grpo: got %s: %s", vkt_status_name(s), log);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "grpo_run");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_grpo_run_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    setenv("VKT_CACHE_DIR", g_dir, 1);
    snprintf(g_prompts, sizeof g_prompts, "%s/prompts.jsonl", g_dir);
    write_prompts(g_prompts);
    check_lora(&t);
    check_chat(&t);
    check_full(&t);
    check_precision(&t);
    check_errors(&t);
    return vkt_test_finish(&t);
}
