/* SFT datasets (src/sft/sft_dataset.h): every input format normalized to Hugging Face messages (or
 * prompt/completion, or text), folders read in name order, each malformed record rejected with
 * FILE:LINE (and "record N" in JSON arrays) and its reason, the skip policy, and the seeded split.
 * Fixtures: tests/data/sft/ (hand-written; SOURCES.md). Pure CPU. */
#include <cjson/cJSON.h>

#include "io_testutil.h"
#include "sft/sft_dataset.h"

static const char *DIR_ = VKT_TEST_FIXTURES "/sft";

/* The example's messages (and tools) printed compactly must equal want. */
static void expect_json(const cJSON *j, const char *want, const char *what) {
    char *got = j ? cJSON_PrintUnformatted(j) : NULL;
    CHECK(got && strcmp(got, want) == 0, "%s:\n  got  %s\n  want %s", what, got ? got : "(null)", want);
    free(got);
}

static void expect_train(const vkt_sft_example *e, const char *want, const char *what) {
    int n = cJSON_GetArraySize(e->messages);
    char got[64] = "";
    for (int i = 0; i < n && i < 63; i++) got[i] = (char)('0' + e->train[i]);
    CHECK(strcmp(got, want) == 0, "%s: train flags %s, want %s", what, got, want);
}

static const vkt_sft_example *at(const vkt_sft_dataset *d, int64_t i) { return i < d->n ? &d->ex[i] : NULL; }

static void expect_where(const vkt_sft_dataset *d, int64_t i, const char *file, int64_t line) {
    const vkt_sft_example *e = at(d, i);
    char buf[1024], want[1024];
    snprintf(want, sizeof want, "%s/good/%s:%lld", DIR_, file, (long long)line);
    CHECK(e && strcmp(vkt_sft_example_where(d, e, buf, sizeof buf), want) == 0, "example %lld is at %s, want %s",
          (long long)i, e ? buf : "(none)", want);
}

static void check_good_folder(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/good", DIR_);
    vkt_sft_dataset d;
    vkt_status s = vkt_sft_dataset_load(path, NULL, &d);
    CHECK(s == VKT_OK && d.n == 17, "load %s: %s, %lld examples (want 17)", path, vkt_status_name(s), (long long)d.n);
    if (d.n != 17) {
        vkt_sft_dataset_free(&d);
        return;
    }
    const int64_t want_counts[VKT_SFT_FMT_COUNT] = {5, 2, 2, 4, 2, 2};
    for (int f = 0; f < VKT_SFT_FMT_COUNT; f++)
        CHECK(d.n_format[f] == want_counts[f], "%s: %lld records, want %lld", vkt_sft_format_name((vkt_sft_format)f),
              (long long)d.n_format[f], (long long)want_counts[f]);
    /* alpaca.json comes first (name order). User turn: instruction "\n" input, as LLaMA-Factory. */
    expect_where(&d, 0, "alpaca.json", 2);
    expect_json(d.ex[0].messages,
                "[{\"role\":\"user\",\"content\":\"Translate to French.\\ncat\"},{\"role\":\"assistant\",\"content\":"
                "\"chat\"}]",
                "alpaca with input");
    expect_train(&d.ex[0], "01", "alpaca with input");
    expect_json(d.ex[1].messages,
                "[{\"role\":\"system\",\"content\":\"You are a mathematician.\"},{\"role\":\"user\",\"content\":\"Name "
                "a prime.\"},{\"role\":\"assistant\",\"content\":\"7\"}]",
                "alpaca with system");
    expect_train(&d.ex[2], "0101", "alpaca with history");
    expect_json(d.ex[2].messages,
                "[{\"role\":\"user\",\"content\":\"Name a prime.\"},{\"role\":\"assistant\",\"content\":\"7\"},{"
                "\"role\":\"user\",\"content\":\"And another?\"},{\"role\":\"assistant\",\"content\":\"11\"}]",
                "alpaca with history");
    expect_json(cJSON_GetArrayItem(d.ex[3].messages, 0), "{\"role\":\"user\",\"content\":\"Only an input\"}",
                "alpaca with only an input");
    /* messages.jsonl: text parts joined, loss_weight read and removed, tool calls and tools normalized. */
    expect_where(&d, 4, "messages.jsonl", 1);
    CHECK(d.ex[4].format == VKT_SFT_FMT_MESSAGES && d.ex[4].kind == VKT_SFT_CHAT && !d.ex[4].tools, "plain messages");
    expect_json(d.ex[5].messages,
                "[{\"role\":\"system\",\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":\"Say hi\"},{"
                "\"role\":\"assistant\",\"content\":\"Hi.\"}]",
                "content parts");
    expect_where(&d, 6, "messages.jsonl", 4); /* line 3 is blank */
    expect_train(&d.ex[6], "0001", "loss_weight 0 on the first assistant turn");
    CHECK(!cJSON_GetObjectItem(cJSON_GetArrayItem(d.ex[6].messages, 1), "loss_weight"), "loss_weight is removed");
    expect_json(cJSON_GetArrayItem(d.ex[7].messages, 1),
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"type\":\"function\",\"function\":{"
                "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]}",
                "tool call with arguments as a JSON string");
    expect_json(cJSON_GetArrayItem(d.ex[7].messages, 2),
                "{\"role\":\"tool\",\"content\":\"18 C, sunny\",\"name\":\"get_weather\"}", "tool message keeps name");
    expect_train(&d.ex[7], "0101", "tool turn");
    expect_json(d.ex[8].tools,
                "[{\"type\":\"function\",\"function\":{\"name\":\"now\",\"description\":\"Current time\","
                "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]",
                "bare tool wrapped");
    expect_json(cJSON_GetArrayItem(d.ex[8].messages, 1),
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"type\":\"function\",\"function\":{"
                "\"name\":\"now\",\"arguments\":{}}}]}",
                "short tool call, null content");
    CHECK(d.ex[9].kind == VKT_SFT_PROMPT_COMPLETION && !strcmp(d.ex[9].prompt, "The sky is") &&
              !strcmp(d.ex[9].completion, " blue."),
          "prompt/completion strings");
    CHECK(d.ex[10].kind == VKT_SFT_PROMPT_COMPLETION && !strcmp(d.ex[10].prompt, ""), "empty prompt allowed");
    /* sharegpt.json: system turn, function_call / observation, record system and tools (a string). */
    expect_where(&d, 11, "sharegpt.json", 2);
    expect_where(&d, 12, "sharegpt.json", 11);
    expect_train(&d.ex[11], "00101", "sharegpt");
    expect_json(
        d.ex[12].messages,
        "[{\"role\":\"system\",\"content\":\"You can call tools.\"},{\"role\":\"user\",\"content\":\"How old am "
        "I if I was born in 1990?\"},{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"type\":"
        "\"function\",\"function\":{\"name\":\"age\",\"arguments\":{\"year\":1990}}}]},{\"role\":\"tool\","
        "\"content\":\"{\\\"age\\\": 35}\"},{\"role\":\"assistant\",\"content\":\"You are 35.\"}]",
        "sharegpt function_call");
    expect_train(&d.ex[12], "00101", "sharegpt function_call");
    CHECK(cJSON_GetArraySize(d.ex[12].tools) == 1, "sharegpt tools from a string");
    CHECK(d.ex[13].kind == VKT_SFT_TEXT && !strcmp(d.ex[13].text, "Once upon a time there was a tiny model."), "text");
    /* trl_chat.jsonl: prompt messages are never trained, even an assistant one. */
    expect_train(&d.ex[15], "01", "trl prompt/completion");
    expect_train(&d.ex[16], "00001", "trl prompt with an assistant turn");
    CHECK(d.ex[16].format == VKT_SFT_FMT_TRL_CHAT, "trl format");
    vkt_sft_dataset_free(&d);
    printf("ok   good folder: 17 examples in 6 formats\n");
}

typedef struct {
    const char *record;
    const char *words[3];
} bad_case;

/* Each record follows a good line and a blank one, so the message must say mem.jsonl:3. */
static const bad_case CASES[] = {
    {"{\"messages\": [", {"mem.jsonl:3: bad JSON at line 3, column", NULL}},
    {"{\"text\": \"a\"} x", {"mem.jsonl:3: bad JSON: text after the record at column 15", NULL}},
    {"[1, 2]", {"mem.jsonl:3: the record is an array; it must be a JSON object", NULL}},
    {"{\"question\": \"q\", \"answer\": \"a\"}",
     {"mem.jsonl:3: no recognised keys (found \"question\", \"answer\")", "accepted: \"messages\", \"conversations\"",
      "\"instruction\" + \"output\" (Alpaca)"}},
    {"{\"instruction\": \"i\"}", {"mem.jsonl:3: \"output\" is missing; it must be a string", NULL}},
    {"{\"instruction\": \"i\", \"output\": 3}", {"mem.jsonl:3: \"output\" is a number; it must be a string", NULL}},
    {"{\"instruction\": \"i\", \"output\": \"\"}", {"mem.jsonl:3: \"output\" is empty: an empty completion", NULL}},
    {"{\"instruction\": \"i\", \"output\": \"o\", \"history\": [[\"q\"]]}",
     {"mem.jsonl:3: history[0] is not a pair", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"bot\", \"content\": \"x\"}]}",
     {"mem.jsonl:3: messages[1].role is \"bot\"; expected system, user, assistant or tool", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
     {"mem.jsonl:3: \"messages\" has no assistant message", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, "
     "{\"role\": \"user\", \"content\": \"c\"}]}",
     {"mem.jsonl:3: \"messages\" ends with a user message; a conversation must end with an assistant message", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"\"}]}",
     {"mem.jsonl:3: \"messages\": the last assistant message is empty", NULL}},
    {"{\"messages\": [{\"role\": \"user\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
     {"mem.jsonl:3: messages[0] has no \"content\"", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}, {\"role\": \"assistant\", "
     "\"content\": \"b\"}]}",
     {"mem.jsonl:3: messages[0].content[0] has type \"image_url\"; only text parts", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\", \"loss_weight\": 0}, {\"role\": \"assistant\", "
     "\"content\": \"b\", \"loss_weight\": 0}]}",
     {"mem.jsonl:3: \"messages\": no assistant message carries loss", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"tool_calls\": "
     "[{\"name\": \"f\", \"arguments\": \"{oops\"}]}]}",
     {"mem.jsonl:3: messages[1].tool_calls[0].arguments is a string that is not a JSON object", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}], "
     "\"tools\": 5}",
     {"mem.jsonl:3: \"tools\" is a number; it must be a list of functions", NULL}},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}], "
     "\"tools\": [{\"description\": \"no name\"}]}",
     {"mem.jsonl:3: tools[0].\"name\" is missing", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"bot\", \"value\": \"x\"}]}",
     {"mem.jsonl:3: conversations[1].from is \"bot\"; expected human, gpt, system, function_call or observation",
      NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"system\", \"value\": \"x\"}, "
     "{\"from\": \"gpt\", \"value\": \"y\"}]}",
     {"mem.jsonl:3: conversations[1] is a system turn but not the first", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"function_call\", \"value\": "
     "\"f(\"}]}",
     {"mem.jsonl:3: conversations[1].value (function_call) is not JSON", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": 1}]}",
     {"mem.jsonl:3: conversations[0].\"value\" is a number; it must be a string", NULL}},
    {"{\"prompt\": \"p\"}", {"mem.jsonl:3: the record has \"prompt\" but no \"completion\"", NULL}},
    {"{\"prompt\": \"p\", \"completion\": \"\"}", {"mem.jsonl:3: \"completion\" is empty", NULL}},
    {"{\"prompt\": [{\"role\": \"user\", \"content\": \"p\"}], \"completion\": \"c\"}",
     {"mem.jsonl:3: \"prompt\" is an array and \"completion\" a string; both must be strings, or both lists", NULL}},
    {"{\"prompt\": [{\"role\": \"user\", \"content\": \"p\"}], \"completion\": []}",
     {"mem.jsonl:3: \"completion\" is an empty list: an empty completion", NULL}},
    {"{\"text\": \"\"}", {"mem.jsonl:3: \"text\" is empty", NULL}},
    {"{\"text\": [\"a\"]}", {"mem.jsonl:3: \"text\" is an array; it must be a string", NULL}},
};

static void check_bad_records(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"text\": \"good\"}\n\n%s\n", CASES[i].record);
        vkt_sft_dataset d = {0};
        tu_capture_begin();
        vkt_status s = vkt_sft_dataset_add_mem(&d, text, strlen(text), "mem.jsonl", NULL);
        const char *log = tu_capture_end();
        char what[64];
        snprintf(what, sizeof what, "bad record %zu", i);
        tu_expect_fail(what, s, VKT_ERR_FORMAT, log, CASES[i].words[0], CASES[i].words[1], CASES[i].words[2], NULL);
        vkt_sft_dataset_free(&d);
        /* Skipping keeps the good record and counts the bad one. */
        vkt_sft_load_opts skip = {.skip_bad = true};
        tu_capture_begin();
        s = vkt_sft_dataset_add_mem(&d, text, strlen(text), "mem.jsonl", &skip);
        tu_capture_end();
        CHECK(s == VKT_OK && d.n == 1 && d.n_skipped == 1, "%s skipped: %s, %lld kept, %lld skipped", what,
              vkt_status_name(s), (long long)d.n, (long long)d.n_skipped);
        vkt_sft_dataset_free(&d);
    }
}

static void load_expect(const char *file, bool skip_bad, vkt_status want, int64_t n, int64_t n_skipped,
                        const char *word1, const char *word2) {
    char path[1024], what[128];
    snprintf(path, sizeof path, "%s/bad/%s", DIR_, file);
    snprintf(what, sizeof what, "%s%s", file, skip_bad ? " (skip_bad)" : "");
    vkt_sft_load_opts o = {.skip_bad = skip_bad};
    vkt_sft_dataset d;
    tu_capture_begin();
    vkt_status s = vkt_sft_dataset_load(path, &o, &d);
    const char *log = tu_capture_end();
    if (want != VKT_OK)
        tu_expect_fail(what, s, want, log, word1, word2, NULL);
    else
        CHECK(s == VKT_OK && d.n == n && d.n_skipped == n_skipped && strstr(log, word1) && strstr(log, word2),
              "%s: %s, %lld kept (want %lld), %lld skipped (want %lld); log:\n%s", what, vkt_status_name(s),
              (long long)d.n, (long long)n, (long long)d.n_skipped, (long long)n_skipped, log);
    vkt_sft_dataset_free(&d);
}

static void check_bad_files(void) {
    load_expect("bad.jsonl", false, VKT_ERR_FORMAT, 0, 0, "bad/bad.jsonl:2: messages[1].role is \"bot\"", NULL);
    load_expect("bad.jsonl", true, VKT_OK, 2, 7, "bad/bad.jsonl:4: bad JSON at line 4", "7 malformed records skipped");
    load_expect("bad_record.json", false, VKT_ERR_FORMAT, 0, 0,
                "bad/bad_record.json:4: record 2: conversations[1].from is \"bot\"", NULL);
    load_expect("bad_record.json", true, VKT_OK, 3, 1, "bad_record.json:4: record 2:", "(record skipped)");
    /* Bad JSON inside an array leaves the rest unreadable: an error even when skipping. */
    load_expect("bad_json.json", true, VKT_ERR_FORMAT, 0, 0,
                "bad/bad_json.json:3: record 1: bad JSON at line 3, column", NULL);
    vkt_sft_dataset d = {0};
    const char *cases[][2] = {
        {"[{\"text\": \"a\"}] x", "mem.json:1: text after the closing ']'"},
        {"[{\"text\": \"a\"} {\"text\": \"b\"}]", "mem.json:1: record 0: bad JSON at line 1: "
                                                  "expected ',' or ']' after the record"},
        {"[{\"text\": \"a\"},]", "mem.json:1: record 1: bad JSON at line 1, column 16"},
        {"[{\"text\": \"a\"},\n", "mem.json:2: record 1: bad JSON at line 2, column 1 (the text ends)"}};
    for (int i = 0; i < 4; i++) {
        tu_capture_begin();
        vkt_status s = vkt_sft_dataset_add_mem(&d, cases[i][0], strlen(cases[i][0]), "mem.json", NULL);
        const char *log = tu_capture_end();
        tu_expect_fail(cases[i][0], s, VKT_ERR_FORMAT, log, cases[i][1], NULL);
        vkt_sft_dataset_free(&d);
    }
    CHECK(vkt_sft_dataset_add_mem(&d, " [ ] ", 5, "empty.json", NULL) == VKT_OK && d.n == 0, "an empty array");
    vkt_sft_dataset_free(&d);
    tu_capture_begin();
    vkt_status s = vkt_sft_dataset_load(VKT_TEST_FIXTURES "/sft/nonexistent.jsonl", NULL, &d);
    tu_expect_fail("missing file", s, VKT_ERR_IO, tu_capture_end(), "nonexistent.jsonl", NULL);
    vkt_sft_dataset_free(&d);
}

static uint64_t where_key(const vkt_sft_example *e) { return (uint64_t)e->file << 32 | (uint64_t)e->line; }

static void check_split(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/good", DIR_);
    uint64_t first_val[4] = {0};
    for (int run = 0; run < 3; run++) {
        uint64_t seed = run < 2 ? 1 : 2; /* runs 0 and 1: same seed, same split */
        vkt_sft_dataset d, tr, va;
        vkt_status s = vkt_sft_dataset_load(path, NULL, &d);
        if (s == VKT_OK) s = vkt_sft_dataset_split(&d, 0.25, seed, &tr, &va);
        CHECK(s == VKT_OK && tr.n == 13 && va.n == 4 && d.n == 0, "split 0.25 of 17: %lld + %lld", (long long)tr.n,
              (long long)va.n);
        if (s != VKT_OK) return;
        /* Every example once, each side in file order. */
        uint64_t seen[17];
        int k = 0;
        for (int64_t i = 0; i < tr.n; i++) seen[k++] = where_key(&tr.ex[i]);
        for (int64_t i = 0; i < va.n; i++) seen[k++] = where_key(&va.ex[i]);
        for (int i = 0; i < 17; i++)
            for (int j = i + 1; j < 17; j++) CHECK(seen[i] != seen[j], "split: an example appears twice");
        for (int64_t i = 1; i < tr.n; i++) CHECK(where_key(&tr.ex[i - 1]) < where_key(&tr.ex[i]), "train order");
        for (int64_t i = 1; i < va.n; i++) CHECK(where_key(&va.ex[i - 1]) < where_key(&va.ex[i]), "val order");
        char b[1024];
        CHECK(strstr(vkt_sft_example_where(&va, &va.ex[0], b, sizeof b), "/good/"), "val keeps file names");
        if (run == 0) memcpy(first_val, seen + 13, sizeof first_val);
        bool same = memcmp(first_val, seen + 13, sizeof first_val) == 0;
        CHECK(run == 2 ? !same : same, "split with seed %llu: %s validation set", (unsigned long long)seed,
              same ? "the same" : "a different");
        vkt_sft_dataset_free(&tr);
        vkt_sft_dataset_free(&va);
    }
    vkt_sft_dataset d, tr, va;
    CHECK(vkt_sft_dataset_load(path, NULL, &d) == VKT_OK, "load");
    tu_capture_begin();
    vkt_status s = vkt_sft_dataset_split(&d, 1.0, 1, &tr, &va);
    tu_expect_fail("fraction 1", s, VKT_ERR_ARG, tu_capture_end(), "outside [0, 1)", NULL);
    CHECK(vkt_sft_dataset_split(&d, 0.0, 1, &tr, &va) == VKT_OK && tr.n == 17 && va.n == 0, "fraction 0");
    vkt_sft_dataset_free(&d);
    vkt_sft_dataset_free(&tr);
    vkt_sft_dataset_free(&va);
    printf("ok   split: 13 + 4, every example once, deterministic per seed\n");
}

int main(void) {
    check_good_folder();
    check_bad_records();
    check_bad_files();
    check_split();
    printf("test_sft_dataset: %s (%d failures)\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
