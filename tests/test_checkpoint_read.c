/* Reading model files against the parameter table (io/param_match.h, vkt_checkpoint_read_hf_flat): every
 * shape is checked, not just the element count; a transposed weight, an unexpected tensor, a missing one
 * and a tied head that is not the embedding are errors naming the file, the tensor and both shapes;
 * GPT-2 mask buffers are ignored. Tiny synthetic files written here. Pure CPU. */
#include <cjson/cJSON.h>

#include "io/checkpoint.h"
#include "io_testutil.h"
#include "io/param_match.h"
#include "io/safetensors.h"
#include "model/params.h"

/* A tiny Hugging Face file for table t: every parameter in file layout, value = its flat index. Extra
 * tensors (name, ndim, d0, d1) follow; `swap` names a parameter written with its dims swapped. */
typedef struct {
    const char *name;
    int ndim;
    int64_t d0, d1;
} extra_t;

static void write_model(const char *path, const vkt_param_table *t, const char *swap, const char *skip,
                        const extra_t *extra, int n_extra, float head_delta) {
    vkt_host_params hp = {0};
    for (int i = 0; i < t->n; i++) {
        const vkt_param *e = &t->p[i];
        if (skip && strcmp(e->name, skip) == 0) continue;
        int64_t shape[2];
        int nd = vkt_param_file_shape(e, VKT_LAYOUT_HF, shape);
        if (swap && strcmp(e->name, swap) == 0) {
            int64_t x = shape[0];
            shape[0] = shape[1], shape[1] = x;
        }
        if (vkt_host_params_add(&hp, nd, shape, "%s", e->name) != VKT_OK) exit(1);
    }
    for (int i = 0; i < n_extra; i++)
        if (vkt_host_params_add(&hp, extra[i].ndim, (int64_t[]){extra[i].d0, extra[i].d1}, "%s", extra[i].name))
            exit(1);
    if (vkt_host_params_alloc(&hp) != VKT_OK) exit(1);
    for (int64_t i = 0; i < hp.n_total; i++) hp.buf[i] = (float)i * 0.001f;
    /* A tied head written as a copy of the embedding (plus head_delta). */
    vkt_host_param *head = vkt_host_params_find(&hp, "lm_head.weight");
    vkt_host_param *wte = vkt_host_params_find(&hp, "model.embed_tokens.weight");
    if (head && wte && head->n == wte->n && !vkt_params_find(t, "lm_head.weight")) {
        memcpy(head->data, wte->data, (size_t)wte->n * sizeof(float));
        head->data[3] += head_delta;
    }
    if (vkt_st_write_params(path, &hp, VKT_ST_F32, NULL, 0) != VKT_OK) exit(1);
    vkt_host_params_free(&hp);
}

static vkt_model_config tiny(const char *json) {
    cJSON *o = cJSON_Parse(json);
    vkt_model_config c;
    if (!o || vkt_model_config_from_json(o, "tiny", true, &c) != VKT_OK) exit(1);
    cJSON_Delete(o);
    return c;
}

static vkt_status read_file(const char *path, const vkt_param_table *t, float *flat, const char **log) {
    tu_capture_begin();
    vkt_status s = vkt_checkpoint_read_hf_flat(path, t, flat);
    *log = tu_capture_end();
    return s;
}

static void test_llama(const char *dir) {
    /* C 8, F 12 (non-square: a transposed gate_proj keeps its element count), 2 heads, q/k/v biases. */
    vkt_model_config c = tiny("{\"model_type\":\"qwen2\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":12,"
                              "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
                              "\"max_position_embeddings\":16,\"tie_word_embeddings\":true}");
    vkt_param_table t;
    if (vkt_params_build(&c, 1, &t) != VKT_OK) exit(1);
    float *flat = calloc((size_t)t.total, sizeof *flat);
    const char *log;
    const char *path = tu_path(dir, "good.safetensors");
    write_model(path, &t, NULL, NULL, NULL, 0, 0);
    CHECK(read_file(path, &t, flat, &log) == VKT_OK, "a well-formed file must load: %s", log);
    const vkt_param *gate = vkt_params_find(&t, "model.layers.0.mlp.gate_proj.weight");
    CHECK(gate && gate->rows == 12 && gate->cols == 8, "gate_proj is (F, C)");

    path = tu_path(dir, "transposed.safetensors");
    write_model(path, &t, "model.layers.0.mlp.gate_proj.weight", NULL, NULL, 0, 0);
    tu_expect_fail("transposed gate_proj", read_file(path, &t, flat, &log), VKT_ERR_FORMAT, log, path,
                   "\"model.layers.0.mlp.gate_proj.weight\"", "has shape [8, 12]", "expected [12, 8]", "transposed",
                   NULL);

    path = tu_path(dir, "bias2d.safetensors");
    write_model(path, &t, NULL, "model.layers.0.self_attn.q_proj.bias", (extra_t[]){{"model.layers.0.self_attn.q_proj.bias", 2, 1, 8}}, 1, 0);
    tu_expect_fail("bias stored as [1, 8]", read_file(path, &t, flat, &log), VKT_ERR_FORMAT, log,
                   "\"model.layers.0.self_attn.q_proj.bias\"", "has shape [1, 8]", "expected [8]", NULL);

    path = tu_path(dir, "extra.safetensors");
    write_model(path, &t, NULL, NULL, (extra_t[]){{"model.layers.0.self_attn.o_proj.bias", 1, 8, 1}}, 1, 0);
    tu_expect_fail("unexpected tensor", read_file(path, &t, flat, &log), VKT_ERR_FORMAT, log, path,
                   "unexpected tensor \"model.layers.0.self_attn.o_proj.bias\" [8]", NULL);

    path = tu_path(dir, "missing.safetensors");
    write_model(path, &t, NULL, "model.layers.0.self_attn.k_proj.bias", NULL, 0, 0);
    tu_expect_fail("missing tensor", read_file(path, &t, flat, &log), VKT_ERR_FORMAT, log,
                   "\"model.layers.0.self_attn.k_proj.bias\" [4] is missing", NULL);

    /* Tied embeddings: an lm_head equal to the embedding is accepted, a different one is not. */
    extra_t head = {"lm_head.weight", 2, 10, 8};
    path = tu_path(dir, "tied_same.safetensors");
    write_model(path, &t, NULL, NULL, &head, 1, 0);
    CHECK(read_file(path, &t, flat, &log) == VKT_OK, "a tied head equal to the embedding loads: %s", log);
    path = tu_path(dir, "tied_diff.safetensors");
    write_model(path, &t, NULL, NULL, &head, 1, 0.5f);
    tu_expect_fail("tied head differs", read_file(path, &t, flat, &log), VKT_ERR_FORMAT, log,
                   "\"lm_head.weight\" differs from the embedding", "tie_word_embeddings", NULL);
    free(flat);
    vkt_params_free(&t);
}

static void test_gpt2(const char *dir) {
    /* GPT-2 Conv1D weights are (in, out) in Hugging Face files; its causal-mask buffers are ignored. */
    vkt_model_config c = tiny("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":16,\"n_embd\":8,"
                              "\"n_layer\":1,\"n_head\":2}");
    vkt_param_table t;
    if (vkt_params_build(&c, 1, &t) != VKT_OK) exit(1);
    float *flat = calloc((size_t)t.total, sizeof *flat);
    const char *log;
    const char *path = tu_path(dir, "gpt2.safetensors");
    extra_t mask = {"transformer.h.0.attn.bias", 2, 16, 16};
    write_model(path, &t, NULL, NULL, &mask, 1, 0);
    CHECK(read_file(path, &t, flat, &log) == VKT_OK, "GPT-2 with its attn.bias buffer loads: %s", log);
    path = tu_path(dir, "gpt2_t.safetensors");
    write_model(path, &t, "transformer.h.0.mlp.c_fc.weight", NULL, NULL, 0, 0);
    tu_expect_fail("GPT-2 c_fc in nn.Linear layout", read_file(path, &t, flat, &log), VKT_ERR_FORMAT, log,
                   "\"transformer.h.0.mlp.c_fc.weight\"", "has shape [32, 8]", "expected [8, 32]", "Conv1D", NULL);
    free(flat);
    vkt_params_free(&t);
}

int main(void) {
    const char *dir = tu_mkdir();
    char d[64];
    snprintf(d, sizeof d, "%s", dir);
    test_llama(d);
    test_gpt2(d);
    tu_rmdir(d);
    printf("%s checkpoint_read (%d failure(s))\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
