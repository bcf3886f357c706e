/* Model config parsing: Hugging Face keys, defaults, parameter counts, and clear errors. Pure CPU. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#include "expect.h"
#include "io_testutil.h"
#include <string.h>

#include "model/model_config.h"
#include "model/params.h"


static vkt_status parse(const char *text, bool strict, vkt_model_config *c) {
    cJSON *o = cJSON_Parse(text);
    EXPECT(o != NULL);
    vkt_status s = vkt_model_config_from_json(o, "inline config", strict, c);
    cJSON_Delete(o);
    return s;
}

/* Expects parse(text) to fail with `want` and a message holding both words. */
static void refused(const char *text, vkt_status want, const char *w1, const char *w2) {
    vkt_model_config c;
    tu_capture_begin();
    vkt_status s = parse(text, false, &c);
    const char *log = tu_capture_end();
    tu_expect_fail(text, s, want, log, w1, w2, (const char *)NULL);
}

#define LLAMA_SHAPE                                                                                                \
    "\"vocab_size\":128256,\"hidden_size\":4096,\"intermediate_size\":14336,\"num_hidden_layers\":32,"              \
    "\"num_attention_heads\":32,\"num_key_value_heads\":8,\"max_position_embeddings\":131072,"                     \
    "\"rms_norm_eps\":1e-5,\"rope_theta\":500000.0"

/* Llama 3.1 8B's rope_scaling (factor 8, low 1, high 4, original 8192; theta 5e5, head_dim 128). By hand,
 * with f_i = 5e5^(-i/64) and wavelength 2 pi / f_i: wavelengths under 8192/4 keep f_i, which holds while
 * i < 64 ln(1024/pi) / ln(5e5) = 28.22, so i <= 28; wavelengths over 8192/1 get f_i / 8, from
 * i > 64 ln(4096/pi) / ln(5e5) = 34.98, so i >= 35; i = 29..34 blend: with s = (8192 f_i / (2 pi) - 1) / 3,
 * f_i ((1 - s) / 8 + s) = f_i / 8 + (7/8) s f_i. The literals are the same formula evaluated in Python. */
static void test_rope_scaling(void) {
    vkt_model_config c;
    EXPECT(parse("{\"model_type\":\"llama\"," LLAMA_SHAPE ",\"rope_scaling\":{\"factor\":8.0,\"low_freq_factor\":1.0,"
                 "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"}}",
                 true, &c) == VKT_OK);
    EXPECT(c.rope_scaling == VKT_ROPE_SCALING_LLAMA3 && c.rope_factor == 8 && c.rope_orig_max_pos == 8192);
    double got[64], worst = 0;
    int bad = -1;
    vkt_model_config_rope_freqs(&c, got);
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < 64; i++) {
        double f = pow(500000.0, -i / 64.0), want;
        if (i <= 28) want = f;
        else if (i >= 35) want = f / 8;
        else want = f / 8 + 7.0 / 8.0 * (8192 * f / (2 * pi) - 1) / 3 * f;
        double e = fabs(got[i] - want) / want;
        if (e > worst) worst = e, bad = i;
    }
    const struct { int i; double v; } lit[] = {{0, 1.0}, {28, 0.003211445994752591}, {29, 0.002166570763503359},
                                               {32, 0.0005248461609929547}, {34, 0.0001785078127679964},
                                               {35, 9.556212353964683e-05}, {63, 3.068925988914511e-07}};
    for (size_t k = 0; k < sizeof lit / sizeof lit[0]; k++) {
        double e = fabs(got[lit[k].i] - lit[k].v) / lit[k].v;
        if (e > worst) worst = e, bad = lit[k].i;
    }
    printf("llama3 rope frequencies: max relative error %.3g at i=%d (bound 1e-13)\n", worst, bad);
    EXPECT(worst < 1e-13);

    /* The scaling survives config.json written by a checkpoint. */
    cJSON *j = vkt_model_config_to_json(&c);
    vkt_model_config back;
    EXPECT(vkt_model_config_from_json(j, "round trip", true, &back) == VKT_OK);
    EXPECT(back.rope_scaling == VKT_ROPE_SCALING_LLAMA3 && back.rope_factor == 8 && back.rope_low_freq_factor == 1 &&
           back.rope_high_freq_factor == 4 && back.rope_orig_max_pos == 8192);
    cJSON_Delete(j);

    /* Linear (older "type" key): every frequency divided by the factor. Null and "default": unscaled. */
    EXPECT(parse("{\"model_type\":\"llama\"," LLAMA_SHAPE ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":4}}",
                 true, &c) == VKT_OK);
    vkt_model_config_rope_freqs(&c, got);
    EXPECT(c.rope_scaling == VKT_ROPE_SCALING_LINEAR && got[0] == 0.25 && fabs(got[10] - pow(5e5, -10 / 64.0) / 4) < 1e-18);
    EXPECT(parse("{\"model_type\":\"llama\"," LLAMA_SHAPE ",\"rope_scaling\":null}", true, &c) == VKT_OK &&
           c.rope_scaling == VKT_ROPE_SCALING_NONE);
    EXPECT(parse("{\"model_type\":\"llama\"," LLAMA_SHAPE ",\"rope_scaling\":{\"rope_type\":\"default\"}}", true, &c) ==
               VKT_OK && c.rope_scaling == VKT_ROPE_SCALING_NONE);
    vkt_model_config_rope_freqs(&c, got);
    EXPECT(got[10] == pow(5e5, -20 / 128.0));

    /* Refusals name the key. */
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}", VKT_ERR_UNSUPPORTED,
            "\"rope_type\" \"yarn\"", "not supported");
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2}}", VKT_ERR_UNSUPPORTED,
            "\"dynamic\"", "rope_scaling");
    refused("{\"model_type\":\"qwen2\",\"rope_scaling\":{\"rope_type\":\"longrope\"}}", VKT_ERR_UNSUPPORTED,
            "\"longrope\"", "rope_scaling");
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\"}}", VKT_ERR_FORMAT, "\"factor\"",
            "rope_scaling");
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2,\"attention_factor\":1}}",
            VKT_ERR_UNSUPPORTED, "\"attention_factor\"", "linear");
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":4,"
            "\"high_freq_factor\":1,\"original_max_position_embeddings\":8192}}",
            VKT_ERR_FORMAT, "\"high_freq_factor\"", "low_freq_factor");
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,"
            "\"high_freq_factor\":4}}",
            VKT_ERR_FORMAT, "\"original_max_position_embeddings\"", "missing");
    refused("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"linear\",\"type\":\"llama3\",\"factor\":2}}",
            VKT_ERR_FORMAT, "\"rope_type\"", "agree");
}

/* Mistral's window is kept and checked per model size; Qwen2's use_sliding_window is refused. */
static void test_sliding_window(void) {
    vkt_model_config c;
    EXPECT(parse("{\"model_type\":\"mistral\",\"hidden_size\":64,\"num_attention_heads\":4,\"intermediate_size\":96,"
                 "\"max_position_embeddings\":32768,\"sliding_window\":4096}", true, &c) == VKT_OK);
    EXPECT(c.sliding_window == 4096);
    EXPECT(vkt_model_config_check_positions(&c, 4096, "m") == VKT_OK); /* keys q-4095..q: the window never binds */
    tu_capture_begin();
    vkt_status s = vkt_model_config_check_positions(&c, 4097, "mistral config");
    tu_expect_fail("mistral at 4097 positions", s, VKT_ERR_UNSUPPORTED, tu_capture_end(), "\"sliding_window\" is 4096",
                   "at most 4096", (const char *)NULL);
    cJSON *j = vkt_model_config_to_json(&c);
    EXPECT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "sliding_window")) == 4096);
    cJSON_Delete(j);
    EXPECT(parse("{\"model_type\":\"mistral\",\"hidden_size\":64,\"num_attention_heads\":4,\"intermediate_size\":96,"
                 "\"sliding_window\":null}", true, &c) == VKT_OK && c.sliding_window == 0);
    EXPECT(vkt_model_config_check_positions(&c, 1 << 20, "m") == VKT_OK);
    /* Qwen2 ships sliding_window with use_sliding_window false: unused. */
    EXPECT(parse("{\"model_type\":\"qwen2\",\"hidden_size\":64,\"num_attention_heads\":4,\"intermediate_size\":96,"
                 "\"use_sliding_window\":false,\"sliding_window\":32,\"max_window_layers\":2}", true, &c) == VKT_OK &&
           c.sliding_window == 0);
    refused("{\"model_type\":\"qwen2\",\"hidden_size\":64,\"num_attention_heads\":4,\"intermediate_size\":96,"
            "\"use_sliding_window\":true,\"sliding_window\":32}", VKT_ERR_UNSUPPORTED, "\"use_sliding_window\": true",
            "false");
    refused("{\"model_type\":\"mistral\",\"layer_types\":[\"full_attention\",\"sliding_attention\"]}",
            VKT_ERR_UNSUPPORTED, "\"layer_types\"", "sliding_attention");
    refused("{\"model_type\":\"mistral\",\"sliding_window\":-3}", VKT_ERR_FORMAT, "\"sliding_window\"", "positive");
    refused("{\"model_type\":\"falcon\"}", VKT_ERR_UNSUPPORTED, "model_type \"falcon\"", "llama");
    refused("{\"model_type\":\"llama\",\"hidden_act\":\"gelu\"}", VKT_ERR_UNSUPPORTED, "\"hidden_act\"", "silu");
}

int main(void) {
    vkt_model_config c;
    /* GPT-2 small as on the Hugging Face hub: 124,439,808 parameters. */
    EXPECT(parse("{\"model_type\":\"gpt2\",\"vocab_size\":50257,\"n_positions\":1024,\"n_embd\":768,"
                 "\"n_layer\":12,\"n_head\":12,\"n_inner\":null,\"activation_function\":\"gelu_new\","
                 "\"resid_pdrop\":0.1,\"architectures\":[\"GPT2LMHeadModel\"]}",
                 false, &c) == VKT_OK);
    EXPECT(c.arch == VKT_ARCH_GPT2 && c.n_inner == 3072 && c.head_dim == 64 && c.tie_word_embeddings);
    EXPECT(vkt_model_config_n_params(&c) == 124439808);
    printf("gpt2 params %lld\n", (long long)vkt_model_config_n_params(&c));

    /* TinyLlama-1.1B shape: 1,100,048,384 parameters (GQA 32/4, untied). */
    EXPECT(parse("{\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":2048,\"intermediate_size\":5632,"
                 "\"num_hidden_layers\":22,\"num_attention_heads\":32,\"num_key_value_heads\":4,"
                 "\"max_position_embeddings\":2048,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
                 "\"rope_scaling\":null,\"tie_word_embeddings\":false,\"hidden_act\":\"silu\"}",
                 false, &c) == VKT_OK);
    EXPECT(c.n_kv_head == 4 && c.head_dim == 64 && !c.qkv_bias);
    EXPECT(vkt_model_config_n_params(&c) == 1100048384);
    printf("tinyllama params %lld\n", (long long)vkt_model_config_n_params(&c));

    /* Qwen2 implies q/k/v biases but no output-projection bias. */
    EXPECT(parse("{\"model_type\":\"qwen2\",\"vocab_size\":151936,\"hidden_size\":896,\"intermediate_size\":4864,"
                 "\"num_hidden_layers\":24,\"num_attention_heads\":14,\"num_key_value_heads\":2,"
                 "\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,"
                 "\"tie_word_embeddings\":true,\"use_sliding_window\":false}",
                 false, &c) == VKT_OK);
    EXPECT(c.qkv_bias && !c.o_bias);
    EXPECT(vkt_model_config_n_params(&c) == 494032768); /* Qwen2-0.5B */
    printf("qwen2-0.5b params %lld\n", (long long)vkt_model_config_n_params(&c));

    /* Hugging Face's Qwen2 ignores attention_bias: q/k/v biases stay (0.5B keeps its 494,032,768). */
    tu_capture_begin();
    vkt_status qs = parse("{\"model_type\":\"qwen2\",\"vocab_size\":151936,\"hidden_size\":896,\"intermediate_size\":4864,"
                          "\"num_hidden_layers\":24,\"num_attention_heads\":14,\"num_key_value_heads\":2,"
                          "\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-6,\"rope_theta\":1000000.0,"
                          "\"tie_word_embeddings\":true,\"attention_bias\":false,\"mlp_bias\":true}",
                          true, &c);
    const char *qlog = tu_capture_end();
    EXPECT(qs == VKT_OK && c.qkv_bias && !c.o_bias && !c.mlp_bias);
    EXPECT(vkt_model_config_n_params(&c) == 494032768);
    EXPECT(strstr(qlog, "qwen2 ignores \"attention_bias\": false") != NULL);
    printf("qwen2 with attention_bias=false: qkv_bias %d, %s", c.qkv_bias, qlog);

    /* hidden_size not divisible by the head count says exactly that (head_dim would truncate). */
    tu_capture_begin();
    qs = parse("{\"model_type\":\"llama\",\"hidden_size\":100,\"num_attention_heads\":3,\"intermediate_size\":64}",
               false, &c);
    qlog = tu_capture_end();
    EXPECT(qs == VKT_ERR_FORMAT && strstr(qlog, "hidden_size (100) is not divisible by num_attention_heads (3)"));
    printf("%s", qlog);
    EXPECT(parse("{\"model_type\":\"llama\",\"hidden_size\":96,\"num_attention_heads\":3,\"head_dim\":16,"
                 "\"intermediate_size\":64}", false, &c) == VKT_OK && c.head_dim == 16);

    /* config.json only names bos/eos ids the vocabulary has (gpt2 preset ids 50256 on a byte vocabulary). */
    vkt_model_config small = *vkt_model_preset("gpt2");
    small.vocab_size = 256;
    cJSON *js = vkt_model_config_to_json(&small);
    EXPECT(!cJSON_GetObjectItemCaseSensitive(js, "bos_token_id") && !cJSON_GetObjectItemCaseSensitive(js, "eos_token_id"));
    cJSON_Delete(js);
    js = vkt_model_config_to_json(vkt_model_preset("gpt2"));
    const cJSON *bos = cJSON_GetObjectItemCaseSensitive(js, "bos_token_id");
    EXPECT(cJSON_IsNumber(bos) && bos->valuedouble == 50256);
    cJSON_Delete(js);

    /* Errors name the key. */
    printf("expected errors follow:\n");
    EXPECT(parse("{\"model_type\":\"gpt2\",\"n_layer\":\"12\"}", false, &c) == VKT_ERR_FORMAT);
    EXPECT(parse("{\"model_type\":\"gpt2\",\"n_embd\":100,\"n_head\":3}", false, &c) == VKT_ERR_FORMAT);
    EXPECT(parse("{\"model_type\":\"gpt2\",\"n_layers\":12}", true, &c) == VKT_ERR_FORMAT);
    EXPECT(parse("{\"model_type\":\"gpt2\",\"n_layers\":12}", false, &c) == VKT_OK);
    EXPECT(parse("{\"model_type\":\"bert\"}", false, &c) == VKT_ERR_UNSUPPORTED);
    EXPECT(parse("{\"vocab_size\":3}", false, &c) == VKT_ERR_FORMAT);

    test_rope_scaling();
    test_sliding_window();

    /* Round trip through to_json. */
    const vkt_model_config *tiny = vkt_model_preset("llama-tiny");
    EXPECT(tiny != NULL);
    cJSON *j = vkt_model_config_to_json(tiny);
    vkt_model_config back;
    EXPECT(vkt_model_config_from_json(j, "round trip", true, &back) == VKT_OK);
    EXPECT(back.n_embd == tiny->n_embd && back.n_kv_head == tiny->n_kv_head && back.n_inner == tiny->n_inner);
    EXPECT(vkt_model_config_n_params(&back) == vkt_model_config_n_params(tiny));
    cJSON_Delete(j);

    /* Parameter tables agree with the counts and keep fused groups contiguous. */
    const char *names[] = {"gpt2", "llama-tiny", "smollm-135m", "gpt2-tiny"};
    for (int i = 0; i < 4; i++) {
        vkt_param_table t;
        const vkt_model_config *pc = vkt_model_preset(names[i]);
        EXPECT(vkt_params_build(pc, 64, &t) == VKT_OK);
        EXPECT(vkt_params_count(&t) == vkt_model_config_n_params(pc));
        for (int k = 0; k < t.n; k++) {
            if (t.p[k].fused_next) EXPECT(t.p[k + 1].offset == t.p[k].offset + t.p[k].numel);
            else EXPECT(k + 1 == t.n || t.p[k + 1].offset % 64 == 0);
        }
        printf("%s: %d tensors, %lld params\n", names[i], t.n, (long long)vkt_params_count(&t));
        vkt_params_free(&t);
    }
    vkt_param_table t;
    EXPECT(vkt_params_build(vkt_model_preset("llama-tiny"), 64, &t) == VKT_OK);
    const vkt_param *q = vkt_params_get(&t, 2, VKT_ROLE_Q_W);
    EXPECT(q && strcmp(q->name, "model.layers.2.self_attn.q_proj.weight") == 0);
    EXPECT(vkt_params_group_rows(&t, q) == 64 + 2 * 32);
    EXPECT(vkt_params_get(&t, -1, VKT_ROLE_LM_HEAD) == NULL); /* tied */
    EXPECT(vkt_params_find(&t, "model.norm.weight") != NULL);
    vkt_params_free(&t);

    return expect_finish("model_config");
}
