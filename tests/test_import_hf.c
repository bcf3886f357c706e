/* Loading Hugging Face model folders as released: a tiny Llama-shaped config.json (with Llama 3.1
 * rope_scaling) and its weights written here in F32, BF16 and F16, single-file and sharded with
 * model.safetensors.index.json, plus tokenizer.json + tokenizer_config.json.
 *
 * Checks: every loaded f32 parameter equals, bit for bit, the stored value decoded by this file's own
 * bf16/f16 decoders; values exactly representable in all three dtypes give bit-identical logits; the
 * RoPE table the model builds holds cos/sin of the scaled frequencies worked out by hand; refused files
 * (F64, I8, F8_E4M3, a missing shard, a transposed weight, a missing untied head) name the file, the
 * tensor and the dtype or key, and leave the already-loaded parameters untouched; the folder's
 * tokenizer gets BOS/EOS/PAD and add_bos_token from tokenizer_config.json, and `vktrain sample FOLDER`
 * runs with no other flag. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "data/tokenizer.h"
#include "harness.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/model_config.h"
#include "train/generate.h"

#include "io_testutil.h"

#define T_SEQ 8

static const char *k_config =
    "{\"model_type\":\"llama\",\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":264,\"hidden_size\":32,"
    "\"intermediate_size\":48,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"max_position_embeddings\":64,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"tie_word_embeddings\":false,"
    "\"hidden_act\":\"silu\",\"torch_dtype\":\"bfloat16\",\"bos_token_id\":1,\"eos_token_id\":2,"
    "\"rope_scaling\":{\"factor\":4.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
    "\"original_max_position_embeddings\":16,\"rope_type\":\"llama3\"}}";

/* Independent decoders: bf16 is the top half of an f32; f16 is (-1)^s 2^(e-15) (1 + m/1024), subnormals
 * 2^-14 m/1024. */
static float dec_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static float dec_f16(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (float)(s ? -v : v);
}

typedef struct {
    vkt_param_table table; /* names and shapes of the model's parameters */
    float **values;        /* per parameter, (rows, cols) row-major as Hugging Face stores Llama weights */
} weights;

/* Multiples of 1/64 in [-1, 1]: at most 7 significant bits, so exact in bf16, f16 and f32. Or random
 * normals spanning f16's subnormals (scaled by 1e-6) up to ~4, which bf16/f16 must round. */
static void make_weights(const vkt_model_config *c, bool representable, uint64_t seed, weights *w) {
    VKT_ASSERT(vkt_params_build(c, 1, &w->table) == VKT_OK);
    w->values = calloc((size_t)w->table.n, sizeof *w->values);
    vkt_rng rng;
    vkt_rng_init(&rng, seed);
    for (int i = 0; i < w->table.n; i++) {
        int64_t n = w->table.p[i].numel;
        w->values[i] = malloc((size_t)n * sizeof(float));
        for (int64_t j = 0; j < n; j++) {
            double g = vkt_rng_normal(&rng);
            w->values[i][j] = representable ? (float)(floor(g * 16) / 64.0 > 1 ? 1 : fmax(-1, floor(g * 16) / 64.0))
                                            : (float)(j % 7 == 0 ? g * 1e-6 : g);
        }
    }
}

static void free_weights(weights *w) {
    for (int i = 0; w->values && i < w->table.n; i++) free(w->values[i]);
    free(w->values);
    vkt_params_free(&w->table);
}

static void tensor_of(const weights *w, int i, vkt_st_dtype dt, vkt_st_write_tensor *out) {
    const vkt_param *e = &w->table.p[i];
    *out = (vkt_st_write_tensor){.name = e->name, .dtype = dt, .data = w->values[i], .from_f32 = true};
    if (e->rows == 1)
        out->ndim = 1, out->shape[0] = e->cols;
    else
        out->ndim = 2, out->shape[0] = e->rows, out->shape[1] = e->cols;
}

/* Writes the weights into dir: n_shards == 0 as one model.safetensors, else that many shards and an
 * index. dtype_of(i) gives each tensor's dtype. */
static void write_model(const char *dir, const weights *w, int n_shards, vkt_st_dtype (*dtype_of)(int)) {
    tu_write(tu_path(dir, "config.json"), k_config, strlen(k_config));
    int n = w->table.n, parts = n_shards ? n_shards : 1;
    vkt_st_write_tensor *ts = calloc((size_t)n, sizeof *ts);
    cJSON *index = cJSON_CreateObject(), *map = cJSON_CreateObject();
    cJSON_AddItemToObject(cJSON_AddObjectToObject(index, "metadata"), "total_size", cJSON_CreateNumber(0));
    cJSON_AddItemToObject(index, "weight_map", map);
    for (int k = 0; k < parts; k++) {
        char name[96];
        if (n_shards)
            snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
        else
            snprintf(name, sizeof name, "model.safetensors");
        int cnt = 0;
        for (int i = k; i < n; i += parts) {
            tensor_of(w, i, dtype_of(i), &ts[cnt++]);
            cJSON_AddStringToObject(map, w->table.p[i].name, name);
        }
        const char *meta[] = {"format", "pt"};
        VKT_ASSERT(vkt_st_write(tu_path(dir, name), ts, cnt, meta, 1) == VKT_OK);
    }
    if (n_shards) {
        char *js = cJSON_Print(index);
        tu_write(tu_path(dir, "model.safetensors.index.json"), js, strlen(js));
        free(js);
    }
    cJSON_Delete(index);
    free(ts);
}

static vkt_st_dtype all_f32(int i) { return (void)i, VKT_ST_F32; }
static vkt_st_dtype all_bf16(int i) { return (void)i, VKT_ST_BF16; }
static vkt_st_dtype all_f16(int i) { return (void)i, VKT_ST_F16; }
static vkt_st_dtype mixed(int i) { return i % 3 == 0 ? VKT_ST_BF16 : i % 3 == 1 ? VKT_ST_F16 : VKT_ST_F32; }

/* What the file holds for parameter `name`, decoded here from the raw bytes. */
static float *stored_values(vkt_test *t, const char *dir, const char *name, int64_t n) {
    vkt_st_model f;
    VKT_TEST_TRY(t, vkt_st_model_open(dir, &f));
    const vkt_st_file *file;
    const vkt_st_tensor *x = vkt_st_model_find(&f, name, &file);
    float *out = malloc((size_t)n * sizeof *out);
    const uint8_t *p = vkt_st_bytes(file, x);
    for (int64_t j = 0; j < n; j++) {
        uint16_t h;
        if (x->dtype == VKT_ST_F32)
            memcpy(&out[j], p + 4 * j, 4);
        else
            memcpy(&h, p + 2 * j, 2), out[j] = x->dtype == VKT_ST_BF16 ? dec_bf16(h) : dec_f16(h);
    }
    vkt_st_model_close(&f);
    return out;
}

/* Every parameter of m equals (bitwise) what dir stores. Returns the number of differing values. */
static int64_t compare_params(vkt_test *t, vkt_model *m, const char *dir, const char *what) {
    float *flat = malloc((size_t)m->table.total * sizeof *flat);
    VKT_TEST_TRY(t, vkt_model_download_params(m, flat));
    int64_t bad = 0;
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        float *want = stored_values(t, dir, e->name, e->numel);
        for (int64_t j = 0; j < e->numel; j++)
            if (memcmp(&want[j], &flat[e->offset + j], 4) != 0 && bad++ == 0)
                vkt_test_fail(t, "%s: %s[%lld] loaded %.9g, file holds %.9g", what, e->name, (long long)j,
                              flat[e->offset + j], want[j]);
        free(want);
    }
    free(flat);
    return bad;
}

static float *forward_logits(vkt_test *t, vkt_model *m) {
    int32_t *tok = vkt_model_slot_tokens(m, 0);
    for (int i = 0; i < T_SEQ; i++) tok[i] = (int32_t)((i * 37 + 5) % 264);
    vkt_model_use_slot(m, 0);
    vkt_rec *r;
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 0, &r));
    VKT_TEST_TRY(t, vkt_rec_begin(r));
    VKT_TEST_TRY(t, vkt_model_record_forward(m, r, VKT_FWD_LOGITS));
    VKT_TEST_TRY(t, vkt_rec_end(r));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(r));
    vkt_rec_destroy(r);
    size_t bytes = (size_t)T_SEQ * 264 * sizeof(float);
    float *out = malloc(bytes);
    VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &m->logits, out, bytes));
    return out;
}

/* The RoPE table of the loaded model against the llama3-scaled frequencies worked out by hand for
 * head_dim 8, theta 1e4 (f_i = 1e4^(-i/4)), factor 4, low 1, high 4, original 16: wavelengths are 2 pi,
 * 20 pi, 200 pi, 2000 pi; 2 pi lies between 16/4 and 16/1, so f_0 = 1 blends with s = (16 / (2 pi) - 1) / 3
 * into (1 - s) / 4 + s; the others are over 16 and become f_i / 4. */
static void check_rope_table(vkt_test *t, vkt_model *m) {
    const double pi = 3.14159265358979323846, s = (16 / (2 * pi) - 1) / 3;
    const double f[4] = {(1 - s) / 4 + s, 0.1 / 4, 0.01 / 4, 0.001 / 4};
    int64_t P = m->T + m->pos0_max;
    float *tab = malloc((size_t)P * 8 * sizeof *tab);
    VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &m->rope_table, tab, (size_t)P * 8 * sizeof *tab));
    double worst = 0;
    for (int64_t p = 0; p < P; p++)
        for (int i = 0; i < 4; i++) {
            worst = fmax(worst, fabs(tab[(p * 4 + i) * 2] - cos((double)p * f[i])));
            worst = fmax(worst, fabs(tab[(p * 4 + i) * 2 + 1] - sin((double)p * f[i])));
        }
    printf("   rope table (llama3 scaling, %lld positions): max |error| %.2e vs hand-derived (bound 1e-6; an "
           "unscaled table is off by > 0.1)\n",
           (long long)P, worst);
    if (!(worst < 1e-6)) vkt_test_fail(t, "rope table differs from the llama3-scaled frequencies by %.3g", worst);
    free(tab);
}

static vkt_model *load(vkt_test *t, const char *dir, char *tok_spec, size_t n) {
    vkt_model *m = NULL;
    VKT_TEST_TRY(t, vkt_load_model(t->dev, dir, 1, T_SEQ, false, &m, tok_spec, n));
    return m;
}

/* Replaces tensor `victim` of the single-file model in dir by raw bytes of dtype dt (or by a transposed
 * shape), then expects vkt_checkpoint_load_hf into m to fail naming all words, with m's parameters as
 * they were. */
static void expect_refused(vkt_test *t, vkt_model *m, const char *dir, const weights *w, const char *victim,
                           vkt_st_dtype dt, bool transpose, vkt_status want, const char *w1, const char *w2) {
    int n = w->table.n;
    vkt_st_write_tensor *ts = calloc((size_t)n, sizeof *ts);
    void *raw = NULL;
    for (int i = 0; i < n; i++) {
        tensor_of(w, i, VKT_ST_BF16, &ts[i]);
        if (strcmp(w->table.p[i].name, victim) != 0) continue;
        int64_t cnt = w->table.p[i].numel;
        if (transpose) {
            int64_t r = ts[i].shape[0];
            ts[i].shape[0] = ts[i].shape[1], ts[i].shape[1] = r;
            continue;
        }
        raw = calloc((size_t)cnt, 8);
        for (int64_t j = 0; j < cnt; j++)
            if (dt == VKT_ST_F64)
                ((double *)raw)[j] = w->values[i][j];
            else
                ((int8_t *)raw)[j] = (int8_t)fmax(-128, fmin(127, w->values[i][j] * 64)); /* I8, F8: some byte */
        ts[i].dtype = dt, ts[i].data = raw, ts[i].from_f32 = false;
    }
    VKT_ASSERT(vkt_st_write(tu_path(dir, "model.safetensors"), ts, n, NULL, 0) == VKT_OK);
    float *before = malloc((size_t)m->table.total * 4), *after = malloc((size_t)m->table.total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, before));
    tu_capture_begin();
    vkt_status s = vkt_checkpoint_load_hf(dir, m);
    const char *log = tu_capture_end();
    int prev = g_failures;
    tu_expect_fail(victim, s, want, log, "model.safetensors", w1, w2, (const char *)NULL);
    VKT_TEST_TRY(t, vkt_model_download_params(m, after));
    if (memcmp(before, after, (size_t)m->table.total * 4) != 0) vkt_test_fail(t, "%s: parameters changed", victim);
    if (g_failures != prev) vkt_test_fail(t, "refusal of %s", victim);
    free(before), free(after), free(raw), free(ts);
}

/* A SentencePiece-style tokenizer.json: <unk> <s> </s>, 256 byte fallbacks, "▁" and a few letters;
 * post_processor prepends <s> when with_template. */
static void write_tokenizer(const char *dir, bool with_template, const char *tok_config) {
    cJSON *root = cJSON_CreateObject(), *added = cJSON_AddArrayToObject(root, "added_tokens");
    const char *sp[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", sp[i]);
        cJSON_AddBoolToObject(a, "special", true);
        cJSON_AddItemToArray(added, a);
    }
    cJSON *norm = cJSON_Parse("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\u2581\"},"
                              "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"}]}");
    cJSON_AddItemToObject(root, "normalizer", norm);
    cJSON_AddNullToObject(root, "pre_tokenizer");
    if (with_template)
        cJSON_AddItemToObject(root, "post_processor",
                              cJSON_Parse("{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
                                          "\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]}"));
    cJSON *model = cJSON_AddObjectToObject(root, "model"), *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "byte_fallback", true);
    cJSON_AddStringToObject(model, "unk_token", "<unk>");
    for (int i = 0; i < 3; i++) cJSON_AddNumberToObject(vocab, sp[i], i);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        cJSON_AddNumberToObject(vocab, name, 3 + b);
    }
    const char *more[] = {"\u2581", "a", "b", "c", "d"};
    for (int i = 0; i < 5; i++) cJSON_AddNumberToObject(vocab, more[i], 259 + i);
    cJSON_AddArrayToObject(model, "merges");
    char *js = cJSON_Print(root);
    tu_write(tu_path(dir, "tokenizer.json"), js, strlen(js));
    free(js);
    cJSON_Delete(root);
    if (tok_config)
        tu_write(tu_path(dir, "tokenizer_config.json"), tok_config, strlen(tok_config));
    else
        unlink(tu_path(dir, "tokenizer_config.json"));
}

static void test_tokenizer(vkt_test *t, const char *dir, vkt_model *m, const char *spec) {
    write_tokenizer(dir, false,
                    "{\"add_bos_token\":true,\"add_eos_token\":false,\"bos_token\":{\"__type\":\"AddedToken\","
                    "\"content\":\"<s>\",\"lstrip\":false},\"eos_token\":\"</s>\",\"pad_token\":\"</s>\","
                    "\"tokenizer_class\":\"LlamaTokenizer\"}");
    vkt_tokenizer *tok = NULL;
    VKT_TEST_TRY(t, vkt_tok_load(spec, &tok));
    printf("   tokenizer_config.json (Llama 2 style): bos %d eos %d pad %d adds_bos %d\n", vkt_tok_bos(tok),
           vkt_tok_eos(tok), vkt_tok_pad(tok), vkt_tok_adds_bos(tok));
    if (vkt_tok_bos(tok) != 1 || vkt_tok_eos(tok) != 2 || vkt_tok_pad(tok) != 2 || !vkt_tok_adds_bos(tok))
        vkt_test_fail(t, "tokenizer_config.json specials not applied");
    /* Sampling as `vktrain sample` does: BOS, the prompt, then greedy tokens. */
    vkt_tok_ids ids = {0};
    VKT_TEST_TRY(t, vkt_tok_ids_push(&ids, vkt_tok_bos(tok)));
    VKT_TEST_TRY(t, vkt_tok_encode(tok, "ab c", 4, true, &ids));
    vkt_generate_opts go = {.max_tokens = 4, .sampler = {.temperature = 0}, .seed = 1, .stream = NULL};
    int32_t *out = NULL;
    int64_t n_out = 0;
    VKT_TEST_TRY(t, vkt_generate_ids(t->dev, m, tok, ids.data, (int64_t)ids.len, &go, &out, &n_out));
    printf("   prompt ids %zu (first %d), %lld tokens sampled\n", ids.len, ids.data[0], (long long)n_out);
    if (ids.data[0] != 1 || n_out != 4) vkt_test_fail(t, "sampling from the folder's tokenizer");
    free(out);
    vkt_tok_ids_free(&ids);
    vkt_tok_free(tok);

    /* Llama 3 style: no add_bos_token; tokenizer.json's post_processor prepends the BOS. Qwen2 style:
     * bos_token null and no template. An explicit add_bos_token false wins over the template. */
    write_tokenizer(dir, true, "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"}");
    VKT_TEST_TRY(t, vkt_tok_load(spec, &tok));
    if (!vkt_tok_adds_bos(tok) || vkt_tok_bos(tok) != 1) vkt_test_fail(t, "post_processor BOS not seen");
    vkt_tok_free(tok);
    write_tokenizer(dir, true, "{\"add_bos_token\":false}");
    VKT_TEST_TRY(t, vkt_tok_load(spec, &tok));
    if (vkt_tok_adds_bos(tok)) vkt_test_fail(t, "add_bos_token false ignored");
    vkt_tok_free(tok);
    write_tokenizer(dir, false, "{\"bos_token\":null,\"eos_token\":\"</s>\",\"pad_token\":\"</s>\"}");
    VKT_TEST_TRY(t, vkt_tok_load(spec, &tok));
    if (vkt_tok_adds_bos(tok) || vkt_tok_bos(tok) != -1 || vkt_tok_eos(tok) != 2) vkt_test_fail(t, "bos_token null");
    vkt_tok_free(tok);

    write_tokenizer(dir, false, "{\"eos_token\":\"<|im_end|>\"}");
    tu_capture_begin();
    vkt_status s = vkt_tok_load(spec, &tok);
    tu_expect_fail("eos_token the tokenizer lacks", s, VKT_ERR_FORMAT, tu_capture_end(), "tokenizer_config.json",
                   "\"eos_token\" is \"<|im_end|>\"", (const char *)NULL);
    write_tokenizer(dir, false, "{\"add_bos_token\":true,\"bos_token\":null}");
    tu_capture_begin();
    s = vkt_tok_load(spec, &tok);
    tu_expect_fail("add_bos_token without a bos_token", s, VKT_ERR_FORMAT, tu_capture_end(), "add_bos_token",
                   "bos_token", (const char *)NULL);
    write_tokenizer(dir, false, "{\"add_bos_token\":true,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"}");

#ifdef VKT_BIN
    /* `vktrain sample FOLDER` with no other flag (the folder names its own tokenizer). */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' sample '%s' --tokens 3 --temperature 0 --prompt 'ab' > '%s' 2>&1", VKT_BIN,
             tu_path(dir, ""), tu_path(dir, "sample.log"));
    int rc = system(cmd);
    size_t n;
    unsigned char *logtext = tu_read(tu_path(dir, "sample.log"), &n);
    printf("   vktrain sample FOLDER: exit %d: %.*s", rc, (int)(n > 300 ? 300 : n), (const char *)logtext);
    if (rc != 0) vkt_test_fail(t, "vktrain sample on the folder exited %d", rc);
    free(logtext);
#endif
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "import_hf");
    vkt_model_config cfg;
    cJSON *cj = cJSON_Parse(k_config);
    VKT_TEST_TRY(&t, vkt_model_config_from_json(cj, "k_config", true, &cfg));
    cJSON_Delete(cj);

    /* 1. Representable values in F32, BF16, sharded F16 and mixed shards: same parameters, same logits. */
    weights w;
    make_weights(&cfg, true, 7, &w);
    const struct {
        const char *what;
        int shards;
        vkt_st_dtype (*dt)(int);
    } kinds[] = {{"F32 single file", 0, all_f32},
                 {"BF16 single file", 0, all_bf16},
                 {"F16 in 3 shards", 3, all_f16},
                 {"F32/BF16/F16 mixed, 2 shards", 2, mixed}};
    float *logits0 = NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *dir = tu_mkdir();
        write_model(dir, &w, kinds[k].shards, kinds[k].dt);
        vkt_model *m = load(&t, dir, NULL, 0);
        int64_t bad = compare_params(&t, m, dir, kinds[k].what);
        for (int i = 0; i < w.table.n; i++) {
            const vkt_param *e = vkt_params_find(&m->table, w.table.p[i].name);
            float *flat = malloc((size_t)m->table.total * 4);
            VKT_TEST_TRY(&t, vkt_model_download_params(m, flat));
            if (memcmp(flat + e->offset, w.values[i], (size_t)e->numel * 4) != 0 && bad++ >= 0)
                vkt_test_fail(&t, "%s: %s differs from the values written", kinds[k].what, e->name);
            free(flat);
        }
        if (k == 0) check_rope_table(&t, m);
        float *lg = forward_logits(&t, m);
        int64_t nd = 0;
        if (logits0)
            for (int64_t j = 0; j < T_SEQ * 264; j++) nd += memcmp(&lg[j], &logits0[j], 4) != 0;
        printf("   %-30s %d tensors, %lld parameter values differ; logits differ from F32's at %lld of %d\n",
               kinds[k].what, m->table.n, (long long)bad, (long long)nd, T_SEQ * 264);
        if (nd)
            vkt_test_fail(&t, "%s: logits differ from the F32 file's at %lld positions", kinds[k].what, (long long)nd);
        if (!logits0)
            logits0 = lg;
        else
            free(lg);
        vkt_model_destroy(m);
        tu_rmdir(dir);
    }
    free(logits0);
    free_weights(&w);

    /* 2. Values bf16/f16 must round (normals, and 1e-6-scaled ones in f16's subnormal range): the loaded
     * f32 equals the stored 16-bit value decoded independently. */
    make_weights(&cfg, false, 11, &w);
    const char *dir = tu_mkdir();
    vkt_model *m = NULL;
    write_model(dir, &w, 2, all_f16);
    m = load(&t, dir, NULL, 0);
    int64_t bad = compare_params(&t, m, dir, "F16 rounded");
    write_model(dir, &w, 0, all_bf16);
    unlink(tu_path(dir, "model.safetensors.index.json"));
    VKT_TEST_TRY(&t, vkt_checkpoint_load_hf(dir, m));
    bad += compare_params(&t, m, dir, "BF16 rounded");
    printf("   rounded F16 (sharded) and BF16 values: %lld loaded values differ from the files' decoded bits\n",
           (long long)bad);

    /* 3. Refusals: nothing half-loaded (m keeps the BF16 parameters). */
    printf("expected errors follow:\n");
    expect_refused(&t, m, dir, &w, "model.norm.weight", VKT_ST_F64, false, VKT_ERR_UNSUPPORTED,
                   "\"model.norm.weight\" has dtype F64", "BF16");
    expect_refused(&t, m, dir, &w, "model.layers.1.mlp.up_proj.weight", VKT_ST_I8, false, VKT_ERR_UNSUPPORTED,
                   "\"model.layers.1.mlp.up_proj.weight\" has dtype I8", "F32");
    expect_refused(&t, m, dir, &w, "lm_head.weight", VKT_ST_F8_E4M3, false, VKT_ERR_UNSUPPORTED,
                   "\"lm_head.weight\" has dtype F8_E4M3", "F16");
    expect_refused(&t, m, dir, &w, "model.layers.0.mlp.down_proj.weight", VKT_ST_BF16, true, VKT_ERR_FORMAT,
                   "\"model.layers.0.mlp.down_proj.weight\" has shape [48, 32]", "transposed");
    /* An untied config whose file has no lm_head (a tied model's export): names the key. */
    {
        int n = w.table.n, k = 0;
        vkt_st_write_tensor *ts = calloc((size_t)n, sizeof *ts);
        for (int i = 0; i < n; i++)
            if (strcmp(w.table.p[i].name, "lm_head.weight") != 0) tensor_of(&w, i, VKT_ST_BF16, &ts[k++]);
        VKT_ASSERT(vkt_st_write(tu_path(dir, "model.safetensors"), ts, k, NULL, 0) == VKT_OK);
        free(ts);
        tu_capture_begin();
        vkt_status s = vkt_checkpoint_load_hf(dir, m);
        tu_expect_fail("untied config, no lm_head.weight", s, VKT_ERR_FORMAT, tu_capture_end(), "lm_head.weight",
                       "tie_word_embeddings", (const char *)NULL);
    }
    /* A missing shard is named before any shard is read; vkt_load_model then gives no model. */
    write_model(dir, &w, 3, all_bf16);
    unlink(tu_path(dir, "model-00002-of-00003.safetensors"));
    vkt_model *none = NULL;
    tu_capture_begin();
    vkt_status s = vkt_load_model(t.dev, dir, 1, T_SEQ, false, &none, NULL, 0);
    tu_expect_fail("missing shard", s, VKT_ERR_IO, tu_capture_end(), "model.safetensors.index.json",
                   "shard \"model-00002-of-00003.safetensors\" is missing", (const char *)NULL);
    if (none) vkt_test_fail(&t, "a failed load returned a model");
    if (g_failures) vkt_test_fail(&t, "%d refusal check(s) failed", g_failures);
    int refusal_failures = g_failures;

    /* 4. Tokenizer from the folder. */
    write_model(dir, &w, 0, all_bf16);
    unlink(tu_path(dir, "model.safetensors.index.json"));
    write_tokenizer(dir, false, NULL);
    vkt_model_destroy(m);
    char spec[1024] = "";
    m = load(&t, dir, spec, sizeof spec);
    if (!strstr(spec, "tokenizer.json"))
        vkt_test_fail(&t, "the folder's tokenizer.json was not found (\"%s\")", spec);
    else
        test_tokenizer(&t, dir, m, spec);
    if (g_failures > refusal_failures) vkt_test_fail(&t, "%d tokenizer check(s) failed", g_failures - refusal_failures);
    vkt_model_destroy(m);
    tu_rmdir(dir);
    free_weights(&w);
    return vkt_test_finish(&t);
}
