/* Generation from a model that is training a LoRA adapter (SFT evaluation samples, GRPO rollouts): the
 * generation's own inference models run the adapter through a mirror hook (vkt_lora_mirror_create) that
 * reads the live adapter parameters. Greedy ids must equal those of a model whose weights hold the merged
 * adapter (the tests' own double host merge), after the adapter changes too, and must differ from the bare
 * base's (the adapter is non-zero: init "false"), so a mirror that did nothing fails. */
#include <string.h>

#include "data/tokenizer.h"
#include "finetune/lora.h"
#include "harness.h"
#include "lora_testutil.h"
#include "model_testutil.h"
#include "train/generate.h"

static vkt_status mirror_attach(void *ctx, vkt_model *m, void **handle) {
    return vkt_lora_mirror_create(ctx, m, (vkt_lora_mirror **)handle);
}
static void mirror_release(void *ctx, void *handle) { vkt_lora_mirror_destroy(handle); }

static int64_t greedy(vkt_test *t, const vkt_model *m, const vkt_gen_adapter *ad, vkt_tokenizer *tok,
                      const int32_t *prompt, int64_t n, int32_t *out) {
    vkt_gen_session *s;
    VKT_TEST_TRY(t, vkt_gen_session_create_ex(t->dev, m, 0, ad, &s));
    vkt_generate_opts go = {.max_tokens = 12, .sampler = {.temperature = 0, .top_p = 1}};
    int32_t *ids = NULL;
    int64_t k = 0;
    VKT_TEST_TRY(t, vkt_gen_session_run(s, tok, prompt, n, &go, &ids, &k));
    memcpy(out, ids, (size_t)k * sizeof *ids);
    free(ids);
    vkt_gen_session_destroy(s);
    return k;
}

/* Greedy ids of a plain model holding base + s B A (merged on the host). */
static int64_t greedy_merged(vkt_test *t, const vkt_model *m, const vkt_lora *l, const float *base, vkt_tokenizer *tok,
                             const int32_t *prompt, int64_t n, int32_t *out) {
    double *merged = lora_test_merge(t, m, l, base);
    float *mf = malloc((size_t)m->table.total * sizeof *mf);
    for (int64_t i = 0; i < m->table.total; i++) mf[i] = (float)merged[i];
    vkt_model *ref;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, &m->cfg, 1, 4, false, &ref));
    VKT_TEST_TRY(t, vkt_model_upload_params(ref, mf));
    int64_t k = greedy(t, ref, NULL, tok, prompt, n, out);
    vkt_model_destroy(ref);
    free(mf), free(merged);
    return k;
}

static void check(vkt_test *t, const char *name, vkt_model_config cfg) {
    cfg.init_std = 0.3, cfg.max_seq_len = 48;
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, &cfg, 2, 16, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.lora_alpha = 8, lc.init = VKT_LORA_INIT_NONE, lc.seed = t->seed + 1;
    VKT_TEST_TRY(t, vkt_lora_cfg_add_target(&lc, "all-linear"));
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    float *base = malloc((size_t)m->table.total * sizeof *base);
    VKT_TEST_TRY(t, vkt_model_download_params(m, base));
    vkt_tokenizer *tok;
    VKT_TEST_TRY(t, vkt_tok_init_bytes(&tok));
    int32_t prompt[8], got[16], want[16], bare[16];
    for (int i = 0; i < 8; i++) prompt[i] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)cfg.vocab_size);
    vkt_gen_adapter ad = {.ctx = l, .attach = mirror_attach, .release = mirror_release};
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* a training step changed the adapter: the mirror must see it */
            float *p = malloc((size_t)l->table.total * sizeof *p);
            VKT_TEST_TRY(t, vkt_lora_download(l, p));
            for (int64_t i = 0; i < l->table.total; i++) p[i] *= -1.5f;
            VKT_TEST_TRY(t, vkt_lora_upload(l, p));
            free(p);
        }
        int64_t ng = greedy(t, m, &ad, tok, prompt, 8, got);
        int64_t nw = greedy_merged(t, m, l, base, tok, prompt, 8, want);
        int64_t nb = greedy(t, m, NULL, tok, prompt, 8, bare);
        bool same = ng == nw && memcmp(got, want, (size_t)ng * sizeof *got) == 0;
        bool differs = ng != nb || memcmp(got, bare, (size_t)ng * sizeof *got) != 0;
        printf("   %-6s round %d: mirrored adapter %s the merged model's %lld greedy ids; %s the bare base's\n", name,
               round, same ? "equals" : "DIFFERS FROM", (long long)nw, differs ? "differs from" : "EQUALS");
        if (!same) vkt_test_fail(t, "%s round %d: generation with the mirrored adapter differs from the merged model", name, round);
        if (!differs) vkt_test_fail(t, "%s round %d: the adapter changed nothing in the generation", name, round);
    }
    free(base);
    vkt_tok_free(tok);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "lora_generate");
    check(&t, "llama", vkt_test_tiny_llama());
    check(&t, "gpt2", vkt_test_tiny_gpt2());
    return vkt_test_finish(&t);
}
