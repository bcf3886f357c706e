/* `vktrain finetune` on chat records end to end (stories260K, its 512-token tokenizer, the compact
 * configs/templates/simple.jinja layout), through the SFT data path wired into the trainer:
 *  - packing changes no loss: the validation loss before any step (every validation example once,
 *    token-weighted) is the same packed and one example per row, to 1e-5 relative (f32 sums in another
 *    order), while packing needs fewer rows; a wrong seg_start would mix examples and move it by far more;
 *  - a LoRA run lowers the validation loss on the answer tokens and writes the evaluation generations
 *    (generations/step-N.jsonl: one JSON line per held-out prompt with record, prompt, reference, generated);
 *  - resuming from a mid-run checkpoint repeats the uninterrupted run's losses bit for bit (the packer's
 *    position is in the checkpoint);
 *  - --overwrite removes the previous run's generations folder with its checkpoints;
 *  - the data keys are checked: a bad data.loss_on names the key and the choices. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "finetune/finetune.h"
#include "harness.h"
#include "io_testutil.h"
#include "run_testutil.h"

static char g_dir[64], g_data[128], g_template[512];

static void write_records(const char *path) {
    static const char *things[] = {"sky", "grass", "sun", "snow", "sea", "night", "rose", "coal"};
    static const char *colors[] = {"blue", "green", "yellow", "white", "blue", "black", "red", "black"};
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    for (int i = 0; i < 72; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"What color is the %s?\"},{\"role\":\"assistant\","
                "\"content\":\"The %s is %s.\"}]}\n",
                things[i % 8], things[i % 8], colors[i % 8]);
    fclose(f);
}

static void config(vkt_run_config *c, const char *out) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"tokenizer.type=file",    "optim.batch_size=4",    "optim.seq_len=160",
                          "optim.steps=8",          "optim.lr=0.01",         "optim.warmup_steps=1",
                          "eval.interval=4",        "eval.generations=2",    "eval.gen_tokens=12",
                          "data.val_fraction=0.15", "log.interval=100",      "output.checkpoint_interval=4",
                          "output.keep=3",          "sample.tokens=0",       "finetune.method=lora",
                          "finetune.r=4",           "finetune.lora_alpha=8", "finetune.target_modules=all-linear"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    ft_test_use_stories260k(c, g_data, g_dir, out, NULL);
    snprintf(c->chat_template, sizeof c->chat_template, "%s", g_template);
}

static vkt_status finetune_opts(vkt_test *t, vkt_run_config *c, const char *resume, bool overwrite) {
    return ft_test_run(t, c, resume, NULL, overwrite);
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c, const char *resume) {
    return finetune_opts(t, c, resume, false);
}

/* Validation losses by step from a run's metrics.jsonl (NAN where none). */
static void val_losses(const char *run, double *val, int max) {
    char path[300], line[512];
    for (int i = 0; i < max; i++) val[i] = NAN;
    snprintf(path, sizeof path, "%s/%s/metrics.jsonl", g_dir, run);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        long step;
        double loss;
        if (sscanf(line, "{\"step\":%ld,\"kind\":\"val\",\"loss\":%lf", &step, &loss) == 2 && step >= 0 && step < max)
            val[step] = loss;
    }
    if (f) fclose(f);
}

/* Lines of a generations file, each checked to hold the four keys. */
static int generation_lines(vkt_test *t, const char *run, int step) {
    char path[300], line[8192];
    snprintf(path, sizeof path, "%s/%s/generations/step-%06d.jsonl", g_dir, run, step);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        bool ok =
            j && cJSON_IsString(cJSON_GetObjectItem(j, "record")) && cJSON_IsArray(cJSON_GetObjectItem(j, "prompt")) &&
            cJSON_IsString(cJSON_GetObjectItem(j, "reference")) && cJSON_IsString(cJSON_GetObjectItem(j, "generated"));
        if (!ok) vkt_test_fail(t, "%s: a line lacks record / prompt / reference / generated: %s", path, line);
        cJSON_Delete(j);
        n++;
    }
    if (f) fclose(f);
    return n;
}

static void check_packing_invariance(vkt_test *t) {
    double packed[9], padded[9];
    vkt_run_config c;
    config(&c, "packed");
    vkt_run_config_set(&c, "optim.steps=1");
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    config(&c, "padded");
    vkt_run_config_set(&c, "optim.steps=1");
    vkt_run_config_set(&c, "data.packing=false");
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    val_losses("packed", packed, 9);
    val_losses("padded", padded, 9);
    double rel = fabs(packed[0] - padded[0]) / fabs(padded[0]);
    printf("   validation loss before training: packed %.7f, one example per row %.7f (rel. diff %.1e)\n", packed[0],
           padded[0], rel);
    if (!(rel < 1e-5)) vkt_test_fail(t, "packing changed the validation loss: %.7f vs %.7f", packed[0], padded[0]);
}

static void check_run_and_resume(vkt_test *t) {
    vkt_run_config c;
    config(&c, "sft1");
    VKT_TEST_TRY(t, finetune(t, &c, NULL));
    double val[9];
    val_losses("sft1", val, 9);
    printf("   LoRA SFT: validation loss on answer tokens %.4f -> %.4f -> %.4f (steps 0, 4, 8)\n", val[0], val[4],
           val[8]);
    if (!(val[8] < val[0] - 0.1))
        vkt_test_fail(t, "SFT did not lower the validation loss (%.4f -> %.4f)", val[0], val[8]);
    int g0 = generation_lines(t, "sft1", 0), g8 = generation_lines(t, "sft1", 8);
    printf("   evaluation generations: %d lines at step 0, %d at step 8\n", g0, g8);
    if (g0 != 2 || g8 != 2) vkt_test_fail(t, "expected 2 generations per evaluation, got %d and %d", g0, g8);

    char ck[200], run1[160], run2[160];
    snprintf(run1, sizeof run1, "%s/sft1", g_dir);
    snprintf(run2, sizeof run2, "%s/sft2", g_dir);
    snprintf(ck, sizeof ck, "%s/step-000004", run1);
    config(&c, "sft2");
    VKT_TEST_TRY(t, finetune(t, &c, ck));
    static char l1[8][32], l2[8][32];
    int n1 = vkt_test_read_losses(run1, l1, 8), n2 = vkt_test_read_losses(run2, l2, 8), same = 0;
    for (int s = 4; s < 8; s++) same += strcmp(l1[s], l2[s]) == 0;
    printf("   resumed at step 4: %d of 4 losses identical\n", same);
    if (n1 != 8 || n2 != 4 || same != 4) vkt_test_fail(t, "SFT resume diverged (%s vs %s at step 8)", l1[7], l2[7]);

    /* --overwrite removes the old run's generations with its checkpoints (none are written this time). */
    config(&c, "sft1");
    vkt_run_config_set(&c, "optim.steps=1");
    vkt_run_config_set(&c, "eval.generations=0");
    VKT_TEST_TRY(t, finetune_opts(t, &c, NULL, true));
    bool gone = !vkt_test_file_exists(run1, "generations") && !vkt_test_file_exists(run1, "step-000004");
    printf("   --overwrite: the previous run's generations and checkpoints %s\n", gone ? "are removed" : "REMAIN");
    if (!gone) vkt_test_fail(t, "--overwrite left the previous run's generations or checkpoints");
}

static void check_bad_keys(vkt_test *t) {
    vkt_run_config c;
    config(&c, "bad");
    vkt_run_config_set(&c, "data.loss_on=answers");
    tu_capture_begin();
    vkt_status s = finetune(t, &c, NULL);
    const char *log = tu_capture_end();
    tu_expect_fail("data.loss_on answers", s, VKT_ERR_FORMAT, log, "data.loss_on", "assistant", NULL);
    if (g_failures) vkt_test_fail(t, "bad data keys");
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "sft_train");
    snprintf(g_dir, sizeof g_dir, "%s", tu_mkdir());
    snprintf(g_data, sizeof g_data, "%s/colors.jsonl", g_dir);
    snprintf(g_template, sizeof g_template, "%s/../configs/templates/simple.jinja", VKT_TEST_DATA);
    write_records(g_data);
    check_packing_invariance(&t);
    check_run_and_resume(&t);
    check_bad_keys(&t);
    tu_rmdir(g_dir);
    return vkt_test_finish(&t);
}
