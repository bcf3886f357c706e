/* SFT tokenization (src/sft/sft_tokenize.h) without a chat renderer: the span -> loss-mask step on
 * chat-shaped text (GPT-2 and the Qwen2-style fixture with <|im_start|>/<|im_end|>), prompt/completion
 * and text examples with BOS/EOS (bytes, GPT-2, llama2.c SentencePiece), and truncation (drop,
 * right, left) with every count. The conversational path end to end is test_sft_chat. Pure CPU. */
#include "data/tokenizer.h"
#include "io_testutil.h"
#include "sft/sft_tokenize.h"

/* The text of the flagged tokens, in order, joined with '|' between runs of flagged tokens. */
static void flagged_text(vkt_tokenizer *t, const vkt_tok_ids *ids, const vkt_sft_flags *loss, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < ids->len; i++) {
        if (!loss->data[i]) {
            if (o && out[o - 1] != '|' && o + 1 < cap) out[o++] = '|', out[o] = 0;
            continue;
        }
        size_t l;
        const char *p = vkt_tok_piece(t, ids->data[i], &l);
        if (o + l + 1 < cap) memcpy(out + o, p, l), o += l, out[o] = 0;
    }
    if (o && out[o - 1] == '|') out[--o] = 0;
}

static vkt_tokenizer *load(const char *spec) {
    vkt_tokenizer *t = NULL;
    CHECK(vkt_tok_load(spec, &t) == VKT_OK, "load %s", spec);
    return t;
}

static void expect_mask(vkt_tokenizer *t, const char *text, const vkt_chat_span *spans, int32_t n, const char *want,
                        const char *what) {
    vkt_tok_ids ids = {0};
    vkt_sft_flags loss = {0};
    vkt_status s = vkt_sft_mask_spans(t, text, strlen(text), spans, n, false, &ids, &loss);
    char got[1024];
    flagged_text(t, &ids, &loss, got, sizeof got);
    CHECK(s == VKT_OK && ids.len == loss.len && strcmp(got, want) == 0, "%s: flagged \"%s\", want \"%s\"", what, got,
          want);
    /* The ids are the plain encoding's (special tokens parsed). */
    vkt_tok_ids plain = {0};
    vkt_tok_encode(t, text, strlen(text), true, &plain);
    CHECK(plain.len == ids.len && !memcmp(plain.data, ids.data, ids.len * sizeof *ids.data), "%s: ids differ", what);
    vkt_tok_ids_free(&plain);
    ids.len = loss.len = 0;
    vkt_sft_mask_spans(t, text, strlen(text), spans, n, true, &ids, &loss);
    size_t ones = 0;
    for (size_t i = 0; i < loss.len; i++) ones += loss.data[i];
    CHECK(ones == ids.len, "%s: mode all flags %zu of %zu tokens", what, ones, ids.len);
    vkt_tok_ids_free(&ids);
    vkt_sft_flags_free(&loss);
    printf("ok   mask %-40s \"%s\"\n", what, want);
}

static void check_masks(void) {
    vkt_tokenizer *q = NULL;
    CHECK(vkt_tok_load_hf(VKT_TEST_FIXTURES "/tokenizers/qwen2_style/tokenizer.json", &q) == VKT_OK, "qwen2 fixture");
    if (q) {
        /* ChatML: spans run from after "<|im_start|>assistant\n" through "<|im_end|>". */
        const char *chat = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
                           "<|im_start|>assistant\nHello! How are you?<|im_end|>\n<|im_start|>user\nFine.<|im_end|>\n"
                           "<|im_start|>assistant\nGood.<|im_end|>\n";
        const char *a1 = strstr(chat, "Hello!"), *a2 = strstr(chat, "Good.");
        int64_t b1 = a1 - chat, b2 = a2 - chat;
        vkt_chat_span both[2] = {{5, b1, b1 + 29}, {9, b2, b2 + 15}};
        expect_mask(q, chat, both, 2, "Hello! How are you?<|im_end|>|Good.<|im_end|>", "chatml, two turns");
        expect_mask(q, chat, both + 1, 1, "Good.<|im_end|>", "chatml, last turn");
        expect_mask(q, chat, both, 0, "", "chatml, no span");
        /* A span that starts inside a token does not flag it: the first flagged token starts in the span. */
        vkt_chat_span mid = {0, b1 + 1, b1 + 6};
        expect_mask(q, chat, &mid, 1, "!", "span starting mid-token");
    }
    vkt_tok_free(q);
    vkt_tokenizer *g = load(VKT_TEST_DATA "/tokenizers/gpt2-hf/tokenizer.json");
    if (g) {
        const char *text = "<|endoftext|>User: hi\nAssistant:\nHello there<|endoftext|>";
        int64_t b = strstr(text, "Hello") - text;
        vkt_chat_span sp = {3, b, (int64_t)strlen(text)};
        expect_mask(g, text, &sp, 1, "Hello there<|endoftext|>", "gpt2");
    }
    vkt_tok_free(g);
}

/* A dataset of JSONL records in memory. */
static void mem_dataset(vkt_sft_dataset *d, const char *jsonl) {
    memset(d, 0, sizeof *d);
    CHECK(vkt_sft_dataset_add_mem(d, jsonl, strlen(jsonl), "mem.jsonl", NULL) == VKT_OK, "dataset %s", jsonl);
}

/* [BOS?] prompt completion [EOS] with loss on the completion and EOS, for three tokenizer kinds. */
static void check_prompt_completion(vkt_tokenizer *t, const char *spec) {
    if (!t) return;
    vkt_sft_dataset d;
    mem_dataset(&d, "{\"prompt\": \"Once upon\", \"completion\": \" a time\"}\n{\"text\": \"Hello world\"}\n");
    vkt_sft_tok_opts o = {.tok = t, .max_tokens = 1024};
    vkt_tok_ids p = {0}, c = {0}, x = {0};
    vkt_tok_encode(t, "Once upon", 9, false, &p);
    vkt_tok_encode(t, " a time", 7, false, &c);
    vkt_tok_encode(t, "Hello world", 11, false, &x);
    int32_t bos = vkt_tok_adds_bos(t) ? vkt_tok_bos(t) : -1, eos = vkt_tok_eot(t);
    for (int k = 0; k < 2; k++) {
        vkt_tok_ids ids = {0};
        vkt_sft_flags loss = {0};
        CHECK(vkt_sft_encode_example(&o, &d.ex[k], &ids, &loss) == VKT_OK, "%s: encode example %d", spec, k);
        int32_t want[64];
        uint8_t wl[64];
        size_t n = 0;
        if (bos >= 0) want[n] = bos, wl[n++] = k == 1;
        const vkt_tok_ids *parts[2] = {k == 0 ? &p : &x, k == 0 ? &c : NULL};
        for (int q = 0; q < 2 && parts[q]; q++)
            for (size_t i = 0; i < parts[q]->len; i++) want[n] = parts[q]->data[i], wl[n++] = k == 1 || q == 1;
        if (eos >= 0) want[n] = eos, wl[n++] = 1;
        CHECK(ids.len == n && !memcmp(ids.data, want, n * sizeof *want) && !memcmp(loss.data, wl, n),
              "%s example %d: %zu ids (want %zu) or flags differ", spec, k, ids.len, n);
        vkt_tok_ids_free(&ids);
        vkt_sft_flags_free(&loss);
    }
    CHECK(bos >= 0 || !strstr(spec, "add_bos"), "%s: the tokenizer must add a BOS", spec);
    printf("ok   %s: prompt/completion and text (bos %d, eos %d)\n", spec, bos, eos);
    vkt_tok_ids_free(&p);
    vkt_tok_ids_free(&c);
    vkt_tok_ids_free(&x);
    vkt_sft_dataset_free(&d);
    vkt_tok_free(t);
}

/* Bytes tokenizer: one id per byte, no BOS/EOS, so lengths are the strings'. */
static void check_truncation(void) {
    vkt_tokenizer *t = load("bytes");
    vkt_sft_dataset d;
    mem_dataset(&d, "{\"prompt\": \"abcdefgh\", \"completion\": \"XY\"}\n"   /* 10 tokens, targets at 8, 9 */
                    "{\"prompt\": \"ab\", \"completion\": \"XYZ\"}\n"        /* 5 tokens: fits */
                    "{\"text\": \"0123456789abc\"}\n"                        /* 13 tokens */
                    "{\"prompt\": \"abcdef\", \"completion\": \"XYZW\"}\n"); /* 10 tokens, targets 6..9 */
    struct {
        vkt_sft_truncation tr;
        int64_t kept, right, left, long_, no_loss, cut, tokens, targets;
    } want[3] = {
        {VKT_SFT_TRUNC_DROP, 1, 0, 0, 3, 0, 0, 5, 3},
        /* right to 6: ex0 keeps abcdef, no target -> dropped; ex2 keeps 6 (5 targets); ex3 keeps abcdef -> dropped */
        {VKT_SFT_TRUNC_RIGHT, 2, 1, 0, 0, 2, 7, 11, 8},
        /* left to 6: ex0 keeps "efghXY" (targets X, Y); ex2 "789abc"; ex3 "efXYZW" */
        {VKT_SFT_TRUNC_LEFT, 4, 0, 3, 0, 0, 15, 23, 3 + 2 + 5 + 4},
    };
    for (int k = 0; k < 3; k++) {
        vkt_sft_tok_opts o = {.tok = t, .truncation = want[k].tr, .max_tokens = 6};
        vkt_sft_tokenized r;
        tu_capture_begin();
        vkt_status s = vkt_sft_tokenize(&o, &d, &r);
        tu_capture_end();
        const vkt_sft_tok_stats *st = &r.stats;
        CHECK(s == VKT_OK && st->n_in == 4 && st->n_kept == want[k].kept && r.n_examples == want[k].kept &&
                  st->n_truncated_right == want[k].right && st->n_truncated_left == want[k].left &&
                  st->n_dropped_long == want[k].long_ && st->n_dropped_no_loss == want[k].no_loss &&
                  st->n_tokens_cut == want[k].cut && st->n_tokens == want[k].tokens && r.n_tokens == want[k].tokens &&
                  st->n_targets == want[k].targets,
              "truncation %d: %s kept %lld right %lld left %lld long %lld no_loss %lld cut %lld tokens %lld targets "
              "%lld",
              k, vkt_status_name(s), (long long)st->n_kept, (long long)st->n_truncated_right,
              (long long)st->n_truncated_left, (long long)st->n_dropped_long, (long long)st->n_dropped_no_loss,
              (long long)st->n_tokens_cut, (long long)st->n_tokens, (long long)st->n_targets);
        if (k == 2 && s == VKT_OK && r.n_examples == 4) { /* left keeps the end */
            CHECK(r.start[1] == 6 && !memcmp(r.loss, "\0\0\0\0\1\1", 6) && r.ids[0] == 'e' && r.ids[5] == 'Y',
                  "left truncation of example 0");
            CHECK(r.source[3] == 3 && r.start[4] == r.n_tokens, "sources and starts");
        }
        if (k == 1 && s == VKT_OK && r.n_examples == 2)
            CHECK(r.source[0] == 1 && r.source[1] == 2 && r.ids[r.start[1]] == '0', "right truncation keeps the start");
        vkt_sft_tokenized_free(&r);
    }
    /* All dropped: an error. */
    vkt_sft_tok_opts o = {.tok = t, .max_tokens = 3};
    vkt_sft_tokenized r;
    tu_capture_begin();
    vkt_status s = vkt_sft_tokenize(&o, &d, &r);
    tu_expect_fail("nothing left", s, VKT_ERR_FORMAT, tu_capture_end(), "no example is left", "4 over 3 tokens", NULL);
    vkt_sft_tokenized_free(&r);
    /* A conversational example without a template is an argument error. */
    vkt_sft_dataset c;
    mem_dataset(&c, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": "
                    "\"b\"}]}\n");
    o.max_tokens = 64;
    tu_capture_begin();
    s = vkt_sft_tokenize(&o, &c, &r);
    tu_expect_fail("chat without a template", s, VKT_ERR_ARG, tu_capture_end(), "needs a chat template", NULL);
    vkt_sft_tokenized_free(&r);
    vkt_sft_dataset_free(&c);
    vkt_sft_dataset_free(&d);
    vkt_tok_free(t);
}

int main(void) {
    check_masks();
    check_prompt_completion(load("bytes"), "bytes");
    check_prompt_completion(load(VKT_TEST_DATA "/tokenizers/gpt2"), "gpt2");
    check_prompt_completion(load(VKT_TEST_DATA "/models/stories260K/tok512.bin"), "tok512.bin");
    /* Llama-3 style with add_bos_token: BOS first, flagged only for text examples. */
    vkt_tokenizer *l3 = NULL;
    const char *cfg = "/tmp/vkt_sft_tok_config.json";
    tu_write(
        cfg, "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\", \"add_bos_token\": true}",
        strlen("{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\", \"add_bos_token\": true}"));
    CHECK(vkt_tok_load_hf(VKT_TEST_FIXTURES "/tokenizers/llama3_style/tokenizer.json", &l3) == VKT_OK &&
              vkt_tok_apply_hf_config(l3, cfg) == VKT_OK,
          "llama3_style with add_bos_token");
    unlink(cfg);
    check_prompt_completion(l3, "llama3_style add_bos");
    check_truncation();
    printf("test_sft_tokenize: %s (%d failures)\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
