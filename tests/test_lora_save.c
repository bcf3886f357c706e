/* LoRA modules_to_save (finetune/lora_save.c): the embeddings and the LM head trained in full as PEFT's
 * ModulesToSaveWrapper copies, on tiny random GPT-2 (tied), LLaMA (untied) and stories260K-like LLaMA (tied)
 * models:
 *  - the saved copies' gradients against the double whole-model reference of the untied model (a tied model's
 *    saved head or embedding is a separate copy: PEFT unties it), and the frozen base bit for bit after the
 *    backward;
 *  - the PEFT folder: exactly PEFT's keys (base_model.model.<module>.weight beside the lora pairs) and
 *    adapter_config.json's modules_to_save; save -> load gives identical logits;
 *  - the host merge (vktrain merge / sample / export) computes the adapter model's logits (1e-5), untying a
 *    tied model into lm_head.weight + tie_word_embeddings false;
 *  - a hand-written adapter in PEFT's layout (peft/utils/save_and_load.py get_peft_model_state_dict drops
 *    ".modules_to_save.default" from ModulesToSaveWrapper keys) loads and matches the host reference;
 *  - the memory plan counts the copies; bad input: a name that matches no savable module, a saved tensor of the
 *    wrong shape, a listed module without its tensor. */
#include <cjson/cJSON.h>
#include <string.h>
#include <sys/stat.h>

#include "finetune/lora_peft.h"
#include "harness.h"
#include "io/host_model.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "model_testutil.h"
#include "ref/ref_model.h"
#include "train/merge.h"

static char g_dir[64];

static vkt_model *make_model(vkt_test *t, const vkt_model_config *cfg, int64_t B, int64_t T) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, cfg, B, T, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, 42));
    vkt_rng rng;
    vkt_rng_init(&rng, 5);
    vkt_test_random_batch(&rng, B * T, cfg->vocab_size, vkt_model_slot_tokens(m, 0), vkt_model_slot_targets(m, 0));
    vkt_model_use_slot(m, 0);
    return m;
}

static float *params_of(vkt_test *t, const vkt_model *m) {
    float *p = malloc((size_t)m->table.total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, p));
    return p;
}

/* The untied form of m's config with its parameters in double (a tied head copied from the embedding). */
static double *untied_params(const vkt_model *m, const float *base, vkt_model_config *cfg, vkt_param_table *tab) {
    *cfg = m->cfg;
    cfg->tie_word_embeddings = false;
    if (vkt_params_build(cfg, 1, tab) != VKT_OK) return NULL;
    double *p = calloc((size_t)tab->total, sizeof *p);
    for (int i = 0; i < tab->n; i++) {
        const vkt_param *e = &tab->p[i];
        const vkt_param *src = e->role == VKT_ROLE_LM_HEAD && m->cfg.tie_word_embeddings
                                   ? vkt_params_get(&m->table, -1, VKT_ROLE_WTE)
                                   : vkt_params_find(&m->table, e->name);
        for (int64_t k = 0; k < e->numel; k++) p[e->offset + k] = base[src->offset + k];
    }
    return p;
}

/* Saved copies' gradients against the reference; the base stays bit for bit. */
static void check_grads(vkt_test *t, const char *name, const vkt_model_config *cfg, const char *target,
                        const char *const *save, int n_save, int want_saved) {
    int64_t B = 2, T = 7;
    vkt_model *m = make_model(t, cfg, B, T);
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 2, lc.seed = 3;
    vkt_lora_cfg_add_target(&lc, target);
    for (int k = 0; k < n_save; k++) vkt_lora_cfg_add_save(&lc, save[k]);
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    float *base = params_of(t, m);
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOSS_GRAD));
    float *after = params_of(t, m), *g = vkt_test_download(t, &l->grads);
    bool frozen = memcmp(base, after, (size_t)m->table.total * 4) == 0;

    /* B = 0 at init: the adapted model computes the base, so the reference is the untied base. */
    vkt_model_config uc;
    vkt_param_table ut;
    double *up = untied_params(m, base, &uc, &ut), *ug = calloc((size_t)ut.total, sizeof *ug);
    vkt_ref_model_loss(&uc, &ut, up, vkt_model_slot_tokens(m, 0), vkt_model_slot_targets(m, 0), B, T, false, NULL, ug);
    double worst = 0;
    for (int j = 0; j < l->n_saved; j++) {
        const vkt_param *e = &l->table.p[l->saved_first + j];
        const vkt_param *r = vkt_params_get(&ut, -1, e->role);
        double err = vkt_rel_norm_err(g + e->offset, ug + r->offset, e->numel);
        printf("   %s: saved %s gradient vs reference %.2e (bound 1e-4)\n", name, e->name, err);
        worst = err > worst || err != err ? err : worst;
    }
    printf("   %s: %d saved copies, base weights after the backward %s\n", name, l->n_saved,
           frozen ? "bit-identical" : "CHANGED");
    if (!(worst <= 1e-4) || !frozen || l->n_saved != want_saved)
        vkt_test_fail(t, "%s: saved gradients off by %.3e, base %s, %d copies (want %d)", name, worst,
                      frozen ? "frozen" : "changed", l->n_saved, want_saved);
    free(base), free(after), free(g), free(up), free(ug);
    vkt_params_free(&ut);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

/* Perturbs every adapter parameter (lora B included, saved copies by a few percent) so that save, load and merge
 * have something to carry. */
static void perturb(vkt_test *t, vkt_lora *l) {
    float *p = malloc((size_t)l->table.total * 4);
    VKT_TEST_TRY(t, vkt_lora_download(l, p));
    vkt_rng rng;
    vkt_rng_init(&rng, 77);
    for (int i = 0; i < l->table.n; i++) {
        const vkt_param *e = &l->table.p[i];
        for (int64_t k = 0; k < e->numel; k++) p[e->offset + k] += (float)(0.05 * vkt_rng_normal(&rng));
    }
    VKT_TEST_TRY(t, vkt_lora_upload(l, p));
    free(p);
}

static float *logits_of(vkt_test *t, vkt_model *m) {
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOGITS));
    return vkt_test_download(t, &m->logits);
}

/* The base as a Hugging Face folder, for the host merge. */
static void save_base(vkt_test *t, const vkt_model *m, const char *dir) {
    vkt_host_model hm = {.cfg = m->cfg, .dtype = VKT_ST_F32};
    VKT_TEST_TRY(t, vkt_params_build(&hm.cfg, 1, &hm.table));
    float *dev = params_of(t, m);
    hm.flat = calloc((size_t)hm.table.total, sizeof *hm.flat);
    for (int i = 0; i < hm.table.n; i++) {
        const vkt_param *e = &hm.table.p[i], *d = vkt_params_find(&m->table, e->name);
        memcpy(hm.flat + e->offset, dev + d->offset, (size_t)e->numel * 4);
    }
    VKT_TEST_TRY(t, vkt_host_model_save_hf(&hm, dir, VKT_ST_F32));
    free(dev);
    vkt_host_model_free(&hm);
}

/* The folder's tensor names, sorted, comma-joined. */
static void keys_of(vkt_test *t, const char *dir, char *out, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    vkt_st_file f;
    VKT_TEST_TRY(t, vkt_st_open(path, &f));
    out[0] = 0;
    for (int i = 0; i < f.n_tensors; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", f.tensors[i].name);
    vkt_st_close(&f);
}

static void check_folder(vkt_test *t, const char *name, const vkt_model_config *cfg, const char *target,
                         const char *const *save, int n_save, const char *want_keys, const char *want_list) {
    int64_t B = 2, T = 6;
    char dir[160], base_dir[160];
    snprintf(dir, sizeof dir, "%s/%s", g_dir, name);
    snprintf(base_dir, sizeof base_dir, "%s/%s_base", g_dir, name);
    vkt_model *m = make_model(t, cfg, B, T), *m2 = make_model(t, cfg, B, T);
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 2, lc.seed = 9;
    vkt_lora_cfg_add_target(&lc, target);
    for (int k = 0; k < n_save; k++) vkt_lora_cfg_add_save(&lc, save[k]);
    vkt_lora *l, *l2;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    perturb(t, l);
    vkt_lora_attach(l);
    float *y1 = logits_of(t, m);
    VKT_TEST_TRY(t, vkt_lora_save_peft(l, dir));
    VKT_TEST_TRY(t, vkt_lora_load_peft(m2, dir, false, &l2));
    vkt_lora_attach(l2);
    float *y2 = logits_of(t, m2);
    int64_t n = vkt_tensor_numel(&m->logits);
    bool same = memcmp(y1, y2, (size_t)n * 4) == 0;

    char keys[2048], path[256];
    keys_of(t, dir, keys, sizeof keys);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    cJSON *o = NULL;
    VKT_TEST_TRY(t, vkt_json_read(path, &o));
    char *list = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "modules_to_save"));
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(o, "task_type"));
    printf("   %s: keys %s\n   %s: modules_to_save %s, task_type %s; reloaded logits %s\n", name, keys, name, list,
           task, same ? "identical" : "DIFFER");
    if (!same) vkt_test_fail(t, "%s: the reloaded adapter gives other logits", name);
    if (strcmp(keys, want_keys) != 0) vkt_test_fail(t, "%s: adapter keys are not PEFT's (want %s)", name, want_keys);
    if (strcmp(list, want_list) != 0 || !task || strcmp(task, "CAUSAL_LM") != 0)
        vkt_test_fail(t, "%s: adapter_config.json modules_to_save %s, want %s", name, list, want_list);
    free(list);
    cJSON_Delete(o);

    /* The host merge: a Hugging Face folder of the base plus the adapter folder as `vktrain merge` reads them. */
    save_base(t, m, base_dir);
    vkt_model *mm = NULL;
    VKT_TEST_TRY(t, vkt_merge_load_model(t->dev, base_dir, dir, B, T, &mm));
    memcpy(vkt_model_slot_tokens(mm, 0), vkt_model_slot_tokens(m, 0), (size_t)(B * T) * 4);
    vkt_model_use_slot(mm, 0);
    float *y3 = logits_of(t, mm);
    double *r = vkt_test_to_double(y1, (size_t)n);
    double e = vkt_rel_norm_err(y3, r, n);
    bool untied = cfg->tie_word_embeddings && !mm->cfg.tie_word_embeddings;
    printf("   %s: merged model logits vs adapter model %.2e (bound 1e-5)%s\n", name, e,
           untied ? "; merged model untied (lm_head.weight, tie_word_embeddings false)" : "");
    if (!(e <= 1e-5)) vkt_test_fail(t, "%s: merged logits off by %.3e", name, e);
    if (vkt_lora_unties(l) != untied) vkt_test_fail(t, "%s: the merge %s the model", name, untied ? "untied" : "kept");
    /* A tied device model cannot take an untying adapter in place: refused with the way out. */
    if (vkt_lora_unties(l) && vkt_lora_merge_into_model(l) != VKT_ERR_UNSUPPORTED)
        vkt_test_fail(t, "%s: merging an untying adapter into the tied device model was not refused", name);
    free(y1), free(y2), free(y3), free(r);
    vkt_model_destroy(mm);
    vkt_lora_destroy(l), vkt_lora_destroy(l2);
    vkt_model_destroy(m), vkt_model_destroy(m2);
}

/* As PEFT writes a LoraConfig(target_modules=["q_proj"], modules_to_save=["lm_head", "embed_tokens"], r=2,
 * lora_alpha=4) adapter (peft/tuners/lora/config.py fields; peft/utils/save_and_load.py keys). */
static const char *fixture_config =
    "{\"alpha_pattern\": {}, \"auto_mapping\": null, \"base_model_name_or_path\": \"tiny\", \"bias\": \"none\", "
    "\"ensure_weight_tying\": false, \"fan_in_fan_out\": false, \"inference_mode\": true, \"init_lora_weights\": "
    "true, \"layers_pattern\": null, \"layers_to_transform\": null, \"lora_alpha\": 4, \"lora_dropout\": 0.0, "
    "\"modules_to_save\": [\"lm_head\", \"embed_tokens\"], \"peft_type\": \"LORA\", \"r\": 2, \"rank_pattern\": {}, "
    "\"revision\": null, \"target_modules\": [\"q_proj\"], \"task_type\": \"CAUSAL_LM\", \"use_dora\": false, "
    "\"use_rslora\": false}";

typedef struct {
    char name[128];
    int64_t rows, cols;
    float *data;
} fx_tensor;

static void write_fixture(vkt_test *t, const char *dir, const char *config, fx_tensor *ts, int n) {
    mkdir(dir, 0755);
    char path[256];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(config, f);
    fclose(f);
    vkt_st_write_tensor ws[16];
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
}

static void expect_load(vkt_test *t, vkt_model *m, const char *dir, vkt_status want, const char *what) {
    vkt_lora *l = NULL;
    vkt_status s = vkt_lora_load_peft(m, dir, false, &l);
    printf("   %s: %s\n", what, vkt_status_name(s));
    if (s != want) vkt_test_fail(t, "%s: got %s, expected %s", what, vkt_status_name(s), vkt_status_name(want));
    vkt_lora_destroy(l);
}

static void check_fixture(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    int64_t B = 2, T = 5, L = cfg.n_layer, C = cfg.n_embd, V = cfg.vocab_size, q = cfg.n_head * cfg.head_dim;
    vkt_model *m = make_model(t, &cfg, B, T);
    fx_tensor ts[16];
    int n = 0;
    vkt_rng rng;
    vkt_rng_init(&rng, 21);
    for (int64_t l = 0; l < L; l++)
        for (int ab = 0; ab < 2; ab++, n++) {
            snprintf(ts[n].name, sizeof ts[n].name,
                     "base_model.model.model.layers.%lld.self_attn.q_proj.lora_%c.weight", (long long)l,
                     ab ? 'B' : 'A');
            ts[n].rows = ab ? q : 2, ts[n].cols = ab ? 2 : C;
        }
    snprintf(ts[n].name, sizeof ts[n].name, "base_model.model.lm_head.weight");
    ts[n].rows = V, ts[n++].cols = C;
    snprintf(ts[n].name, sizeof ts[n].name, "base_model.model.model.embed_tokens.weight");
    ts[n].rows = V, ts[n++].cols = C;
    for (int i = 0; i < n; i++) {
        ts[i].data = malloc((size_t)(ts[i].rows * ts[i].cols) * 4);
        for (int64_t k = 0; k < ts[i].rows * ts[i].cols; k++) ts[i].data[k] = (float)(0.3 * vkt_rng_normal(&rng));
    }
    char dir[160];
    snprintf(dir, sizeof dir, "%s/fixture", g_dir);
    write_fixture(t, dir, fixture_config, ts, n);

    /* Reference: the base with W_q += (4 / 2) B A, lm_head and embed_tokens replaced. */
    float *base = params_of(t, m);
    double *p = vkt_test_to_double(base, (size_t)m->table.total);
    for (int64_t l = 0; l < L; l++) {
        const fx_tensor *a = &ts[2 * l], *b = &ts[2 * l + 1];
        double *w = p + vkt_params_get(&m->table, (int)l, VKT_ROLE_Q_W)->offset;
        for (int64_t o = 0; o < q; o++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t k = 0; k < 2; k++) w[o * C + c] += 2.0 * b->data[o * 2 + k] * a->data[k * C + c];
    }
    for (int j = 0; j < 2; j++) {
        double *w = p + vkt_params_get(&m->table, -1, j ? VKT_ROLE_WTE : VKT_ROLE_LM_HEAD)->offset;
        for (int64_t k = 0; k < V * C; k++) w[k] = ts[2 * L + j].data[k];
    }
    double *ref = malloc((size_t)(B * T * V) * 8);
    vkt_ref_model_loss(&cfg, &m->table, p, vkt_model_slot_tokens(m, 0), vkt_model_slot_targets(m, 0), B, T, false, ref,
                       NULL);
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_load_peft(m, dir, false, &l));
    vkt_lora_attach(l);
    float *y = logits_of(t, m);
    double e = vkt_rel_norm_err(y, ref, B * T * V);
    printf("   hand-written PEFT adapter (q_proj, modules_to_save lm_head + embed_tokens): %d copies, logits vs host "
           "reference %.2e (bound 1e-5)\n",
           l->n_saved, e);
    if (!(e <= 1e-5) || l->n_saved != 2) vkt_test_fail(t, "PEFT fixture: logits off by %.3e", e);
    vkt_lora_destroy(l);

    /* Bad folders: a saved tensor of the wrong shape, a listed module without its tensor. */
    snprintf(dir, sizeof dir, "%s/bad_shape", g_dir);
    ts[n - 1].cols = C - 1;
    write_fixture(t, dir, fixture_config, ts, n);
    expect_load(t, m, dir, VKT_ERR_FORMAT, "embed_tokens copy of shape [V, C - 1]");
    snprintf(dir, sizeof dir, "%s/missing", g_dir);
    write_fixture(t, dir, fixture_config, ts, n - 1);
    expect_load(t, m, dir, VKT_ERR_FORMAT, "modules_to_save embed_tokens without its tensor");
    for (int i = 0; i < n; i++) free(ts[i].data);
    free(base), free(p), free(ref), free(y);
    vkt_model_destroy(m);
}

static void check_bad_names_and_plan(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model *m = make_model(t, &cfg, 1, 4);
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    vkt_lora_cfg_add_target(&lc, "q_proj");
    vkt_lora_cfg_add_save(&lc, "wpe"); /* GPT-2's name: LLaMA has no position table */
    vkt_lora *l = NULL;
    vkt_status s = vkt_lora_create(m, &lc, &l);
    printf("   modules_to_save [\"wpe\"] on LLaMA: %s\n", vkt_status_name(s));
    if (s != VKT_ERR_ARG) vkt_test_fail(t, "an unknown modules_to_save name gave %s", vkt_status_name(s));
    vkt_lora_destroy(l);

    /* The plan counts a copy's weights (and the same again for gradients; moments follow the parameter count). */
    vkt_lora_cfg plain = vkt_lora_cfg_default();
    vkt_lora_cfg_add_target(&plain, "q_proj");
    vkt_lora_cfg with = plain;
    vkt_lora_cfg_add_save(&with, "lm_head");
    vkt_lora_bytes a, b;
    VKT_TEST_TRY(t, vkt_lora_plan_bytes(&m->table, &m->cfg, &plain, 4, 64, VKT_DTYPE_F32, &a));
    VKT_TEST_TRY(t, vkt_lora_plan_bytes(&m->table, &m->cfg, &with, 4, 64, VKT_DTYPE_F32, &b));
    int64_t VC = cfg.vocab_size * cfg.n_embd;
    printf("   plan: +%lld trainable parameters, +%zu parameter bytes with lm_head saved (V C = %lld)\n",
           (long long)(b.n_params - a.n_params), b.params - a.params, (long long)VC);
    if (b.n_params - a.n_params != VC || b.params - a.params < (size_t)VC * 4 || b.grads - a.grads < (size_t)VC * 4)
        vkt_test_fail(t, "the memory plan does not count the saved lm_head");
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "lora_save");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_lora_save_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    vkt_model_config gpt2 = vkt_test_tiny_gpt2(), llama = vkt_test_tiny_llama(), stories = vkt_test_tiny_llama();
    stories.tie_word_embeddings = true; /* stories260K ties its head to the embedding */
    const char *g_all[] = {"wte", "wpe", "lm_head"}, *l_all[] = {"lm_head", "embed_tokens"}, *head[] = {"lm_head"};
    const char *emb[] = {"embed_tokens"};
    check_grads(&t, "gpt2 (tied) wte+wpe+lm_head", &gpt2, "c_attn", g_all, 3, 3);
    check_grads(&t, "gpt2 (tied) wpe only", &gpt2, "c_attn", (const char *[]){"wpe"}, 1, 1);
    check_grads(&t, "llama (untied) lm_head+embed_tokens", &llama, "q_proj", l_all, 2, 2);
    check_grads(&t, "llama (tied) lm_head", &stories, "q_proj", head, 1, 1);
    check_grads(&t, "llama (tied) embed_tokens", &stories, "q_proj", emb, 1, 1);
    check_folder(&t, "gpt2", &gpt2, "c_attn", g_all, 3,
                 "base_model.model.lm_head.weight,"
                 "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight,"
                 "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight,"
                 "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight,"
                 "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight,"
                 "base_model.model.transformer.wpe.weight,base_model.model.transformer.wte.weight",
                 "[\"wte\",\"wpe\",\"lm_head\"]");
    check_folder(&t, "llama", &llama, "v_proj", l_all, 2,
                 "base_model.model.lm_head.weight,base_model.model.model.embed_tokens.weight,"
                 "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight,"
                 "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight,"
                 "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight,"
                 "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight",
                 "[\"lm_head\",\"embed_tokens\"]");
    check_folder(&t, "stories", &stories, "v_proj", head, 1,
                 "base_model.model.lm_head.weight,"
                 "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight,"
                 "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight,"
                 "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight,"
                 "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight",
                 "[\"lm_head\"]");
    check_fixture(&t);
    check_bad_names_and_plan(&t);
    return vkt_test_finish(&t);
}
