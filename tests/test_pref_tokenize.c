/* Preference tokenization (src/sft/pref_tokenize.h) without a chat renderer: string pairs as
 * [BOS?] prompt + completion + [EOS] with flags on the completion and EOS (bytes, GPT-2, llama2.c
 * SentencePiece), the truncation rules on hand-made sequences (prompt from the left keeping a BOS,
 * completion from the right, a prompt longer than seq_len dropped, no completion left), every count
 * of a tokenized set under CUT, DROP and both limits, the log line naming FILE:LINE of a dropped
 * long prompt, and identical token sequences (an NFC-normalizing tokenizer makes two different
 * strings alike) rejected with FILE:LINE or skipped. The conversational path is test_pref_chat.
 * Pure CPU. */
#include "data/tokenizer.h"
#include "io_testutil.h"
#include "sft/pref_tokenize.h"

static vkt_tokenizer *load(const char *spec) {
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_load(spec, &t) == VKT_OK, "load %s", spec);
    return t;
}

static void mem_dataset(vkt_pref_dataset *d, const char *jsonl) {
    memset(d, 0, sizeof *d);
    CHECK(vkt_pref_dataset_add_mem(d, jsonl, strlen(jsonl), "mem.jsonl", NULL) == VKT_OK, "dataset %s", jsonl);
}

static void append_ids(int32_t *want, uint8_t *wl, size_t *n, const vkt_tok_ids *part, uint8_t flag) {
    for (size_t i = 0; i < part->len; i++) want[*n] = part->data[i], wl[(*n)++] = flag;
}

/* [BOS?] prompt completion [EOS]: flags on the completion and the EOS; n_prompt counts BOS + prompt. */
static void check_text_pair(vkt_tokenizer *t, const char *spec) {
    if (!t) return;
    vkt_pref_dataset d;
    mem_dataset(&d, "{\"prompt\": \"Once upon\", \"chosen\": \" a time\", \"rejected\": \" the end\"}\n");
    vkt_pref_tok_opts o = {.tok = t, .max_tokens = 1024};
    const char *text[3] = {"Once upon", " a time", " the end"};
    vkt_tok_ids part[3] = {{0}};
    for (int i = 0; i < 3; i++) vkt_tok_encode(t, text[i], strlen(text[i]), false, &part[i]);
    int32_t bos = vkt_tok_adds_bos(t) ? vkt_tok_bos(t) : -1, eos = vkt_tok_eot(t);
    vkt_pref_seq seq[2];
    memset(seq, 0, sizeof seq);
    CHECK(vkt_pref_encode_pair(&o, &d.ex[0], &seq[0], &seq[1]) == VKT_OK, "%s: encode", spec);
    for (int k = 0; k < 2; k++) {
        int32_t want[64];
        uint8_t wl[64];
        size_t n = 0;
        if (bos >= 0) want[n] = bos, wl[n++] = 0;
        append_ids(want, wl, &n, &part[0], 0);
        size_t n_prompt = n;
        append_ids(want, wl, &n, &part[1 + k], 1);
        if (eos >= 0) want[n] = eos, wl[n++] = 1;
        const vkt_pref_seq *s = &seq[k];
        CHECK(s->ids.len == n && s->loss.len == n && !memcmp(s->ids.data, want, n * sizeof *want) &&
                  !memcmp(s->loss.data, wl, n) && s->n_prompt == (int64_t)n_prompt,
              "%s %s: %zu ids (want %zu), n_prompt %lld (want %zu), or ids/flags differ", spec,
              k ? "rejected" : "chosen", s->ids.len, n, (long long)s->n_prompt, n_prompt);
        vkt_pref_seq_free(&seq[k]);
    }
    printf("ok   %s: string pair (bos %d, eos %d)\n", spec, bos, eos);
    for (int i = 0; i < 3; i++) vkt_tok_ids_free(&part[i]);
    vkt_pref_dataset_free(&d);
    vkt_tok_free(t);
}

/* A sequence of p prompt tokens (ids 100..) and c completion tokens (ids 200..), flags on the
 * completion; a first id of bos when bos >= 0. */
static vkt_pref_seq make_seq(int64_t p, int64_t c, int32_t bos) {
    vkt_pref_seq s;
    memset(&s, 0, sizeof s);
    for (int64_t i = 0; i < p; i++) vkt_tok_ids_push(&s.ids, i == 0 && bos >= 0 ? bos : (int32_t)(100 + i));
    for (int64_t i = 0; i < c; i++) vkt_tok_ids_push(&s.ids, (int32_t)(200 + i));
    vkt_sft_flags_push(&s.loss, 0, (size_t)p);
    vkt_sft_flags_push(&s.loss, 1, (size_t)c);
    s.n_prompt = p;
    return s;
}

static void check_truncate_rules(void) {
    vkt_tokenizer *bytes = load("bytes"), *sp = load(VKT_TEST_DATA "/models/stories260K/tok512.bin");
    if (!bytes || !sp) return;
    int32_t bos = vkt_tok_bos(sp);
    CHECK(vkt_tok_bos(bytes) < 0 && bos >= 0, "bytes has no BOS, tok512 has one");
    const struct {
        const char *what;
        vkt_tokenizer *tok;
        int32_t bos;
        int64_t p, c, max, mpt, mct;
        vkt_pref_truncation tr;
        int want, n, n_prompt, first_id, last_id;
    } cases[] = {
        {"fits", bytes, -1, 3, 2, 8, 0, 0, VKT_PREF_TRUNC_CUT, 0, 5, 3, 100, 201},
        {"fits exactly", bytes, -1, 3, 5, 8, 0, 0, VKT_PREF_TRUNC_CUT, 0, 8, 3, 100, 204},
        {"prompt limit", bytes, -1, 10, 2, 64, 4, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_PROMPT, 6, 4, 106, 201},
        {"prompt limit keeps BOS", sp, bos, 10, 2, 64, 4, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_PROMPT, 6, 4, bos, 201},
        {"prompt limit 1 with BOS", sp, bos, 10, 2, 64, 1, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_PROMPT, 3, 1, 109, 201},
        {"completion limit", bytes, -1, 3, 9, 64, 0, 4, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_COMPLETION, 7, 3, 100, 203},
        {"both limits", bytes, -1, 9, 9, 64, 2, 3, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_PROMPT | VKT_PREF_CUT_COMPLETION, 5,
         2, 107, 202},
        {"over: completion cut", bytes, -1, 5, 10, 8, 0, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_COMPLETION, 8, 5, 100,
         202},
        {"over: dropped", bytes, -1, 5, 10, 8, 0, 0, VKT_PREF_TRUNC_DROP, VKT_PREF_DROP_LONG, 0, 0, 0, 0},
        {"limits make it fit", bytes, -1, 20, 10, 8, 3, 0, VKT_PREF_TRUNC_DROP, VKT_PREF_DROP_LONG, 0, 0, 0, 0},
        {"limits make it fit (2)", bytes, -1, 20, 10, 8, 3, 5, VKT_PREF_TRUNC_DROP,
         VKT_PREF_CUT_PROMPT | VKT_PREF_CUT_COMPLETION, 8, 3, 117, 204},
        {"prompt of seq_len", bytes, -1, 7, 3, 8, 0, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_CUT_COMPLETION, 8, 7, 100, 200},
        {"prompt over seq_len", bytes, -1, 8, 3, 8, 0, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_DROP_LONG_PROMPT, 0, 0, 0, 0},
        {"prompt over seq_len, DROP", bytes, -1, 30, 3, 8, 0, 0, VKT_PREF_TRUNC_DROP, VKT_PREF_DROP_LONG_PROMPT, 0, 0,
         0, 0},
        {"no prompt, one token", bytes, -1, 0, 1, 8, 0, 0, VKT_PREF_TRUNC_CUT, VKT_PREF_DROP_NO_COMPLETION, 0, 0, 0, 0},
        {"no prompt, two tokens", bytes, -1, 0, 2, 8, 0, 0, VKT_PREF_TRUNC_CUT, 0, 2, 0, 200, 201},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkt_pref_seq s = make_seq(cases[i].p, cases[i].c, cases[i].bos);
        vkt_pref_tok_opts o = {.tok = cases[i].tok,
                               .max_tokens = cases[i].max,
                               .max_prompt_tokens = cases[i].mpt,
                               .max_completion_tokens = cases[i].mct,
                               .truncation = cases[i].tr};
        int got = vkt_pref_truncate(&o, &s);
        bool ok = got == cases[i].want;
        if (ok && got >= 0) {
            int64_t n = (int64_t)s.ids.len, np = s.n_prompt;
            ok = n == cases[i].n && (int64_t)s.loss.len == n && np == cases[i].n_prompt &&
                 s.ids.data[0] == cases[i].first_id && s.ids.data[n - 1] == cases[i].last_id;
            for (int64_t k = 0; ok && k < n; k++)
                ok = s.loss.data[k] == (k >= np) && (s.ids.data[k] >= 200) == (k >= np);
        }
        CHECK(ok, "truncate %s: outcome %d (want %d), %zu tokens (want %d), n_prompt %lld (want %d), first %d last %d",
              cases[i].what, got, cases[i].want, s.ids.len, cases[i].n, (long long)s.n_prompt, cases[i].n_prompt,
              s.ids.len ? s.ids.data[0] : -1, s.ids.len ? s.ids.data[s.ids.len - 1] : -1);
        vkt_pref_seq_free(&s);
    }
    printf("ok   truncation rules: %zu cases\n", sizeof cases / sizeof cases[0]);
    vkt_tok_free(bytes);
    vkt_tok_free(sp);
}

/* Bytes tokenizer (one id per byte, no BOS/EOS), max_tokens 8 (seq_len 7). */
static const char *COUNTED = "{\"prompt\": \"abc\", \"chosen\": \"XY\", \"rejected\": \"Z\"}\n"
                             "{\"prompt\": \"abcdefghij\", \"chosen\": \"X\", \"rejected\": \"Y\"}\n"
                             "{\"prompt\": \"abcde\", \"chosen\": \"XYZW\", \"rejected\": \"Q\"}\n"
                             "{\"prompt\": \"abcdef\", \"chosen\": \"XYa\", \"rejected\": \"XYb\"}\n"
                             "{\"prompt\": \"\", \"chosen\": \"X\", \"rejected\": \"YZ\"}\n"
                             "{\"prompt\": \"abcdefg\", \"chosen\": \"X\", \"rejected\": \"Y\"}\n";

static void check_counts(void) {
    vkt_tokenizer *t = load("bytes");
    vkt_pref_dataset d;
    mem_dataset(&d, COUNTED);
    const struct {
        const char *what;
        vkt_pref_truncation tr;
        int64_t mpt, mct;
        int64_t kept, prompt_cut, completion_cut, long_prompt, long_, no_completion, identical, cut, tokens, targets;
        int64_t sources[6];
    } want[] = {
        /* L3 chosen cut to 8; L4 identical once cut; L2 prompt of 10 > 7; L5 "X" alone has no target */
        {"cut", VKT_PREF_TRUNC_CUT, 0, 0, 3, 0, 1, 1, 0, 1, 1, 1, 9 + 14 + 16, 3 + 4 + 2, {0, 2, 5}},
        {"drop", VKT_PREF_TRUNC_DROP, 0, 0, 2, 0, 0, 1, 2, 1, 0, 0, 9 + 16, 3 + 2, {0, 5}},
        /* the prompt limit 3 keeps L2 ("hij") and L4 ("def" + XYa/XYb fits whole) */
        {"prompt limit",
         VKT_PREF_TRUNC_CUT,
         3,
         0,
         5,
         8,
         0,
         0,
         0,
         1,
         0,
         14 + 4 + 6 + 8,
         9 + 8 + 11 + 12 + 8,
         3 + 2 + 5 + 6 + 2,
         {0, 1, 2, 3, 5}},
        /* the completion limit 1 makes L4 identical */
        {"completion limit", VKT_PREF_TRUNC_CUT, 0, 1, 3, 0, 2, 1, 0, 1, 1, 1 + 3, 8 + 12 + 16, 2 + 2 + 2, {0, 2, 5}},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        vkt_pref_tok_opts o = {.tok = t,
                               .max_tokens = 8,
                               .truncation = want[k].tr,
                               .max_prompt_tokens = want[k].mpt,
                               .max_completion_tokens = want[k].mct};
        vkt_pref_tokenized r;
        tu_capture_begin();
        vkt_status s = vkt_pref_tokenize(&o, &d, &r);
        const char *log = tu_capture_end();
        const vkt_pref_tok_stats *st = &r.stats;
        CHECK(s == VKT_OK && st->n_in == 6 && st->n_kept == want[k].kept && r.n_pairs == want[k].kept &&
                  st->n_prompt_cut == want[k].prompt_cut && st->n_completion_cut == want[k].completion_cut &&
                  st->n_dropped_long_prompt == want[k].long_prompt && st->n_dropped_long == want[k].long_ &&
                  st->n_dropped_no_completion == want[k].no_completion &&
                  st->n_dropped_identical == want[k].identical && st->n_tokens_cut == want[k].cut &&
                  st->n_tokens == want[k].tokens && r.n_tokens == want[k].tokens && st->n_targets == want[k].targets,
              "%s: %s kept %lld prompt_cut %lld completion_cut %lld long_prompt %lld long %lld no_completion %lld "
              "identical %lld cut %lld tokens %lld targets %lld",
              want[k].what, vkt_status_name(s), (long long)st->n_kept, (long long)st->n_prompt_cut,
              (long long)st->n_completion_cut, (long long)st->n_dropped_long_prompt, (long long)st->n_dropped_long,
              (long long)st->n_dropped_no_completion, (long long)st->n_dropped_identical, (long long)st->n_tokens_cut,
              (long long)st->n_tokens, (long long)st->n_targets);
        /* Layout: chosen 2i, rejected 2i + 1, contiguous; sources in data order; n_prompt per sequence. */
        bool ok = s == VKT_OK && r.start[0] == 0 && r.start[2 * r.n_pairs] == r.n_tokens;
        for (int64_t i = 0; ok && i < r.n_pairs; i++) {
            ok = r.source[i] == want[k].sources[i];
            const char *prompt = d.ex[r.source[i]].prompt_text;
            for (int side = 0; ok && side < 2; side++) {
                int64_t q = 2 * i + side, a = r.start[q], n = r.start[q + 1] - a, np = r.n_prompt[q];
                ok = n >= 2 && n <= 8 && np < n && (int64_t)strlen(prompt) >= np;
                for (int64_t j = 0; ok && j < n; j++) ok = r.loss[a + j] == (j >= np);
                for (int64_t j = 0; ok && j < np; j++) ok = r.ids[a + j] == prompt[strlen(prompt) - np + j];
            }
        }
        CHECK(ok, "%s: layout, sources or flags wrong", want[k].what);
        if (want[k].long_prompt)
            CHECK(strstr(log, "mem.jsonl:2: the prompt has 10 tokens, more than seq_len = 7: pair dropped") != NULL,
                  "%s: the long prompt's log line: %s", want[k].what, log);
        if (k == 0 && s == VKT_OK && r.n_pairs == 3)
            CHECK(r.start[3] - r.start[2] == 8 &&
                      !memcmp(r.ids + r.start[2], (int32_t[]){'a', 'b', 'c', 'd', 'e', 'X', 'Y', 'Z'}, 8 * 4),
                  "cut: L3 chosen keeps abcdeXYZ");
        vkt_pref_tokenized_free(&r);
    }
    printf("ok   tokenize counts: cut, drop, prompt and completion limits\n");
    /* Nothing left: an error with the counts. */
    vkt_pref_tok_opts o = {.tok = t, .max_tokens = 2};
    vkt_pref_tokenized r;
    tu_capture_begin();
    vkt_status s = vkt_pref_tokenize(&o, &d, &r);
    tu_expect_fail("nothing left", s, VKT_ERR_FORMAT, tu_capture_end(), "no pair is left", "0 of 6 pairs kept", NULL);
    vkt_pref_tokenized_free(&r);
    o.max_prompt_tokens = -1;
    tu_capture_begin();
    s = vkt_pref_tokenize(&o, &d, &r);
    tu_expect_fail("negative limit", s, VKT_ERR_ARG, tu_capture_end(), "must be >= 0", NULL);
    vkt_pref_tokenized_free(&r);
    vkt_pref_dataset_free(&d);
    /* A conversational pair without a template is an argument error. */
    mem_dataset(&d, "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"chosen\": [{\"role\": \"assistant\", "
                    "\"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n");
    o = (vkt_pref_tok_opts){.tok = t, .max_tokens = 64};
    tu_capture_begin();
    s = vkt_pref_tokenize(&o, &d, &r);
    tu_expect_fail("chat without a template", s, VKT_ERR_ARG, tu_capture_end(), "needs a chat template", NULL);
    vkt_pref_tokenized_free(&r);
    vkt_pref_dataset_free(&d);
    vkt_tok_free(t);
}

/* NFC makes "é" (U+00E9) and "e" + U+0301 the same tokens: different records, identical sequences. */
static void check_identical(void) {
    vkt_tokenizer *q = NULL;
    CHECK(vkt_tok_load_hf(VKT_TEST_FIXTURES "/tokenizers/qwen2_style/tokenizer.json", &q) == VKT_OK, "qwen2 fixture");
    if (!q) return;
    vkt_pref_dataset d;
    mem_dataset(&d, "{\"prompt\": \"Caf\", \"chosen\": \"good\", \"rejected\": \"bad\"}\n"
                    "{\"prompt\": \"Caf\", \"chosen\": \"\xC3\xA9\", \"rejected\": \"e\xCC\x81\"}\n");
    vkt_pref_tok_opts o = {.tok = q, .max_tokens = 64};
    vkt_pref_tokenized r;
    tu_capture_begin();
    vkt_status s = vkt_pref_tokenize(&o, &d, &r);
    tu_expect_fail("identical sequences", s, VKT_ERR_FORMAT, tu_capture_end(),
                   "mem.jsonl:2: chosen and rejected give the same", "the pair prefers nothing", NULL);
    vkt_pref_tokenized_free(&r);
    o.skip_bad = true;
    tu_capture_begin();
    s = vkt_pref_tokenize(&o, &d, &r);
    const char *log = tu_capture_end();
    CHECK(s == VKT_OK && r.n_pairs == 1 && r.stats.n_skipped_identical == 1 && strstr(log, "(pair skipped)"),
          "identical sequences skipped: %s, %lld pairs, %lld skipped", vkt_status_name(s), (long long)r.n_pairs,
          (long long)r.stats.n_skipped_identical);
    vkt_pref_tokenized_free(&r);
    vkt_pref_dataset_free(&d);
    vkt_tok_free(q);
}

int main(void) {
    check_text_pair(load("bytes"), "bytes");
    check_text_pair(load(VKT_TEST_DATA "/tokenizers/gpt2"), "gpt2");
    check_text_pair(load(VKT_TEST_DATA "/models/stories260K/tok512.bin"), "tok512.bin");
    check_truncate_rules();
    check_counts();
    check_identical();
    if (g_failures) fprintf(stderr, "%d failure(s)\n", g_failures);
    return g_failures ? 1 : 0;
}
