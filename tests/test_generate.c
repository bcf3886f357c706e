/* Sampling with a KV cache against full recomputation, on tiny random GPT-2 (learned positions) and
 * LLaMA (RoPE, GQA; Qwen2-style q/k/v biases) models.
 *
 * 1. Logits: a decode model takes a prompt chunk (Tq > 1, from position 0), then one token at a time
 *    (the same one-token recording replayed, the host writing the position); after each forward its
 *    last-position logits must match row pos of a full (1, N) forward over the same tokens. Both are f32
 *    GPU results summed in different orders (attention split over 32 lanes vs key blocks, matmuls over
 *    1 row vs N rows), so they agree to rounding: bound 1e-4 relative (f32 reductions). The absolute
 *    floor is 1e-2 rms(logits), not 1e-3: there is no double reference here, both sides carry the f32
 *    rounding of 2L + 2 reductions whose terms have the logits' scale, so a logit that cancels to near 0
 *    differs by up to ~5e-7 rms between them (measured) while its own size can be 1e-4 rms. A wrong position,
 *    cache row or mask changes logits by O(rms), 100x past this bound.
 * 2. Greedy tokens through vkt_generate_ids: cached and full_recompute must produce the same ids, for a
 *    short prompt, a prompt longer than one prefill chunk (64), and a run past the context where the
 *    cached path falls back to the sliding window.
 * 3. A generation session (a chat's turns): continuing a sequence that extends the previous call's, or that
 *    diverges from it inside the cache, gives the ids a fresh vkt_generate_ids gives; a stop id ends the reply
 *    and is kept as its last id. */
#include <string.h>

#include "data/tokenizer.h"
#include "harness.h"
#include "model/model_decode.h"
#include "train/generate.h"

static void check_logits(vkt_test *t, const char *name, const vkt_model_config *cfg, int64_t N, int64_t chunk) {
    const int64_t V = cfg->vocab_size;
    vkt_model *full, *dec;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, 1, N, false, &full));
    VKT_TEST_TRY(t, vkt_model_init_weights(full, t->seed));
    VKT_TEST_TRY(t, vkt_model_create_decode(t->dev, cfg, chunk, N, &dec));
    float *params = malloc((size_t)full->table.total * sizeof *params);
    VKT_TEST_TRY(t, vkt_model_download_params(full, params));
    VKT_TEST_TRY(t, vkt_model_upload_params(dec, params));
    int32_t *tok = vkt_model_slot_tokens(full, 0), seq[256];
    for (int64_t i = 0; i < N; i++) seq[i] = tok[i] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
    vkt_model_use_slot(full, 0);
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, vkt_model_record_forward(full, t->rec, VKT_FWD_LOGITS));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
    float *ref_f = vkt_test_download(t, &full->logits);
    double *ref = vkt_test_to_double(ref_f, (size_t)(N * V));

    vkt_rec *step;
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 0, &step));
    vkt_model_use_slot(dec, 0);
    VKT_TEST_TRY(t, vkt_rec_begin(step));
    VKT_TEST_TRY(t, vkt_model_record_decode(dec, step, 1));
    VKT_TEST_TRY(t, vkt_rec_end(step));
    int32_t *dtok = vkt_model_slot_tokens(dec, 0), *pos = vkt_model_decode_pos(dec);
    vkt_tensor row0 = vkt_tensor_rows(&dec->logits, 0, 1);
    float *got = malloc((size_t)V * sizeof *got);
    double worst = 0;
    for (int64_t p = 0; p < N;) {
        const int64_t tq = p == 0 ? chunk : 1;
        memcpy(dtok, seq + p, (size_t)tq * sizeof *dtok);
        *pos = (int32_t)p;
        if (tq == 1) {
            VKT_TEST_TRY(t, vkt_rec_submit_wait(step));
        } else {
            VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
            VKT_TEST_TRY(t, vkt_model_record_decode(dec, t->rec, tq));
            VKT_TEST_TRY(t, vkt_rec_end(t->rec));
            VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
        }
        p += tq;
        VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &row0, got, (size_t)V * sizeof *got));
        if (memcmp(got, vkt_model_decode_logits(dec), (size_t)V * sizeof *got) != 0)
            vkt_test_fail(t, "%s: host-visible decode logits differ from logits row 0", name);
        long bad;
        const double *r = ref + (p - 1) * V;
        double e = vkt_cmp(got, r, (size_t)V, 1e-2 * vkt_rms(r, (size_t)V), &bad);
        if (e > worst) worst = e;
        if (!(e <= 1e-4)) {
            vkt_test_fail(t,
                          "%s: cached logits at position %lld differ from the full forward: rel %.3e at %ld "
                          "(got %g, want %g; seed %llu)",
                          name, (long long)(p - 1), e, bad, got[bad < 0 ? 0 : bad], r[bad < 0 ? 0 : bad],
                          (unsigned long long)t->seed);
            break;
        }
    }
    printf("   %-6s logits N=%lld chunk=%lld: cached vs full forward max_rel=%.3e (bound 1e-4)\n", name, (long long)N,
           (long long)chunk, worst);
    vkt_rec_destroy(step);
    free(params), free(ref_f), free(ref), free(got);
    vkt_model_destroy(dec);
    vkt_model_destroy(full);
}

static void check_greedy(vkt_test *t, const char *name, const vkt_model_config *cfg, int64_t n_prompt, int64_t n_new,
                         int64_t context) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, 1, 4, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed + 1));
    vkt_tokenizer *tok;
    VKT_TEST_TRY(t, vkt_tok_init_bytes(&tok));
    int32_t prompt[256];
    for (int64_t i = 0; i < n_prompt; i++) prompt[i] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)cfg->vocab_size);
    vkt_generate_opts go = {.max_tokens = n_new, .sampler = {.temperature = 0, .top_p = 1}, .context = context};
    int32_t *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    VKT_TEST_TRY(t, vkt_generate_ids(t->dev, m, tok, prompt, n_prompt, &go, &a, &na));
    go.full_recompute = true;
    VKT_TEST_TRY(t, vkt_generate_ids(t->dev, m, tok, prompt, n_prompt, &go, &b, &nb));
    int64_t same = 0;
    while (same < na && same < nb && a[same] == b[same]) same++;
    printf("   %-6s greedy prompt=%lld new=%lld context=%lld: %lld of %lld tokens equal\n", name, (long long)n_prompt,
           (long long)n_new, (long long)context, (long long)same, (long long)n_new);
    if (na != n_new || nb != n_new || same != n_new)
        vkt_test_fail(t, "%s: cached greedy token %lld is %d, full recompute %d (seed %llu)", name, (long long)same,
                      same < na ? a[same] : -1, same < nb ? b[same] : -1, (unsigned long long)t->seed);
    free(a), free(b);
    vkt_tok_free(tok);
    vkt_model_destroy(m);
}

/* Greedy continuation of seq[0, n) by a fresh generation (no session state). */
static int64_t fresh(vkt_test *t, const vkt_model *m, vkt_tokenizer *tok, const int32_t *seq, int64_t n, int64_t n_new,
                     int64_t context, int32_t *out) {
    vkt_generate_opts go = {.max_tokens = n_new, .sampler = {.temperature = 0, .top_p = 1}, .context = context};
    int32_t *ids = NULL;
    int64_t k = 0;
    VKT_TEST_TRY(t, vkt_generate_ids(t->dev, m, tok, seq, n, &go, &ids, &k));
    memcpy(out, ids, (size_t)k * sizeof *ids);
    free(ids);
    return k;
}

static void check_session(vkt_test *t, const char *name, const vkt_model_config *cfg) {
    const int64_t context = 80, n_new = 9;
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, 1, 4, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed + 2));
    vkt_tokenizer *tok;
    VKT_TEST_TRY(t, vkt_tok_init_bytes(&tok));
    vkt_gen_session *sess;
    VKT_TEST_TRY(t, vkt_gen_session_create(t->dev, m, context, &sess));
    int32_t seq[256], want[64];
    int64_t n = 0;
    for (; n < 11; n++) seq[n] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)cfg->vocab_size);
    vkt_generate_opts go = {.max_tokens = n_new, .sampler = {.temperature = 0, .top_p = 1}};
    /* Turn 1, turn 2 extending turn 1 and its reply, then a sequence that rewrites positions 5.. of turn 2's. */
    for (int turn = 0; turn < 3; turn++) {
        if (turn == 2) n = 5;
        for (int64_t k = 0; k < 7; k++) seq[n++] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)cfg->vocab_size);
        int32_t *got = NULL;
        int64_t n_got = 0;
        VKT_TEST_TRY(t, vkt_gen_session_run(sess, tok, seq, n, &go, &got, &n_got));
        int64_t n_want = fresh(t, m, tok, seq, n, n_new, context, want);
        bool same = n_got == n_want && memcmp(got, want, (size_t)n_got * sizeof *got) == 0;
        if (!same) vkt_test_fail(t, "%s session turn %d: the reply differs from a fresh generation", name, turn + 1);
        memcpy(seq + n, got, (size_t)n_got * sizeof *got);
        n += n_got;
        free(got);
    }
    /* A stop id: the greedy reply's third id ends it. */
    int64_t n_want = fresh(t, m, tok, seq, n, n_new, context, want);
    go.stop_ids = &want[2], go.n_stop = 1;
    int32_t *got = NULL;
    int64_t n_got = 0;
    VKT_TEST_TRY(t, vkt_gen_session_run(sess, tok, seq, n, &go, &got, &n_got));
    int64_t first = 0;
    while (first < n_want && want[first] != want[2]) first++;
    if (n_got != first + 1 || memcmp(got, want, (size_t)n_got * sizeof *got) != 0)
        vkt_test_fail(t, "%s session: with stop id %d the reply has %lld ids, want %lld ending with it", name, want[2],
                      (long long)n_got, (long long)(first + 1));
    printf("   %-6s session: 3 turns equal to fresh generations; stop id ends the reply after %lld ids\n", name,
           (long long)n_got);
    free(got);
    vkt_gen_session_destroy(sess);
    vkt_tok_free(tok);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "generate");
    vkt_model_config gpt2 = *vkt_model_preset("gpt2-tiny");
    gpt2.vocab_size = 37, gpt2.n_embd = 32, gpt2.n_layer = 2, gpt2.n_head = 4, gpt2.head_dim = 8;
    gpt2.n_inner = 128, gpt2.max_seq_len = 96, gpt2.init_std = 0.2;
    vkt_model_config llama = *vkt_model_preset("llama-tiny");
    llama.vocab_size = 41, llama.n_embd = 48, llama.n_layer = 2, llama.n_head = 6, llama.n_kv_head = 2;
    llama.head_dim = 8, llama.n_inner = 40, llama.max_seq_len = 96, llama.tie_word_embeddings = false;
    llama.init_std = 0.2;
    vkt_model_config qwen = llama;
    snprintf(qwen.model_type, sizeof qwen.model_type, "qwen2");
    qwen.qkv_bias = true, qwen.n_kv_head = 1;

    check_logits(&t, "gpt2", &gpt2, 29, 7);
    check_logits(&t, "llama", &llama, 23, 5);
    check_logits(&t, "qwen2", &qwen, 17, 1);

    check_greedy(&t, "gpt2", &gpt2, 3, 20, 0);
    check_greedy(&t, "gpt2", &gpt2, 70, 12, 0); /* two prefill chunks: 64 + 6 */
    check_greedy(&t, "gpt2", &gpt2, 5, 40, 24); /* past the context: window fallback */
    check_greedy(&t, "llama", &llama, 1, 30, 0);
    check_greedy(&t, "llama", &llama, 9, 30, 20); /* past the context */
    check_greedy(&t, "qwen2", &qwen, 66, 10, 0);

    check_session(&t, "gpt2", &gpt2);
    check_session(&t, "llama", &llama);
    return vkt_test_finish(&t);
}
