/* llm.c token shard (data/token_shard.c): header, exact size, ids; read twice into one array, as
 * when shards are concatenated. */
#include "data/token_shard.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vkt_tokens t = {0};
    vkt_shard_kind kind;
    if (vkt_shard_read_mem(data, size, "shard.bin", &t, &kind) == VKT_OK) {
        FUZZ_CHECK(kind == VKT_SHARD_U16 || kind == VKT_SHARD_U32);
        FUZZ_CHECK((size_t)t.n * (size_t)kind + 1024 == size);
        int64_t n = t.n;
        FUZZ_CHECK(vkt_shard_read_mem(data, size, "shard.bin", &t, NULL) == VKT_OK && t.n == 2 * n);
        for (int64_t i = 0; i < t.n; i++) FUZZ_CHECK(t.ids[i] >= 0 && t.ids[i] == t.ids[i % (n ? n : 1)]);
    }
    vkt_tokens_free(&t);
    return 0;
}
