/* GRPO with a trained reward model as its reward (rl/reward.h's "model" terms, rl/reward_models.h,
 * train/reward_model.h), on stories260K (data/models) with a LoRA reward adapter built here: random non-zero
 * lora_A / lora_B and a random score head, saved as the PEFT SEQ_CLS folder a reward run writes.
 *  - term level: the model term's value of a completion equals vkt_score_file's reward of the same prompt and
 *    completion written as a record (text prompts as {"prompt", "completion"}, conversations as {"messages"}
 *    with the completion as the assistant's answer, through a chat template), with the model loaded once and
 *    the completions scored in batches; the scores differ between completions (the head is not constant);
 *    a completion longer than the term's max_length still gets a reward (its end is scored);
 *  - a GRPO LoRA run of 2 steps whose reward is 2 x the reward model + 0.5 x a regex term: the per-term metrics
 *    rewards/rm/mean and rewards/words/mean are logged, and every written validation generation's reward is
 *    2 x vkt_score_file's score of it + 0.5 x the regex's value;
 *  - bad specs, before training, naming the field: a path that is no reward model (no score head), an adapter
 *    without a score head, a missing path, a key of the checks ("pass") on a model term, batch_size 0, a
 *    reward-model path that does not exist. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "finetune/finetune.h"
#include "finetune/lora.h"
#include "finetune/lora_peft.h"
#include "harness.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io_testutil.h"
#include "model/score_head.h"
#include "rl/reward_models.h"
#include "run_testutil.h"
#include "train/reward_model.h"

static char g_dir[64], g_model[512], g_tok[512], g_tmpl[512], g_adapter[128], g_plain[128], g_prompts[128];

/* Two adapters for stories260K: g_adapter with a random score head, g_plain without one. */
static void make_adapters(vkt_test *t) {
    vkt_model *m;
    char found[1024];
    VKT_TEST_TRY(t, vkt_load_model(t->dev, g_model, 1, 8, false, &m, found, sizeof found));
    for (int head = 0; head < 2; head++) {
        vkt_lora_cfg lc = vkt_lora_cfg_default();
        lc.r = 4, lc.lora_alpha = 8, lc.all_linear = true, lc.seed = t->seed, lc.init = VKT_LORA_INIT_NONE;
        lc.score_head = head == 1;
        vkt_lora *l;
        VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
        if (head) {
            float *p = malloc((size_t)l->table.total * sizeof *p);
            VKT_TEST_TRY(t, vkt_lora_download(l, p));
            const vkt_param *e = &l->table.p[vkt_score_head_find(&l->table)];
            vkt_rng rng;
            vkt_rng_init(&rng, t->seed + 7);
            for (int64_t i = 0; i < e->numel; i++) p[e->offset + i] = (float)vkt_rng_normal(&rng);
            VKT_TEST_TRY(t, vkt_lora_upload(l, p));
            free(p);
        }
        VKT_TEST_TRY(t, vkt_lora_save_peft(l, head ? g_adapter : g_plain));
        vkt_lora_destroy(l);
    }
    vkt_model_destroy(m);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

/* A record line for vkt_score_file: prompt p (messages or text) answered by text. */
static void write_record(FILE *f, const vkt_rl_prompt *p, const char *text) {
    cJSON *o = cJSON_CreateObject();
    if (p->messages) {
        cJSON *msgs = cJSON_Duplicate(p->messages, true), *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "role", "assistant");
        cJSON_AddStringToObject(a, "content", text);
        cJSON_AddItemToArray(msgs, a);
        cJSON_AddItemToObject(o, "messages", msgs);
    } else if (text[0]) {
        cJSON_AddStringToObject(o, "prompt", p->text);
        cJSON_AddStringToObject(o, "completion", text);
    } else { /* the file format refuses an empty completion; [BOS] prompt EOS is the same record */
        cJSON_AddStringToObject(o, "text", p->text);
    }
    char *s = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(o);
}

/* vkt_score_file's rewards of the records in path, with the reward adapter (loaded as `vktrain score` does). */
static double *score_file(vkt_test *t, const char *path, int64_t B, int64_t T, int64_t *n) {
    vkt_reward_model_opts ro = {.path = g_model,
                                .adapter = g_adapter,
                                .tokenizer = g_tok,
                                .template_spec = g_tmpl,
                                .batch = B,
                                .max_length = T,
                                .path_field = "MODEL",
                                .adapter_field = "--adapter",
                                .tokenizer_field = "--tokenizer",
                                .template_field = "--template"};
    vkt_reward_model *rm;
    VKT_TEST_TRY(t, vkt_reward_model_load(t->dev, &ro, &rm));
    double *r = NULL;
    VKT_TEST_TRY(t, vkt_score_file(vkt_reward_model_score_opts(rm), path, &r, n));
    vkt_reward_model_destroy(rm);
    return r;
}

/* A model term's values against vkt_score_file's on the same text: 2 text prompts and 1 conversation, 2
 * completions each, scored in batches of 4 (two batches, the last one padded). */
static void check_term(vkt_test *t) {
    char spec[4096];
    snprintf(spec, sizeof spec,
             "[{\"type\": \"regex\", \"pattern\": \"x\"}, {\"type\": \"model\", \"name\": \"rm\", \"path\": \"%s\", "
             "\"adapter\": \"%s\", \"tokenizer\": \"%s\", \"template\": \"%s\", \"batch_size\": 4, "
             "\"max_length\": 64}]",
             g_model, g_adapter, g_tok, g_tmpl);
    vkt_reward *reward;
    VKT_TEST_TRY(t, vkt_reward_parse(spec, strlen(spec), "spec", &reward));
    vkt_reward_models_opts mo = {.default_length = 16, .conversations = true};
    vkt_reward_models *rms;
    VKT_TEST_TRY(t, vkt_reward_models_load(t->dev, reward, &mo, &rms));

    cJSON *msgs = cJSON_Parse("[{\"role\": \"system\", \"content\": \"Tell a story.\"}, {\"role\": \"user\", "
                              "\"content\": \"A story about a cat.\"}]");
    vkt_rl_prompt prompts[3] = {{.id = 0, .text = "Once upon a time, Lily"},
                                {.id = 1, .text = "Tom had a big red ball"},
                                {.id = 2, .messages = msgs}};
    static const char *const texts[6] = {
        " was happy.",        " saw a dog and they played all day", "", " and he was sad",
        "The cat was happy.", "Once there was a cat named Tim."};
    vkt_rollout_set set = {.n_prompts = 3, .group_size = 2};
    set.c = calloc(6, sizeof *set.c);
    for (int i = 0; i < 6; i++) set.c[i] = (vkt_completion){.text = strdup(texts[i]), .prompt = i / 2};
    float given[12] = {0};
    VKT_TEST_TRY(t, vkt_reward_models_score(rms, &set, prompts, given));

    char path[160];
    snprintf(path, sizeof path, "%s/records.jsonl", g_dir);
    FILE *f = fopen(path, "w");
    VKT_ASSERT(f);
    for (int i = 0; i < 6; i++) write_record(f, &prompts[i / 2], texts[i]);
    fclose(f);
    int64_t n = 0;
    double *want = score_file(t, path, 3, 64, &n), worst = 0, spread = 0;
    for (int i = 0; i < 6 && n == 6; i++) {
        double got = given[i * 2 + 1], e = fabs(got - want[i]) / (fabs(want[i]) + 1e-3);
        printf("   completion %d \"%s\": model term %.7f, vkt_score_file %.7f (rel %.1e)\n", i, texts[i], got, want[i],
               e);
        worst = fmax(worst, e), spread = fmax(spread, fabs(want[i] - want[0]));
        float total, terms[2];
        VKT_TEST_TRY(t, vkt_reward_score_given(reward, texts[i], strlen(texts[i]), NULL, given + i * 2, terms, &total));
        if (terms[1] != given[i * 2 + 1] || total != terms[0] + terms[1]) vkt_test_fail(t, "score_given: wrong sum");
    }
    if (n != 6 || !(worst <= 1e-5) || !(spread > 1e-3) || given[0] != 0)
        vkt_test_fail(t, "model term vs vkt_score_file: %lld records, worst %.2e, spread %.2e", (long long)n, worst,
                      spread);
    float total;
    tu_capture_begin();
    vkt_status none = vkt_reward_score(reward, "x", 1, NULL, NULL, &total);
    tu_capture_end();
    printf("-- model term == vkt_score_file on 6 completions (text and chat; worst rel %.1e); "
           "vkt_reward_score without the model's values: %s\n",
           worst, vkt_status_name(none));
    if (none != VKT_ERR_ARG) vkt_test_fail(t, "a model term scored without its value");
    free(want);
    vkt_reward_models_destroy(rms);
    vkt_reward_free(reward);

    /* A completion over max_length keeps its end: scored, not refused. */
    snprintf(
        spec, sizeof spec,
        "{\"type\": \"model\", \"path\": \"%s\", \"adapter\": \"%s\", \"tokenizer\": \"%s\", \"template\": \"%s\", "
        "\"max_length\": 8}",
        g_model, g_adapter, g_tok, g_tmpl);
    VKT_TEST_TRY(t, vkt_reward_parse(spec, strlen(spec), "spec", &reward));
    VKT_TEST_TRY(t, vkt_reward_models_load(t->dev, reward, &mo, &rms));
    tu_capture_begin();
    vkt_status s = vkt_reward_models_score(rms, &set, prompts, given);
    const char *log = tu_capture_end();
    bool warned = strstr(log, "last tokens") != NULL;
    printf("-- completions over max_length 8: %s, %s\n", vkt_status_name(s), warned ? "warned" : "NOT WARNED");
    if (s != VKT_OK || !warned || !isfinite(given[0])) vkt_test_fail(t, "long completions: %s", log);
    vkt_reward_models_destroy(rms);
    vkt_reward_free(reward);

    /* Conversational prompts and a reward model without a chat template: refused, naming the field. */
    snprintf(spec, sizeof spec, "{\"type\": \"model\", \"path\": \"%s\", \"adapter\": \"%s\", \"tokenizer\": \"%s\"}",
             g_model, g_adapter, g_tok);
    VKT_TEST_TRY(t, vkt_reward_parse(spec, strlen(spec), "spec", &reward));
    tu_capture_begin();
    s = vkt_reward_models_load(t->dev, reward, &mo, &rms);
    log = tu_capture_end();
    bool named = strstr(log, "spec.template: ") != NULL;
    printf("-- conversations and no chat template: %s, %s\n", vkt_status_name(s), named ? "names spec.template" : log);
    if (s == VKT_OK || !named || rms) vkt_test_fail(t, "no template: %s", log);
    vkt_reward_free(reward);
    vkt_rollout_set_free(&set);
    cJSON_Delete(msgs);
}

static void config(vkt_run_config *c, const char *out, const char *rewards) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"tokenizer.type=file",
                          "optim.batch_size=4",
                          "optim.seq_len=24",
                          "optim.steps=2",
                          "optim.lr=0.01",
                          "eval.interval=2",
                          "eval.steps=1",
                          "eval.generations=3",
                          "log.interval=100",
                          "output.checkpoint_interval=0",
                          "sample.tokens=0",
                          "finetune.r=4",
                          "finetune.lora_alpha=8",
                          "finetune.target_modules=all-linear",
                          "finetune.objective=grpo",
                          "finetune.num_generations=4",
                          "finetune.prompts_per_step=2",
                          "finetune.max_completion_length=5",
                          "data.val_fraction=0.25"};
    ft_test_set_all(c, sets, sizeof sets / sizeof sets[0]);
    char set[4200];
    snprintf(set, sizeof set, "finetune.rewards=%s", rewards);
    VKT_ASSERT(vkt_run_config_set(c, set) == VKT_OK);
    snprintf(c->model_from, sizeof c->model_from, "%s", g_model);
    snprintf(c->tokenizer_path, sizeof c->tokenizer_path, "%s", g_tok);
    snprintf(c->data_train, sizeof c->data_train, "%s", g_prompts);
    snprintf(c->out_dir, sizeof c->out_dir, "%s/%s", g_dir, out);
    snprintf(c->ft_method, sizeof c->ft_method, "lora");
}

static vkt_status finetune(vkt_test *t, vkt_run_config *c) { return ft_test_run(t, c, NULL, NULL, false); }

static const char REGEX[] =
    "{\"type\": \"regex\", \"pattern\": \"\\\\b(was|the)\\\\b\", \"name\": \"words\", \"weight\": 0.5}";

/* 2 GRPO steps with 2 x reward model + 0.5 x regex; the logged generations' rewards recomputed. */
static void check_run(vkt_test *t) {
    char rewards[4096];
    snprintf(rewards, sizeof rewards,
             "[{\"type\": \"model\", \"name\": \"rm\", \"weight\": 2, \"path\": \"%s\", \"adapter\": \"%s\", "
             "\"tokenizer\": \"%s\"}, %s]",
             g_model, g_adapter, g_tok, REGEX);
    vkt_run_config c;
    config(&c, "run", rewards);
    tu_capture_begin();
    vkt_status s = finetune(t, &c);
    const char *log = tu_capture_end();
    const char *mem = strstr(log, "reward model \"rm\"");
    printf("-- GRPO LoRA run with 2 x reward model + 0.5 x regex: %s; log: %.*s\n", vkt_status_name(s),
           mem ? (int)(strchr(mem, '\n') - mem) : 4, mem ? mem : "NONE");
    if (s != VKT_OK || !mem || !strstr(mem, "MiB")) vkt_test_fail(t, "GRPO run with a reward model: %s", log);

    char path[300];
    snprintf(path, sizeof path, "%s/run/metrics.jsonl", g_dir);
    vkt_file_map fm = {0};
    VKT_TEST_TRY(t, vkt_file_map_open(path, &fm));
    char *metrics = strndup((const char *)fm.data, fm.size);
    vkt_file_map_close(&fm);
    int train_lines = 0;
    for (const char *p = metrics; (p = strstr(p, "\"rewards/rm/mean\"")); p++) train_lines++;
    bool words = strstr(metrics, "\"rewards/words/mean\"") != NULL;
    free(metrics);

    /* The generations: {"prompt", "generated", "reward"}; their records for vkt_score_file. */
    snprintf(path, sizeof path, "%s/run/generations/step-000002.jsonl", g_dir);
    VKT_TEST_TRY(t, vkt_file_map_open(path, &fm));
    char *gen = strndup((const char *)fm.data, fm.size);
    vkt_file_map_close(&fm);
    char records[160];
    snprintf(records, sizeof records, "%s/gen_records.jsonl", g_dir);
    FILE *f = fopen(records, "w");
    VKT_ASSERT(f);
    double logged[8];
    char *texts[8];
    int n_gen = 0;
    for (char *line = strtok(gen, "\n"); line && n_gen < 8; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        vkt_rl_prompt p = {.text = cJSON_GetObjectItem(o, "prompt")->valuestring};
        const char *text = cJSON_GetObjectItem(o, "generated")->valuestring;
        write_record(f, &p, text);
        texts[n_gen] = strdup(text);
        logged[n_gen++] = cJSON_GetObjectItem(o, "reward")->valuedouble;
        cJSON_Delete(o);
    }
    fclose(f);
    free(gen);
    int64_t n = 0;
    double *rm = score_file(t, records, 8, 25, &n), worst = 0;
    vkt_reward *regex;
    VKT_TEST_TRY(t, vkt_reward_parse(REGEX, strlen(REGEX), "regex", &regex)); /* the regex term alone */
    for (int i = 0; i < n_gen && n == n_gen; i++) {
        float hit;
        VKT_TEST_TRY(t, vkt_reward_score(regex, texts[i], strlen(texts[i]), NULL, NULL, &hit));
        double want = 2 * rm[i] + hit, e = fabs(logged[i] - want) / (fabs(want) + 1e-3);
        printf("   generation %d \"%s\": reward %.7f, 2 x score %.7f + regex %g = %.7f (rel %.1e)\n", i, texts[i],
               logged[i], rm[i], (double)hit, want, e);
        worst = fmax(worst, e);
        free(texts[i]);
    }
    vkt_reward_free(regex);
    free(rm);
    printf("-- metrics: rewards/rm/mean on %d lines, rewards/words/mean %s; %d generations' rewards recomputed "
           "(worst rel %.1e)\n",
           train_lines, words ? "logged" : "MISSING", n_gen, worst);
    if (train_lines < 3 || !words || n_gen != 3 || n != n_gen || !(worst <= 1e-5))
        vkt_test_fail(t, "GRPO run: metrics or logged rewards");
}

/* A bad model term fails before training with want, and the log names `word`. */
static void expect(vkt_test *t, const char *what, const char *term, vkt_status want, const char *word) {
    char rewards[4096];
    snprintf(rewards, sizeof rewards, "[%s, %s]", REGEX, term);
    vkt_run_config c;
    config(&c, "bad", rewards);
    tu_capture_begin();
    vkt_status s = finetune(t, &c);
    const char *log = tu_capture_end();
    const char *at = strstr(log, word);
    const char *end = at ? strchr(at, '\n') : NULL;
    printf("   %-36s %s: %.*s\n", what, vkt_status_name(s), at ? (int)(end ? end - at : (long)strlen(at)) : 0,
           at ? at : "");
    if (s != want || !at)
        vkt_test_fail(t, "%s: got %s, want %s with \"%s\" in: %s", what, vkt_status_name(s), vkt_status_name(want),
                      word, log);
}

static void check_errors(vkt_test *t) {
    printf("-- bad reward-model terms\n");
    char term[2048];
    snprintf(term, sizeof term, "{\"type\": \"model\", \"path\": \"%s\", \"tokenizer\": \"%s\"}", g_model, g_tok);
    expect(t, "a path without a score head", term, VKT_ERR_ARG, "finetune.rewards[1].path: ");
    expect(t, "(and says what to give)", term, VKT_ERR_ARG, "with the LoRA adapter of such a run in");
    snprintf(term, sizeof term, "{\"type\": \"model\", \"path\": \"%s\", \"adapter\": \"%s\", \"tokenizer\": \"%s\"}",
             g_model, g_plain, g_tok);
    expect(t, "an adapter without a score head", term, VKT_ERR_ARG, "finetune.rewards[1].adapter: ");
    expect(t, "a model term without a path", "{\"type\": \"model\", \"adapter\": \"x\"}", VKT_ERR_FORMAT,
           "finetune.rewards[1].path: missing");
    snprintf(term, sizeof term, "{\"type\": \"model\", \"path\": \"%s\", \"pass\": 2}", g_model);
    expect(t, "a check's key on a model term", term, VKT_ERR_FORMAT, "finetune.rewards[1].pass: unknown key");
    snprintf(term, sizeof term, "{\"type\": \"model\", \"path\": \"%s\", \"batch_size\": 0}", g_model);
    expect(t, "batch_size 0", term, VKT_ERR_FORMAT, "finetune.rewards[1].batch_size: must be");
    expect(t, "a path that is not there", "{\"type\": \"model\", \"path\": \"/nonexistent/rm\"}", VKT_ERR_IO,
           "finetune.rewards[1].path: ");
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "grpo_rm");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_grpo_rm_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    setenv("VKT_CACHE_DIR", g_dir, 1);
    snprintf(g_model, sizeof g_model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(g_tok, sizeof g_tok, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    snprintf(g_tmpl, sizeof g_tmpl, "%s", VKT_TEST_DATA "/../configs/templates/simple.jinja");
    snprintf(g_adapter, sizeof g_adapter, "%s/rm_adapter", g_dir);
    snprintf(g_plain, sizeof g_plain, "%s/plain_adapter", g_dir);
    snprintf(g_prompts, sizeof g_prompts, "%s/prompts.jsonl", g_dir);
    write_file(g_prompts, "{\"prompt\": \"Once upon a time, Lily\"}\n{\"prompt\": \"Once upon a time, Tom\"}\n"
                          "{\"prompt\": \"Once upon a time, Sue\"}\n{\"prompt\": \"Once upon a time, Ben\"}\n"
                          "{\"prompt\": \"Once upon a time, Max\"}\n{\"prompt\": \"Once upon a time, Mia\"}\n"
                          "{\"prompt\": \"One day, a cat\"}\n{\"prompt\": \"One day, a dog\"}\n"
                          "{\"prompt\": \"The sun was\"}\n{\"prompt\": \"A little bird\"}\n"
                          "{\"prompt\": \"Tom and Sue\"}\n{\"prompt\": \"The big tree\"}\n");
    make_adapters(&t);
    check_term(&t);
    check_run(&t);
    check_errors(&t);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) vkt_test_fail(&t, "could not remove %s", g_dir);
    return vkt_test_finish(&t);
}
