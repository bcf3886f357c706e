/* PEFT adapter folders (finetune/lora_peft.h):
 *  - save then load into a fresh model with the same base: logits bit for bit equal, adapter_config.json
 *    and adapter_model.safetensors laid out as PEFT writes them (keys, shapes, fan_in_fan_out for GPT-2);
 *  - a hand-built adapter in PEFT's documented layout (written here, as PeftModel.save_pretrained would:
 *    base_model.model.<module>.lora_A.weight (r, in) / lora_B.weight (out, r), a PEFT 0.13 config with
 *    keys this engine ignores) loads and gives the logits of the reference model with W + (alpha/r) B A
 *    merged on the host in double (bound 1e-5 relative in norm);
 *  - mismatched adapters are errors naming the tensor: a wrong shape, a missing or extra tensor, another
 *    architecture's names, and unsupported configs (another peft_type, a malformed modules_to_save, DoRA). */
#include <cjson/cJSON.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune/lora_peft.h"
#include "harness.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model_testutil.h"
#include "ref/ref_model.h"

static char g_dir[64];

static float *logits_of(vkt_test *t, vkt_model *m) {
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOGITS));
    return vkt_test_download(t, &m->logits);
}

/* A frozen model with seeded weights and a fixed batch. */
static vkt_model *make_model(vkt_test *t, const vkt_model_config *cfg, int64_t B, int64_t T) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, cfg, B, T, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, 42));
    vkt_rng rng;
    vkt_rng_init(&rng, 3);
    for (int64_t i = 0; i < B * T; i++) {
        vkt_model_slot_tokens(m, 0)[i] = (int32_t)vkt_rng_below(&rng, (uint32_t)cfg->vocab_size);
        vkt_model_slot_targets(m, 0)[i] = 0;
    }
    vkt_model_use_slot(m, 0);
    return m;
}

static void check_round_trip(vkt_test *t, const char *name, const vkt_model_config *cfg, vkt_lora_cfg *lc,
                             const char *want_targets, bool fan_in_fan_out) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/%s", g_dir, name);
    vkt_model *m = make_model(t, cfg, 2, 7), *m2 = make_model(t, cfg, 2, 7);
    vkt_lora *l, *l2;
    lc->init = VKT_LORA_INIT_NONE, lc->seed = 11;
    snprintf(lc->base_model, sizeof lc->base_model, "test/%s", name);
    VKT_TEST_TRY(t, vkt_lora_create(m, lc, &l));
    vkt_lora_attach(l);
    float *y1 = logits_of(t, m);
    VKT_TEST_TRY(t, vkt_lora_save_peft(l, dir));
    VKT_TEST_TRY(t, vkt_lora_load_peft(m2, dir, false, &l2));
    vkt_lora_attach(l2);
    float *y2 = logits_of(t, m2);
    size_t n = (size_t)(vkt_tensor_numel(&m->logits));
    bool same = memcmp(y1, y2, n * 4) == 0;
    printf("   %s: saved and loaded adapter (%d modules): logits %s\n", name, l2->n_mods,
           same ? "identical" : "DIFFER");
    if (!same || l2->n_mods != l->n_mods) vkt_test_fail(t, "%s: a reloaded adapter gives other logits", name);

    /* The folder as PEFT reads it. */
    char path[256];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    cJSON *o = NULL;
    VKT_TEST_TRY(t, vkt_json_read(path, &o));
    char *tm = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "target_modules"));
    const char *pt = cJSON_GetStringValue(cJSON_GetObjectItem(o, "peft_type"));
    const char *tt = cJSON_GetStringValue(cJSON_GetObjectItem(o, "task_type"));
    bool fifo = cJSON_IsTrue(cJSON_GetObjectItem(o, "fan_in_fan_out"));
    printf(
        "   %s: adapter_config.json peft_type %s task_type %s r %g lora_alpha %g target_modules %s fan_in_fan_out %d\n",
        name, pt, tt, cJSON_GetNumberValue(cJSON_GetObjectItem(o, "r")),
        cJSON_GetNumberValue(cJSON_GetObjectItem(o, "lora_alpha")), tm, fifo);
    if (!pt || strcmp(pt, "LORA") || !tt || strcmp(tt, "CAUSAL_LM") || strcmp(tm, want_targets) ||
        fifo != fan_in_fan_out || !cJSON_IsNull(cJSON_GetObjectItem(o, "modules_to_save")) ||
        strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "bias")), "none"))
        vkt_test_fail(t, "%s: adapter_config.json is not what PEFT writes", name);
    free(tm);
    cJSON_Delete(o);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    vkt_st_file f;
    VKT_TEST_TRY(t, vkt_st_open(path, &f));
    const vkt_lora_module *md = &l->mods[0];
    char key[160];
    snprintf(key, sizeof key, "base_model.model.%s.lora_A.weight", md->module);
    const vkt_st_tensor *a = vkt_st_find(&f, key);
    snprintf(key, sizeof key, "base_model.model.%s.lora_B.weight", md->module);
    const vkt_st_tensor *b = vkt_st_find(&f, key);
    printf("   %s: %d tensors, e.g. %s %lldx%lld\n", name, f.n_tensors, key, b ? (long long)b->shape[0] : -1,
           b ? (long long)b->shape[1] : -1);
    if (f.n_tensors != 2 * l->n_mods || !a || !b || a->shape[0] != lc->r || a->shape[1] != md->in ||
        b->shape[0] != md->out || b->shape[1] != lc->r || a->dtype != VKT_ST_F32)
        vkt_test_fail(t, "%s: adapter_model.safetensors keys or shapes are not PEFT's", name);
    vkt_st_close(&f);
    free(y1), free(y2);
    vkt_lora_destroy(l), vkt_lora_destroy(l2);
    vkt_model_destroy(m), vkt_model_destroy(m2);
}

/* ---- a hand-built PEFT adapter: q_proj and v_proj of a LLaMA model, r 2, alpha 6 ---- */

static const char *peft_config =
    "{\"alpha_pattern\": {}, \"auto_mapping\": null, \"base_model_name_or_path\": \"hand/llama\", \"bias\": \"none\", "
    "\"eva_config\": null, \"exclude_modules\": null, \"fan_in_fan_out\": false, \"inference_mode\": true, "
    "\"init_lora_weights\": true, \"layer_replication\": null, \"layers_pattern\": null, \"layers_to_transform\": "
    "null, \"loftq_config\": {}, \"lora_alpha\": 6, \"lora_bias\": false, \"lora_dropout\": 0.05, "
    "\"megatron_config\": null, \"megatron_core\": \"megatron.core\", \"modules_to_save\": null, \"peft_type\": "
    "\"LORA\", \"r\": 2, \"rank_pattern\": {}, \"revision\": null, \"target_modules\": [\"v_proj\", \"q_proj\"], "
    "\"task_type\": \"CAUSAL_LM\", \"use_dora\": false, \"use_rslora\": false}";

typedef struct {
    char name[128];
    int64_t rows, cols;
    float *data;
} fx_tensor;

/* Writes the fixture folder: config text and tensors (names, shapes and values as given). */
static void write_fixture(vkt_test *t, const char *dir, const char *config, fx_tensor *ts, int n) {
    mkdir(dir, 0755);
    char path[256];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(config, f);
    fclose(f);
    vkt_st_write_tensor *ws = calloc((size_t)n, sizeof *ws);
    for (int i = 0; i < n; i++)
        ws[i] = (vkt_st_write_tensor){.name = ts[i].name,
                                      .dtype = VKT_ST_F32,
                                      .ndim = 2,
                                      .shape = {ts[i].rows, ts[i].cols},
                                      .data = ts[i].data,
                                      .from_f32 = true};
    const char *meta[] = {"format", "pt"};
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    VKT_TEST_TRY(t, vkt_st_write(path, ws, n, meta, 1));
    free(ws);
}

static void expect_load_error(vkt_test *t, vkt_model *m, const char *dir, vkt_status want, const char *what) {
    vkt_lora *l = NULL;
    vkt_status s = vkt_lora_load_peft(m, dir, false, &l);
    printf("   mismatched adapter (%s): %s\n", what, vkt_status_name(s));
    if (s != want) vkt_test_fail(t, "%s: got %s, expected %s", what, vkt_status_name(s), vkt_status_name(want));
    vkt_lora_destroy(l);
}

static void check_fixture(vkt_test *t, const vkt_model_config *cfg) {
    int64_t B = 2, T = 9, r = 2, L = cfg->n_layer, C = cfg->n_embd;
    int64_t q = cfg->n_head * cfg->head_dim, kv = cfg->n_kv_head * cfg->head_dim;
    vkt_model *m = make_model(t, cfg, B, T);
    int nt = (int)(4 * L);
    fx_tensor *ts = calloc((size_t)nt + 1, sizeof *ts);
    vkt_rng rng;
    vkt_rng_init(&rng, 99);
    for (int64_t l = 0, k = 0; l < L; l++)
        for (int p = 0; p < 2; p++)
            for (int ab = 0; ab < 2; ab++, k++) {
                fx_tensor *x = &ts[k];
                snprintf(x->name, sizeof x->name, "base_model.model.model.layers.%lld.self_attn.%s.lora_%c.weight",
                         (long long)l, p ? "v_proj" : "q_proj", ab ? 'B' : 'A');
                x->rows = ab ? (p ? kv : q) : r, x->cols = ab ? r : C;
                x->data = malloc((size_t)(x->rows * x->cols) * 4);
                for (int64_t e = 0; e < x->rows * x->cols; e++) x->data[e] = (float)(0.2 * vkt_rng_normal(&rng));
            }
    char dir[128];
    snprintf(dir, sizeof dir, "%s/fixture", g_dir);
    write_fixture(t, dir, peft_config, ts, nt);

    /* Expected: the reference model with W + (6 / 2) B A, merged in double. */
    float *base = malloc((size_t)m->table.total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, base));
    double *merged = vkt_test_to_double(base, (size_t)m->table.total);
    for (int64_t l = 0, k = 0; l < L; l++)
        for (int p = 0; p < 2; p++, k += 2) {
            const fx_tensor *a = &ts[k], *b = &ts[k + 1];
            double *w = merged + vkt_params_get(&m->table, (int)l, p ? VKT_ROLE_V_W : VKT_ROLE_Q_W)->offset;
            for (int64_t o = 0; o < b->rows; o++)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t j = 0; j < r; j++) w[o * C + c] += 3.0 * b->data[o * r + j] * a->data[j * C + c];
        }
    int64_t n = B * T * cfg->vocab_size;
    double *ref = malloc((size_t)n * 8);
    vkt_ref_model_loss(cfg, &m->table, merged, vkt_model_slot_tokens(m, 0), vkt_model_slot_targets(m, 0), B, T, false,
                       ref, NULL);
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_load_peft(m, dir, false, &l));
    vkt_lora_attach(l);
    float *y = logits_of(t, m);
    double e = vkt_rel_norm_err(y, ref, n);
    printf("   hand-built PEFT adapter (q_proj, v_proj, r 2, alpha 6, dropout 0.05 ignored at inference): %d modules, "
           "scale %g, logits vs host-merged reference %.2e (bound 1e-5)\n",
           l->n_mods, l->scale, e);
    if (!(e <= 1e-5) || l->n_mods != 2 * L || l->scale != 3.0f)
        vkt_test_fail(t, "hand-built PEFT adapter: logits off by %.3e (%d modules, scale %g)", e, l->n_mods, l->scale);
    vkt_lora_destroy(l);
    vkt_lora *lt = NULL;
    vkt_status st = vkt_lora_load_peft(m, dir, true, &lt);
    printf("   the same adapter to continue training: %s, lora_dropout %g\n", vkt_status_name(st),
           lt ? lt->cfg.lora_dropout : -1.0);
    if (st != VKT_OK || lt->cfg.lora_dropout != 0.05)
        vkt_test_fail(t, "training keeps the adapter's lora_dropout 0.05");
    vkt_lora_destroy(lt);

    /* Mismatches, one at a time. */
    snprintf(dir, sizeof dir, "%s/bad_shape", g_dir);
    float *shape_ok = ts[2].data; /* layer 0 v_proj lora_A: (r, C) -> (r + 1, C), with data to match */
    ts[2].data = calloc((size_t)((ts[2].rows + 1) * ts[2].cols), sizeof *ts[2].data);
    ts[2].rows += 1;
    write_fixture(t, dir, peft_config, ts, nt);
    expect_load_error(t, m, dir, VKT_ERR_FORMAT, "lora_A with r + 1 rows");
    ts[2].rows -= 1;
    free(ts[2].data);
    ts[2].data = shape_ok;
    snprintf(dir, sizeof dir, "%s/missing", g_dir);
    write_fixture(t, dir, peft_config, ts, nt - 1);
    expect_load_error(t, m, dir, VKT_ERR_FORMAT, "a lora_B missing");
    snprintf(dir, sizeof dir, "%s/extra", g_dir);
    ts[nt] = ts[0];
    snprintf(ts[nt].name, sizeof ts[nt].name, "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight");
    write_fixture(t, dir, peft_config, ts, nt + 1);
    expect_load_error(t, m, dir, VKT_ERR_FORMAT, "an untargeted k_proj tensor");
    snprintf(dir, sizeof dir, "%s/gpt2names", g_dir);
    char *cfg2 = strdup(peft_config), *at = strstr(cfg2, "[\"v_proj\", \"q_proj\"]");
    memcpy(at, "[\"c_attn\"]          ", 20);
    write_fixture(t, dir, cfg2, ts, nt);
    expect_load_error(t, m, dir, VKT_ERR_ARG, "GPT-2 target c_attn on a LLaMA model");
    free(cfg2);
    const char *variants[][2] = {{"\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\" "},
                                 {"\"modules_to_save\": null", "\"modules_to_save\": [0] "},
                                 {"\"use_dora\": false", "\"use_dora\": true "}};
    const vkt_status want[] = {VKT_ERR_UNSUPPORTED, VKT_ERR_FORMAT, VKT_ERR_UNSUPPORTED}; /* [0]: not names */
    for (int v = 0; v < 3; v++) {
        char *c2 = strdup(peft_config), *p = strstr(c2, variants[v][0]);
        memcpy(p, variants[v][1], strlen(variants[v][1]));
        snprintf(dir, sizeof dir, "%s/unsupported%d", g_dir, v);
        write_fixture(t, dir, c2, ts, nt);
        expect_load_error(t, m, dir, want[v], variants[v][1]);
        free(c2);
    }
    for (int i = 0; i < nt; i++) free(ts[i].data);
    free(ts), free(base), free(merged), free(ref), free(y);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "lora_peft");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_lora_peft_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    vkt_model_config gpt2 = vkt_test_tiny_gpt2();
    vkt_lora_cfg c = vkt_lora_cfg_default();
    c.r = 4, c.lora_alpha = 16;
    vkt_lora_cfg_add_target(&c, "c_attn");
    vkt_lora_cfg_add_target(&c, "mlp.c_proj");
    check_round_trip(&t, "gpt2", &gpt2, &c, "[\"c_attn\",\"mlp.c_proj\"]", true);

    vkt_model_config llama = vkt_test_tiny_llama();
    c = vkt_lora_cfg_default();
    c.r = 3, c.lora_alpha = 7, c.use_rslora = true, c.all_linear = true;
    check_round_trip(&t, "llama", &llama, &c,
                     "[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\",\"gate_proj\",\"up_proj\",\"down_proj\"]", false);
    check_fixture(&t, &llama);
    return vkt_test_finish(&t);
}
