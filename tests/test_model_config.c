/* Model config parsing: Hugging Face keys, defaults, parameter counts, and clear errors. Pure CPU. */
#include <cjson/cJSON.h>
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
    EXPECT(parse("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\"}}", false, &c) ==
           VKT_ERR_UNSUPPORTED);
    EXPECT(parse("{\"model_type\":\"bert\"}", false, &c) == VKT_ERR_UNSUPPORTED);
    EXPECT(parse("{\"vocab_size\":3}", false, &c) == VKT_ERR_FORMAT);

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
