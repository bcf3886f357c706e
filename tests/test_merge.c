/* LoRA merge: a PEFT adapter written by the test in PEFT's layout (adapter_config.json +
 * adapter_model.safetensors, keys base_model.model.<module>.lora_A/B.weight) is merged into stories260K;
 * the merged folder reloads with every adapted weight equal to W + s * B A computed here in double
 * (s = alpha / r, and alpha / sqrt(r) with use_rslora), every other tensor bit-identical, f16 output
 * equal to the f16 rounding of the same; a GPT-2 Conv1D module (fan_in_fan_out) gets the update
 * transposed in the Hugging Face file; bad adapters are refused with messages naming the key. Pure CPU. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "core/rng.h"
#include "finetune/peft_read.h"
#include "harness.h"
#include "io/host_model.h"
#include "io/safetensors.h"
#include "io_testutil.h"
#include "train/merge.h"

typedef struct {
    const char *module;
    int64_t r, in, out;
    float *A, *B;
} factor;

static uint64_t g_state = 0x9E3779B97F4A7C15ull;
static float urand(void) { /* xorshift, values in [-0.5, 0.5) */
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (float)((double)(g_state >> 11) / 9007199254740992.0 - 0.5);
}

static factor make_factor(const char *module, int64_t r, int64_t in, int64_t out) {
    factor f = {module, r, in, out, malloc((size_t)(r * in) * 4), malloc((size_t)(out * r) * 4)};
    for (int64_t i = 0; i < r * in; i++) f.A[i] = urand();
    for (int64_t i = 0; i < out * r; i++) f.B[i] = urand();
    return f;
}

/* Writes dir/adapter_config.json (the given JSON) and dir/adapter_model.safetensors. */
static void write_adapter(const char *dir, const char *config, const factor *fs, int n) {
    mkdir(dir, 0755);
    tu_write(tu_path(dir, "adapter_config.json"), config, strlen(config));
    vkt_st_write_tensor *ts = calloc((size_t)(2 * n), sizeof *ts);
    char(*names)[160] = calloc((size_t)(2 * n), sizeof *names);
    for (int i = 0; i < n; i++) {
        snprintf(names[2 * i], 160, "base_model.model.%s.lora_A.weight", fs[i].module);
        snprintf(names[2 * i + 1], 160, "base_model.model.%s.lora_B.weight", fs[i].module);
        ts[2 * i] = (vkt_st_write_tensor){
            .name = names[2 * i], .dtype = VKT_ST_F32, .ndim = 2, .shape = {fs[i].r, fs[i].in}, .data = fs[i].A};
        ts[2 * i + 1] = (vkt_st_write_tensor){
            .name = names[2 * i + 1], .dtype = VKT_ST_F32, .ndim = 2, .shape = {fs[i].out, fs[i].r}, .data = fs[i].B};
    }
    const char *meta[] = {"format", "pt"};
    if (vkt_st_write(tu_path(dir, "adapter_model.safetensors"), ts, 2 * n, meta, 1) != VKT_OK) exit(1);
    free(ts), free(names);
}

/* W + s * B A in double, rounded once. */
static void expected(float *w, const factor *f, double s) {
    for (int64_t o = 0; o < f->out; o++)
        for (int64_t c = 0; c < f->in; c++) {
            double acc = 0;
            for (int64_t k = 0; k < f->r; k++) acc += (double)f->B[o * f->r + k] * (double)f->A[k * f->in + c];
            w[o * f->in + c] = (float)((double)w[o * f->in + c] + s * acc);
        }
}

static const char *LLAMA_CONFIG =
    "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_rslora\": %s, \"fan_in_fan_out\": false, "
    "\"target_modules\": [\"q_proj\", \"v_proj\", \"down_proj\"], \"bias\": \"none\", \"task_type\": "
    "\"CAUSAL_LM\"}";

static void test_llama(const char *dir, bool rslora) {
    char model[1024], tok[1024], cfg[512], adapter[256], out[256];
    snprintf(model, sizeof model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof tok, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    snprintf(cfg, sizeof cfg, LLAMA_CONFIG, rslora ? "true" : "false");
    snprintf(adapter, sizeof adapter, "%s/adapter_%d", dir, rslora);
    snprintf(out, sizeof out, "%s/merged_%d", dir, rslora);
    factor fs[3] = {make_factor("model.layers.0.self_attn.q_proj", 4, 64, 64),
                    make_factor("model.layers.3.self_attn.v_proj", 4, 64, 32),
                    make_factor("model.layers.4.mlp.down_proj", 4, 172, 64)};
    const char *wnames[3] = {"model.layers.0.self_attn.q_proj.weight", "model.layers.3.self_attn.v_proj.weight",
                             "model.layers.4.mlp.down_proj.weight"};
    write_adapter(adapter, cfg, fs, 3);
    double s = rslora ? 8.0 / 2.0 : 8.0 / 4.0;
    vkt_peft_adapter a = {0};
    CHECK(vkt_peft_read(adapter, &a) == VKT_OK && a.n_mods == 3 && a.mods[0].scale == s, "adapter reads, scale %g",
          a.n_mods ? a.mods[0].scale : 0.0);
    vkt_peft_free(&a);

    vkt_merge_opts o = {.tokenizer = tok};
    CHECK(vkt_merge_to_hf(model, adapter, out, &o) == VKT_OK, "merge");
    vkt_host_model base = {0}, merged = {0};
    CHECK(vkt_host_model_load(model, &base) == VKT_OK, "base loads");
    CHECK(vkt_host_model_load(out, &merged) == VKT_OK, "merged folder reloads");
    CHECK(merged.dtype == VKT_ST_F32 && merged.table.n == base.table.n, "f32 like the llama2.c base, same table");
    CHECK(access(tu_path(out, "tokenizer.json"), F_OK) == 0 && access(tu_path(out, "config.json"), F_OK) == 0,
          "config.json and tokenizer.json written");
    int adapted = 0, bad = 0, untouched = 0;
    for (int i = 0; i < base.table.n && merged.flat; i++) {
        const vkt_param *e = &base.table.p[i];
        const vkt_param *m = vkt_params_find(&merged.table, e->name);
        const float *got = merged.flat + m->offset;
        int k = -1;
        for (int j = 0; j < 3; j++)
            if (!strcmp(e->name, wnames[j])) k = j;
        if (k < 0) {
            untouched++;
            if (memcmp(got, base.flat + e->offset, (size_t)e->numel * 4) != 0) {
                printf("FAIL untouched %s changed\n", e->name);
                bad++;
            }
            continue;
        }
        float *want = malloc((size_t)e->numel * 4);
        memcpy(want, base.flat + e->offset, (size_t)e->numel * 4);
        expected(want, &fs[k], s);
        int64_t diff = 0, first = -1;
        for (int64_t j = 0; j < e->numel; j++)
            if (got[j] != want[j]) diff++, first = first < 0 ? j : first;
        if (diff)
            printf("FAIL %s: %lld of %lld differ, first at %lld: %.9g vs %.9g\n", e->name, (long long)diff,
                   (long long)e->numel, (long long)first, got[first], want[first]);
        /* and the update is not nothing */
        CHECK(memcmp(want, base.flat + e->offset, (size_t)e->numel * 4) != 0, "%s changes", e->name);
        bad += diff != 0;
        adapted++;
        free(want);
    }
    CHECK(bad == 0 && adapted == 3 && untouched == base.table.n - 3, "adapted %d (exact), untouched %d, bad %d",
          adapted, untouched, bad);
    printf("ok   merge%s: 3 modules exact to W + s*B*A (s = %g), %d tensors bit-identical\n", rslora ? " (rslora)" : "",
           s, untouched);

    if (!rslora) { /* f16 output: the f16 rounding of the same merged weights */
        char out16[300];
        snprintf(out16, sizeof out16, "%s_f16", out);
        o.dtype = "f16";
        CHECK(vkt_merge_to_hf(model, adapter, out16, &o) == VKT_OK, "merge f16");
        vkt_host_model m16 = {0};
        CHECK(vkt_host_model_load(out16, &m16) == VKT_OK && m16.dtype == VKT_ST_F16, "f16 folder reloads as f16");
        int64_t d16 = 0;
        for (int64_t j = 0; m16.flat && j < merged.table.total; j++)
            d16 += m16.flat[j] != vkt_f16_to_f32(vkt_f32_to_f16(merged.flat[j]));
        CHECK(d16 == 0, "f16 merge = f16(f32 merge): %lld differ", (long long)d16);
        vkt_host_model_free(&m16);
    }
    vkt_host_model_free(&base);
    vkt_host_model_free(&merged);
    for (int i = 0; i < 3; i++) free(fs[i].A), free(fs[i].B);
}

/* A tiny GPT-2 Hugging Face folder with random weights; c_attn is a Conv1D module. */
static void test_gpt2_conv1d(const char *dir) {
    vkt_host_model base = {0};
    base.cfg = *vkt_model_preset("gpt2-tiny");
    base.cfg.n_embd = 32, base.cfg.n_layer = 2, base.cfg.n_head = 2, base.cfg.head_dim = 16, base.cfg.n_inner = 128;
    base.cfg.vocab_size = 64, base.cfg.max_seq_len = 16;
    if (vkt_params_build(&base.cfg, 1, &base.table) != VKT_OK) exit(1);
    base.flat = malloc((size_t)base.table.total * 4);
    for (int64_t i = 0; i < base.table.total; i++) base.flat[i] = urand();
    const char *bdir = tu_path(dir, "gpt2_base"), *adapter = tu_path(dir, "gpt2_adapter"),
               *out = tu_path(dir, "gpt2_merged");
    char bdir_s[256], adapter_s[256], out_s[256];
    snprintf(bdir_s, sizeof bdir_s, "%s", bdir), snprintf(adapter_s, sizeof adapter_s, "%s", adapter);
    snprintf(out_s, sizeof out_s, "%s", out);
    CHECK(vkt_host_model_save_hf(&base, bdir_s, VKT_ST_F32) == VKT_OK, "tiny GPT-2 saved");
    factor f = make_factor("transformer.h.1.attn.c_attn", 2, 32, 96);
    write_adapter(adapter_s,
                  "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 3, \"fan_in_fan_out\": true, "
                  "\"target_modules\": [\"c_attn\"]}",
                  &f, 1);
    vkt_merge_opts o = {.tokenizer = "bytes"};
    CHECK(vkt_merge_to_hf(bdir_s, adapter_s, out_s, &o) == VKT_OK, "GPT-2 merge");
    /* In the Hugging Face file c_attn.weight is (in, out) = (32, 96): entry [i][o] = W[o][i] + s (BA)[o][i]. */
    vkt_st_file sf;
    CHECK(vkt_st_open(tu_path(out_s, "model.safetensors"), &sf) == VKT_OK, "merged GPT-2 opens");
    const vkt_st_tensor *t = vkt_st_find(&sf, "transformer.h.1.attn.c_attn.weight");
    const vkt_param *e = vkt_params_find(&base.table, "transformer.h.1.attn.c_attn.weight");
    CHECK(t && e && t->ndim == 2 && t->shape[0] == 32 && t->shape[1] == 96, "c_attn stored (in, out)");
    if (t && e) {
        float *hf = malloc(32 * 96 * 4), *want = malloc(32 * 96 * 4);
        vkt_st_read_f32(&sf, t, hf, 32 * 96);
        memcpy(want, base.flat + e->offset, 32 * 96 * 4);
        expected(want, &f, 3.0 / 2.0);
        int bad = 0;
        for (int o2 = 0; o2 < 96; o2++)
            for (int i = 0; i < 32; i++) bad += hf[i * 96 + o2] != want[o2 * 32 + i];
        CHECK(bad == 0, "Conv1D update transposed into (in, out): %d differ", bad);
        free(hf), free(want);
        printf("ok   GPT-2 Conv1D merge (fan_in_fan_out) exact in Hugging Face (in, out) layout\n");
    }
    vkt_st_close(&sf);
    free(f.A), free(f.B);
    vkt_host_model_free(&base);
}

static void expect_refused(const char *dir, const char *name, const char *config, factor *fs, int n, vkt_status want,
                           const char *w1, const char *w2) {
    char model[1024], adapter[256], out[256];
    snprintf(model, sizeof model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(adapter, sizeof adapter, "%s/bad_%s", dir, name);
    snprintf(out, sizeof out, "%s/out_%s", dir, name);
    write_adapter(adapter, config, fs, n);
    vkt_merge_opts o = {.tokenizer = "bytes"};
    tu_capture_begin();
    vkt_status s = vkt_merge_to_hf(model, adapter, out, &o);
    tu_expect_fail(name, s, want, tu_capture_end(), w1, w2, (const char *)NULL);
    CHECK(access(out, F_OK) != 0, "%s: nothing written", name);
}

static void test_refusals(const char *dir) {
    const char *ok = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8}";
    factor nomod = make_factor("model.layers.9.self_attn.q_proj", 4, 64, 64);
    expect_refused(dir, "no such module", ok, &nomod, 1, VKT_ERR_FORMAT, "model.layers.9.self_attn.q_proj",
                   "no module");
    factor shape = make_factor("model.layers.1.self_attn.k_proj", 4, 64, 64); /* k_proj is (32, 64) */
    expect_refused(dir, "shape mismatch", ok, &shape, 1, VKT_ERR_FORMAT, "model.layers.1.self_attn.k_proj", "[32, 64]");
    factor rmis = make_factor("model.layers.1.self_attn.q_proj", 4, 64, 64);
    /* A (4, 64) with a B of rank 3 (64, 3). */
    {
        char adapter[256];
        snprintf(adapter, sizeof adapter, "%s/bad_rank", dir);
        mkdir(adapter, 0755);
        tu_write(tu_path(adapter, "adapter_config.json"), ok, strlen(ok));
        vkt_st_write_tensor ts[2] = {{.name = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
                                      .dtype = VKT_ST_F32,
                                      .ndim = 2,
                                      .shape = {4, 64},
                                      .data = rmis.A},
                                     {.name = "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
                                      .dtype = VKT_ST_F32,
                                      .ndim = 2,
                                      .shape = {64, 3},
                                      .data = rmis.B}};
        vkt_st_write(tu_path(adapter, "adapter_model.safetensors"), ts, 2, NULL, 0);
        vkt_peft_adapter a = {0};
        tu_capture_begin();
        vkt_status s = vkt_peft_read(adapter, &a);
        tu_expect_fail("r mismatch between A and B", s, VKT_ERR_FORMAT, tu_capture_end(), "lora_A has rank 4",
                       "lora_B has rank 3", (const char *)NULL);
    }
    factor good = make_factor("model.layers.1.self_attn.q_proj", 4, 64, 64);
    expect_refused(dir, "unknown peft_type", "{\"peft_type\": \"PREFIX_TUNING\", \"r\": 4, \"lora_alpha\": 8}", &good,
                   1, VKT_ERR_UNSUPPORTED, "PREFIX_TUNING", "LORA");
    expect_refused(dir, "config r differs", "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8}", &good, 1,
                   VKT_ERR_FORMAT, "rank 4", "r = 8");
    expect_refused(dir, "DoRA", "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_dora\": true}", &good, 1,
                   VKT_ERR_UNSUPPORTED, "use_dora", "DoRA");
    /* An embedding LoRA key is not a lora_A/lora_B weight. */
    {
        char adapter[256];
        snprintf(adapter, sizeof adapter, "%s/bad_embed", dir);
        mkdir(adapter, 0755);
        tu_write(tu_path(adapter, "adapter_config.json"), ok, strlen(ok));
        vkt_st_write_tensor ts[1] = {{.name = "base_model.model.model.embed_tokens.lora_embedding_A",
                                      .dtype = VKT_ST_F32,
                                      .ndim = 2,
                                      .shape = {4, 64},
                                      .data = good.A}};
        vkt_st_write(tu_path(adapter, "adapter_model.safetensors"), ts, 1, NULL, 0);
        vkt_peft_adapter a = {0};
        tu_capture_begin();
        vkt_status s = vkt_peft_read(adapter, &a);
        tu_expect_fail("embedding LoRA key", s, VKT_ERR_UNSUPPORTED, tu_capture_end(), "lora_embedding_A",
                       "not a LoRA factor", (const char *)NULL);
    }
    vkt_peft_adapter a = {0};
    tu_capture_begin();
    vkt_status s = vkt_peft_read(tu_path(dir, "nowhere"), &a);
    tu_expect_fail("missing adapter folder", s, VKT_ERR_IO, tu_capture_end(), "adapter_config.json", "PEFT",
                   (const char *)NULL);
    free(nomod.A), free(nomod.B), free(shape.A), free(shape.B), free(rmis.A), free(rmis.B), free(good.A), free(good.B);
}

int main(void) {
    const char *d = tu_mkdir();
    char dir[64];
    snprintf(dir, sizeof dir, "%s", d);
    test_llama(dir, false);
    test_llama(dir, true);
    test_gpt2_conv1d(dir);
    test_refusals(dir);
    tu_rmdir(dir);
    printf("%s test_merge\n", g_failures ? "FAIL" : "PASS");
    return g_failures ? 1 : 0;
}
