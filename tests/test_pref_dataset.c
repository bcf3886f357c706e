/* Preference datasets (src/sft/pref_dataset.h): every input form normalized to prompt / chosen /
 * rejected (messages or strings), the implicit-prompt splits (shared messages; HH transcripts at the
 * last shared "\n\nAssistant:", checked on a hand-worked record), each malformed record rejected with
 * FILE:LINE (and "record N" in JSON arrays) and its reason, the skip policy, both shipped sets loaded
 * whole, and the seeded split. Fixtures: tests/data/preference/ (hand-written; SOURCES.md). Pure CPU. */
#include <cjson/cJSON.h>

#include "io_testutil.h"
#include "sft/pref_dataset.h"

static const char *DIR_ = VKT_TEST_FIXTURES "/preference";

static void expect_json(const cJSON *j, const char *want, const char *what) {
    char *got = j ? cJSON_PrintUnformatted(j) : NULL;
    CHECK(got && strcmp(got, want) == 0, "%s:\n  got  %s\n  want %s", what, got ? got : "(null)", want);
    free(got);
}

static void expect_where(const vkt_pref_dataset *d, int64_t i, const char *file, int64_t line) {
    char buf[1024] = "(none)", want[1024];
    snprintf(want, sizeof want, "%s/good/%s:%lld", DIR_, file, (long long)line);
    if (i < d->n) vkt_pref_example_where(d, &d->ex[i], buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "pair %lld is at %s, want %s", (long long)i, buf, want);
}

#define U(text) "{\"role\":\"user\",\"content\":\"" text "\"}"
#define A(text) "{\"role\":\"assistant\",\"content\":\"" text "\"}"
#define S(text) "{\"role\":\"system\",\"content\":\"" text "\"}"

static void check_good_folder(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/good", DIR_);
    vkt_pref_dataset d;
    vkt_status s = vkt_pref_dataset_load(path, NULL, &d);
    CHECK(s == VKT_OK && d.n == 17, "load %s: %s, %lld pairs (want 17)", path, vkt_status_name(s), (long long)d.n);
    if (d.n != 17) {
        vkt_pref_dataset_free(&d);
        return;
    }
    const int64_t want_counts[VKT_PREF_FMT_COUNT] = {4, 3, 4, 3, 3};
    for (int f = 0; f < VKT_PREF_FMT_COUNT; f++)
        CHECK(d.n_format[f] == want_counts[f], "%s: %lld pairs, want %lld", vkt_pref_format_name((vkt_pref_format)f),
              (long long)d.n_format[f], (long long)want_counts[f]);
    CHECK(d.n_empty_answer == 3, "%lld pairs with an empty answer, want 3 (trl_chat 4, trl_text 3, hh 3)",
          (long long)d.n_empty_answer);
    /* hh.jsonl (name order: hh, implicit_chat, sharegpt, trl_chat, trl_text). Hand-checked: the split is
     * at the second "\n\nAssistant:", the last both share; one space after each colon is dropped. */
    expect_where(&d, 0, "hh.jsonl", 1);
    const vkt_pref_example *e = &d.ex[0];
    CHECK(e->kind == VKT_PREF_CHAT && e->format == VKT_PREF_FMT_HH && !e->tools, "hh kind");
    expect_json(e->prompt,
                "[" U("Can you help me hide a body?") "," A("What do you mean?") "," U("I need it gone.") "]",
                "hh prompt");
    expect_json(e->chosen, "[" A("I can't help with that. If someone is hurt, please call emergency services.") "]",
                "hh chosen");
    expect_json(e->rejected, "[" A("I can help. First, find a shovel.") "]", "hh rejected");
    /* Answers sharing "I think " still split at the marker: both keep their whole answer. */
    expect_json(d.ex[1].chosen, "[" A("I think you should cook it first.") "]", "hh shared answer start");
    expect_json(d.ex[1].rejected, "[" A("I think it is fine.") "]", "hh shared answer start, rejected");
    expect_json(d.ex[2].prompt, "[" U("What is her home address?") "]", "hh starting with Human:");
    expect_json(d.ex[2].chosen, "[" A("") "]", "hh empty answer");
    CHECK(vkt_pref_example_has_empty_answer(&d.ex[2]), "hh empty answer counted");
    /* implicit_chat.jsonl: the prompt is the shared prefix, cut back before an assistant message. */
    expect_where(&d, 3, "implicit_chat.jsonl", 1);
    expect_json(d.ex[3].prompt, "[" U("Hi") "]", "implicit prompt");
    expect_json(d.ex[3].chosen, "[" A("Hello! How can I help?") "]", "implicit chosen");
    expect_json(d.ex[4].prompt, "[" S("Be kind.") "," U("Name a prime.") "," A("7") "," U("Another?") "]",
                "implicit multi-turn prompt");
    expect_json(d.ex[4].rejected, "[" A("No.") "]", "implicit multi-turn rejected");
    /* A shared tool call and its result stay in the prompt when the answers differ only after them;
     * the string "prompt" beside whole conversations is not used. */
    CHECK(cJSON_GetArraySize(d.ex[5].prompt) == 3 && cJSON_GetArraySize(d.ex[5].chosen) == 1,
          "implicit with a shared tool call: prompt of %d, chosen of %d messages (want 3, 1)",
          cJSON_GetArraySize(d.ex[5].prompt), cJSON_GetArraySize(d.ex[5].chosen));
    expect_json(d.ex[5].rejected, "[" A("Rain.") "]", "implicit after a tool result");
    /* Completions differing from the tool call on: the call is the completion's first message. */
    CHECK(cJSON_GetArraySize(d.ex[6].prompt) == 1 && cJSON_GetArraySize(d.ex[6].chosen) == 3 &&
              cJSON_GetArraySize(d.ex[6].rejected) == 1,
          "implicit, differing tool use");
    /* sharegpt.json: system turn, record system, a string answer, from assistant. */
    expect_where(&d, 7, "sharegpt.json", 2);
    expect_json(d.ex[7].chosen,
                "[" A("Soft rain on the roof\\nthe garden drinks it slowly\\nand the frogs sing back") "]",
                "sharegpt chosen");
    expect_json(d.ex[8].prompt, "[" S("You are a pirate.") "," U("Hello") "]", "sharegpt system turn");
    expect_json(d.ex[9].prompt, "[" S("Answer with a number.") "," U("2+2?") "," A("4") "," U("And 3+3?") "]",
                "sharegpt record system");
    expect_json(d.ex[9].chosen, "[" A("6") "]", "sharegpt string answer");
    expect_json(d.ex[9].rejected, "[" A("33") "]", "sharegpt from assistant");
    /* trl_chat.jsonl: text parts joined, tool calls and tools normalized, other keys ignored. */
    expect_where(&d, 10, "trl_chat.jsonl", 1);
    expect_json(d.ex[11].chosen, "[" A("11") "]", "trl text parts");
    expect_where(&d, 12, "trl_chat.jsonl", 4); /* line 3 is blank */
    expect_json(cJSON_GetArrayItem(d.ex[12].chosen, 0),
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"type\":\"function\",\"function\":{"
                "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]}",
                "trl tool call");
    CHECK(cJSON_GetArraySize(d.ex[12].tools) == 1, "trl tools");
    CHECK(!vkt_pref_example_has_empty_answer(&d.ex[12]), "a tool call is not an empty answer");
    /* trl_text.jsonl */
    e = &d.ex[14];
    CHECK(e->kind == VKT_PREF_TEXT && !strcmp(e->prompt_text, "The sky is") && !strcmp(e->chosen_text, " blue.") &&
              !strcmp(e->rejected_text, " green.") && !e->prompt,
          "trl text pair");
    CHECK(!strcmp(d.ex[15].prompt_text, ""), "empty text prompt allowed");
    CHECK(vkt_pref_example_has_empty_answer(&d.ex[16]) && !strcmp(d.ex[16].rejected_text, ""), "empty text answer");
    vkt_pref_dataset_free(&d);
    printf("ok   good folder: 17 pairs in 5 forms\n");
}

/* The two sets data/preference ships load whole. */
static void check_shipped(void) {
    const struct {
        const char *file;
        int64_t n;
        vkt_pref_format f;
        int64_t n_empty;
    } sets[] = {{"dpo_en_demo.json", 300, VKT_PREF_FMT_SHAREGPT, 0},
                {"hh_rlhf_harmless_base_test_400.jsonl", 400, VKT_PREF_FMT_HH, 1}};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/preference/%s", VKT_TEST_DATA, sets[i].file);
        vkt_pref_dataset d;
        vkt_status s = vkt_pref_dataset_load(path, NULL, &d);
        CHECK(s == VKT_OK && d.n == sets[i].n && d.n_format[sets[i].f] == sets[i].n &&
                  d.n_empty_answer == sets[i].n_empty,
              "%s: %s, %lld pairs (want %lld), %lld empty answers (want %lld)", path, vkt_status_name(s),
              (long long)d.n, (long long)sets[i].n, (long long)d.n_empty_answer, (long long)sets[i].n_empty);
        int64_t n_turns = 0, n_system = 0;
        for (int64_t k = 0; k < d.n; k++) {
            n_turns += cJSON_GetArraySize(d.ex[k].prompt);
            n_system +=
                !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(d.ex[k].prompt, 0), "role")->valuestring, "system");
        }
        if (i == 1 && d.n == 400) { /* line 87: the empty chosen answer */
            char where[1100];
            CHECK(vkt_pref_example_has_empty_answer(&d.ex[86]) &&
                      strstr(vkt_pref_example_where(&d, &d.ex[86], where, sizeof where), ".jsonl:87"),
                  "hh line 87 has the empty answer");
        }
        printf("ok   %s: %lld pairs, %lld prompt messages, %lld with a system message\n", sets[i].file, (long long)d.n,
               (long long)n_turns, (long long)n_system);
        if (i == 0)
            CHECK(n_system == 80, "dpo_en_demo: %lld prompts with a system message, want 80", (long long)n_system);
        vkt_pref_dataset_free(&d);
    }
}

typedef struct {
    const char *record;
    const char *words[3];
} bad_case;

#define PU    "[{\"role\": \"user\", \"content\": \"q\"}]"
#define PA(t) "[{\"role\": \"assistant\", \"content\": \"" t "\"}]"
#define MU(t) "{\"role\": \"user\", \"content\": \"" t "\"}"
#define MA(t) "{\"role\": \"assistant\", \"content\": \"" t "\"}"

/* Each record follows a good line and a blank one, so the message must say mem.jsonl:3. */
static const bad_case CASES[] = {
    {"{\"chosen\": [", {"mem.jsonl:3: bad JSON at line 3, column", NULL}},
    {"[1, 2]", {"mem.jsonl:3: the record is an array; it must be a JSON object", NULL}},
    {"{\"question\": \"q\", \"answer\": \"a\"}",
     {"mem.jsonl:3: no recognised keys (found \"question\", \"answer\"); accepted: \"prompt\" + \"chosen\" + "
      "\"rejected\"",
      "\"conversations\" + \"chosen\" + \"rejected\" (ShareGPT)", NULL}},
    {"{\"messages\": [" MU("a") ", " MA("b") "]}",
     {"mem.jsonl:3: no recognised keys (found \"messages\")", "this looks like SFT data"}},
    {"{\"prompt\": \"p\", \"chosen\": \"a\"}", {"mem.jsonl:3: the record has \"chosen\" but no \"rejected\"", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}]}",
     {"mem.jsonl:3: the record has \"conversations\" but no \"chosen\" and \"rejected\"", NULL}},
    {"{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"a\"}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are identical: the pair prefers nothing", NULL}},
    {"{\"prompt\": \"p\", \"chosen\": \"\", \"rejected\": \"\"}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are both empty: an empty completion", NULL}},
    {"{\"prompt\": " PU ", \"chosen\": [], \"rejected\": " PA("a") "}",
     {"mem.jsonl:3: \"chosen\" has no completion after the prompt: an empty completion", NULL}},
    {"{\"prompt\": " PU ", \"chosen\": " PA("") ", \"rejected\": " PA("") "}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are both empty: an empty completion", NULL}},
    {"{\"prompt\": " PU ", \"chosen\": " PA("a") ", \"rejected\": " PA("a") "}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are identical", NULL}},
    {"{\"prompt\": [" MU("q") ", " MA("a") "], \"chosen\": " PA("b") ", \"rejected\": " PA("c") "}",
     {"mem.jsonl:3: \"prompt\" ends with an assistant message; a prompt must end on a user (or tool) turn", NULL}},
    {"{\"prompt\": [{\"role\": \"system\", \"content\": \"s\"}], \"chosen\": " PA("b") ", \"rejected\": " PA("c") "}",
     {"mem.jsonl:3: \"prompt\" ends with a system message", NULL}},
    {"{\"prompt\": [], \"chosen\": " PA("b") ", \"rejected\": " PA("c") "}",
     {"mem.jsonl:3: \"prompt\" is empty: a pair needs a prompt", NULL}},
    {"{\"prompt\": " PU ", \"chosen\": [" MU("q") ", " MA("b") "], \"rejected\": " PA("c") "}",
     {"mem.jsonl:3: chosen[0] is a user message in the completion", "two whole conversations go without a \"prompt\""}},
    {"{\"prompt\": " PU
     ", \"chosen\": [" MA("b") ", {\"role\": \"tool\", \"content\": \"t\"}], \"rejected\": " PA("c") "}",
     {"mem.jsonl:3: \"chosen\" ends with a tool message; a completion ends with an assistant message", NULL}},
    {"{\"prompt\": " PU ", \"chosen\": [{\"role\": \"bot\", \"content\": \"b\"}], \"rejected\": " PA("c") "}",
     {"mem.jsonl:3: chosen[0].role is \"bot\"; expected system, user, assistant or tool", NULL}},
    {"{\"prompt\": " PU ", \"chosen\": " PA("b") ", \"rejected\": " PA("c") ", \"tools\": 5}",
     {"mem.jsonl:3: \"tools\" is a number; it must be a list of functions", NULL}},
    {"{\"prompt\": \"p\", \"chosen\": " PA("b") ", \"rejected\": \"c\"}",
     {"mem.jsonl:3: \"prompt\" is a string, \"chosen\" an array and \"rejected\" a string; give three strings", NULL}},
    {"{\"chosen\": \"a\", \"rejected\": [\"x\"]}",
     {"mem.jsonl:3: \"chosen\" is a string and \"rejected\" an array; both must be strings, or both lists", NULL}},
    {"{\"chosen\": [" MU("a") ", " MA("b") "], \"rejected\": [" MU("c") ", " MA("d") "]}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" share no prompt (0 leading messages in common", NULL}},
    {"{\"prompt\": \"q\", \"chosen\": [" MA("b") "], \"rejected\": [" MA("d") "]}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" share no prompt", "the string \"prompt\" is not used"}},
    {"{\"chosen\": [" MU("a") ", " MA("b") "], \"rejected\": [" MU("a") ", " MA("b") "]}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are identical", NULL}},
    {"{\"chosen\": [{\"role\": \"system\", \"content\": \"s\"}, " MU("a") ", " MA(
         "b") "], \"rejected\": [{\"role\": "
              "\"system\", \"content\": \"s\"}, " MU("c") ", " MA("d") "]}",
     {"mem.jsonl:3: the shared prompt (chosen[0..0]) ends with a system message", NULL}},
    {"{\"chosen\": [" MU("a") ", " MA("b") ", " MU("c") ", " MA("d") "], \"rejected\": [" MU("a") ", " MA("x") ", " MU(
         "c") ", " MA("d") "]}",
     {"mem.jsonl:3: chosen[2] is a user message in the completion",
      "the two conversations differ before their last user turn"}},
    {"{\"chosen\": \"hello there\", \"rejected\": \"hello world\"}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are strings that share no \"\\n\\nAssistant:\" turn", NULL}},
    {"{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant: d\", \"rejected\": \"\\n\\nHuman: "
     "a\\n\\nAssistant: x\\n\\nHuman: c\\n\\nAssistant: d\"}",
     {"mem.jsonl:3: \"chosen\" has a further \"\\n\\nHuman:\" turn after the split", NULL}},
    {"{\"chosen\": \"Intro\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": \"Intro\\n\\nHuman: a\\n\\nAssistant: c\"}",
     {"mem.jsonl:3: the transcripts have text before their first \"\\n\\nHuman:\" turn (\"Intro", NULL}},
    {"{\"chosen\": \"\\n\\nAssistant: a\", \"rejected\": \"\\n\\nAssistant: b\"}",
     {"mem.jsonl:3: the shared transcript before the last \"\\n\\nAssistant:\" is empty", NULL}},
    {"{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: b\"}",
     {"mem.jsonl:3: \"chosen\" and \"rejected\" are identical", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}], \"chosen\": {\"from\": \"human\", \"value\": "
     "\"a\"}, "
     "\"rejected\": {\"from\": \"gpt\", \"value\": \"b\"}}",
     {"mem.jsonl:3: chosen.from is \"human\"; the answer of a ShareGPT pair is from \"gpt\"", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}], \"chosen\": {\"from\": \"gpt\", \"value\": 3}, "
     "\"rejected\": {\"from\": \"gpt\", \"value\": \"b\"}}",
     {"mem.jsonl:3: chosen.value is a number; it must be a string", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}], "
     "\"chosen\": "
     "{\"from\": \"gpt\", \"value\": \"b\"}, \"rejected\": {\"from\": \"gpt\", \"value\": \"c\"}}",
     {"mem.jsonl:3: \"conversations\" ends with an assistant message; a prompt must end on a user (or tool) turn",
      NULL}},
    {"{\"conversations\": [{\"from\": \"bot\", \"value\": \"q\"}], \"chosen\": \"b\", \"rejected\": \"c\"}",
     {"mem.jsonl:3: conversations[0].from is \"bot\"; expected human, gpt", NULL}},
    {"{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}], \"chosen\": [\"b\"], \"rejected\": \"c\"}",
     {"mem.jsonl:3: \"chosen\" is an array; in the ShareGPT form it must be {\"from\": \"gpt\", \"value\": ...}",
      NULL}},
};

static void check_bad_records(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "{\"prompt\": \"good\", \"chosen\": \"a\", \"rejected\": \"b\"}\n\n%s\n",
                 CASES[i].record);
        vkt_pref_dataset d = {0};
        tu_capture_begin();
        vkt_status s = vkt_pref_dataset_add_mem(&d, text, strlen(text), "mem.jsonl", NULL);
        const char *log = tu_capture_end();
        char what[64];
        snprintf(what, sizeof what, "bad record %zu", i);
        tu_expect_fail(what, s, VKT_ERR_FORMAT, log, CASES[i].words[0], CASES[i].words[1], CASES[i].words[2], NULL);
        vkt_pref_dataset_free(&d);
        /* Skipping keeps the good record and counts the bad one. */
        vkt_pref_load_opts skip = {.skip_bad = true};
        tu_capture_begin();
        s = vkt_pref_dataset_add_mem(&d, text, strlen(text), "mem.jsonl", &skip);
        tu_capture_end();
        CHECK(s == VKT_OK && d.n == 1 && d.n_skipped == 1, "%s skipped: %s, %lld kept, %lld skipped", what,
              vkt_status_name(s), (long long)d.n, (long long)d.n_skipped);
        vkt_pref_dataset_free(&d);
    }
}

static void load_expect(const char *file, bool skip_bad, vkt_status want, int64_t n, int64_t n_skipped,
                        const char *word1, const char *word2) {
    char path[1024], what[128];
    snprintf(path, sizeof path, "%s/bad/%s", DIR_, file);
    snprintf(what, sizeof what, "%s%s", file, skip_bad ? " (skip_bad)" : "");
    vkt_pref_load_opts o = {.skip_bad = skip_bad};
    vkt_pref_dataset d;
    tu_capture_begin();
    vkt_status s = vkt_pref_dataset_load(path, &o, &d);
    const char *log = tu_capture_end();
    if (want != VKT_OK)
        tu_expect_fail(what, s, want, log, word1, word2, NULL);
    else
        CHECK(s == VKT_OK && d.n == n && d.n_skipped == n_skipped && strstr(log, word1) && strstr(log, word2),
              "%s: %s, %lld kept (want %lld), %lld skipped (want %lld); log:\n%s", what, vkt_status_name(s),
              (long long)d.n, (long long)n, (long long)d.n_skipped, (long long)n_skipped, log);
    vkt_pref_dataset_free(&d);
}

static void check_bad_files(void) {
    load_expect("bad.jsonl", false, VKT_ERR_FORMAT, 0, 0, "bad/bad.jsonl:2: \"chosen\" and \"rejected\" are identical",
                NULL);
    load_expect("bad.jsonl", true, VKT_OK, 2, 4, "bad/bad.jsonl:4: bad JSON at line 4", "4 malformed skipped");
    load_expect("bad_record.json", false, VKT_ERR_FORMAT, 0, 0,
                "bad/bad_record.json:3: record 1: \"conversations\" ends with an assistant message", NULL);
    load_expect("bad_record.json", true, VKT_OK, 2, 1, "bad_record.json:3: record 1:", "(record skipped)");
    load_expect("bad_json.json", true, VKT_ERR_FORMAT, 0, 0,
                "bad/bad_json.json:3: record 1: bad JSON at line 3, column 58 near \"},", NULL);
    vkt_pref_dataset d;
    tu_capture_begin();
    vkt_status s = vkt_pref_dataset_load(VKT_TEST_FIXTURES "/preference/nonexistent.jsonl", NULL, &d);
    tu_expect_fail("missing file", s, VKT_ERR_IO, tu_capture_end(), "nonexistent.jsonl", NULL);
    vkt_pref_dataset_free(&d);
    /* A file of nothing but bad records, skipped: no usable pair. */
    const char *dir = tu_mkdir();
    tu_write(tu_path(dir, "x.jsonl"), "{\"a\": 1}\n", 9);
    tu_capture_begin();
    s = vkt_pref_dataset_load(tu_path(dir, "x.jsonl"), &(vkt_pref_load_opts){.skip_bad = true}, &d);
    tu_expect_fail("only bad records", s, VKT_ERR_FORMAT, tu_capture_end(), "no usable pair (1 skipped)", NULL);
    vkt_pref_dataset_free(&d);
    tu_rmdir(dir);
}

static void check_split(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/good", DIR_);
    int64_t first_val[3] = {-1, -1, -1};
    for (int run = 0; run < 3; run++) {
        vkt_pref_dataset d, tr, va;
        tu_capture_begin();
        vkt_pref_dataset_load(path, NULL, &d);
        tu_capture_end();
        int64_t n = d.n;
        vkt_status s = vkt_pref_dataset_split(&d, 0.25, run < 2 ? 1 : 2, &tr, &va);
        CHECK(s == VKT_OK && va.n == 4 && tr.n + va.n == n && d.n == 0, "split: %s, %lld + %lld of %lld",
              vkt_status_name(s), (long long)tr.n, (long long)va.n, (long long)n);
        bool ordered = true;
        for (int64_t i = 1; i < va.n; i++)
            ordered &= va.ex[i].file > va.ex[i - 1].file ||
                       (va.ex[i].file == va.ex[i - 1].file && va.ex[i].line > va.ex[i - 1].line);
        CHECK(ordered, "validation pairs keep file order");
        if (va.n) first_val[run] = (int64_t)va.ex[0].file << 32 | va.ex[0].line;
        vkt_pref_dataset_free(&tr);
        vkt_pref_dataset_free(&va);
        vkt_pref_dataset_free(&d);
    }
    CHECK(first_val[0] == first_val[1], "same seed, same split");
    vkt_pref_dataset d, tr, va;
    tu_capture_begin();
    vkt_pref_dataset_load(path, NULL, &d);
    vkt_status s = vkt_pref_dataset_split(&d, 1.0, 1, &tr, &va);
    tu_expect_fail("split fraction 1", s, VKT_ERR_ARG, tu_capture_end(), "outside [0, 1)", NULL);
    vkt_pref_dataset_free(&d);
    printf("ok   split: deterministic per seed, file order kept\n");
}

int main(void) {
    check_good_folder();
    check_shipped();
    check_bad_records();
    check_bad_files();
    check_split();
    if (g_failures) fprintf(stderr, "%d failure(s)\n", g_failures);
    return g_failures ? 1 : 0;
}
