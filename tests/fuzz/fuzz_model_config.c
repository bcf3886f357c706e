/* Hugging Face config.json (model/model_config.c): read leniently (as for a model folder) and
 * strictly (as for a vktrain config); an accepted config must survive to_json -> from_json with the
 * same shape, and its parameter count must be positive. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "io/json_file.h"
#include "model/model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *root;
    if (vkt_json_parse((const char *)data, size, "config.json", &root) != VKT_OK) return 0;
    for (int strict = 0; strict < 2; strict++) {
        vkt_model_config c, back;
        if (vkt_model_config_from_json(root, "config.json", strict, &c) != VKT_OK) continue;
        FUZZ_CHECK(vkt_model_config_validate(&c, "config.json") == VKT_OK);
        FUZZ_CHECK(vkt_model_config_n_params(&c) > 0);
        cJSON *out = vkt_model_config_to_json(&c);
        FUZZ_CHECK(out != NULL);
        FUZZ_CHECK(vkt_model_config_from_json(out, "round trip", true, &back) == VKT_OK);
        FUZZ_CHECK(back.arch == c.arch && back.vocab_size == c.vocab_size && back.max_seq_len == c.max_seq_len);
        FUZZ_CHECK(back.n_embd == c.n_embd && back.n_layer == c.n_layer && back.n_head == c.n_head);
        FUZZ_CHECK(back.n_kv_head == c.n_kv_head && back.head_dim == c.head_dim && back.n_inner == c.n_inner);
        cJSON_Delete(out);
    }
    cJSON_Delete(root);
    return 0;
}
