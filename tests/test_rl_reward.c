/* Verifiable rewards (src/rl/reward.h, reward_text.h, json_schema.h) on hand-worked cases: answer
 * extraction (marker, last number, boxed, fenced, chained), normalisation (Unicode white space, NFKC,
 * case folding, invalid UTF-8), numeric comparison, regular expressions (search vs full match with an
 * alternation that a naive "leftmost match covers everything" check gets wrong, Unicode classes, a
 * catastrophic pattern stopped by the backtracking limit), the JSON Schema subset (code-point lengths,
 * integers, additionalProperties, invalid JSON, trailing text), weighted terms, and bad specs failing
 * with messages that name the key. Pure CPU. */
#include <cjson/cJSON.h>

#include "io_testutil.h"
#include "rl/json_schema.h"
#include "rl/reward.h"
#include "rl/reward_text.h"
#include "sft/sft_dataset.h"

/* ---- extraction ---- */

static void expect_extract(const char *steps_text, const char *marker, const char *text, const char *want) {
    size_t b = 0, e = strlen(text);
    bool found = true;
    char steps[64];
    snprintf(steps, sizeof steps, "%s", steps_text);
    for (char *tok = strtok(steps, ","); tok && found; tok = strtok(NULL, ","))
        found = vkt_extract_step((vkt_extract_kind)vkt_extract_from_name(tok), marker, text, &b, &e);
    if (!want) {
        CHECK(!found, "extract %s from \"%s\": found \"%.*s\", want nothing", steps_text, text, (int)(e - b), text + b);
        return;
    }
    CHECK(found && e - b == strlen(want) && memcmp(text + b, want, e - b) == 0, "extract %s from \"%s\": got %s\"%.*s\", want \"%s\"",
          steps_text, text, found ? "" : "(nothing) ", (int)(e - b), text + b, want);
}

static void check_extract(void) {
    expect_extract("marker", "Answer:", "Answer: 3 is wrong\nso Answer: 7\nbye", " 7");
    expect_extract("marker", "Answer:", "the answer is 7", NULL);
    expect_extract("marker", "Answer:", "Answer:   \n", NULL); /* a marker with nothing after it */
    expect_extract("marker", "####", "3 + 4 = 7\n#### 7", " 7");
    expect_extract("last_number", NULL, "3 + 4 = 7.", "7");
    expect_extract("last_number", NULL, "from -12.5 to 1,000 apples", "1,000");
    expect_extract("last_number", NULL, "values 1,2,3", "3");
    expect_extract("last_number", NULL, "costs -.5 now", "-.5");
    expect_extract("last_number", NULL, "no digits here", NULL);
    expect_extract("marker,last_number", "Answer:", "I get 5.\nAnswer: it is 7.", "7");
    expect_extract("marker,last_number", "Answer:", "I get 5.\nAnswer: seven", NULL);
    expect_extract("boxed", NULL, "so \\boxed{2} no \\boxed{\\frac{1}{2}} end", "\\frac{1}{2}");
    expect_extract("boxed", NULL, "cut \\boxed{\\frac{1}{2}", NULL);
    expect_extract("fenced", NULL, "x ```py\n1\n``` then ```json\n{\"a\": 1}\n``` y", "{\"a\": 1}\n");
    expect_extract("fenced", NULL, "```json\n{\"a\": 1}", NULL); /* never closed */
    expect_extract("none", NULL, "as is ", "as is ");
    CHECK(vkt_extract_from_name("boxed") == VKT_EXTRACT_BOXED && vkt_extract_from_name("Boxed") == -1, "names");
}

/* ---- normalisation and comparison ---- */

static void expect_norm(vkt_answer_norm o, const char *in, const char *want) {
    char *out = NULL;
    size_t n = 0;
    vkt_status s = vkt_answer_normalize(&o, in, strlen(in), &out, &n);
    CHECK(s == VKT_OK && n == strlen(want) && memcmp(out, want, n) == 0, "normalize \"%s\": got \"%s\", want \"%s\"", in,
          out ? out : "(null)", want);
    free(out);
}

static void expect_equal(vkt_answer_norm o, const char *a, const char *b, bool want) {
    bool eq = !want;
    vkt_status s = vkt_answer_equal(&o, a, strlen(a), b, strlen(b), &eq);
    CHECK(s == VKT_OK && eq == want, "\"%s\" vs \"%s\": %s, want %s", a, b, eq ? "equal" : "different",
          want ? "equal" : "different");
}

static void check_normalize(void) {
    vkt_answer_norm d = vkt_answer_norm_default(), raw = {0};
    expect_norm(d, "\xc2\xa0 42\xe3\x80\x80\n", "42"); /* NBSP, ideographic space: Unicode White_Space */
    expect_norm(d, "a \t\n b\xe2\x80\x83" "c", "a b c");
    expect_norm(raw, " a  b ", " a  b ");
    vkt_answer_norm keep = d;
    keep.collapse_space = false;
    expect_norm(keep, "  a \t b  ", "a \t b");
    vkt_answer_norm notrim = d;
    notrim.trim = false;
    expect_norm(notrim, "  a   b  ", " a b ");
    vkt_answer_norm fold = d;
    fold.case_fold = true;
    expect_norm(fold, "Stra\xc3\x9f" "e \xc3\x84", "strasse \xc3\xa4"); /* full folding: ß -> ss */
    expect_equal(fold, "PARIS", "paris", true);
    expect_equal(d, "PARIS", "paris", false);
    expect_equal(fold, "A\xff", "a\xff", true); /* invalid UTF-8: ASCII still folds, nothing fails */
    expect_equal(fold, "A\xff", "a\xfe", false);
    vkt_answer_norm nfkc = d;
    nfkc.nfkc = true;
    expect_equal(nfkc, "\xef\xbc\x94\xef\xbc\x92", "42", true); /* full-width digits */
    expect_equal(d, "\xef\xbc\x94\xef\xbc\x92", "42", false);
    expect_equal(nfkc, "e\xcc\x81", "\xc3\xa9", true); /* decomposed é == precomposed */

    double v = 0;
    const char *numbers[] = {"42", "+42", "-0.5", ".5", "42.", "1,000", "12,345,678.25", "4.2e1", "1E-3"};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        CHECK(vkt_answer_parse_number(numbers[i], strlen(numbers[i]), &v), "\"%s\" is a number", numbers[i]);
    const char *not_numbers[] = {"", "-", ".", "1,00", "1,0000", "1234,567", "0x10", "inf", "nan", "1e", "4 2",
                                 "42abc", "1e999", ",100"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof *not_numbers; i++)
        CHECK(!vkt_answer_parse_number(not_numbers[i], strlen(not_numbers[i]), &v), "\"%s\" is not a number",
              not_numbers[i]);
    CHECK(vkt_answer_parse_number("12,345,678.25", 13, &v) && v == 12345678.25, "12,345,678.25 reads %.17g", v);
    expect_equal(d, "42", "42.0", true);
    expect_equal(d, "42", " 4.2e1 ", true);
    expect_equal(d, "1,000", "1000", true);
    expect_equal(d, "-0", "0", true);
    expect_equal(d, "7", "7.0001", false);
    expect_equal(d, "7.", "7", true);
    expect_equal(d, "7 apples", "7", false);
    vkt_answer_norm loose = d;
    loose.tolerance = 1e-3;
    expect_equal(loose, "7", "7.0001", true);
    vkt_answer_norm strings = d;
    strings.numeric = false;
    expect_equal(strings, "42", "42.0", false);
}

/* ---- reward specs ---- */

static vkt_reward *spec(const char *json) {
    vkt_reward *r = NULL;
    vkt_status s = vkt_reward_parse(json, strlen(json), "rewards", &r);
    CHECK(s == VKT_OK, "spec %s: %s", json, vkt_status_name(s));
    return r;
}

static void expect_score(vkt_reward *r, const char *completion, const char *answer, float want) {
    if (!r) return;
    float total = -999, terms[8];
    vkt_status s = vkt_reward_score(r, completion, strlen(completion), answer, terms, &total);
    CHECK(s == VKT_OK && total == want, "score of \"%s\" (answer %s): %s, %g, want %g", completion,
          answer ? answer : "none", vkt_status_name(s), total, want);
}

static void check_exact(void) {
    vkt_reward *r = spec("{\"type\": \"exact_match\"}");
    expect_score(r, " 7 \n", "7", 1);
    expect_score(r, "7.0", "7", 1);
    expect_score(r, "8", "7", 0);
    expect_score(r, "", "7", 0);
    expect_score(r, "the answer is 7", "7", 0);
    CHECK(r && vkt_reward_needs_answer(r) && strcmp(vkt_reward_term_name(r, 0), "exact_match") == 0, "exact term");
    float total;
    tu_capture_begin();
    vkt_status s = r ? vkt_reward_score(r, "7", 1, NULL, NULL, &total) : VKT_ERR_ARG;
    tu_expect_fail("exact_match without an answer", s, VKT_ERR_ARG, tu_capture_end(), "exact_match", "answer", NULL);
    vkt_reward_free(r);

    r = spec("{\"type\": \"exact_match\", \"extract\": [\"marker\", \"last_number\"], \"marker\": \"Answer:\"}");
    expect_score(r, "3 + 4. Answer: it is 7.", "7", 1);
    expect_score(r, "3 + 4 = 7", "7", 0); /* no marker: no answer */
    vkt_reward_free(r);

    r = spec("{\"type\": \"exact_match\", \"case_fold\": true, \"unicode_nfkc\": true, \"pass\": 2, \"fail\": -1}");
    expect_score(r, "\xc3\x84pfel", "\xc3\xa4PFEL", 2);
    expect_score(r, "Birne", "\xc3\xa4PFEL", -1);
    vkt_reward_free(r);
}

static void check_regex(void) {
    vkt_reward *r = spec("{\"type\": \"regex\", \"pattern\": \"\\\\d+\"}");
    expect_score(r, "abc 12", NULL, 1);
    expect_score(r, "abc", NULL, 0);
    CHECK(r && !vkt_reward_needs_answer(r), "a regex needs no answer");
    vkt_reward_free(r);
    r = spec("{\"type\": \"regex\", \"pattern\": \"\\\\d+\", \"mode\": \"full\"}");
    expect_score(r, "abc 12", NULL, 0);
    expect_score(r, "12", NULL, 1);
    expect_score(r, "12\n", NULL, 0); /* full means the whole text: no "$ before a final newline" */
    vkt_reward_free(r);
    /* The leftmost match of a|ab in "ab" is "a": a full match must still be found. */
    r = spec("{\"type\": \"regex\", \"pattern\": \"a|ab\", \"mode\": \"full\"}");
    expect_score(r, "ab", NULL, 1);
    vkt_reward_free(r);
    r = spec("{\"type\": \"regex\", \"pattern\": \"\\\\p{L}+\", \"mode\": \"full\", \"ignore_case\": true}");
    expect_score(r, "h\xc3\xa9llo", NULL, 1);
    expect_score(r, "h\xc3\xa9llo1", NULL, 0);
    expect_score(r, "h\xff", NULL, 0); /* invalid UTF-8 in a completion: no match, no error */
    vkt_reward_free(r);
    r = spec("{\"type\": \"regex\", \"pattern\": \"^<think>.*</think>\\\\s*\\\\S\", \"dotall\": true}");
    expect_score(r, "<think>a\nb</think>\n7", NULL, 1);
    vkt_reward_free(r);
    r = spec("{\"type\": \"regex\", \"pattern\": \"^<think>.*</think>\\\\s*\\\\S\"}");
    expect_score(r, "<think>a\nb</think>\n7", NULL, 0); /* without dotall . stops at the newline */
    vkt_reward_free(r);
    r = spec("{\"type\": \"regex\", \"pattern\": \"^7$\", \"multiline\": true}");
    expect_score(r, "x\n7\ny", NULL, 1);
    vkt_reward_free(r);
    /* Exponential backtracking: the match limit ends it as "no match" (with a warning) in well under a second. */
    r = spec("{\"type\": \"regex\", \"pattern\": \"^(\\\\w+\\\\s?)*$\"}");
    char evil[64];
    memset(evil, 'a', 40);
    strcpy(evil + 40, "!");
    tu_capture_begin();
    float total = -1;
    vkt_status s = r ? vkt_reward_score(r, evil, strlen(evil), NULL, NULL, &total) : VKT_ERR_ARG;
    const char *log = tu_capture_end();
    CHECK(s == VKT_OK && total == 0 && strstr(log, "counted as no match"), "catastrophic pattern: %s, %g, log %s",
          vkt_status_name(s), total, log);
    vkt_reward_free(r);
}

static const char *PERSON =
    "{\"type\": \"json_schema\", \"schema\": {\"type\": \"object\", \"title\": \"person\", \"properties\": {"
    "\"name\": {\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3},"
    "\"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 150},"
    "\"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"a\", \"b\"]}, \"maxItems\": 2},"
    "\"score\": {\"type\": [\"number\", \"null\"], \"exclusiveMinimum\": 0}},"
    "\"required\": [\"name\", \"age\"], \"additionalProperties\": false}}";

static void expect_schema(const vkt_json_schema *s, const char *value, const char *why_want) {
    cJSON *v = cJSON_Parse(value);
    char why[256] = "";
    bool ok = v && vkt_json_schema_check(s, v, why, sizeof why);
    if (!why_want) CHECK(ok, "%s should match: %s", value, why);
    else CHECK(!ok && strstr(why, why_want), "%s: why \"%s\", want \"%s\"", value, why, why_want);
    cJSON_Delete(v);
}

static void check_schema(void) {
    vkt_reward *r = spec(PERSON);
    expect_score(r, "{\"name\": \"Zo\xc3\xab\", \"age\": 30}", NULL, 1); /* 3 code points, 4 bytes */
    expect_score(r, "\n {\"name\": \"Al\", \"age\": 30.0, \"tags\": [\"b\"], \"score\": null}  \n", NULL, 1);
    expect_score(r, "{\"name\": \"Zoey\", \"age\": 30}", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 30.5}", NULL, 0);
    expect_score(r, "{\"name\": \"Al\"}", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 3, \"x\": 1}", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 3, \"tags\": [\"a\", \"c\"]}", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 3, \"score\": 0}", NULL, 0);
    expect_score(r, "{name: \"Al\", \"age\": 3}", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 3", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 3} trailing", NULL, 0);
    expect_score(r, "{\"name\": \"Al\", \"age\": 3} {}", NULL, 0);
    expect_score(r, "", NULL, 0);
    vkt_reward_free(r);
    r = spec("{\"type\": \"json_schema\", \"extract\": \"fenced\", \"schema\": {\"type\": \"array\", \"minItems\": 1}}");
    expect_score(r, "Here:\n```json\n[1, 2]\n```\n", NULL, 1);
    expect_score(r, "[1, 2]", NULL, 0);
    vkt_reward_free(r);

    cJSON *sj = cJSON_Parse(PERSON);
    vkt_json_schema *s = NULL;
    vkt_status st = vkt_json_schema_compile(cJSON_GetObjectItem(sj, "schema"), "person", &s);
    CHECK(st == VKT_OK, "compile the person schema");
    if (s) {
        expect_schema(s, "{\"name\": \"Al\", \"age\": 200}", "$.age: 200 is above the maximum 150");
        expect_schema(s, "{\"name\": \"A\", \"age\": 2}", "$.name: length 1 is below minLength 2");
        expect_schema(s, "{\"name\": \"Al\"}", "the required member \"age\" is missing");
        expect_schema(s, "{\"name\": \"Al\", \"age\": 1, \"tags\": [\"a\", 5]}", "$.tags[1]: the value is not one of");
        expect_schema(s, "{\"name\": \"Al\", \"age\": 1, \"zip\": 5}", "$.zip: member not allowed");
        expect_schema(s, "[1]", "$: expected type \"object\", got an array");
        expect_schema(s, "{\"name\": \"Al\", \"age\": \"1\"}", "$.age: expected type \"integer\", got a string");
    }
    vkt_json_schema_free(s);
    cJSON_Delete(sj);
    /* boolean schemas, const, and additionalProperties as a schema */
    sj = cJSON_Parse("{\"properties\": {\"no\": false, \"k\": {\"const\": [1, \"x\"]}}, \"additionalProperties\": "
                     "{\"type\": \"boolean\"}}");
    CHECK(vkt_json_schema_compile(sj, "s", &s) == VKT_OK, "compile the second schema");
    if (s) {
        expect_schema(s, "{\"k\": [1.0, \"x\"], \"other\": true}", NULL);
        expect_schema(s, "{\"no\": 1}", "$.no: no value is allowed here");
        expect_schema(s, "{\"k\": [1, \"y\"]}", "$.k: the value is not the const");
        expect_schema(s, "{\"other\": 1}", "$.other: expected type \"boolean\"");
        expect_schema(s, "7", NULL); /* object keywords say nothing about a number */
    }
    vkt_json_schema_free(s);
    cJSON_Delete(sj);
}

static void check_terms(void) {
    vkt_reward *r = spec("[{\"type\": \"exact_match\", \"name\": \"accuracy\"},"
                         " {\"type\": \"format\", \"extract\": \"last_number\", \"weight\": 0.25}]");
    expect_score(r, "7", "7", 1.25f);
    expect_score(r, "8", "7", 0.25f);
    expect_score(r, "seven", "7", 0);
    if (r) {
        float terms[2] = {-1, -1}, total = -1;
        vkt_status s = vkt_reward_score(r, "so 8", 4, "7", terms, &total);
        CHECK(s == VKT_OK && terms[0] == 0 && terms[1] == 1 && total == 0.25f, "terms %g %g total %g", terms[0],
              terms[1], total);
        CHECK(vkt_reward_n_terms(r) == 2 && strcmp(vkt_reward_term_name(r, 0), "accuracy") == 0 &&
                  strcmp(vkt_reward_term_name(r, 1), "format") == 0 && !vkt_reward_term_name(r, 2),
              "term names");
    }
    vkt_reward_free(r);
}

/* A "model" term: its options read back (defaults filled), its value taken from given and weighted. */
static void check_model_term(void) {
    vkt_reward *r = spec("[{\"type\": \"regex\", \"pattern\": \"a\", \"weight\": 0.5},"
                         " {\"type\": \"model\", \"path\": \"rm\", \"adapter\": \"ad\", \"weight\": -2}]");
    if (!r) return;
    const vkt_reward_model_term *m = vkt_reward_term_model(r, 1);
    CHECK(m && !vkt_reward_term_model(r, 0) && vkt_reward_has_model(r) && !strcmp(m->path, "rm") &&
              !strcmp(m->adapter, "ad") && !m->tokenizer && !m->template_spec && m->batch_size == 8 &&
              m->max_length == 0 && !strcmp(m->where, "rewards[1]") && !strcmp(vkt_reward_term_name(r, 1), "model"),
          "model term options");
    float given[2] = {99, 0.75f}, terms[2] = {-1, -1}, total = -1;
    vkt_status s = vkt_reward_score_given(r, "a", 1, NULL, given, terms, &total);
    CHECK(s == VKT_OK && terms[0] == 1 && terms[1] == 0.75f && total == 0.5f - 1.5f, "model term: %g %g total %g",
          terms[0], terms[1], total);
    tu_capture_begin();
    s = vkt_reward_score(r, "a", 1, NULL, terms, &total);
    const char *log = tu_capture_end();
    tu_expect_fail("a model term without its value", s, VKT_ERR_ARG, log, "reward model", NULL, NULL);
    vkt_reward_free(r);
    r = spec("{\"type\": \"regex\", \"pattern\": \"a\"}");
    CHECK(r && !vkt_reward_has_model(r), "no model term");
    vkt_reward_free(r);
}

static void expect_bad(const char *json, const char *w1, const char *w2) {
    vkt_reward *r = NULL;
    tu_capture_begin();
    vkt_status s = vkt_reward_parse(json, strlen(json), "rewards", &r);
    const char *log = tu_capture_end();
    char what[96];
    snprintf(what, sizeof what, "bad spec %.60s", json);
    tu_expect_fail(what, s, VKT_ERR_FORMAT, log, w1, w2, NULL);
    CHECK(r == NULL, "no reward from a bad spec");
}

static void check_bad_specs(void) {
    expect_bad("{\"type\": \"exact\"}", "rewards.type", "unknown reward type \"exact\"");
    expect_bad("[{\"type\": \"regex\", \"pattern\": \"a\"}, {\"type\": \"exact_match\", \"casefold\": true}]",
               "rewards[1].casefold", "unknown key");
    expect_bad("{\"type\": \"regex\", \"pattern\": \"(a\"}", "rewards.pattern", "does not compile at offset");
    expect_bad("{\"type\": \"regex\"}", "rewards.pattern", "missing");
    expect_bad("{\"type\": \"regex\", \"pattern\": \"a\", \"mode\": \"match\"}", "rewards.mode", "\"search\" or \"full\"");
    expect_bad("{\"type\": \"regex\", \"pattern\": 5}", "rewards.pattern", "must be a string");
    expect_bad("{\"type\": \"regex\", \"pattern\": \"a\", \"dotall\": 1}", "rewards.dotall", "true or false");
    expect_bad("{\"type\": \"exact_match\", \"weight\": \"1\"}", "rewards.weight", "must be a number");
    expect_bad("{\"type\": \"exact_match\", \"tolerance\": -1}", "rewards.tolerance", ">= 0");
    expect_bad("{\"type\": \"exact_match\", \"extract\": \"last\"}", "rewards.extract", "unknown step \"last\"");
    expect_bad("{\"type\": \"exact_match\", \"extract\": \"marker\"}", "rewards.marker", "missing");
    expect_bad("{\"type\": \"exact_match\", \"marker\": \"A:\"}", "rewards.marker", "without a \"marker\" extract");
    expect_bad("{\"type\": \"format\"}", "rewards.extract", "format term needs");
    expect_bad("{\"type\": \"json_schema\"}", "rewards.schema", "missing");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"x\"}}}}",
               "rewards.schema.properties.a.pattern", "keyword not supported");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"type\": \"int\"}}", "rewards.schema.type", "unknown type \"int\"");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"type\": [\"string\", 1]}}", "rewards.schema.type[1]",
               "must be a type name");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"minimum\": 5, \"maximum\": 1}}", "rewards.schema",
               "minimum 5 is above maximum 1");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"maxLength\": 1.5}}", "rewards.schema.maxLength",
               "non-negative integer");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"items\": [{}]}}", "rewards.schema.items",
               "must be an object or a boolean");
    expect_bad("{\"type\": \"json_schema\", \"schema\": {\"enum\": []}}", "rewards.schema.enum", "non-empty");
    expect_bad("{\"type\": \"model\"}", "rewards.path", "missing");
    expect_bad("{\"type\": \"model\", \"path\": \"\"}", "rewards.path", "must not be empty");
    expect_bad("{\"type\": \"model\", \"path\": \"m\", \"extract\": \"boxed\"}", "rewards.extract", "unknown key");
    expect_bad("{\"type\": \"model\", \"path\": \"m\", \"max_length\": 2.5}", "rewards.max_length", "whole number");
    expect_bad("{\"type\": \"model\", \"path\": \"m\", \"adapter\": 3}", "rewards.adapter", "must be a string");
    expect_bad("[]", "rewards", "no reward term");
    expect_bad("[5]", "rewards[0]", "must be an object");
    expect_bad("{\"type\": \"regex\", \"pattern\": \"a\"", "rewards", "");
}

/* The shipped arithmetic task (data/rl, scripts/gen_rl_arithmetic.py): every answer is the sum the
 * prompt asks for, the demonstration's reward gives its completion 1 and a wrong sum 0, the two files
 * hold the 100 problems once, and the SFT loader reads them (the warm-up). */
static void check_shipped_task(void) {
    vkt_reward *r = spec("[{\"type\": \"exact_match\", \"name\": \"accuracy\"}]");
    const char *files[] = {VKT_TEST_DATA "/rl/arithmetic_train.jsonl", VKT_TEST_DATA "/rl/arithmetic_val.jsonl"};
    int seen[10][10] = {{0}}, n = 0, bad = 0;
    for (int f = 0; f < 2; f++) {
        size_t len;
        char *text = (char *)tu_read(files[f], &len);
        text[len] = 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            cJSON *j = cJSON_Parse(line);
            const cJSON *p = cJSON_GetObjectItem(j, "prompt"), *c = cJSON_GetObjectItem(j, "completion"),
                        *a = cJSON_GetObjectItem(j, "answer");
            int x = -1, y = -1;
            float good = -1, wrong = -1;
            char other[8];
            if (cJSON_IsString(p) && cJSON_IsString(c) && cJSON_IsString(a) &&
                sscanf(p->valuestring, "What is %d + %d?", &x, &y) == 2 && x >= 0 && x < 10 && y >= 0 && y < 10) {
                seen[x][y]++;
                snprintf(other, sizeof other, "%d", x + y + 1);
                vkt_reward_score(r, c->valuestring, strlen(c->valuestring), a->valuestring, NULL, &good);
                vkt_reward_score(r, other, strlen(other), a->valuestring, NULL, &wrong);
                bad += atoi(a->valuestring) != x + y || good != 1 || wrong != 0;
            } else {
                bad++;
            }
            n++;
            cJSON_Delete(j);
        }
        free(text);
    }
    for (int x = 0; x < 10; x++)
        for (int y = 0; y < 10; y++) bad += seen[x][y] != 1;
    CHECK(n == 100 && bad == 0, "arithmetic task: %d records, %d bad", n, bad);
    vkt_sft_dataset d;
    vkt_status s = vkt_sft_dataset_load(files[0], NULL, &d);
    CHECK(s == VKT_OK && d.n == 80 && d.ex[0].kind == VKT_SFT_PROMPT_COMPLETION, "the SFT loader reads the train set: %s",
          vkt_status_name(s));
    vkt_sft_dataset_free(&d);
    vkt_reward_free(r);
    printf("arithmetic task: %d problems, each once, answers verified\n", n);
}

int main(void) {
    check_extract();
    check_normalize();
    check_exact();
    check_regex();
    check_schema();
    check_terms();
    check_model_term();
    check_bad_specs();
    check_shipped_task();
    printf("%s test_rl_reward (%d failure(s))\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
