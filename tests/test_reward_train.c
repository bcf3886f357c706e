/* A reward model end to end with LoRA (model/score_head.h, sched/reward_step.h, finetune/lora.h's score
 * head, train/score.h):
 *  - training: a LoRA adapter with a score head on a tiny frozen LLaMA (f32 and NF4 bases, i.e. LoRA and
 *    QLoRA), through the step scheduler, on a synthetic separable set (the chosen completion ends in one
 *    token, the rejected in another); the validation pair accuracy rises from 0 (the head starts at zero:
 *    every pair a tie, loss ln 2) to 1 and the loss falls below half of ln 2. The pairs go through vkt_pref_tokenized_append as a run's do, so the
 *    score is read where the last real token is the input;
 *  - the adapter as a PEFT folder: task_type SEQ_CLS, modules_to_save ["score"], and
 *    base_model.model.score.weight round-trips bit for bit (plus an adapter without a head is refused as a
 *    reward model's by the caller: vkt_lora_score_views false);
 *  - vkt_score_file on prompt/completion and text records against the double reference of the merged model
 *    (vkt_ref_model_hidden + vkt_ref_score_head_fwd at each record's last token), and its errors: a missing
 *    file, an empty completion, a record longer than a row. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "finetune/lora.h"
#include "finetune/lora_peft.h"
#include "harness.h"
#include "io/json_file.h"
#include "lora_testutil.h"
#include "model_testutil.h"
#include "ref/ref_model.h"
#include "ref/ref_reward.h"
#include "sched/reward_step.h"
#include "sft/pref_pack.h"
#include "train/score.h"

enum { B = 4, T = 24, N_PAIRS = 24, GOOD = 5, BAD = 7, STEPS = 60 };

/* Pairs of a random prompt (2-5 tokens) and completions of 2-6 random tokens ending in GOOD (chosen) or
 * BAD (rejected), then the placeholder a reward run appends. */
static void make_pairs(vkt_test *t, vkt_rng *rng, int64_t V, int64_t n_pairs, vkt_pref_tokenized *d) {
    memset(d, 0, sizeof *d);
    d->n_pairs = n_pairs;
    d->ids = malloc((size_t)(2 * n_pairs * 11) * sizeof *d->ids), d->loss = malloc((size_t)(2 * n_pairs * 11));
    d->start = malloc((size_t)(2 * n_pairs + 1) * sizeof *d->start);
    d->n_prompt = malloc((size_t)(2 * n_pairs) * sizeof *d->n_prompt);
    d->source = malloc((size_t)n_pairs * sizeof *d->source);
    int64_t n = 0;
    for (int64_t i = 0; i < n_pairs; i++) {
        int64_t np = 2 + vkt_rng_below(rng, 4);
        int32_t prompt[5];
        for (int64_t k = 0; k < np; k++) prompt[k] = 10 + (int32_t)vkt_rng_below(rng, (uint32_t)(V - 10));
        for (int side = 0; side < 2; side++) {
            int64_t s = 2 * i + side, nc = 2 + vkt_rng_below(rng, 5);
            d->start[s] = n, d->n_prompt[s] = np;
            for (int64_t k = 0; k < np; k++) d->ids[n] = prompt[k], d->loss[n++] = 0;
            for (int64_t k = 0; k < nc - 1; k++)
                d->ids[n] = 10 + (int32_t)vkt_rng_below(rng, (uint32_t)(V - 10)), d->loss[n++] = 1;
            d->ids[n] = side ? BAD : GOOD, d->loss[n++] = 1;
        }
        d->source[i] = i;
    }
    d->start[2 * n_pairs] = n, d->n_tokens = n;
    VKT_TEST_TRY(t, vkt_pref_tokenized_append(d, 0));
}

typedef struct {
    vkt_pref_pack pack;
    int64_t S;
} filler;

static vkt_status fill(void *ctx, const vkt_batch *b) {
    filler *f = ctx;
    vkt_pref_slot *s = b->aux;
    vkt_pref_batch pb = {b->tokens, b->targets, b->seg_start, s->seq_id, s->pairs, s->pair_index, s->seq_last, 0};
    VKT_TRY(vkt_pref_pack_next(&f->pack, &pb));
    s->n_pairs = pb.n_pairs;
    return vkt_score_last_ids(s->seq_last, f->S, B * T, s->last_id);
}

static void init_filler(vkt_test *t, filler *f, vkt_pref_tokenized *d, bool shuffle, int64_t max_pairs) {
    vkt_pref_pack_opts po = {.data = d, .B = B, .T = T, .pack = true, .shuffle = shuffle, .seed = t->seed,
                             .max_pairs = max_pairs};
    VKT_TEST_TRY(t, vkt_pref_pack_init(&f->pack, &po));
    f->S = 2 * vkt_pref_pack_max_pairs(&f->pack);
}

/* Validation over every pair once: mean loss and accuracy. */
static void evaluate(vkt_test *t, vkt_step *st, filler *val, vkt_step_micro *mean) {
    vkt_pref_pack_state ps = vkt_pref_pack_get_state(&val->pack);
    ps.epoch = 0, ps.batch = 0;
    VKT_TEST_TRY(t, vkt_pref_pack_set_state(&val->pack, &ps));
    vkt_step_result done;
    VKT_TEST_TRY(t, vkt_step_eval_metrics(st, fill, val, val->pack.n_batches, mean, &done));
}

/* Trains an adapter with a score head on a base stored as fmt; returns the trained adapter (caller destroys
 * it and the model). */
static vkt_lora *train_separable(vkt_test *t, vkt_qformat fmt, vkt_model **out_m) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model_opts mo = {.mode = VKT_MODEL_FROZEN, .base_format = fmt};
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_opts(t->dev, &cfg, B, T, &mo, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.lora_alpha = 8, lc.all_linear = true, lc.seed = t->seed, lc.score_head = true;
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 5);
    vkt_pref_tokenized dtrain, dval;
    make_pairs(t, &rng, cfg.vocab_size, N_PAIRS, &dtrain);
    make_pairs(t, &rng, cfg.vocab_size, N_PAIRS / 2, &dval);
    filler ftrain = {0}, fval = {0};
    init_filler(t, &ftrain, &dtrain, true, 0);
    init_filler(t, &fval, &dval, false, vkt_pref_pack_max_pairs(&ftrain.pack));
    int64_t P = vkt_pref_pack_max_pairs(&ftrain.pack) > vkt_pref_pack_max_pairs(&fval.pack)
                    ? vkt_pref_pack_max_pairs(&ftrain.pack)
                    : vkt_pref_pack_max_pairs(&fval.pack);
    ftrain.S = fval.S = 2 * P;
    vkt_reward_step_cfg rc = {.max_pairs = P};
    if (!vkt_lora_score_views(l, &rc.w, &rc.dw)) vkt_test_fail(t, "the adapter has no score head");
    vkt_reward_step *rs;
    VKT_TEST_TRY(t, vkt_reward_step_create(m, &rc, &rs));
    vkt_trainable train = {.table = &l->table, .params = l->params, .grads = l->grads};
    vkt_step_cfg sc = {.adamw = vkt_adamw_cfg_default(), .max_grad_norm = 1.0f, .accum = 1, .total_steps = STEPS,
                       .schedule = {.lr_max = 1e-2, .lr_min = 1e-3, .warmup = 5, .total = STEPS},
                       .train = &train, .program = vkt_reward_step_program(rs)};
    sc.adamw.weight_decay = 0;
    vkt_step *st;
    VKT_TEST_TRY(t, vkt_step_create(m, &sc, 0, &st));
    vkt_step_micro before, after;
    evaluate(t, st, &fval, &before);
    vkt_step_result done;
    for (int64_t k = 0; k < STEPS; k++) VKT_TEST_TRY(t, vkt_step_submit(st, fill, &ftrain, &done));
    VKT_TEST_TRY(t, vkt_step_drain(st, &done));
    evaluate(t, st, &fval, &after);
    printf("-- %s base: validation (%lld pairs) loss %.4f -> %.4f, accuracy %.3f -> %.3f, margin %.3f -> %.3f after "
           "%d steps\n",
           vkt_qformat_name(fmt), (long long)dval.n_pairs, before.loss, after.loss, before.metrics[3],
           after.metrics[3], before.metrics[2], after.metrics[2], STEPS);
    if (!(after.metrics[3] == 1.0 && after.loss < 0.5 * M_LN2 && after.metrics[3] > before.metrics[3]))
        vkt_test_fail(t, "%s: the reward model did not learn the separable set (accuracy %.3f -> %.3f, loss %.4f)",
                      vkt_qformat_name(fmt), before.metrics[3], after.metrics[3], after.loss);
    vkt_step_destroy(st);
    vkt_reward_step_destroy(rs);
    vkt_pref_pack_free(&ftrain.pack), vkt_pref_pack_free(&fval.pack);
    vkt_pref_tokenized_free(&dtrain), vkt_pref_tokenized_free(&dval);
    *out_m = m;
    return l;
}

/* The adapter folder: PEFT's SEQ_CLS layout, and the head back bit for bit. */
static void check_peft(vkt_test *t, vkt_model *m, vkt_lora *l, const char *dir) {
    VKT_TEST_TRY(t, vkt_lora_save_peft(l, dir));
    char path[1100];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    cJSON *o;
    VKT_TEST_TRY(t, vkt_json_read(path, &o));
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task_type");
    const cJSON *mts = cJSON_GetObjectItemCaseSensitive(o, "modules_to_save");
    bool layout = cJSON_IsString(task) && !strcmp(task->valuestring, "SEQ_CLS") && cJSON_IsArray(mts) &&
                  cJSON_GetArraySize(mts) == 1 && !strcmp(cJSON_GetArrayItem(mts, 0)->valuestring, "score");
    cJSON_Delete(o);
    vkt_lora *back;
    VKT_TEST_TRY(t, vkt_lora_load_peft(m, dir, false, &back));
    vkt_tensor w0, w1, dw;
    bool heads = vkt_lora_score_views(l, &w0, &dw) && vkt_lora_score_views(back, &w1, &dw);
    float *a = vkt_test_download(t, &w0), *b = vkt_test_download(t, &w1);
    bool same = heads && !memcmp(a, b, (size_t)m->cfg.n_embd * 4);
    printf("-- PEFT folder: task_type SEQ_CLS and modules_to_save [\"score\"] %s; base_model.model.score.weight "
           "%s after loading\n",
           layout ? "written" : "MISSING", same ? "identical" : "DIFFERS");
    if (!layout || !same) vkt_test_fail(t, "the reward adapter does not round-trip as a PEFT SEQ_CLS folder");
    free(a), free(b);
    vkt_lora_destroy(back);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

/* vkt_score_file on a byte-level model against the merged model's double reference. */
static void check_score(vkt_test *t, const char *dir) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    cfg.vocab_size = 259; /* bytes */
    const int64_t SB = 2, ST = 20;
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, &cfg, SB, ST, VKT_MODEL_INFER, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.all_linear = true, lc.seed = t->seed, lc.score_head = true, lc.init = VKT_LORA_INIT_NONE;
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    vkt_tokenizer *tok;
    VKT_TEST_TRY(t, vkt_tok_init_bytes(&tok));
    vkt_tensor w, dw;
    vkt_lora_score_views(l, &w, &dw);
    vkt_score_opts so = {.model = m, .w = w, .tok = tok};
    char data[1100];
    snprintf(data, sizeof data, "%s/score.jsonl", dir);
    static const char *const texts[] = {"a cat", "the dog ran", "xy", "once upon a time", "z"};
    write_file(data, "{\"prompt\": \"a \", \"completion\": \"cat\"}\n{\"text\": \"the dog ran\"}\n"
                     "{\"prompt\": \"x\", \"completion\": \"y\"}\n{\"text\": \"once upon a time\"}\n{\"text\": \"z\"}\n");
    double *got = NULL;
    int64_t n = 0;
    VKT_TEST_TRY(t, vkt_score_file(&so, data, &got, &n));
    float *base = malloc((size_t)m->table.total * 4), *hw = vkt_test_download(t, &w);
    VKT_TEST_TRY(t, vkt_model_download_params(m, base));
    double *merged = lora_test_merge(t, m, l, base), *wd = vkt_test_to_double(hw, (size_t)cfg.n_embd);
    double worst = 0;
    for (int64_t i = 0; i < n && i < 5; i++) {
        int32_t tokens[20] = {0}, seq_last = (int32_t)strlen(texts[i]) - 1;
        for (int32_t k = 0; k <= seq_last; k++) tokens[k] = (uint8_t)texts[i][k];
        double *hidden = malloc((size_t)(ST * cfg.n_embd) * 8), r;
        vkt_ref_model_hidden(&cfg, &m->table, merged, tokens, NULL, 1, ST, hidden, NULL, NULL);
        vkt_ref_score_head_fwd(hidden, wd, &seq_last, 1, cfg.n_embd, &r);
        double e = fabs(got[i] - r) / (fabs(r) + 1e-3);
        printf("   record %lld \"%s\": reward %.7f, reference %.7f (rel %.1e)\n", (long long)i, texts[i], got[i], r, e);
        worst = fmax(worst, e);
        free(hidden);
    }
    if (n != 5 || !(worst <= 1e-5))
        vkt_test_fail(t, "score: %lld records (want 5), worst relative error %.2e (bound 1e-5)", (long long)n, worst);
    free(got), free(base), free(hw), free(merged), free(wd);

    /* Errors: each named, nothing scored. */
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/bad.jsonl", dir);
    write_file(bad, "{\"prompt\": \"a\", \"completion\": \"\"}\n");
    vkt_status empty = vkt_score_file(&so, bad, &got, &n);
    write_file(bad, "{\"text\": \"this record is longer than twenty bytes\"}\n");
    vkt_status longer = vkt_score_file(&so, bad, &got, &n);
    snprintf(bad, sizeof bad, "%s/missing.jsonl", dir);
    vkt_status missing = vkt_score_file(&so, bad, &got, &n);
    printf("-- score errors: empty completion %s, record over a row %s, missing file %s\n", vkt_status_name(empty),
           vkt_status_name(longer), vkt_status_name(missing));
    if (empty != VKT_ERR_FORMAT || longer != VKT_ERR_FORMAT || missing != VKT_ERR_IO || got != NULL)
        vkt_test_fail(t, "score: bad input not refused as expected");
    vkt_tok_free(tok);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "reward_train");
    char dir[] = "/tmp/vkt_reward_XXXXXX";
    if (!mkdtemp(dir)) vkt_test_fail(&t, "mkdtemp");
    vkt_model *m;
    vkt_lora *l = train_separable(&t, VKT_QFORMAT_F32, &m);
    check_peft(&t, m, l, dir);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
    l = train_separable(&t, VKT_QFORMAT_NF4, &m);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
    check_score(&t, dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) vkt_test_fail(&t, "could not remove %s", dir);
    return vkt_test_finish(&t);
}
