/* llm.c GPT-2 checkpoint (io/llmc_gpt2.c), f32 and bf16 versions: header, exact size, weights. */
#include "fuzz.h"
#include "io/llmc_gpt2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_gpt2_config cfg;
    vkt_host_params p = {0};
    if (vkt_llmc_gpt2_load_mem(data, size, "gpt2.bin", &cfg, &p) != VKT_OK) return 0;
    FUZZ_CHECK(cfg.padded_vocab_size >= cfg.vocab_size && cfg.channels % cfg.n_heads == 0);
    FUZZ_CHECK(p.count == 4 + 12 * cfg.n_layers);
    vkt_host_params_free(&p);
    return 0;
}
