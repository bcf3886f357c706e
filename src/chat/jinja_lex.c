/* Jinja lexer: template text into data and tag tokens, with jinja2's whitespace rules as transformers
 * configures them (trim_blocks, lstrip_blocks, keep_trailing_newline off), and expression tokens.
 *
 * Mirrors jinja2 3.1's lexer.py: newlines are normalised to "\n" and one trailing newline is dropped;
 * "{%-" / "{{-" / "{#-" strip all whitespace before the tag, "-%}" / "-}}" / "-#}" all whitespace after
 * it; trim_blocks drops the first newline after a block or comment tag ("%}", "#}", not "}}") unless it
 * is "+%}"; lstrip_blocks drops spaces and tabs between a line start and a block or comment tag unless
 * it is "{%+". Tag ends are only recognised between tokens and outside brackets, so "%}" in a string
 * or "}}" closing a dict literal do not end the tag. {% raw %} ... {% endraw %} become text here. Also
 * the shared arena and failure helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_impl.h"

/* ---- arena and failure ---- */

struct jchunk {
    jchunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void jfail_at(jfail *f, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err->msg, sizeof f->err->msg, fmt, ap);
    va_end(ap);
    f->err->line = line;
    longjmp(f->jmp, 1);
}

void *jalloc(jfail *f, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    jarena *a = &f->arena;
    if (!a->head || a->head->size - a->head->used < bytes) {
        size_t size = bytes > (64u << 10) ? bytes : (64u << 10);
        if (size > a->budget || a->used > a->budget - size)
            jfail_at(f, 0, "the template used more than %zu MiB of memory (a limit of this renderer)", a->budget >> 20);
        jchunk *ch = malloc(sizeof *ch + size);
        if (!ch) {
            f->status = VKT_ERR_OOM;
            jfail_at(f, 0, "out of host memory (%zu bytes)", size);
        }
        ch->size = size;
        ch->used = 0;
        a->used += size;
        /* A big block gets its own chunk behind the current one, so the current one keeps filling. */
        if (a->head && bytes > (16u << 10)) {
            ch->next = a->head->next;
            a->head->next = ch;
        } else {
            ch->next = a->head;
            a->head = ch;
        }
        if (a->head != ch) {
            ch->used = bytes;
            memset(ch->data, 0, bytes);
            return ch->data;
        }
    }
    void *p = a->head->data + a->head->used;
    a->head->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *jstrndup(jfail *f, const char *s, size_t n) {
    char *p = jalloc(f, n + 1);
    if (n) memcpy(p, s, n);
    return p;
}

void jarena_free(jarena *a) {
    for (jchunk *ch = a->head, *next; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- lexer ---- */

typedef struct {
    jfail *f;
    const char *s; /* normalised source */
    size_t n, pos;
    int line;
    jtok *toks;
    int n_toks, cap;
} jlexer;

static void push(jlexer *L, jtok t) {
    if (L->n_toks == L->cap) {
        int cap = L->cap ? L->cap * 2 : 256;
        jtok *nt = jalloc(L->f, (size_t)cap * sizeof *nt);
        if (L->n_toks) memcpy(nt, L->toks, (size_t)L->n_toks * sizeof *nt);
        L->toks = nt;
        L->cap = cap;
    }
    L->toks[L->n_toks++] = t;
}

static int count_nl(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

/* Length of the Python whitespace (\s) run at s[i..n). */
static size_t ws_run(const char *s, size_t n, size_t i) {
    size_t j = i;
    while (j < n) {
        uint32_t cp;
        size_t k = jutf8_decode(s + j, n - j, &cp);
        if (!jpy_isspace(cp)) break;
        j += k;
    }
    return j - i;
}

/* The end of text s[0..n) without trailing Python whitespace. */
static size_t rstrip_len(const char *s, size_t n) {
    jv t = jstr_strip(jv_str(s, n), NULL, 0, false, true);
    return t.u.s.n;
}

static void emit_text(jlexer *L, const char *s, size_t n, int line) {
    if (n) push(L, (jtok){.kind = JT_TEXT, .line = line, .s = s, .n = n});
}

static bool starts(const jlexer *L, size_t at, const char *lit) {
    size_t k = strlen(lit);
    return at + k <= L->n && memcmp(L->s + at, lit, k) == 0;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_name_start(unsigned char ch) {
    return ch == '_' || ((ch | 32) >= 'a' && (ch | 32) <= 'z') || ch >= 0x80;
}
static bool is_name_char(unsigned char ch) { return is_name_start(ch) || is_digit((char)ch); }

/* "{%" sign? ws "name" ws at `at`: the position after it, or 0. */
static size_t block_word(const jlexer *L, size_t at, const char *word) {
    if (!starts(L, at, "{%")) return 0;
    size_t p = at + 2;
    if (p < L->n && (L->s[p] == '-' || L->s[p] == '+')) p++;
    p += ws_run(L->s, L->n, p);
    if (!starts(L, p, word)) return 0;
    p += strlen(word);
    if (p < L->n && is_name_char((unsigned char)L->s[p])) return 0;
    return p + ws_run(L->s, L->n, p);
}

/* A block end at p ("-%}" strips whitespace after, "%}" then trim_blocks' newline, "+%}"): its end. */
static size_t block_end_at(const jlexer *L, size_t p, bool allow_plus) {
    if (starts(L, p, "-%}")) return p + 3 + ws_run(L->s, L->n, p + 3);
    if (allow_plus && starts(L, p, "+%}")) return p + 3;
    if (starts(L, p, "%}")) return p + 2 + (p + 2 < L->n && L->s[p + 2] == '\n');
    return 0;
}

/* {% raw %} at `at` (its "-"/"+" sign already applied to the text before): text up to {% endraw %}. */
static size_t lex_raw(jlexer *L, size_t at, size_t after_word) {
    size_t p = starts(L, after_word, "-%}") ? after_word + 3 + ws_run(L->s, L->n, after_word + 3)
                                            : after_word + 2; /* jinja2: no trim_blocks after "raw %}" */
    L->line += count_nl(L->s + at, p - at);
    for (size_t q = p; q + 1 < L->n; q++) {
        size_t w = block_word(L, q, "endraw");
        size_t e = w ? block_end_at(L, w, true) : 0;
        if (!e) continue;
        char sign = L->s[q + 2];
        size_t tn = q - p;
        if (sign == '-') tn = rstrip_len(L->s + p, tn);
        emit_text(L, L->s + p, tn, L->line);
        L->line += count_nl(L->s + p, e - p);
        return e;
    }
    jfail_at(L->f, L->line, "missing end of raw directive ({%% endraw %%})");
}

static const char *const k_ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                    "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};

/* Decimal digits with single underscores between them, at p: the end (p when none). */
static size_t digits(const char *s, size_t n, size_t p) {
    if (p >= n || !is_digit(s[p])) return p;
    while (p < n && (is_digit(s[p]) || (s[p] == '_' && p + 1 < n && is_digit(s[p + 1])))) p++;
    return p;
}

static void lex_number(jlexer *L, size_t *pp) {
    const char *s = L->s;
    size_t p = *pp, start = p, end = digits(s, L->n, p);
    bool prev_dot = start > 0 && s[start - 1] == '.'; /* "x.0.1": no float after a dot */
    char buf[128];
    if (s[p] == '0' && end - p == 1 && p + 1 < L->n && strchr("xXoObB", s[p + 1])) {
        int base = (s[p + 1] | 32) == 'x' ? 16 : (s[p + 1] | 32) == 'o' ? 8 : 2;
        size_t q = p + 2, k = 0;
        while (q < L->n && k + 1 < sizeof buf && (s[q] == '_' || strchr("0123456789abcdefABCDEF", s[q]))) {
            if (s[q] != '_') buf[k++] = s[q];
            q++;
        }
        buf[k] = 0;
        char *e;
        unsigned long long v = strtoull(buf, &e, base);
        if (!k || *e || v > INT64_MAX) jfail_at(L->f, L->line, "invalid or too large integer literal");
        push(L, (jtok){.kind = JT_INT, .line = L->line, .i = (int64_t)v});
        *pp = q;
        return;
    }
    bool is_float = false;
    if (!prev_dot && end + 1 < L->n && s[end] == '.' && is_digit(s[end + 1]))
        end = digits(s, L->n, end + 1), is_float = true;
    if (!prev_dot && end < L->n && (s[end] | 32) == 'e') {
        size_t q = end + 1;
        if (q < L->n && (s[q] == '+' || s[q] == '-')) q++;
        size_t e2 = digits(s, L->n, q);
        if (e2 > q) end = e2, is_float = true;
    }
    size_t k = 0;
    for (size_t q = start; q < end && k + 1 < sizeof buf; q++)
        if (s[q] != '_') buf[k++] = s[q];
    buf[k] = 0;
    if (end - start >= sizeof buf) jfail_at(L->f, L->line, "number literal too long");
    if (is_float) {
        push(L, (jtok){.kind = JT_FLOAT, .line = L->line, .f = strtod(buf, NULL)});
    } else {
        if (buf[0] == '0' && buf[1]) {
            for (size_t q = 1; buf[q]; q++)
                if (buf[q] != '0') jfail_at(L->f, L->line, "leading zeros in an integer literal are not allowed");
        }
        char *e;
        unsigned long long v = strtoull(buf, &e, 10);
        if (v > INT64_MAX) jfail_at(L->f, L->line, "integer literal %s is beyond 64 bits", buf);
        push(L, (jtok){.kind = JT_INT, .line = L->line, .i = (int64_t)v});
    }
    *pp = end;
}

/* A string literal at *pp with Python's escapes (jinja2 decodes them with "unicode-escape"). */
static void lex_string(jlexer *L, size_t *pp) {
    const char *s = L->s;
    char q = s[*pp];
    size_t p = *pp + 1, end = p;
    while (end < L->n && s[end] != q) end += s[end] == '\\' ? 2 : 1;
    if (end >= L->n) jfail_at(L->f, L->line, "unterminated string literal");
    char *out = jalloc(L->f, end - p + 1);
    size_t k = 0;
    for (size_t i = p; i < end;) {
        if (s[i] != '\\') {
            out[k++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        const char *simple = strchr("nrtabfv\\'\"", e);
        if (simple && e) {
            static const char map[] = "\n\r\t\a\b\f\v\\'\"";
            out[k++] = map[simple - "nrtabfv\\'\""];
            i += 2;
        } else if (e == '\n') {
            i += 2; /* a backslash-newline continues the line */
        } else if (e == 'x' || e == 'u' || e == 'U' || (e >= '0' && e <= '7')) {
            int want = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 3, base = e >= '0' && e <= '7' ? 8 : 16, got = 0;
            size_t j = e >= '0' && e <= '7' ? i + 1 : i + 2;
            uint32_t cp = 0;
            while (got < want && j < end && strchr(base == 8 ? "01234567" : "0123456789abcdefABCDEF", s[j]) && s[j]) {
                char ch = s[j++];
                cp = cp * (uint32_t)base + (uint32_t)(ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10);
                got++;
            }
            if (base == 16 && got < want) jfail_at(L->f, L->line, "truncated \\%c escape in a string literal", e);
            if (cp > 0x10FFFF) jfail_at(L->f, L->line, "\\%c escape beyond Unicode in a string literal", e);
            k += jutf8_encode(cp, out + k);
            i = j;
        } else if (e == 'N') {
            jfail_at(L->f, L->line, "unsupported construct: \\N{...} escape in a string literal");
        } else {
            out[k++] = s[i++]; /* unknown escape: the backslash stays, as in Python */
        }
    }
    push(L, (jtok){.kind = JT_STRING, .line = L->line, .s = out, .n = k});
    L->line += count_nl(s + p, end - p);
    *pp = end + 1;
}

/* Expression tokens from *pp up to the tag's end ("}}" or "%}" with their signs): returns the end. */
static size_t lex_tag(jlexer *L, size_t p, bool block, int open_line) {
    char stack[64];
    int depth = 0;
    for (;;) {
        if (depth == 0) {
            size_t e = 0;
            if (block)
                e = block_end_at(L, p, true);
            else if (starts(L, p, "-}}"))
                e = p + 3 + ws_run(L->s, L->n, p + 3);
            else if (starts(L, p, "}}"))
                e = p + 2;
            if (e) {
                push(L, (jtok){.kind = block ? JT_BLOCK_END : JT_VAR_END, .line = L->line});
                L->line += count_nl(L->s + p, e - p);
                return e;
            }
        }
        size_t w = ws_run(L->s, L->n, p);
        if (w) {
            L->line += count_nl(L->s + p, w);
            p += w;
            continue;
        }
        if (p >= L->n)
            jfail_at(L->f, open_line, "unexpected end of template: the %s opened here is not closed",
                     block ? "{% ... %} block" : "{{ ... }} expression");
        unsigned char ch = (unsigned char)L->s[p];
        if (is_digit((char)ch)) {
            lex_number(L, &p);
        } else if (is_name_start(ch)) {
            size_t q = p;
            while (q < L->n && is_name_char((unsigned char)L->s[q])) q++;
            push(L, (jtok){.kind = JT_NAME, .line = L->line, .s = L->s + p, .n = q - p});
            p = q;
        } else if (ch == '\'' || ch == '"') {
            lex_string(L, &p);
        } else {
            size_t k = 0;
            while (k < sizeof k_ops / sizeof k_ops[0] && !starts(L, p, k_ops[k])) k++;
            if (k == sizeof k_ops / sizeof k_ops[0]) jfail_at(L->f, L->line, "unexpected character '%c'", ch);
            const char *op = k_ops[k];
            if (strchr("([{", op[0]) && !op[1]) {
                if (depth == (int)sizeof stack) jfail_at(L->f, L->line, "brackets nested too deeply");
                stack[depth++] = op[0] == '(' ? ')' : op[0] == '[' ? ']' : '}';
            } else if (strchr(")]}", op[0]) && !op[1]) {
                if (!depth) jfail_at(L->f, L->line, "unexpected '%c'", op[0]);
                if (stack[--depth] != op[0])
                    jfail_at(L->f, L->line, "unexpected '%c', expected '%c'", op[0], stack[depth]);
            }
            push(L, (jtok){.kind = JT_OP, .line = L->line, .s = op, .n = strlen(op)});
            p += strlen(op);
        }
    }
}

/* Newlines normalised to "\n", without one trailing newline (jinja2's keep_trailing_newline=False). */
static char *normalise(jfail *f, const char *src, size_t len, size_t *out_n) {
    char *s = jalloc(f, len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[k++] = src[i];
        }
    }
    if (k && s[k - 1] == '\n') k--;
    *out_n = k;
    return s;
}

jtok *jlex(jfail *f, const char *src, size_t len, int *n_tokens) {
    jlexer L = {.f = f, .line = 1};
    L.s = normalise(f, src, len, &L.n);
    bool line_starting = true;
    while (L.pos < L.n) {
        const char *hit = NULL;
        for (size_t i = L.pos; i + 1 < L.n && !hit; i++)
            if (L.s[i] == '{' && (L.s[i + 1] == '{' || L.s[i + 1] == '%' || L.s[i + 1] == '#')) hit = L.s + i;
        if (!hit) {
            emit_text(&L, L.s + L.pos, L.n - L.pos, L.line);
            break;
        }
        size_t at = (size_t)(hit - L.s), tn = at - L.pos;
        char kind = hit[1], sign = at + 2 < L.n ? L.s[at + 2] : 0;
        const char *text = L.s + L.pos;
        int text_line = L.line;
        L.line += count_nl(text, tn);
        if (sign == '-') {
            tn = rstrip_len(text, tn);
        } else if (sign != '+' && kind != '{') { /* lstrip_blocks: only spaces between line start and tag */
            size_t l = tn;
            while (l > 0 && text[l - 1] != '\n') l--;
            if ((l > 0 || line_starting) && l < tn && ws_run(text, tn, l) == tn - l) tn = l;
        }
        size_t raw = kind == '%' ? block_word(&L, at, "raw") : 0;
        if (raw && (starts(&L, raw, "%}") || starts(&L, raw, "-%}"))) {
            emit_text(&L, text, tn, text_line);
            L.pos = lex_raw(&L, at, raw);
            line_starting = L.s[L.pos - 1] == '\n';
            continue;
        }
        emit_text(&L, text, tn, text_line);
        size_t p = at + 2 + (sign == '-' || sign == '+');
        if (kind == '#') {
            size_t e = 0, q = p;
            for (; q + 1 < L.n; q++) {
                if (L.s[q] != '#' || L.s[q + 1] != '}') continue;
                if (q > p && L.s[q - 1] == '-')
                    e = q + 2 + ws_run(L.s, L.n, q + 2);
                else if (q > p && L.s[q - 1] == '+')
                    e = q + 2;
                else
                    e = q + 2 + (q + 2 < L.n && L.s[q + 2] == '\n');
                break;
            }
            if (!e) jfail_at(f, L.line, "missing end of comment tag (#})");
            L.line += count_nl(L.s + p, e - p);
            L.pos = e;
        } else {
            int open_line = L.line;
            push(&L, (jtok){.kind = kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, .line = L.line});
            L.pos = lex_tag(&L, p, kind == '%', open_line);
        }
        line_starting = L.s[L.pos - 1] == '\n';
    }
    push(&L, (jtok){.kind = JT_EOF, .line = L.line});
    *n_tokens = L.n_toks;
    return L.toks;
}
