/* Chat templates and the Jinja interpreter behind them. Pure CPU.
 *
 * Against jinja2 3.1 as transformers configures it (scripts/gen_chat_fixtures.py wrote the expected
 * outputs once): 15 real chat templates x 9 conversations x add_generation_prompt render byte for byte,
 * the errors they raise are raised, and the assistant spans match the prefix method; the spans are
 * also checked for what they promise (each starts with its assistant message's content, ends with the
 * template's end-of-turn marker, spans do not overlap, other messages' text lies outside them). Then
 * ~90 small templates cover the interpreter (expressions, filters, whitespace control, loops, macros,
 * namespace, errors), and hand-written cases cover what jinja2 cannot produce: our error messages with
 * line numbers for unsupported constructs and syntax errors, the render limits, tokenizer_config.json
 * loading and the built-in templates. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat_template.h"
#include "chat/jinja.h"
#include "io_testutil.h"

static cJSON *read_json(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/chat_templates/%s", VKT_TEST_FIXTURES, rel);
    size_t n;
    unsigned char *text = tu_read(path, &n);
    cJSON *j = cJSON_ParseWithLength((const char *)text, n);
    free(text);
    if (!j) {
        fprintf(stderr, "FAIL: %s is not JSON\n", path);
        exit(1);
    }
    return j;
}

/* renders.json with its "renders" list gathered from renders/TEMPLATE.json (one file per template). */
static cJSON *read_renders(void) {
    cJSON *root = read_json("renders.json"), *all = cJSON_AddArrayToObject(root, "renders");
    for (const cJSON *t = cJSON_GetObjectItem(root, "templates")->child; t; t = t->next) {
        char rel[256];
        snprintf(rel, sizeof rel, "renders/%s.json", t->string);
        cJSON *list = read_json(rel);
        while (cJSON_GetArraySize(list) > 0) cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(list, 0));
        cJSON_Delete(list);
    }
    return root;
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Prints where two texts first differ. */
static void show_diff(const char *what, const char *got, size_t got_n, const char *want) {
    size_t want_n = strlen(want), i = 0;
    while (i < got_n && i < want_n && got[i] == want[i]) i++;
    size_t from = i > 30 ? i - 30 : 0;
    fprintf(stderr, "FAIL %s: renders differ at byte %zu (got %zu bytes, want %zu)\n  got:  %.*s|\n  want: %.*s|\n",
            what, i, got_n, want_n, (int)(got_n - from < 80 ? got_n - from : 80), got + from,
            (int)(want_n - from < 80 ? want_n - from : 80), want + from);
}

/* The content of a message as a trimmed string (empty when it is not a string). */
static void trimmed_content(const cJSON *msg, const char **p, size_t *n) {
    const char *s = jstr(msg, "content");
    *p = "", *n = 0;
    if (!s) return;
    while (*s == ' ' || *s == '\n' || *s == '\t') s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t')) len--;
    *p = s, *n = len;
}

static bool contains_bytes(const char *hay, size_t hn, const char *needle, size_t nn) {
    for (size_t i = 0; nn && i + nn <= hn; i++)
        if (!memcmp(hay + i, needle, nn)) return true;
    return false;
}

/* What the spans promise, independently of how they were computed. */
static void check_span_meaning(const char *what, const vkt_chat_render_out *r, const cJSON *messages,
                               const char *marker, const char *eos) {
    for (int k = 0; k < r->n_spans; k++) {
        const vkt_chat_span *s = &r->spans[k];
        CHECK(s->begin >= 0 && s->begin < s->end && s->end <= (int64_t)r->len, "%s: span %d [%lld, %lld)", what, k,
              (long long)s->begin, (long long)s->end);
        CHECK(k == 0 || s->begin >= r->spans[k - 1].end, "%s: spans %d and %d overlap", what, k - 1, k);
        const char *text = r->text + s->begin;
        size_t n = (size_t)(s->end - s->begin);
        const cJSON *msg = cJSON_GetArrayItem(messages, s->message);
        CHECK(!strcmp(jstr(msg, "role"), "assistant"), "%s: span %d is for a %s message", what, k, jstr(msg, "role"));
        const char *c;
        size_t cn;
        trimmed_content(msg, &c, &cn);
        size_t lead = 0;
        while (lead < n && (text[lead] == ' ' || text[lead] == '\n')) lead++;
        size_t cmp = cn < 12 ? cn : 12;
        CHECK(cmp == 0 || (n - lead >= cmp && !memcmp(text + lead, c, cmp)),
              "%s: span %d does not start with its content: %.*s", what, k, (int)(n < 40 ? n : 40), text);
        size_t mn = strlen(marker), en = strlen(eos);
        bool ends =
            (n >= mn && !memcmp(text + n - mn, marker, mn)) || (en && n >= en && !memcmp(text + n - en, eos, en));
        CHECK(ends, "%s: span %d does not end with %s or %s: ...%.*s", what, k, marker, eos, (int)(n < 30 ? n : 30),
              text + (n < 30 ? 0 : n - 30));
    }
    /* The text of other messages (system, user, tool) lies outside every span. */
    for (const cJSON *m = messages->child; m; m = m->next) {
        if (!strcmp(jstr(m, "role"), "assistant")) continue;
        const char *c;
        size_t cn;
        trimmed_content(m, &c, &cn);
        for (int k = 0; k < r->n_spans && cn >= 4; k++)
            CHECK(!contains_bytes(r->text + r->spans[k].begin, (size_t)(r->spans[k].end - r->spans[k].begin), c, cn),
                  "%s: a %s message's text is inside span %d", what, jstr(m, "role"), k);
    }
}

static void test_real_templates(void) {
    cJSON *root = read_renders();
    const cJSON *templates = cJSON_GetObjectItem(root, "templates"),
                *convs = cJSON_GetObjectItem(root, "conversations");
    int64_t now = (int64_t)cJSON_GetObjectItem(root, "fixed_now_unix")->valuedouble;
    int n_render = 0, n_error = 0, n_spans = 0, n_span_refused = 0;
    for (const cJSON *t = templates->child; t; t = t->next) {
        char path[1024];
        snprintf(path, sizeof path, "%s/chat_templates/%s", VKT_TEST_FIXTURES, jstr(t, "file"));
        size_t len;
        unsigned char *src = tu_read(path, &len);
        vkt_chat_template *ct = NULL;
        vkt_status st = vkt_chat_template_from_source((const char *)src, len, t->string, jstr(t, "bos_token"),
                                                      jstr(t, "eos_token"), &ct);
        free(src);
        CHECK(st == VKT_OK, "template %s does not load: %s", t->string, vkt_status_name(st));
        if (st != VKT_OK) continue;
        vkt_chat_template_set_now(ct, now);
        for (const cJSON *c = cJSON_GetObjectItem(root, "renders")->child; c; c = c->next) {
            if (strcmp(jstr(c, "template"), t->string)) continue;
            const cJSON *conv = cJSON_GetObjectItem(convs, jstr(c, "conversation"));
            const cJSON *msgs = cJSON_GetObjectItem(conv, "messages"), *tools = cJSON_GetObjectItem(conv, "tools"),
                        *extra = cJSON_GetObjectItem(conv, "extra");
            bool gen = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt"));
            char what[160];
            snprintf(what, sizeof what, "%s / %s / add_generation_prompt=%d", t->string, jstr(c, "conversation"), gen);
            vkt_chat_render_out r;
            tu_capture_begin();
            st = vkt_chat_render(ct, msgs, tools, gen, extra, &r);
            const char *log = tu_capture_end();
            const char *err = jstr(c, "error"), *want = jstr(c, "output");
            if (err) {
                n_error++;
                CHECK(st == VKT_ERR_FORMAT, "%s: want the error \"%s\", got %s", what, err, vkt_status_name(st));
                /* The template's own message (raise_exception) comes through word for word. */
                if (!strncmp(err, "TemplateError: ", 15))
                    CHECK(strstr(log, err) != NULL, "%s: the log lacks \"%s\": %s", what, err, log);
                else
                    CHECK(strstr(log, t->string) != NULL, "%s: the log does not name the template: %s", what, log);
            } else if (cJSON_IsTrue(cJSON_GetObjectItem(c, "span_error"))) {
                n_span_refused++;
                CHECK(st == VKT_ERR_FORMAT && strstr(log, "assistant message") && strstr(log, t->string),
                      "%s: the prefix method should refuse with a message naming the template and message: %s", what,
                      log);
                char *text = NULL;
                size_t n = 0;
                st = vkt_chat_render_text(ct, msgs, tools, gen, extra, &text, &n);
                CHECK(st == VKT_OK && n == strlen(want) && !memcmp(text, want, n), "%s: render_text", what);
                if (st == VKT_OK && (n != strlen(want) || memcmp(text, want, n))) show_diff(what, text, n, want);
                free(text);
                n_render++;
            } else {
                n_render++;
                CHECK(st == VKT_OK, "%s: %s: %s", what, vkt_status_name(st), log);
                if (st != VKT_OK) continue;
                if (r.len != strlen(want) || memcmp(r.text, want, r.len)) {
                    show_diff(what, r.text, r.len, want);
                    g_failures++;
                }
                const cJSON *spans = cJSON_GetObjectItem(c, "spans");
                CHECK(r.n_spans == cJSON_GetArraySize(spans), "%s: %d spans, want %d", what, r.n_spans,
                      cJSON_GetArraySize(spans));
                int k = 0;
                for (const cJSON *s = spans->child; s && k < r.n_spans; s = s->next, k++) {
                    int64_t m = (int64_t)cJSON_GetArrayItem(s, 0)->valuedouble,
                            b = (int64_t)cJSON_GetArrayItem(s, 1)->valuedouble,
                            e = (int64_t)cJSON_GetArrayItem(s, 2)->valuedouble;
                    CHECK(r.spans[k].message == m && r.spans[k].begin == b && r.spans[k].end == e,
                          "%s: span %d is message %d [%lld, %lld), want message %lld [%lld, %lld)", what, k,
                          r.spans[k].message, (long long)r.spans[k].begin, (long long)r.spans[k].end, (long long)m,
                          (long long)b, (long long)e);
                }
                n_spans += r.n_spans;
                check_span_meaning(what, &r, msgs, jstr(t, "end_marker"), jstr(t, "eos_token"));
                vkt_chat_render_free(&r);
            }
        }
        vkt_chat_template_free(ct);
    }
    printf("real templates: %d renders byte-identical to jinja2, %d expected errors, %d spans checked, %d span "
           "computations refused as expected\n",
           n_render, n_error, n_spans, n_span_refused);
    CHECK(n_render > 150 && n_spans > 200, "too few cases ran (%d renders, %d spans)", n_render, n_spans);
    cJSON_Delete(root);
}

/* Renders a template with variables; *out malloc'd. */
static vkt_status jrender(const char *src, const cJSON *vars, const vkt_jinja_limits *lim, char **out, size_t *n,
                          vkt_jinja_error *err) {
    vkt_jinja *t;
    vkt_status s = vkt_jinja_parse(src, strlen(src), &t, err);
    if (s != VKT_OK) return s;
    vkt_jinja_render_opts o = {.vars = vars, .limits = lim, .fixed_now = true, .now_unix = 1741964966};
    s = vkt_jinja_render(t, &o, out, n, err);
    vkt_jinja_free(t);
    return s;
}

static void test_interpreter_cases(void) {
    cJSON *root = read_json("jinja_cases.json");
    int n_ok = 0, n_err = 0;
    for (const cJSON *c = cJSON_GetObjectItem(root, "cases")->child; c; c = c->next) {
        const char *name = jstr(c, "name"), *want = jstr(c, "output"), *err = jstr(c, "error");
        char *out = NULL;
        size_t n = 0;
        vkt_jinja_error e;
        vkt_status s = jrender(jstr(c, "template"), cJSON_GetObjectItem(c, "vars"), NULL, &out, &n, &e);
        if (want) {
            CHECK(s == VKT_OK, "%s: %s at line %d: %s", name, vkt_status_name(s), e.line, e.msg);
            if (s == VKT_OK && (n != strlen(want) || memcmp(out, want, n))) {
                show_diff(name, out, n, want);
                g_failures++;
            }
            n_ok++;
        } else {
            /* The same error class as jinja2 (and for most, the same words). */
            size_t cls = strcspn(err, ":");
            CHECK(s == VKT_ERR_FORMAT && !strncmp(e.msg, err, cls + 1), "%s: got %s \"%s\", want \"%s\"", name,
                  vkt_status_name(s), s == VKT_OK ? out : e.msg, err);
            if (strcmp(e.msg, err)) printf("  note %s: ours \"%s\", jinja2 \"%s\"\n", name, e.msg, err);
            n_err++;
        }
        free(out);
    }
    printf("interpreter: %d templates render as jinja2 does, %d raise its error class\n", n_ok, n_err);
    cJSON_Delete(root);
}

/* A template that fails to parse or render: status, line and words of the message. */
static void expect_error(const char *src, int want_line, const char *w1, const char *w2) {
    char *out = NULL;
    size_t n;
    vkt_jinja_error e = {0};
    vkt_status s = jrender(src, NULL, NULL, &out, &n, &e);
    CHECK(s == VKT_ERR_FORMAT, "\"%s\": want an error, got %s", src, vkt_status_name(s));
    CHECK(want_line < 0 || e.line == want_line, "\"%s\": error at line %d, want %d (%s)", src, e.line, want_line,
          e.msg);
    CHECK(strstr(e.msg, w1) && (!w2 || strstr(e.msg, w2)), "\"%s\": message lacks \"%s\"/\"%s\": %s", src, w1,
          w2 ? w2 : "", e.msg);
    free(out);
}

static void test_errors(void) {
    expect_error("a\n{% extends 'base.html' %}", 2, "unsupported construct", "extends");
    expect_error("{% include 'x' %}", 1, "unsupported construct", "include");
    expect_error("\n\n{% import 'm' as m %}", 3, "unsupported construct", "import");
    expect_error("{% block b %}{% endblock %}", 1, "unsupported construct", "block");
    expect_error("{% with a = 1 %}{% endwith %}", 1, "unsupported construct", "with");
    expect_error("{% do x %}", 1, "unsupported construct", "do");
    expect_error("line1\n{{ x | nosuchfilter }}", 2, "unsupported filter", "nosuchfilter");
    expect_error("{% if x is nosuchtest %}{% endif %}", 1, "unsupported test", "nosuchtest");
    expect_error("{% for x in y recursive %}{% endfor %}", 1, "unsupported construct", "recursive");
    expect_error("{{ f(*args) }}", 1, "unsupported construct", "*args");
    expect_error("{{ '{:>4}'.format(1) }}", 1, "unsupported construct", "format spec");
    expect_error("{% if %}{% endif %}", 1, "syntax error", "expression");
    expect_error("a\nb\n{{ 1 + }}", 3, "syntax error", "expected an expression");
    expect_error("{% for x in %}{% endfor %}", 1, "syntax error", NULL);
    expect_error("{% for x of y %}{% endfor %}", 1, "expected 'in'", NULL);
    expect_error("x\n{% if true %}\nopen\n", 2, "unexpected end of template", "endif");
    expect_error("{% for x in y %}\n{% endif %}", 2, "unexpected '{% endif %}'", NULL);
    expect_error("{{ 'abc }}", 1, "unterminated string", NULL);
    expect_error("{{ x\n", 1, "not closed", NULL);
    expect_error("ok\n{# no end", 2, "missing end of comment", NULL);
    expect_error("{% break %}", 1, "outside a for loop", NULL);
    expect_error("{{ (1 ]] }}", 1, "unexpected ']'", NULL);
    expect_error("{{ 1 @ 2 }}", 1, "unexpected character", NULL);
    expect_error("{{ 0123 }}", 1, "leading zeros", NULL);
    expect_error("{{ 99999999999999999999 }}", 1, "beyond 64 bits", NULL);
    expect_error("{% raw %}never closed", 1, "endraw", NULL);
    expect_error("{{ x is defined is defined }}", 1, "chained", NULL);
    /* runtime errors carry the line of the expression */
    expect_error("a\nb\n{{ raise_exception('bad input: ' ~ 3) }}", 3, "TemplateError: bad input: 3", NULL);
    expect_error("\n{{ 'a' + 1 }}", 2, "TypeError", "concatenate");
    expect_error("{% set ns = 1 %}\n{% set ns.a = 2 %}", 2, "non-namespace", NULL);
    expect_error("{{ 9223372036854775807 + 1 }}", 1, "integer overflow", NULL);
    expect_error("{% set l = [1] %}{{ l.append(2) }}", 1, "SecurityError", "append");
    expect_error("{{ range(1, 10, 0) }}", 1, "must not be zero", NULL);
}

static void test_limits(void) {
    vkt_jinja_limits lim = vkt_jinja_default_limits();
    lim.max_range = 1000, lim.max_output_bytes = 4096, lim.max_steps = 20000, lim.max_memory_bytes = 64 << 20;
    lim.max_depth = 64;
    struct {
        const char *src, *words;
    } cases[] = {
        {"{{ range(1001) | length }}", "range() would produce more than 1000"},
        {"{% for i in range(1000) %}{{ 'xxxxxxxxxx' }}{% endfor %}", "output is longer than 4096"},
        {"{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", "more than 20000 steps"},
        {"{{ ('x' * 1000000) * 100 }}", "memory"},
        {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nests deeper than 64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        size_t n;
        vkt_jinja_error e;
        vkt_status s = jrender(cases[i].src, NULL, &lim, &out, &n, &e);
        CHECK(s == VKT_ERR_FORMAT && strstr(e.msg, cases[i].words), "limit \"%s\": %s: %s", cases[i].src,
              vkt_status_name(s), s == VKT_OK ? out : e.msg);
        free(out);
    }
    /* Deep nesting fails to parse instead of exhausting the stack. */
    size_t depth = 5000;
    char *src = malloc(2 * depth + 8);
    strcpy(src, "{{ ");
    for (size_t i = 0; i < depth; i++) src[3 + i] = '(';
    src[3 + depth] = '1';
    for (size_t i = 0; i < depth; i++) src[4 + depth + i] = ')';
    strcpy(src + 4 + 2 * depth, " }}");
    vkt_jinja *t;
    vkt_jinja_error e;
    CHECK(vkt_jinja_parse(src, strlen(src), &t, &e) == VKT_ERR_FORMAT && strstr(e.msg, "nest"), "deep nesting: %s",
          e.msg);
    free(src);
    printf("limits: range, output, steps, memory, macro recursion and parse depth all fail cleanly\n");
}

static void test_builtins(void) {
    cJSON *root = read_renders();
    const cJSON *convs = cJSON_GetObjectItem(root, "conversations");
    const char *names[] = {"chatml", "llama3"};
    for (int i = 0; i < 2; i++) {
        char fixture[32];
        snprintf(fixture, sizeof fixture, "builtin_%s", names[i]);
        const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "templates"), fixture);
        vkt_chat_template *ct;
        CHECK(vkt_chat_template_builtin(names[i], jstr(t, "bos_token"), jstr(t, "eos_token"), &ct) == VKT_OK,
              "builtin %s", names[i]);
        for (const cJSON *c = cJSON_GetObjectItem(root, "renders")->child; c; c = c->next) {
            if (strcmp(jstr(c, "template"), fixture) || !jstr(c, "output")) continue;
            const cJSON *conv = cJSON_GetObjectItem(convs, jstr(c, "conversation"));
            char *text;
            size_t n;
            vkt_status s =
                vkt_chat_render_text(ct, cJSON_GetObjectItem(conv, "messages"), cJSON_GetObjectItem(conv, "tools"),
                                     cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")),
                                     cJSON_GetObjectItem(conv, "extra"), &text, &n);
            CHECK(s == VKT_OK && n == strlen(jstr(c, "output")) && !memcmp(text, jstr(c, "output"), n),
                  "builtin %s differs from its fixture on %s", names[i], conv->string);
            if (s == VKT_OK) free(text);
        }
        vkt_chat_template_free(ct);
    }
    vkt_chat_template *ct = NULL;
    tu_capture_begin();
    vkt_status s = vkt_chat_template_builtin("nope", NULL, NULL, &ct);
    const char *log = tu_capture_end();
    tu_expect_fail("unknown builtin", s, VKT_ERR_ARG, log, "nope", "chatml", (const char *)NULL);
    cJSON_Delete(root);
}

static vkt_status load(const char *dir, const char *json, vkt_chat_template **t, const char **log) {
    tu_write(tu_path(dir, "tokenizer_config.json"), json, strlen(json));
    tu_capture_begin();
    vkt_status s = vkt_chat_template_load_hf(tu_path(dir, "tokenizer_config.json"), t);
    *log = tu_capture_end();
    return s;
}

static void test_load_hf(void) {
    const char *dir = tu_mkdir(), *log;
    vkt_chat_template *t;
    cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]");
    cJSON *tools = cJSON_Parse("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]");
    char *text;
    size_t n;
    /* A string template; bos as an AddedToken object, eos as a string. */
    CHECK(load(dir,
               "{\"chat_template\": \"{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token "
               "}}{% endfor %}\","
               "\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": \"</s>\"}",
               &t, &log) == VKT_OK,
          "string template: %s", log);
    CHECK(vkt_chat_render_text(t, msgs, NULL, false, NULL, &text, &n) == VKT_OK &&
              !strcmp(text, "<s>[user]hi</s>[assistant]yo</s>"),
          "string template render");
    free(text);
    vkt_chat_template_free(t);
    /* A list: "default", and "tool_use" when tools are given. */
    CHECK(load(dir,
               "{\"chat_template\": [{\"name\": \"default\", \"template\": \"D{{ messages | length }}\"},"
               "{\"name\": \"tool_use\", \"template\": \"T{{ tools | length }}\"}, {\"name\": \"rag\", \"template\": "
               "\"{% bad %}\"}]}",
               &t, &log) == VKT_OK,
          "template list: %s", log);
    CHECK(vkt_chat_render_text(t, msgs, NULL, false, NULL, &text, &n) == VKT_OK && !strcmp(text, "D2"),
          "default template");
    free(text);
    CHECK(vkt_chat_render_text(t, msgs, tools, false, NULL, &text, &n) == VKT_OK && !strcmp(text, "T1"),
          "tool_use template");
    free(text);
    vkt_chat_template_free(t);
    /* No chat_template key: chat_template.jinja beside the config. */
    tu_write(tu_path(dir, "chat_template.jinja"), "J{{ messages[0].content }}\n", 27);
    CHECK(load(dir, "{\"eos_token\": \"</s>\"}", &t, &log) == VKT_OK, "chat_template.jinja: %s", log);
    CHECK(vkt_chat_render_text(t, msgs, NULL, false, NULL, &text, &n) == VKT_OK && !strcmp(text, "Jhi"),
          "chat_template.jinja render");
    free(text);
    vkt_chat_template_free(t);
    unlink(tu_path(dir, "chat_template.jinja"));
    vkt_status s = load(dir, "{\"eos_token\": \"</s>\"}", &t, &log);
    tu_expect_fail("no template", s, VKT_ERR_FORMAT, log, "tokenizer_config.json", "no chat_template",
                   (const char *)NULL);
    s = load(dir, "{\"chat_template\": [{\"name\": \"rag\", \"template\": \"x\"}]}", &t, &log);
    tu_expect_fail("no default", s, VKT_ERR_FORMAT, log, "default", (const char *)NULL);
    s = load(dir, "{\"chat_template\": \"ok\\n{% for x in y %}\\n{{ x | frobnicate }}{% endfor %}\"}", &t, &log);
    tu_expect_fail("bad template", s, VKT_ERR_FORMAT, log, "tokenizer_config.json", "line 3", "frobnicate",
                   (const char *)NULL);
    s = load(dir, "{\"chat_template\": \"{{ raise_exception('no system messages') }}\"}", &t, &log);
    CHECK(s == VKT_OK, "raise template loads");
    tu_capture_begin();
    vkt_chat_render_out r;
    s = vkt_chat_render(t, msgs, NULL, false, NULL, &r);
    log = tu_capture_end();
    tu_expect_fail("raise_exception", s, VKT_ERR_FORMAT, log, "no system messages", "tokenizer_config.json",
                   (const char *)NULL);
    vkt_chat_template_free(t);
    tu_capture_begin();
    s = vkt_chat_template_load_hf(tu_path(dir, "missing.json"), &t);
    log = tu_capture_end();
    CHECK(s == VKT_ERR_IO && t == NULL, "missing file: %s", vkt_status_name(s));
    cJSON_Delete(msgs);
    cJSON_Delete(tools);
    tu_rmdir(dir);
    printf("tokenizer_config.json: string, list (default / tool_use), chat_template.jinja, and clear errors\n");
}

int main(void) {
    test_real_templates();
    test_interpreter_cases();
    test_errors();
    test_limits();
    test_builtins();
    test_load_hf();
    printf("%s test_chat_template (%d failure(s))\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
