/* `vktrain finetune` runs end to end on stories260K (data/models, llama2.c format) over a slice of tiny
 * Shakespeare:
 *  - LoRA (lora_dropout 0.1): a run resumed from its step-3 checkpoint repeats the uninterrupted run's losses bit for
 * bit and ends with byte-identical adapter and moment files; checkpoints hold the PEFT adapter, not the base;
 *  - --adapter continues training a saved adapter;
 *  - full fine-tuning with freeze_embeddings and freeze_layers 1 leaves those weights bit for bit and
 *    trains the rest;
 *  - method qlora (an NF4 base, the memory plan printed first) runs to the end;
 *  - bad finetune sections are errors before anything runs (base_format, r = 0, dropout, unknown target). */
#include <string.h>
#include <sys/stat.h>

#include "finetune/finetune.h"
#include "harness.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "run_testutil.h"

static char g_dir[64], g_corpus[128];

static void config(vkt_run_config *c, const char *out, const char *method) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"tokenizer.type=file",   "optim.batch_size=2",
                          "optim.seq_len=32",      "optim.steps=6",
                          "optim.lr=0.01",         "optim.warmup_steps=1",
                          "eval.interval=0",       "eval.steps=2",
                          "log.interval=100",      "output.checkpoint_interval=3",
                          "output.keep=3",         "sample.tokens=0",
                          "finetune.r=4",          "finetune.lora_dropout=0.1",
                          "finetune.lora_alpha=8", "finetune.target_modules=all-linear"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    ft_test_use_stories260k(c, g_corpus, g_dir, out, method);
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c, const char *resume, const char *adapter) {
    return ft_test_run(t, c, resume, adapter, false);
}

static void check_lora_resume(vkt_test *t) {
    vkt_run_config c;
    config(&c, "lora1", "lora");
    VKT_TEST_TRY(t, finetune(t, &c, NULL, NULL));
    char run1[200], run2[200], ck[220], a1[300], a2[300];
    snprintf(run1, sizeof run1, "%s/lora1", g_dir);
    snprintf(run2, sizeof run2, "%s/lora2", g_dir);
    snprintf(ck, sizeof ck, "%s/step-000003", run1);
    bool peft = vkt_test_file_exists(ck, "adapter_config.json") &&
                vkt_test_file_exists(ck, "adapter_model.safetensors") &&
                vkt_test_file_exists(ck, "optimizer_m.safetensors") && vkt_test_file_exists(ck, "trainer_state.json") &&
                !vkt_test_file_exists(ck, "model.safetensors") && !vkt_test_file_exists(ck, "config.json");
    printf("   LoRA checkpoint %s: %s\n", ck,
           peft ? "PEFT adapter + moments + trainer state, no base weights" : "WRONG");
    if (!peft) vkt_test_fail(t, "a LoRA checkpoint does not hold exactly the adapter, its moments and the state");
    config(&c, "lora2", "lora");
    VKT_TEST_TRY(t, finetune(t, &c, ck, NULL));
    static char l1[6][32], l2[6][32];
    int n1 = vkt_test_read_losses(run1, l1, 6), n2 = vkt_test_read_losses(run2, l2, 6), same = 0;
    for (int s = 3; s < 6; s++) same += strcmp(l1[s], l2[s]) == 0;
    printf("   LoRA run: losses %s .. %s; resumed at 3: %d of 3 losses identical\n", l1[0], l1[5], same);
    if (n1 != 6 || n2 != 3 || same != 3) vkt_test_fail(t, "LoRA resume diverged (%s vs %s at step 5)", l1[5], l2[5]);
    const char *files[] = {"adapter_model.safetensors", "optimizer_m.safetensors", "optimizer_v.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(a1, sizeof a1, "%s/step-000006/%s", run1, files[i]);
        snprintf(a2, sizeof a2, "%s/step-000006/%s", run2, files[i]);
        bool eq = ft_test_same_file(a1, a2);
        printf("   resumed step 6 %s: %s\n", files[i], eq ? "byte-identical" : "DIFFERS");
        if (!eq) vkt_test_fail(t, "resumed LoRA run: %s differs at step 6", files[i]);
    }

    /* Continue training the final adapter. */
    snprintf(ck, sizeof ck, "%s/step-000006", run1);
    config(&c, "lora3", "lora");
    vkt_run_config_set(&c, "optim.steps=2");
    vkt_status s = finetune(t, &c, NULL, ck);
    static char l3[2][32];
    vkt_test_read_losses(c.out_dir, l3, 2);
    printf("   --adapter %s: %s, first loss %s (the base alone: %s)\n", ck, vkt_status_name(s), l3[0], l1[0]);
    if (s != VKT_OK || !(atof(l3[0]) < atof(l1[0])))
        vkt_test_fail(t, "continuing from --adapter failed or lost the fit");
}

static void check_full_freeze(vkt_test *t) {
    vkt_run_config c;
    config(&c, "full", "full");
    vkt_run_config_set(&c, "finetune.freeze_embeddings=true");
    vkt_run_config_set(&c, "finetune.freeze_layers=1");
    vkt_run_config_set(&c, "optim.steps=3");
    VKT_TEST_TRY(t, finetune(t, &c, NULL, NULL));
    vkt_model_config mc;
    VKT_TEST_TRY(t, vkt_import_config(vkt_test_data("models/stories260K/stories260K.bin"), &mc));
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, &mc, 1, 8, false, &m));
    VKT_TEST_TRY(t, vkt_import_params(vkt_test_data("models/stories260K/stories260K.bin"), m));
    float *base = malloc((size_t)m->table.total * 4), *after = calloc((size_t)m->table.total, 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, base));
    char ck[200];
    snprintf(ck, sizeof ck, "%s/full/step-000003", g_dir);
    VKT_TEST_TRY(t, vkt_checkpoint_read_hf_flat(ck, &m->table, after));
    int kept = 0, moved = 0, bad = 0;
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        bool frozen = e->role == VKT_ROLE_WTE || e->layer == 0;
        bool same = memcmp(base + e->offset, after + e->offset, (size_t)e->numel * 4) == 0;
        kept += frozen && same, moved += !frozen && !same;
        if (frozen != same) {
            bad++;
            vkt_test_fail(t, "full fine-tuning with freezing: %s %s", e->name, frozen ? "changed" : "did not change");
        }
    }
    printf("   full fine-tuning, freeze_embeddings + freeze_layers 1: %d frozen tensors bit-identical, %d trained "
           "tensors changed, %d wrong\n",
           kept, moved, bad);
    free(base), free(after);
    vkt_model_destroy(m);
}

static void expect(vkt_test *t, const char *what, const char *set, vkt_status want) {
    vkt_run_config c;
    config(&c, "bad", "lora");
    vkt_run_config_set(&c, set);
    vkt_status s = vkt_finetune_check(&c);
    if (s == VKT_OK)
        s = finetune(t, &c, NULL, NULL);
    else
        vkt_run_config_free(&c);
    printf("   bad finetune section (%s): %s\n", what, vkt_status_name(s));
    if (s != want) vkt_test_fail(t, "%s: got %s, expected %s", what, vkt_status_name(s), vkt_status_name(want));
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "lora_train");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_lora_train_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    setenv("VKT_CACHE_DIR", g_dir, 1);
    /* The first 40 KB of tiny Shakespeare: enough windows for every step, quick to tokenize. */
    snprintf(g_corpus, sizeof g_corpus, "%s/corpus.txt", g_dir);
    vkt_file_map src;
    VKT_TEST_TRY(&t, vkt_file_map_open(vkt_test_data("tinyshakespeare.txt"), &src));
    FILE *f = fopen(g_corpus, "wb");
    fwrite(src.data, 1, src.size < 40000 ? src.size : 40000, f);
    fclose(f);
    vkt_file_map_close(&src);

    check_lora_resume(&t);
    check_full_freeze(&t);
    expect(&t, "method qlora runs", "finetune.method=qlora", VKT_OK);
    expect(&t, "base_format q4", "finetune.base_format=q4", VKT_ERR_ARG);
    expect(&t, "r = 0", "finetune.r=0", VKT_ERR_ARG);
    expect(&t, "lora_dropout 1", "finetune.lora_dropout=1", VKT_ERR_ARG);
    expect(&t, "target q_prj", "finetune.target_modules=[\"q_prj\"]", VKT_ERR_ARG);
    expect(&t, "method sgd", "finetune.method=sgd", VKT_ERR_ARG);
    return vkt_test_finish(&t);
}
