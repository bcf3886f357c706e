/* Command-line parsing: numbers are parsed strictly (the whole argument, in range), a flag missing its
 * value is named, a train override without '=' says so, and `tokenizer decode` refuses non-ids. The
 * pure helpers are called directly; the messages are checked by running the vktrain binary, on
 * arguments that fail before any device is created. `vktrain index` builds and queries the shipped
 * data/rag_docs and names what is wrong with a missing folder, a file that is no index, a query without
 * words and impossible chunking settings. Last, `vktrain eval --json --dump-logits` on
 * stories260K (on the device): the JSON loss carries full precision and equals the dump's. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/args.h"
#include "expect.h"
#include "harness.h"
#include "io/safetensors.h"

/* Runs `vktrain ARGS`; returns the exit code and the combined output in out. */
static int run(const char *args, char *out, size_t n) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", VKT_CLI_BIN, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    int st = pclose(p);
    return st >= 0 && (st & 0x7f) == 0 ? (st >> 8) & 0xff : -1;
}

static void expect_cli(const char *args, int want_rc, const char *want_msg) {
    char out[4096];
    int rc = run(args, out, sizeof out);
    bool ok = rc == want_rc && strstr(out, want_msg) != NULL;
    printf("%s vktrain %s -> %d: %s", ok ? "ok  " : "FAIL", args, rc, out[0] ? out : "(no output)\n");
    if (!ok) printf("     want exit %d and \"%s\"\n", want_rc, want_msg);
    EXPECT(ok);
}

int main(void) {
    int64_t i;
    double d;
    EXPECT(vkt_cli_parse_i64("42", &i) && i == 42);
    EXPECT(vkt_cli_parse_i64("-7", &i) && i == -7);
    EXPECT(!vkt_cli_parse_i64("abc", &i) && !vkt_cli_parse_i64("", &i) && !vkt_cli_parse_i64("12x", &i));
    EXPECT(!vkt_cli_parse_i64("1.5", &i) && !vkt_cli_parse_i64(" 3", &i));
    EXPECT(!vkt_cli_parse_i64("99999999999999999999", &i));
    EXPECT(vkt_cli_parse_f64("0.7", &d) && d == 0.7);
    EXPECT(vkt_cli_parse_f64("1e-3", &d) && d == 1e-3);
    EXPECT(!vkt_cli_parse_f64("abc", &d) && !vkt_cli_parse_f64("", &d) && !vkt_cli_parse_f64("0.5t", &d));
    EXPECT(!vkt_cli_parse_f64("nan", &d) && !vkt_cli_parse_f64("inf", &d) && !vkt_cli_parse_f64("1e999", &d));

    expect_cli("sample model --temperature abc", 2, "--temperature: 'abc' is not a number");
    expect_cli("sample model --top-p 1.5", 2, "--top-p: 1.5 is outside [0, 1]");
    expect_cli("sample model --tokens", 2, "--tokens needs a value");
    expect_cli("eval model --data x --batch 8x", 2, "--batch: '8x' is not an integer");
    expect_cli("eval model --data", 2, "--data needs a value");
    expect_cli("bench --reps many", 2, "--reps: 'many' is not an integer");
    expect_cli("tokenizer decode --tokenizer bytes abc", 1, "'abc' is not a token id of bytes");
    expect_cli("tokenizer decode --tokenizer bytes 104 300", 1, "'300' is not a token id of bytes");
    expect_cli("tokenizer decode --tokenizer bytes 104 105", 0, "hi");
    expect_cli("tokenizer train --vocab", 2, "--vocab needs a value");
    expect_cli("train optim.steps 500", 2, "'optim.steps' is no config file");
    expect_cli("train optim.steps 500", 2, "an override needs '=', as in optim.steps=VALUE");
    expect_cli("train --resume", 2, "--resume needs a value");
    /* index: build the shipped demonstration documents and query them; bad input names the problem. */
    char rag_args[2048], rag_index[64];
    snprintf(rag_index, sizeof rag_index, "/tmp/vkt_cli_rag_%d.db", (int)getpid());
    snprintf(rag_args, sizeof rag_args, "index '%s' --out %s --chunk-words 40", vkt_test_data("rag_docs"), rag_index);
    expect_cli(rag_args, 0, "12 documents, 42 passages of about 40 words (overlap 6)");
    snprintf(rag_args, sizeof rag_args, "index --query 'Who is the \"mayor\" of Lumby? (NEAR*' %s --k 2", rag_index);
    expect_cli(rag_args, 0, "1. score ");
    expect_cli(rag_args, 0, "council.md passage 0\n   Lumby is run by a town council of seven members");
    expect_cli(rag_args, 0, "The mayor is Tilda Crane");
    snprintf(rag_args, sizeof rag_args, "index --query '?! *' %s", rag_index);
    expect_cli(rag_args, 2, "--query '?! *' has no words to search for");
    snprintf(rag_args, sizeof rag_args, "index --query bells '%s'", vkt_test_data("tinyshakespeare.txt"));
    expect_cli(rag_args, 1, "tinyshakespeare.txt: not a vktrain index (not an SQLite database)");
    snprintf(rag_args, sizeof rag_args, "index '%s' --out %s", vkt_test_data("tinyshakespeare.txt"), rag_index);
    expect_cli(rag_args, 1, "tinyshakespeare.txt: not a folder");
    expect_cli("index /nonexistent/vkt_docs --out /tmp/vkt_never.db", 1, "/nonexistent/vkt_docs: No such file");
    expect_cli("index", 2, "give DOCS_DIR and --out INDEX, or --query TEXT INDEX");
    expect_cli("index docs --out x.db --chunk-words 10 --overlap 6", 2, "--overlap 6 is more than half");
    expect_cli("index docs --out x.db --chunk-words 0", 2, "--chunk-words: 0 is outside [1, 100000]");
    expect_cli("index --query x idx.db --out y.db", 2, "give INDEX and only --k / --headings");
    expect_cli("index --query x idx.db --k", 2, "--k needs a value");
    remove(rag_index);
    /* eval --json: the loss at full precision, the same number as the dump's metadata. */
    char model[1024], tok[1024], data[1024], args[4096], out[4096];
    snprintf(model, sizeof model, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(tok, sizeof tok, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    snprintf(data, sizeof data, "%s", vkt_test_data("tinystories_256k.txt"));
    const char *dump = "/tmp/vkt_cli_args_dump.safetensors";
    snprintf(args, sizeof args, "eval '%s' --tokenizer '%s' --data '%s' --batch 2 --seq 16 --batches 2 --json "
             "--dump-logits %s 2>/dev/null", model, tok, data, dump);
    int rc = run(args, out, sizeof out);
    cJSON *o = rc == 0 ? cJSON_Parse(out) : NULL;
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(o, "loss");
    const char *at = strstr(out, "\"loss\":");
    int digits = 0;
    for (const char *p = at ? at + 7 : ""; *p && *p != ',' && *p != '}'; p++) digits += *p >= '0' && *p <= '9';
    vkt_st_file sf;
    bool opened = vkt_st_open(dump, &sf) == VKT_OK;
    const char *meta = opened ? vkt_st_meta(&sf, "loss") : NULL;
    printf("eval --json -> %d: %s     %d digits; dump metadata loss %s\n", rc, out, digits, meta ? meta : "(none)");
    EXPECT(rc == 0 && cJSON_IsNumber(loss) && loss->valuedouble > 0 && digits >= 15);
    EXPECT(meta && cJSON_IsNumber(loss) && strtod(meta, NULL) == loss->valuedouble);
    if (opened) vkt_st_close(&sf);
    cJSON_Delete(o);
    remove(dump);
    return expect_finish("cli_args");
}
