/* `vktrain finetune` with finetune.modules_to_save ["lm_head"] on stories260K (tied embeddings, llama2.c format)
 * over a slice of tiny Shakespeare:
 *  - checkpoints hold the head's copy under PEFT's key (base_model.model.lm_head.weight) with its AdamW moments,
 *    and adapter_config.json's modules_to_save; the copy trained away from the tied embedding it started from;
 *  - a run resumed from its step-2 checkpoint repeats the losses bit for bit and ends with byte-identical adapter
 *    and moment files;
 *  - --adapter continues it; an adapter whose modules_to_save differ from the config's is refused;
 *  - `vktrain export --gguf` with the adapter writes the untied head as output.weight, bit for bit the copy;
 *  - method qlora (NF4 base) trains saved copies of the f32 embedding and head;
 *  - optim.precision bf16 and f16 (the copies train with an f32 master and a 16-bit copy, see
 *    test_train_precision for the 200-step curves): the losses follow the f32 run's step by step, the head's copy
 *    moves, and the GGUF export carries it bit for bit as in f32;
 *  - bad sections are errors: a name that matches nothing savable, "score" without the reward objective,
 *    modules_to_save with method full. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune/finetune.h"
#include "harness.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io/gguf_read.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "run_testutil.h"
#include "train/export_gguf.h"

static char g_dir[64], g_corpus[128];

static void config(vkt_run_config *c, const char *out, const char *method) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"tokenizer.type=file",
                          "optim.batch_size=2",
                          "optim.seq_len=32",
                          "optim.steps=4",
                          "optim.lr=0.01",
                          "optim.warmup_steps=1",
                          "eval.interval=0",
                          "eval.steps=2",
                          "log.interval=100",
                          "output.checkpoint_interval=2",
                          "output.keep=3",
                          "sample.tokens=0",
                          "finetune.r=4",
                          "finetune.lora_alpha=8",
                          "finetune.target_modules=[\"q_proj\"]",
                          "finetune.modules_to_save=[\"lm_head\"]"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    ft_test_use_stories260k(c, g_corpus, g_dir, out, method);
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c, const char *resume, const char *adapter) {
    return ft_test_run(t, c, resume, adapter, false);
}

/* Largest |a - b| between the checkpoint's lm_head copy and the base's embedding; -1 when the key is missing. */
static double head_moved(vkt_test *t, const char *ck, const char *file) {
    char path[300];
    snprintf(path, sizeof path, "%s/%s", ck, file);
    vkt_st_file f;
    VKT_TEST_TRY(t, vkt_st_open(path, &f));
    const vkt_st_tensor *x = vkt_st_find(&f, "base_model.model.lm_head.weight");
    vkt_model_config mc;
    VKT_TEST_TRY(t, vkt_import_config(vkt_test_data("models/stories260K/stories260K.bin"), &mc));
    double d = -1;
    if (x && x->numel == mc.vocab_size * mc.n_embd) {
        vkt_model *m;
        VKT_TEST_TRY(t, vkt_model_create(t->dev, &mc, 1, 8, false, &m));
        VKT_TEST_TRY(t, vkt_import_params(vkt_test_data("models/stories260K/stories260K.bin"), m));
        float *base = malloc((size_t)m->table.total * 4), *w = malloc((size_t)x->numel * 4);
        VKT_TEST_TRY(t, vkt_model_download_params(m, base));
        VKT_TEST_TRY(t, vkt_st_read_f32(&f, x, w, x->numel));
        const float *wte = base + vkt_params_get(&m->table, -1, VKT_ROLE_WTE)->offset;
        d = 0;
        for (int64_t k = 0; k < x->numel; k++) d = fabs((double)w[k] - wte[k]) > d ? fabs((double)w[k] - wte[k]) : d;
        free(base), free(w);
        vkt_model_destroy(m);
    }
    vkt_st_close(&f);
    return d;
}

/* The GGUF export of base + adapter carries the trained head as its own output.weight (f32: the copy's bits). */
static void check_export(vkt_test *t, const char *adapter) {
    char out[200], path[300];
    snprintf(out, sizeof out, "%s/merged.gguf", g_dir);
    char tok[300], model[300]; /* vkt_test_data returns one static buffer */
    snprintf(tok, sizeof tok, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    snprintf(model, sizeof model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    vkt_export_opts o = {.adapter = adapter, .tokenizer = tok};
    VKT_TEST_TRY(t, vkt_export_gguf(model, out, &o));
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", adapter);
    vkt_st_file f;
    VKT_TEST_TRY(t, vkt_st_open(path, &f));
    const vkt_st_tensor *x = vkt_st_find(&f, "base_model.model.lm_head.weight");
    float *w = malloc((size_t)x->numel * 4);
    VKT_TEST_TRY(t, vkt_st_read_f32(&f, x, w, x->numel));
    vkt_gguf_file g;
    VKT_TEST_TRY(t, vkt_gguf_open(out, &g));
    bool same = false;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const vkt_gguf_tensor_info *ti = &g.tensors[i];
        if (strcmp(ti->name, "output.weight") != 0) continue;
        same = ti->type == 0 && ti->bytes == (size_t)x->numel * 4 &&
               memcmp(g.map.data + g.data_start + ti->offset, w, ti->bytes) == 0;
    }
    printf("   export --gguf with the adapter: output.weight %s the trained lm_head copy\n", same ? "is" : "is NOT");
    if (!same) vkt_test_fail(t, "the GGUF export lost the saved lm_head");
    vkt_gguf_close(&g);
    vkt_st_close(&f);
    free(w);
}

static void check_run(vkt_test *t) {
    vkt_run_config c;
    config(&c, "mts1", "lora");
    VKT_TEST_TRY(t, finetune(t, &c, NULL, NULL));
    char run1[200], run2[200], ck[220], a1[300], a2[300];
    snprintf(run1, sizeof run1, "%s/mts1", g_dir);
    snprintf(run2, sizeof run2, "%s/mts2", g_dir);
    snprintf(ck, sizeof ck, "%s/step-000004", run1);
    double moved = head_moved(t, ck, "adapter_model.safetensors");
    char path[300];
    snprintf(path, sizeof path, "%s/optimizer_m.safetensors", ck);
    vkt_st_file mf;
    VKT_TEST_TRY(t, vkt_st_open(path, &mf));
    double m_key = vkt_st_find(&mf, "exp_avg.base_model.model.lm_head.weight") ? 0 : -1; /* the copy's moments */
    vkt_st_close(&mf);
    snprintf(path, sizeof path, "%s/adapter_config.json", ck);
    cJSON *o = NULL;
    VKT_TEST_TRY(t, vkt_json_read(path, &o));
    char *list = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "modules_to_save"));
    bool listed = list && !strcmp(list, "[\"lm_head\"]");
    free(list);
    cJSON_Delete(o);
    printf("   step 4: base_model.model.lm_head.weight moved up to %.3g from the tied embedding; moments %s; "
           "adapter_config.json lists lm_head: %s\n",
           moved, m_key >= 0 ? "saved" : "MISSING", listed ? "yes" : "NO");
    if (!(moved > 0) || m_key < 0 || !listed)
        vkt_test_fail(t, "the saved lm_head did not train, or its moments or config entry are missing");

    snprintf(ck, sizeof ck, "%s/step-000002", run1);
    config(&c, "mts2", "lora");
    VKT_TEST_TRY(t, finetune(t, &c, ck, NULL));
    static char l1[4][32], l2[4][32];
    int n1 = vkt_test_read_losses(run1, l1, 4), n2 = vkt_test_read_losses(run2, l2, 4), same = 0;
    for (int s = 2; s < 4; s++) same += strcmp(l1[s], l2[s]) == 0;
    printf("   run: losses %s .. %s; resumed at 2: %d of 2 losses identical\n", l1[0], l1[3], same);
    if (n1 != 4 || n2 != 2 || same != 2) vkt_test_fail(t, "resume diverged (%s vs %s at step 3)", l1[3], l2[3]);
    const char *files[] = {"adapter_model.safetensors", "optimizer_m.safetensors", "optimizer_v.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(a1, sizeof a1, "%s/step-000004/%s", run1, files[i]);
        snprintf(a2, sizeof a2, "%s/step-000004/%s", run2, files[i]);
        bool eq = ft_test_same_file(a1, a2);
        printf("   resumed step 4 %s: %s\n", files[i], eq ? "byte-identical" : "DIFFERS");
        if (!eq) vkt_test_fail(t, "resumed run: %s differs at step 4", files[i]);
    }

    snprintf(ck, sizeof ck, "%s/step-000004", run1);
    config(&c, "mts3", "lora");
    vkt_run_config_set(&c, "optim.steps=1");
    vkt_status s = finetune(t, &c, NULL, ck);
    printf("   --adapter with modules_to_save [\"lm_head\"]: %s\n", vkt_status_name(s));
    if (s != VKT_OK) vkt_test_fail(t, "continuing an adapter with a saved head failed");
    config(&c, "mts4", "lora");
    vkt_run_config_set(&c, "finetune.modules_to_save=null");
    s = finetune(t, &c, NULL, ck);
    printf("   --adapter with a saved head, config without modules_to_save: %s\n", vkt_status_name(s));
    if (s != VKT_ERR_ARG) vkt_test_fail(t, "a modules_to_save mismatch with --adapter gave %s", vkt_status_name(s));
    check_export(t, ck);
}

/* The same run in 16 bits: each step's loss within 5 (bf16) / 10 (f16) unit roundoffs of the loss from the f32
 * run's (test_train_precision's bounds, relative here: these losses are ~6 nats). */
static void precision_case(vkt_test *t, const char *prec, double u, int k) {
    vkt_run_config c;
    char name[32], run[200], run32[200], ck[260], set[64];
    snprintf(name, sizeof name, "mts_%s", prec);
    config(&c, name, "lora");
    snprintf(set, sizeof set, "optim.precision=%s", prec);
    vkt_run_config_set(&c, set);
    VKT_TEST_TRY(t, finetune(t, &c, NULL, NULL));
    snprintf(run, sizeof run, "%s/%s", g_dir, name);
    snprintf(run32, sizeof run32, "%s/mts1", g_dir);
    static char l32[4][32], l16[4][32];
    int n32 = vkt_test_read_losses(run32, l32, 4), n16 = vkt_test_read_losses(run, l16, 4);
    double worst = 0;
    for (int s = 0; s < 4 && n32 == 4 && n16 == 4; s++) {
        double a = atof(l32[s]), e = fabs(atof(l16[s]) - a) / a;
        worst = e > worst ? e : worst;
    }
    snprintf(ck, sizeof ck, "%s/step-000004", run);
    double moved = head_moved(t, ck, "adapter_model.safetensors");
    printf("   %s: losses %s .. %s (f32 %s .. %s), worst step off by %.2g relative (bound %d u = %.2g); lm_head copy "
           "moved up to %.3g\n",
           prec, l16[0], l16[3], l32[0], l32[3], worst, k, k * u, moved);
    if (n16 != 4 || !(worst <= k * u)) vkt_test_fail(t, "%s run with modules_to_save off the f32 run", prec);
    if (!(moved > 0)) vkt_test_fail(t, "%s: the saved lm_head did not train", prec);
    check_export(t, ck);
}

static void expect(vkt_test *t, const char *what, const char *method, const char *set, vkt_status want) {
    vkt_run_config c;
    config(&c, "bad", method);
    vkt_run_config_set(&c, set);
    vkt_status s = vkt_finetune_check(&c);
    if (s == VKT_OK)
        s = finetune(t, &c, NULL, NULL);
    else
        vkt_run_config_free(&c);
    printf("   finetune section (%s): %s\n", what, vkt_status_name(s));
    if (s != want) vkt_test_fail(t, "%s: got %s, expected %s", what, vkt_status_name(s), vkt_status_name(want));
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "lora_save_train");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_lora_save_train_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    setenv("VKT_CACHE_DIR", g_dir, 1);
    snprintf(g_corpus, sizeof g_corpus, "%s/corpus.txt", g_dir);
    vkt_file_map src;
    VKT_TEST_TRY(&t, vkt_file_map_open(vkt_test_data("tinyshakespeare.txt"), &src));
    FILE *f = fopen(g_corpus, "wb");
    fwrite(src.data, 1, src.size < 40000 ? src.size : 40000, f);
    fclose(f);
    vkt_file_map_close(&src);
    check_run(&t);
    precision_case(&t, "bf16", 1.0 / 256, 5);
    precision_case(&t, "f16", 1.0 / 2048, 10);
    expect(&t, "modules_to_save [\"norm\"]", "lora", "finetune.modules_to_save=[\"norm\"]", VKT_ERR_ARG);
    expect(&t, "modules_to_save [\"score\"] with objective sft", "lora", "finetune.modules_to_save=[\"score\"]",
           VKT_ERR_ARG);
    expect(&t, "qlora (NF4 base) with lm_head and embed_tokens saved", "qlora",
           "finetune.modules_to_save=[\"lm_head\",\"embed_tokens\"]", VKT_OK);
    expect(&t, "modules_to_save with method full", "full", "finetune.modules_to_save=[\"lm_head\"]", VKT_ERR_ARG);
    return vkt_test_finish(&t);
}
