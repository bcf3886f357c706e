/* llama2.c legacy checkpoint (io/llama2c.c): header validation, the exact-size check and the
 * weight copy with the RoPE row permutation. */
#include "fuzz.h"
#include "io/llama2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_llama2c_config cfg;
    vkt_host_params p = {0};
    if (vkt_llama2c_load_mem(data, size, "model.bin", &cfg, &p) != VKT_OK) return 0;
    FUZZ_CHECK(cfg.dim > 0 && cfg.n_layers > 0 && cfg.head_size * cfg.n_heads == cfg.dim);
    FUZZ_CHECK(p.count == 2 + 9 * cfg.n_layers + !cfg.shared_classifier);
    int64_t total = 0;
    for (int i = 0; i < p.count; i++) total += p.items[i].n;
    FUZZ_CHECK((size_t)total * 4 < size);
    vkt_host_params_free(&p);
    return 0;
}
