/* Import of a real pretrained checkpoint: stories260K (llama2.c format, LLaMA architecture with GQA) must
 * reproduce its greedy-decoding reference token for token (data/models/stories260K). Also a
 * checkpoint save -> load round trip keeps every parameter bit for bit. */
#include <cjson/cJSON.h>
#include <string.h>

#include "data/tokenizer.h"
#include "harness.h"
#include "io/checkpoint.h"
#include "model/model.h"
#include "io_testutil.h"
#include "train/convert.h"
#include "train/generate.h"

static int32_t *read_reference(vkt_test *t, int64_t *n) {
    FILE *f = fopen(vkt_test_data("models/stories260K/greedy_reference.json"), "rb");
    if (!f) {
        vkt_test_fail(t, "cannot open greedy_reference.json under %s", VKT_TEST_DATA);
        return NULL;
    }
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    cJSON *o = cJSON_Parse(text);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "token_ids");
    *n = cJSON_GetArraySize(ids);
    int32_t *out = malloc((size_t)*n * sizeof *out);
    for (int64_t i = 0; i < *n; i++) out[i] = (int32_t)cJSON_GetArrayItem(ids, (int)i)->valuedouble;
    cJSON_Delete(o);
    return out;
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "import");
    char model_path[1024], tok_path[1024];
    snprintf(model_path, sizeof model_path, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(tok_path, sizeof tok_path, "%s", vkt_test_data("models/stories260K/tok512.bin"));

    vkt_model_config cfg;
    VKT_TEST_TRY(&t, vkt_import_config(model_path, &cfg));
    printf("   stories260K: V=%lld C=%lld L=%lld NH=%lld KVH=%lld F=%lld T=%lld tied=%d\n",
           (long long)cfg.vocab_size, (long long)cfg.n_embd, (long long)cfg.n_layer, (long long)cfg.n_head,
           (long long)cfg.n_kv_head, (long long)cfg.n_inner, (long long)cfg.max_seq_len, cfg.tie_word_embeddings);
    vkt_model *m;
    VKT_TEST_TRY(&t, vkt_model_create(t.dev, &cfg, 1, 8, false, &m));
    VKT_TEST_TRY(&t, vkt_import_params(model_path, m));
    vkt_tokenizer *tok;
    VKT_TEST_TRY(&t, vkt_tok_load_llama2c(tok_path, 512, &tok));

    int64_t n_ref = 0;
    int32_t *ref = read_reference(&t, &n_ref);
    int32_t bos = 1, *got = NULL;
    int64_t n_got = 0;
    vkt_generate_opts go = {.max_tokens = n_ref, .sampler = {.temperature = 0, .top_p = 1}, .context = 512};
    VKT_TEST_TRY(&t, vkt_generate_ids(t.dev, m, tok, &bos, 1, &go, &got, &n_got));
    int64_t first_bad = -1;
    for (int64_t i = 0; i < n_ref && first_bad < 0; i++)
        if (i >= n_got || got[i] != ref[i]) first_bad = i;
    printf("   greedy decoding: %lld of %lld tokens match the reference\n",
           (long long)(first_bad < 0 ? n_ref : first_bad), (long long)n_ref);
    if (first_bad >= 0)
        vkt_test_fail(&t, "greedy token %lld is %d, reference %d", (long long)first_bad,
                      first_bad < n_got ? got[first_bad] : -1, ref[first_bad]);
    vkt_tok_bytes text = {0};
    vkt_tok_decode(tok, got, (size_t)n_got, true, &text);
    printf("   text: %.120s...\n", text.data ? text.data : "");
    vkt_tok_bytes_free(&text);

    /* Save -> load round trip into a fresh model. */
    char dir[] = "/tmp/vkt_ckpt_XXXXXX";
    if (!mkdtemp(dir)) vkt_test_fail(&t, "mkdtemp failed");
    vkt_checkpoint_state st = {.step = 7, .data_rng = {1, 2}, .data_epoch = 3, .data_batch = 4};
    char saved[1200];
    VKT_TEST_TRY(&t, vkt_checkpoint_save(dir, 2, m, NULL, &st, NULL, saved, sizeof saved));
    vkt_model_config cfg2;
    VKT_TEST_TRY(&t, vkt_checkpoint_read_config(dir, &cfg2));
    vkt_model *m2;
    VKT_TEST_TRY(&t, vkt_model_create(t.dev, &cfg2, 1, 8, false, &m2));
    vkt_checkpoint_state st2;
    VKT_TEST_TRY(&t, vkt_checkpoint_load_params(dir, m2, &st2));
    float *a = vkt_test_download(&t, &m->params), *b = vkt_test_download(&t, &m2->params);
    if (m->table.total != m2->table.total || memcmp(a, b, (size_t)m->table.total * 4) != 0)
        vkt_test_fail(&t, "checkpoint round trip changed the parameters");
    if (st2.step != 7 || st2.data_rng[0] != 1 || st2.data_rng[1] != 2 || st2.data_epoch != 3 || st2.data_batch != 4)
        vkt_test_fail(&t, "checkpoint round trip changed the trainer state");
    printf("   checkpoint round trip: %s, %lld parameters identical\n", saved, (long long)m->table.total);
    /* A corrupt trainer_state.json: a step beyond int64 is a format error (it was cast, undefined). */
    char state_path[1300];
    snprintf(state_path, sizeof state_path, "%s/trainer_state.json", saved);
    FILE *sf = fopen(state_path, "w");
    if (sf) {
        fputs("{\"step\": 1e300, \"optimizer_step\": 0, \"data_rng\": \"00000000000000010000000000000002\", \"data_epoch\": 3, "
              "\"data_batch\": 4}\n", sf);
        fclose(sf);
    }
    vkt_status bad_state = vkt_checkpoint_load_params(dir, m2, &st2);
    if (!sf || bad_state != VKT_ERR_FORMAT)
        vkt_test_fail(&t, "trainer_state.json with step 1e300: got %s, want VKT_ERR_FORMAT", vkt_status_name(bad_state));
    /* convert: a complete Hugging Face folder, tokenizer.json included and encoding as tok512.bin does;
     * config.json's bos/eos are ids of the vocabulary. Without a tokenizer, the error says --tokenizer. */
    char cdir[] = "/tmp/vkt_convert_XXXXXX";
    if (!mkdtemp(cdir)) vkt_test_fail(&t, "mkdtemp failed");
    char conv[1200], path[1400];
    VKT_TEST_TRY(&t, vkt_convert_to_hf(t.dev, model_path, cdir, tok_path, conv, sizeof conv));
    snprintf(path, sizeof path, "%s/tokenizer.json", conv);
    vkt_tokenizer *tok2 = NULL;
    VKT_TEST_TRY(&t, vkt_tok_load(path, &tok2));
    const char *probe = "Once upon a time, Lily saw a big dog.";
    vkt_tok_ids e1 = {0}, e2 = {0};
    VKT_TEST_TRY(&t, vkt_tok_encode(tok, probe, strlen(probe), true, &e1));
    VKT_TEST_TRY(&t, vkt_tok_encode(tok2, probe, strlen(probe), true, &e2));
    if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len * sizeof *e1.data) != 0)
        vkt_test_fail(&t, "converted tokenizer.json encodes \"%s\" as %zu ids, tok512.bin as %zu", probe, e2.len,
                      e1.len);
    vkt_tok_ids_free(&e1), vkt_tok_ids_free(&e2), vkt_tok_free(tok2);
    snprintf(path, sizeof path, "%s/config.json", conv);
    vkt_model_config cc;
    VKT_TEST_TRY(&t, vkt_model_config_load(path, &cc));
    if (cc.bos_token_id < 0 || cc.bos_token_id >= cc.vocab_size || cc.eos_token_id < 0 || cc.eos_token_id >= cc.vocab_size)
        vkt_test_fail(&t, "converted config.json: bos %lld eos %lld for vocabulary %lld", (long long)cc.bos_token_id,
                      (long long)cc.eos_token_id, (long long)cc.vocab_size);
    char found[1024] = "";
    vkt_model *m3 = NULL;
    VKT_TEST_TRY(&t, vkt_load_model(t.dev, conv, 1, 8, false, &m3, found, sizeof found));
    if (!strstr(found, "tokenizer.json")) vkt_test_fail(&t, "the converted folder's tokenizer is not found: '%s'", found);
    vkt_model_destroy(m3);
    printf("   convert: %s with tokenizer.json (same ids as tok512.bin), bos %lld eos %lld\n", conv,
           (long long)cc.bos_token_id, (long long)cc.eos_token_id);
    tu_capture_begin();
    vkt_status cs = vkt_convert_to_hf(t.dev, model_path, cdir, NULL, conv, sizeof conv);
    const char *clog = tu_capture_end();
    if (cs != VKT_ERR_ARG || !strstr(clog, "--tokenizer"))
        vkt_test_fail(&t, "convert without a tokenizer: %s, \"%s\"", vkt_status_name(cs), clog);
    tu_rmdir(cdir);
    tu_rmdir(dir);
    free(a), free(b), free(ref), free(got);
    vkt_model_destroy(m2);
    vkt_model_destroy(m);
    vkt_tok_free(tok);
    return vkt_test_finish(&t);
}
