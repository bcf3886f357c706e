/* GRPO rollouts and batches (src/rl/rollout.h, grpo_batch.h) on a tiny random LLaMA (byte vocabulary):
 *   - greedy rollouts equal vkt_generate_ids for every completion of every group;
 *   - sampling is reproducible per (seed, step, prompt id, sample): the same call twice gives the same
 *     completions, a prompt gives the same ones when it comes alone, another step gives others, and a
 *     group's completions are not all alike;
 *   - stop ids end a completion (kept as its last id, left out of its text), else max tokens do;
 *   - chat prompts are the template's render with the generation prompt; long prompts keep their end
 *     under max_prompt_tokens and fail clearly without it;
 *   - after the weights change (a LoRA adapter through the mirror hook, or the model itself with
 *     reload_params) a rollout equals a fresh session's, so no stale KV cache is reused;
 *   - batches: every completion exactly once over the micro-batches, packed and unpacked, with its
 *     prompt + completion inputs, completion-only targets and seq_ids, segment starts and padding as
 *     pref_pack lays them out; constant rewards give advantages of exactly 0, others the group formula. */
#include <string.h>

#include "chat/chat_template.h"
#include "finetune/lora.h"
#include "harness.h"
#include "ops/seq_sum.h"
#include "rl/grpo_batch.h"
#include "rl/rollout.h"

#define G 4
#define MAXC 8

typedef struct {
    vkt_test *t;
    vkt_model *m;
    vkt_tokenizer *tok;
} ctx;

static const vkt_rl_prompt PROMPTS[] = {{.id = 10, .text = "ab"}, {.id = 11, .text = "hello"}, {.id = 12, .text = "x"}};

static vkt_rollout *make(ctx *c, vkt_rollout_opts o, const vkt_gen_adapter *ad, const vkt_chat_template *tmpl) {
    vkt_rollout *r;
    VKT_TEST_TRY(c->t, vkt_rollout_create(c->t->dev, c->m, ad, c->tok, tmpl, &o, &r));
    return r;
}

static vkt_rollout_opts opts(double temperature) {
    vkt_rollout_opts o = vkt_rollout_opts_default();
    o.group_size = G, o.max_completion_tokens = MAXC, o.seed = 1234, o.sampler.temperature = temperature;
    return o;
}

static bool same_completion(const vkt_completion *a, const vkt_completion *b) {
    return a->n == b->n && memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids) == 0 && a->stopped == b->stopped &&
           strcmp(a->text, b->text) == 0;
}

static bool same_sets(const vkt_rollout_set *a, const vkt_rollout_set *b) {
    if (vkt_rollout_set_size(a) != vkt_rollout_set_size(b)) return false;
    for (int64_t i = 0; i < vkt_rollout_set_size(a); i++)
        if (!same_completion(&a->c[i], &b->c[i])) return false;
    return true;
}

static void check_greedy(ctx *c) {
    vkt_test *t = c->t;
    vkt_rollout *r = make(c, opts(0), NULL, NULL);
    vkt_rollout_set set;
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, PROMPTS, 3, &set));
    int bad = 0;
    for (int64_t p = 0; p < 3; p++) {
        vkt_generate_opts go = {.max_tokens = MAXC, .sampler = {.temperature = 0, .top_p = 1}};
        int32_t *want = NULL;
        int64_t nw = 0;
        VKT_TEST_TRY(t, vkt_generate_ids(t->dev, c->m, c->tok, set.prompt_ids[p].data, (int64_t)set.prompt_ids[p].len,
                                         &go, &want, &nw));
        for (int g = 0; g < G; g++) {
            const vkt_completion *k = &set.c[p * G + g];
            bad += k->prompt != p || k->n != nw || memcmp(k->ids, want, (size_t)nw * sizeof *want) != 0 || k->stopped;
        }
        free(want);
    }
    printf("   greedy: %d of %d completions differ from vkt_generate_ids (%d ids each)\n", bad, 3 * G, MAXC);
    if (bad) vkt_test_fail(t, "greedy rollouts differ from vkt_generate_ids");
    vkt_rollout_set_free(&set);
    vkt_rollout_destroy(r);
}

static void check_sampling(ctx *c) {
    vkt_test *t = c->t;
    vkt_rollout_opts o = opts(1.0);
    o.sampler.top_k = 50, o.sampler.top_p = 0.95;
    vkt_rollout *r = make(c, o, NULL, NULL);
    vkt_rollout_set a, b, alone, other;
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 5, PROMPTS, 3, &a));
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 5, PROMPTS, 3, &b));
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 5, PROMPTS + 1, 1, &alone));
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 6, PROMPTS, 3, &other));
    bool repeat = same_sets(&a, &b), by_id = true, step_differs = false, group_differs = false;
    for (int g = 0; g < G; g++) {
        by_id &= same_completion(&alone.c[g], &a.c[G + g]);
        group_differs |= !same_completion(&a.c[g], &a.c[0]);
    }
    step_differs = !same_sets(&a, &other);
    printf("   sampling: repeat %s, prompt alone %s, next step %s, group members %s\n", repeat ? "same" : "DIFFERS",
           by_id ? "same" : "DIFFERS", step_differs ? "differs" : "SAME", group_differs ? "differ" : "ALL ALIKE");
    if (!repeat || !by_id) vkt_test_fail(t, "sampling is not reproducible per (seed, step, prompt id, sample)");
    if (!step_differs || !group_differs) vkt_test_fail(t, "samples do not vary with the step or within a group");
    if (vkt_rollout_seed(1, 2, 3, 4) == vkt_rollout_seed(1, 2, 4, 3) || vkt_rollout_seed(1, 2, 3, 4) == vkt_rollout_seed(2, 2, 3, 4))
        vkt_test_fail(t, "seeds collide for swapped or different tuples");
    vkt_rollout_set_free(&a), vkt_rollout_set_free(&b), vkt_rollout_set_free(&alone), vkt_rollout_set_free(&other);
    vkt_rollout_destroy(r);
}

static void check_stop(ctx *c) {
    vkt_test *t = c->t;
    vkt_rollout *r = make(c, opts(0), NULL, NULL);
    vkt_rollout_set free_run, stopped;
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, PROMPTS, 1, &free_run));
    vkt_rollout_destroy(r);
    /* The greedy run's first id that does not occur before it becomes a stop id. */
    const vkt_completion *f = &free_run.c[0];
    int64_t at = -1;
    for (int64_t i = 1; i < f->n && at < 0; i++) {
        bool earlier = false;
        for (int64_t k = 0; k < i; k++) earlier |= f->ids[k] == f->ids[i];
        if (!earlier) at = i;
    }
    if (at < 0) {
        vkt_test_fail(t, "the greedy completion repeats one id: pick another seed");
        vkt_rollout_set_free(&free_run);
        return;
    }
    vkt_rollout_opts o = opts(0);
    int32_t stop = f->ids[at];
    o.stop_ids = &stop, o.n_stop = 1;
    r = make(c, o, NULL, NULL);
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, PROMPTS, 1, &stopped));
    const vkt_completion *s = &stopped.c[0];
    vkt_tok_bytes want = {0};
    VKT_TEST_TRY(t, vkt_tok_decode(c->tok, f->ids, (size_t)at, true, &want));
    bool ok = s->stopped && s->n == at + 1 && memcmp(s->ids, f->ids, (size_t)(at + 1) * sizeof *s->ids) == 0 &&
              strcmp(s->text, want.data ? want.data : "") == 0 && !f->stopped && f->n == MAXC;
    printf("   stop: id %d stops after %lld ids (kept last, not in the text); without it %lld ids, truncated\n", stop,
           (long long)s->n, (long long)f->n);
    if (!ok) vkt_test_fail(t, "stop handling: got %lld ids (stopped %d), want %lld", (long long)s->n, s->stopped, (long long)at + 1);
    vkt_tok_bytes_free(&want);
    vkt_rollout_set_free(&free_run), vkt_rollout_set_free(&stopped);
    vkt_rollout_destroy(r);
}

static void check_prompts(ctx *c) {
    vkt_test *t = c->t;
    vkt_chat_template *tmpl;
    VKT_TEST_TRY(t, vkt_chat_template_builtin("chatml", NULL, NULL, &tmpl));
    cJSON *msgs = cJSON_Parse("[{\"role\": \"user\", \"content\": \"hi\"}]");
    vkt_rl_prompt chat = {.id = 0, .messages = msgs};
    vkt_rollout *r = make(c, opts(0), NULL, tmpl);
    vkt_tok_ids ids = {0}, want = {0};
    bool cut = true;
    VKT_TEST_TRY(t, vkt_rollout_encode_prompt(r, &chat, &ids, &cut));
    const char *render = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
    VKT_TEST_TRY(t, vkt_tok_encode(c->tok, render, strlen(render), true, &want));
    if (cut || ids.len != want.len || memcmp(ids.data, want.data, ids.len * sizeof *ids.data) != 0)
        vkt_test_fail(t, "a chat prompt is not the chatml render with the generation prompt");
    vkt_rollout_set set;
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, &chat, 1, &set));
    vkt_rollout_set_free(&set);
    vkt_rollout_destroy(r);

    /* 40 + 8 fits 64 positions; 60 + 8 does not: cut to the last 16 with max_prompt_tokens, else an error. */
    char longp[61];
    for (int i = 0; i < 60; i++) longp[i] = (char)('a' + i % 26);
    longp[60] = 0;
    vkt_rl_prompt lp = {.id = 7, .text = longp};
    r = make(c, opts(0), NULL, NULL);
    ids.len = 0;
    vkt_status s = vkt_rollout_encode_prompt(r, &lp, &ids, &cut);
    if (s != VKT_ERR_ARG) vkt_test_fail(t, "a prompt over the context: %s, want VKT_ERR_ARG", vkt_status_name(s));
    vkt_rollout_destroy(r);
    vkt_rollout_opts o = opts(0);
    o.max_prompt_tokens = 16;
    r = make(c, o, NULL, NULL);
    ids.len = 0;
    VKT_TEST_TRY(t, vkt_rollout_encode_prompt(r, &lp, &ids, &cut));
    if (!cut || ids.len != 16 || ids.data[0] != (unsigned char)longp[44] || ids.data[15] != (unsigned char)longp[59])
        vkt_test_fail(t, "max_prompt_tokens 16 kept %zu ids, not the prompt's last 16", ids.len);
    vkt_rollout_destroy(r);
    o.max_prompt_tokens = 60;
    vkt_rollout *none = NULL;
    s = vkt_rollout_create(t->dev, c->m, NULL, c->tok, NULL, &o, &none);
    if (s != VKT_ERR_ARG || none) vkt_test_fail(t, "max_prompt_tokens + max_completion_tokens over the context accepted");
    printf("   prompts: chatml render with generation prompt; 60-token prompt cut to its last 16, refused without a limit\n");
    vkt_tok_ids_free(&ids), vkt_tok_ids_free(&want);
    cJSON_Delete(msgs);
    vkt_chat_template_free(tmpl);
}

static vkt_status mirror_attach(void *lora, vkt_model *m, void **handle) {
    return vkt_lora_mirror_create(lora, m, (vkt_lora_mirror **)handle);
}
static void mirror_release(void *lora, void *handle) {
    (void)lora;
    vkt_lora_mirror_destroy(handle);
}

/* Rollouts after the weights change equal those of a fresh rollout (fresh session, fresh cache). */
static void check_refresh(ctx *c, vkt_model_config cfg) {
    vkt_test *t = c->t;
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, &cfg, 1, 16, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed + 7));
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.lora_alpha = 8, lc.init = VKT_LORA_INIT_NONE, lc.seed = t->seed + 1;
    VKT_TEST_TRY(t, vkt_lora_cfg_add_target(&lc, "all-linear"));
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    vkt_gen_adapter ad = {.ctx = l, .attach = mirror_attach, .release = mirror_release};
    ctx lc_ctx = {t, m, c->tok};
    /* Prompts sharing a long prefix, so a stale cache would be reused for most of each prompt. */
    const vkt_rl_prompt ps[] = {{.id = 1, .text = "shared prefix one"}, {.id = 2, .text = "shared prefix two"}};
    vkt_rollout *r = make(&lc_ctx, opts(0), &ad, NULL);
    vkt_rollout_set before, after, fresh;
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, ps, 2, &before));
    float *p = malloc((size_t)l->table.total * sizeof *p);
    VKT_TEST_TRY(t, vkt_lora_download(l, p));
    for (int64_t i = 0; i < l->table.total; i++) p[i] *= -1.5f;
    VKT_TEST_TRY(t, vkt_lora_upload(l, p));
    free(p);
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, ps, 2, &after));
    vkt_rollout *r2 = make(&lc_ctx, opts(0), &ad, NULL);
    VKT_TEST_TRY(t, vkt_rollout_generate(r2, 0, ps, 2, &fresh));
    bool lora_ok = same_sets(&after, &fresh), lora_changed = !same_sets(&before, &after);
    vkt_rollout_set_free(&before), vkt_rollout_set_free(&after), vkt_rollout_set_free(&fresh);
    vkt_rollout_destroy(r), vkt_rollout_destroy(r2);

    /* Full fine-tuning: the model's own weights change; reload_params copies them. */
    vkt_lora_detach(l);
    vkt_rollout_opts o = opts(0);
    o.reload_params = true;
    r = make(&lc_ctx, o, NULL, NULL);
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, ps, 2, &before));
    float *w = malloc((size_t)m->table.total * sizeof *w);
    VKT_TEST_TRY(t, vkt_model_download_params(m, w));
    for (int64_t i = 0; i < m->table.total; i++) w[i] *= (i % 3 == 0) ? -1.0f : 1.0f;
    VKT_TEST_TRY(t, vkt_model_upload_params(m, w));
    free(w);
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 0, ps, 2, &after));
    r2 = make(&lc_ctx, o, NULL, NULL);
    VKT_TEST_TRY(t, vkt_rollout_generate(r2, 0, ps, 2, &fresh));
    bool full_ok = same_sets(&after, &fresh), full_changed = !same_sets(&before, &after);
    printf("   refresh: LoRA step %s a fresh rollout (%s); full step %s a fresh rollout (%s)\n",
           lora_ok ? "equals" : "DIFFERS FROM", lora_changed ? "changed" : "UNCHANGED", full_ok ? "equals" : "DIFFERS FROM",
           full_changed ? "changed" : "UNCHANGED");
    if (!lora_ok || !full_ok) vkt_test_fail(t, "a rollout after a weight change reused stale weights or cache");
    if (!lora_changed || !full_changed) vkt_test_fail(t, "the weight change did not change the greedy rollouts");
    vkt_rollout_set_free(&before), vkt_rollout_set_free(&after), vkt_rollout_set_free(&fresh);
    vkt_rollout_destroy(r), vkt_rollout_destroy(r2);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

/* Every completion of set exactly once over the micro-batches of (B, T, pack), each laid out right. */
static void check_batches(vkt_test *t, const vkt_rollout_set *set, const float *rw, const float *adv, int64_t B,
                          int64_t T, bool pack, int64_t max_seqs) {
    const int64_t n = vkt_rollout_set_size(set), N = B * T;
    vkt_grpo_batch_opts o = {.B = B, .T = T, .pack = pack, .max_seqs = max_seqs, .pad_id = 3};
    const int64_t S = max_seqs > 0 ? max_seqs : N;
    int32_t *arr = malloc((size_t)(4 * N + S) * sizeof *arr);
    vkt_grpo_batch b = {.tokens = arr, .targets = arr + N, .seg_start = arr + 2 * N, .seq_id = arr + 3 * N,
                        .group = arr + 4 * N, .completion = malloc((size_t)S * sizeof(int64_t)),
                        .rewards = malloc((size_t)S * sizeof(float)), .advantages = malloc((size_t)S * sizeof(float))};
    int *seen = calloc((size_t)n, sizeof *seen);
    int64_t first = 0, batches = 0, errors = 0;
    while (first < n) {
        int64_t next;
        VKT_TEST_TRY(t, vkt_grpo_batch_fill(set, rw, adv, first, &o, &b, &next));
        errors += next <= first || b.n_seqs != next - first;
        errors += vkt_seq_ids_check(b.seq_id, N, T, S, "grpo batch") != VKT_OK; /* the ops' own table check */
        int64_t targets = 0;
        for (int32_t s = 0; s < b.n_seqs; s++) {
            int64_t i = b.completion[s];
            const vkt_completion *c = &set->c[i];
            const vkt_tok_ids *pr = &set->prompt_ids[c->prompt];
            seen[i]++;
            errors += b.group[s] != c->prompt || b.rewards[s] != rw[i] || b.advantages[s] != adv[i];
            /* Its positions: the segment whose first target belongs to s. */
            int64_t k = 0, start = -1, np = (int64_t)pr->len;
            for (int64_t at = 0; at < N; at++) {
                if (b.seq_id[at] != s) continue;
                if (k == 0) start = at - (np - 1); /* the segment begins np - 1 positions before its first target */
                errors += b.targets[at] != c->ids[k] || at != start + np - 1 + k;
                k++;
            }
            errors += k != c->n;
            for (int64_t j = 0; start >= 0 && j < np + c->n - 1; j++) {
                int32_t in = j < np ? pr->data[j] : c->ids[j - np];
                errors += b.tokens[start + j] != in || b.seg_start[start + j] != start % T ||
                          (start % T) + j >= T || (j + 1 < np && (b.targets[start + j] != -100 || b.seq_id[start + j] != -1));
            }
            targets += k;
        }
        for (int64_t s = b.n_seqs; s < S; s++) errors += b.group[s] != -1 || b.completion[s] != -1 || b.advantages[s] != 0;
        for (int64_t at = 0; at < N; at++) { /* padding: -100, -1, pad id; a row's padding is one segment */
            errors += (b.targets[at] == -100) != (b.seq_id[at] < 0);
            if (b.seg_start[at] > at % T) errors++;
        }
        errors += targets != b.n_targets;
        first = next, batches++;
    }
    for (int64_t i = 0; i < n; i++) errors += seen[i] != 1;
    printf("   batches B %lld T %lld %s%s: %lld completions in %lld micro-batches, %lld layout errors\n", (long long)B,
           (long long)T, pack ? "packed" : "one per row", max_seqs ? " (max_seqs 3)" : "", (long long)n, (long long)batches,
           (long long)errors);
    if (errors) vkt_test_fail(t, "batch layout: %lld errors", (long long)errors);
    free(seen), free(arr), free(b.completion), free(b.rewards), free(b.advantages);
}

static void check_batch_and_advantages(ctx *c) {
    vkt_test *t = c->t;
    vkt_rollout_opts o = opts(1.0);
    o.stop_ids = (const int32_t[]){5, 9, 17}, o.n_stop = 3; /* some completions stop early: odd lengths */
    vkt_rollout *r = make(c, o, NULL, NULL);
    vkt_rollout_set set;
    VKT_TEST_TRY(t, vkt_rollout_generate(r, 3, PROMPTS, 3, &set));
    const int64_t n = vkt_rollout_set_size(&set);
    float rw[3 * G], adv[3 * G], stats[3];
    for (int64_t i = 0; i < n; i++) rw[i] = 0.5f;
    vkt_grpo_group_advantages(rw, n, G, VKT_GRPO_SCALE_GROUP, adv, stats);
    bool zero = true;
    for (int64_t i = 0; i < n; i++) zero &= adv[i] == 0.0f;
    if (!zero || stats[0] != 0.5f || stats[1] != 0 || stats[2] != 1)
        vkt_test_fail(t, "constant rewards: advantages not all exactly 0 (stats %g %g %g)", stats[0], stats[1], stats[2]);
    /* Rewards from a real spec: whether the completion holds a letter a to m (random bytes also make
     * invalid UTF-8, which must simply not match). */
    vkt_reward *rs;
    const char *spec = "{\"type\": \"regex\", \"pattern\": \"[a-m]\"}";
    VKT_TEST_TRY(t, vkt_reward_parse(spec, strlen(spec), "test", &rs));
    VKT_TEST_TRY(t, vkt_grpo_score(rs, &set, NULL, NULL, rw, NULL));
    vkt_reward_free(rs);
    double err = 0;
    for (int64_t i = 0; i < n; i++) err += fabs(rw[i] - (float)(strpbrk(set.c[i].text, "abcdefghijklm") != NULL));
    /* Varied rewards (some seeds give one value to every completion above): one group constant, the
     * others not. */
    for (int64_t i = 0; i < n; i++) rw[i] = i < G ? 1.0f : (float)((i * 7) % 5) * 0.3f;
    vkt_grpo_group_advantages(rw, n, G, VKT_GRPO_SCALE_GROUP, adv, stats);
    for (int64_t p = 0; p < 3; p++) { /* (r - mean) / (std + 1e-4), Bessel std, per group */
        double m = 0, v = 0;
        for (int g = 0; g < G; g++) m += rw[p * G + g] / G;
        for (int g = 0; g < G; g++) v += (rw[p * G + g] - m) * (rw[p * G + g] - m) / (G - 1);
        for (int g = 0; g < G; g++) err += fabs(adv[p * G + g] - (rw[p * G + g] - m) / (sqrt(v) + 1e-4));
    }
    printf("   advantages: constant rewards give exact zeros; regex rewards as the spec says; error vs the group "
           "formula %.2e (zero-std share %.2f)\n", err, stats[2]);
    if (stats[2] != 1.0f / 3) vkt_test_fail(t, "frac_reward_zero_std %g, want 1/3", stats[2]);
    if (err > 1e-5) vkt_test_fail(t, "rewards or advantages off by %g", err);
    int64_t ctxlen = vkt_rollout_context(r);
    check_batches(t, &set, rw, adv, 2 * 3 * G, ctxlen, false, 0);
    check_batches(t, &set, rw, adv, 2, ctxlen, true, 0);
    check_batches(t, &set, rw, adv, 3, ctxlen, true, 3);
    vkt_rollout_set_free(&set);
    vkt_rollout_destroy(r);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "rl_rollout");
    vkt_model_config cfg = *vkt_model_preset("llama-tiny");
    cfg.vocab_size = 256, cfg.n_embd = 32, cfg.n_layer = 2, cfg.n_head = 4, cfg.n_kv_head = 2, cfg.head_dim = 8;
    cfg.n_inner = 40, cfg.max_seq_len = 64, cfg.tie_word_embeddings = false, cfg.init_std = 0.3;
    ctx c = {.t = &t};
    VKT_TEST_TRY(&t, vkt_model_create(t.dev, &cfg, 1, 16, false, &c.m));
    VKT_TEST_TRY(&t, vkt_model_init_weights(c.m, t.seed));
    VKT_TEST_TRY(&t, vkt_tok_init_bytes(&c.tok));
    check_greedy(&c);
    check_sampling(&c);
    check_stop(&c);
    check_prompts(&c);
    check_batch_and_advantages(&c);
    check_refresh(&c, cfg);
    vkt_tok_free(c.tok);
    vkt_model_destroy(c.m);
    return vkt_test_finish(&t);
}
