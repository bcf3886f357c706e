/* Command-line parsing: numbers are parsed strictly (the whole argument, in range), a flag missing its
 * value is named, a train override without '=' says so, and `tokenizer decode` refuses non-ids. The
 * pure helpers are called directly; the messages are checked by running the vktrain binary, on
 * arguments that fail before any device is created. Pure CPU. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "expect.h"

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
    return expect_finish("cli_args");
}
