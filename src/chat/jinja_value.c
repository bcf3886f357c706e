/* Jinja values: construction, Python truthiness, equality and ordering, str() and repr(), json.dumps
 * (transformers' tojson), conversion from cJSON, and the UTF-8 helpers the interpreter shares.
 *
 * Python's rules are followed where templates can see them: 1 == 1.0 == True, str(None) is "None",
 * floats print as repr() (shortest round trip, "1e+16" from 16 digits on), lists print as
 * ['a', 1], strings compare by code point (UTF-8 byte order is the same), len() counts code points. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "chat/jinja_impl.h"

/* ---- UTF-8 ---- */

size_t jutf8_decode(const char *s, size_t n, uint32_t *cp) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)(n < 4 ? n : 4), &c);
    if (k <= 0) {
        *cp = (unsigned char)s[0];
        return 1;
    }
    *cp = (uint32_t)c;
    return (size_t)k;
}

size_t jutf8_encode(uint32_t cp, char out[4]) {
    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

size_t jutf8_len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

bool jpy_isspace(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

static bool in_chars(uint32_t cp, const char *chars, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += jutf8_decode(chars + i, n - i, &c);
        if (c == cp) return true;
    }
    return false;
}

jv jstr_strip(jv s, const char *chars, size_t nchars, bool left, bool right) {
    const char *p = s.u.s.p;
    size_t b = 0, e = s.u.s.n;
    while (left && b < e) {
        uint32_t cp;
        size_t k = jutf8_decode(p + b, e - b, &cp);
        if (chars ? !in_chars(cp, chars, nchars) : !jpy_isspace(cp)) break;
        b += k;
    }
    while (right && e > b) {
        size_t k = 1;
        while (k < e - b && k < 4 && ((unsigned char)p[e - k] & 0xC0) == 0x80) k++;
        uint32_t cp;
        if (jutf8_decode(p + e - k, k, &cp) != k) k = 1, cp = (unsigned char)p[e - 1];
        if (chars ? !in_chars(cp, chars, nchars) : !jpy_isspace(cp)) break;
        e -= k;
    }
    return jv_str(p + b, e - b);
}

/* ---- construction ---- */

jv jv_strz(const char *s) { return jv_str(s, strlen(s)); }

jv jv_list(jctx *c, size_t cap) {
    jv v = {.kind = JV_LIST};
    v.u.l = jalloc(&c->f, sizeof *v.u.l);
    if (cap) v.u.l->v = jalloc(&c->f, cap * sizeof(jv)), v.u.l->cap = cap;
    return v;
}

jv jv_dict(jctx *c, size_t cap) {
    jv v = {.kind = JV_DICT};
    v.u.d = jalloc(&c->f, sizeof *v.u.d);
    if (cap) {
        v.u.d->k = jalloc(&c->f, cap * sizeof(jv));
        v.u.d->v = jalloc(&c->f, cap * sizeof(jv));
        v.u.d->cap = cap;
    }
    return v;
}

void jlist_push(jctx *c, jlist *l, jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        jv *nv = jalloc(&c->f, cap * sizeof *nv);
        if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv, l->cap = cap;
    }
    l->v[l->n++] = v;
}

static size_t dict_find(const jdict *d, jv key) {
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], key)) return i;
    return d->n;
}

void jdict_set(jctx *c, jdict *d, jv key, jv v) {
    size_t i = dict_find(d, key);
    if (i < d->n) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        jv *nk = jalloc(&c->f, cap * sizeof *nk), *nv = jalloc(&c->f, cap * sizeof *nv);
        if (d->n) memcpy(nk, d->k, d->n * sizeof *nk), memcpy(nv, d->v, d->n * sizeof *nv);
        d->k = nk, d->v = nv, d->cap = cap;
    }
    d->k[d->n] = key, d->v[d->n++] = v;
}

bool jdict_get(const jdict *d, jv key, jv *out) {
    size_t i = dict_find(d, key);
    if (i == d->n) return false;
    *out = d->v[i];
    return true;
}

bool jdict_gets(const jdict *d, const char *key, size_t n, jv *out) {
    for (size_t i = 0; i < d->n; i++) {
        if (d->k[i].kind == JV_STR && d->k[i].u.s.n == n && !memcmp(d->k[i].u.s.p, key, n)) {
            *out = d->v[i];
            return true;
        }
    }
    return false;
}

/* ---- Python semantics ---- */

const char *jv_type(jv v) {
    static const char *const names[] = {"Undefined", "NoneType", "bool",      "int",      "float",      "str",
                                        "list",      "dict",     "Namespace", "function", "LoopContext"};
    return v.kind == JV_LIST && v.tuple ? "tuple" : names[v.kind];
}

bool jv_truthy(jv v) {
    switch (v.kind) {
    case JV_UNDEF:
    case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->n > 0;
    case JV_DICT: return v.u.d->n > 0;
    default: return true;
    }
}

bool jv_is_num(jv v) { return v.kind == JV_INT || v.kind == JV_FLOAT || v.kind == JV_BOOL; }
double jv_num(jv v) { return v.kind == JV_FLOAT ? v.u.f : v.kind == JV_INT ? (double)v.u.i : (double)v.u.b; }

bool jv_eq(jv a, jv b) {
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind != JV_FLOAT && b.kind != JV_FLOAT)
            return (a.kind == JV_INT ? a.u.i : a.u.b) == (b.kind == JV_INT ? b.u.i : b.u.b);
        return jv_num(a) == jv_num(b);
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && !memcmp(a.u.s.p, b.u.s.p, a.u.s.n);
    case JV_LIST:
        if (a.tuple != b.tuple || a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_eq(a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv o;
            if (!jdict_get(b.u.d, a.u.d->k[i], &o) || !jv_eq(a.u.d->v[i], o)) return false;
        }
        return true;
    case JV_NS: return a.u.d == b.u.d;
    case JV_FUNC: return a.u.fn == b.u.fn;
    case JV_LOOP: return a.u.loop == b.u.loop;
    default: return false;
    }
}

int jv_cmp(jctx *c, int line, jv a, jv b, const char *op) {
    if (a.kind == JV_UNDEF) jv_undef_fail(c, line, a);
    if (b.kind == JV_UNDEF) jv_undef_fail(c, line, b);
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind != JV_FLOAT && b.kind != JV_FLOAT) {
            int64_t x = a.kind == JV_INT ? a.u.i : a.u.b, y = b.kind == JV_INT ? b.u.i : b.u.b;
            return (x > y) - (x < y);
        }
        double x = jv_num(a), y = jv_num(b);
        return (x > y) - (x < y);
    }
    if (a.kind == JV_STR && b.kind == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        return r ? r : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
    }
    if (a.kind == JV_LIST && b.kind == JV_LIST && a.tuple == b.tuple) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
            if (jv_eq(a.u.l->v[i], b.u.l->v[i])) continue;
            return jv_cmp(c, line, a.u.l->v[i], b.u.l->v[i], op);
        }
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    jfail_at(&c->f, line, "TypeError: '%s' not supported between instances of '%s' and '%s'", op, jv_type(a),
             jv_type(b));
}

int64_t jv_len(jctx *c, int line, jv v) {
    switch (v.kind) {
    case JV_UNDEF: return 0;
    case JV_STR: return (int64_t)jutf8_len(v.u.s.p, v.u.s.n);
    case JV_LIST: return (int64_t)v.u.l->n;
    case JV_DICT: return (int64_t)v.u.d->n;
    default: jfail_at(&c->f, line, "TypeError: object of type '%s' has no len()", jv_type(v));
    }
}

jlist *jv_iter(jctx *c, int line, jv v) {
    if (v.kind == JV_LIST) return v.u.l;
    jv out = jv_list(c, 0);
    if (v.kind == JV_UNDEF) return out.u.l;
    if (v.kind == JV_DICT) {
        for (size_t i = 0; i < v.u.d->n; i++) jlist_push(c, out.u.l, v.u.d->k[i]);
    } else if (v.kind == JV_STR) {
        for (size_t i = 0; i < v.u.s.n;) {
            uint32_t cp;
            size_t k = jutf8_decode(v.u.s.p + i, v.u.s.n - i, &cp);
            jlist_push(c, out.u.l, jv_str(v.u.s.p + i, k));
            i += k;
        }
    } else {
        jfail_at(&c->f, line, "TypeError: '%s' object is not iterable", jv_type(v));
    }
    return out.u.l;
}

void jv_undef_fail(jctx *c, int line, jv v) {
    const char *why = v.u.s.p ? v.u.s.p : "a value is undefined";
    jfail_at(&c->f, line, "%s%s", strncmp(why, "SecurityError", 13) ? "UndefinedError: " : "", why);
}

/* ---- text ---- */

void jbuf_put(jctx *c, jbuf *b, const char *p, size_t n) {
    if (!n) return;
    if (b->limit >= 0 && (int64_t)(b->n + n) > b->limit)
        jfail_at(&c->f, 0, "the output is longer than %lld bytes (a limit of this renderer)", (long long)b->limit);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = jalloc(&c->f, cap);
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np, b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

void jbuf_puts(jctx *c, jbuf *b, const char *s) { jbuf_put(c, b, s, strlen(s)); }
jv jbuf_str(jbuf *b) { return jv_str(b->p ? b->p : "", b->n); }

void jfmt_float(double f, char out[40]) {
    if (isnan(f)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(f)) {
        strcpy(out, f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e is "-d.ddde+XX": digits and decimal exponent, then Python's layout. */
    char digits[20];
    int nd = 0, exp10 = atoi(strchr(e, 'e') + 1);
    for (const char *p = e; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *w = out;
    if (f < 0 || (f == 0 && signbit(f))) *w++ = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            w += sprintf(w, "0.");
            for (int i = 0; i < -exp10 - 1; i++) *w++ = '0';
            memcpy(w, digits, (size_t)nd), w += nd;
        } else {
            for (int i = 0; i <= exp10; i++) *w++ = i < nd ? digits[i] : '0';
            *w++ = '.';
            if (nd > exp10 + 1)
                memcpy(w, digits + exp10 + 1, (size_t)(nd - exp10 - 1)), w += nd - exp10 - 1;
            else
                *w++ = '0';
        }
        *w = 0;
    } else {
        *w++ = digits[0];
        if (nd > 1) *w++ = '.', memcpy(w, digits + 1, (size_t)(nd - 1)), w += nd - 1;
        sprintf(w, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
}

static bool py_printable(uint32_t cp) {
    if (cp == ' ') return true;
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp < 0x7F) return true;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return !(cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CS ||
             cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_ZL ||
             cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_ZS);
}

static void write_str_repr(jctx *c, jbuf *b, const char *s, size_t n) {
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    jbuf_put(c, b, &q, 1);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = jutf8_decode(s + i, n - i, &cp);
        char esc[16];
        if (cp == (uint32_t)q || cp == '\\')
            snprintf(esc, sizeof esc, "\\%c", (char)cp);
        else if (cp == '\n')
            strcpy(esc, "\\n");
        else if (cp == '\r')
            strcpy(esc, "\\r");
        else if (cp == '\t')
            strcpy(esc, "\\t");
        else if (py_printable(cp)) {
            jbuf_put(c, b, s + i, k);
            i += k;
            continue;
        } else if (cp < 0x100)
            snprintf(esc, sizeof esc, "\\x%02x", cp);
        else if (cp < 0x10000)
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        else
            snprintf(esc, sizeof esc, "\\U%08x", cp);
        jbuf_puts(c, b, esc);
        i += k;
    }
    jbuf_put(c, b, &q, 1);
}

static void write_scalar(jctx *c, jbuf *b, jv v) {
    char tmp[48];
    switch (v.kind) {
    case JV_NONE: jbuf_puts(c, b, "None"); break;
    case JV_BOOL: jbuf_puts(c, b, v.u.b ? "True" : "False"); break;
    case JV_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i), jbuf_puts(c, b, tmp); break;
    case JV_FLOAT: jfmt_float(v.u.f, tmp), jbuf_puts(c, b, tmp); break;
    case JV_FUNC: jbuf_puts(c, b, "<function "), jbuf_puts(c, b, v.u.fn->name), jbuf_puts(c, b, ">"); break;
    case JV_LOOP: jbuf_puts(c, b, "<LoopContext>"); break;
    default: break;
    }
}

void jv_write_repr(jctx *c, jbuf *b, jv v) {
    if (++c->depth > c->lim->max_depth) jfail_at(&c->f, 0, "a value nests deeper than %d levels", c->lim->max_depth);
    if (v.kind == JV_STR) {
        write_str_repr(c, b, v.u.s.p, v.u.s.n);
    } else if (v.kind == JV_UNDEF) {
        jbuf_puts(c, b, "Undefined");
    } else if (v.kind == JV_LIST) {
        jbuf_puts(c, b, v.tuple ? "(" : "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jbuf_puts(c, b, ", ");
            jv_write_repr(c, b, v.u.l->v[i]);
        }
        jbuf_puts(c, b, v.tuple ? (v.u.l->n == 1 ? ",)" : ")") : "]");
    } else if (v.kind == JV_DICT || v.kind == JV_NS) {
        jbuf_puts(c, b, v.kind == JV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) jbuf_puts(c, b, ", ");
            jv_write_repr(c, b, v.u.d->k[i]);
            jbuf_puts(c, b, ": ");
            jv_write_repr(c, b, v.u.d->v[i]);
        }
        jbuf_puts(c, b, v.kind == JV_NS ? "}>" : "}");
    } else {
        write_scalar(c, b, v);
    }
    c->depth--;
}

void jv_write_str(jctx *c, jbuf *b, jv v) {
    if (v.kind == JV_STR)
        jbuf_put(c, b, v.u.s.p, v.u.s.n);
    else if (v.kind != JV_UNDEF)
        jv_write_repr(c, b, v);
}

jv jv_to_str(jctx *c, jv v) {
    if (v.kind == JV_STR) return v;
    jbuf b = {.limit = -1};
    jv_write_str(c, &b, v);
    return jbuf_str(&b);
}

/* ---- JSON ---- */

static void write_json_str(jctx *c, jbuf *b, const char *s, size_t n, bool ensure_ascii) {
    jbuf_put(c, b, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = jutf8_decode(s + i, n - i, &cp);
        char esc[16];
        switch (cp) {
        case '"': strcpy(esc, "\\\""); break;
        case '\\': strcpy(esc, "\\\\"); break;
        case '\n': strcpy(esc, "\\n"); break;
        case '\r': strcpy(esc, "\\r"); break;
        case '\t': strcpy(esc, "\\t"); break;
        case '\b': strcpy(esc, "\\b"); break;
        case '\f': strcpy(esc, "\\f"); break;
        default:
            if (cp < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", cp);
            } else if (ensure_ascii && cp > 0x7E) {
                if (cp >= 0x10000)
                    snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                             0xDC00 + ((cp - 0x10000) & 0x3FF));
                else
                    snprintf(esc, sizeof esc, "\\u%04x", cp);
            } else {
                jbuf_put(c, b, s + i, k);
                i += k;
                continue;
            }
        }
        jbuf_puts(c, b, esc);
        i += k;
    }
    jbuf_put(c, b, "\"", 1);
}

static void json_newline(jctx *c, jbuf *b, const char *indent, int level) {
    jbuf_put(c, b, "\n", 1);
    for (int i = 0; i < level; i++) jbuf_puts(c, b, indent);
}

static int cmp_plain(jctx *c, int line, const void *ctx, jv a, jv b) { return jv_cmp(c, line, a, b, "<"); }

void jsort(jctx *c, int line, jv *v, size_t n, jcmp_fn cmp, const void *ctx) {
    if (n < 2) return;
    jv *tmp = jalloc(&c->f, n * sizeof *tmp);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp(c, line, ctx, v[j], v[i]) < 0 ? v[j++] : v[i++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
}

void jv_write_json(jctx *c, int line, jbuf *b, jv v, const char *indent, const char *item_sep, const char *key_sep,
                   bool sort_keys, bool ensure_ascii, int level) {
    if (++c->depth > c->lim->max_depth) jfail_at(&c->f, line, "a value nests deeper than %d levels", c->lim->max_depth);
    char tmp[48];
    switch (v.kind) {
    case JV_NONE: jbuf_puts(c, b, "null"); break;
    case JV_BOOL: jbuf_puts(c, b, v.u.b ? "true" : "false"); break;
    case JV_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i), jbuf_puts(c, b, tmp); break;
    case JV_FLOAT:
        if (isnan(v.u.f))
            jbuf_puts(c, b, "NaN");
        else if (isinf(v.u.f))
            jbuf_puts(c, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else
            jfmt_float(v.u.f, tmp), jbuf_puts(c, b, tmp);
        break;
    case JV_STR: write_json_str(c, b, v.u.s.p, v.u.s.n, ensure_ascii); break;
    case JV_LIST: {
        jbuf_puts(c, b, "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jbuf_puts(c, b, item_sep);
            if (indent) json_newline(c, b, indent, level + 1);
            jv_write_json(c, line, b, v.u.l->v[i], indent, item_sep, key_sep, sort_keys, ensure_ascii, level + 1);
        }
        if (indent && v.u.l->n) json_newline(c, b, indent, level);
        jbuf_puts(c, b, "]");
        break;
    }
    case JV_DICT: {
        size_t n = v.u.d->n;
        jv *keys = jalloc(&c->f, (n ? n : 1) * sizeof *keys);
        if (n) memcpy(keys, v.u.d->k, n * sizeof *keys); /* an empty dict has no key array */
        if (sort_keys) jsort(c, line, keys, n, cmp_plain, NULL);
        jbuf_puts(c, b, "{");
        for (size_t j = 0; j < n; j++) {
            jv val;
            jdict_get(v.u.d, keys[j], &val);
            jv k = keys[j];
            if (j) jbuf_puts(c, b, item_sep);
            if (indent) json_newline(c, b, indent, level + 1);
            if (k.kind == JV_STR)
                write_json_str(c, b, k.u.s.p, k.u.s.n, ensure_ascii);
            else if (k.kind == JV_INT || k.kind == JV_FLOAT || k.kind == JV_BOOL || k.kind == JV_NONE) {
                jbuf tb = {.limit = -1};
                jv_write_json(c, line, &tb, k, NULL, ", ", ": ", false, false, 0);
                jbuf_puts(c, b, "\""), jbuf_put(c, b, tb.p, tb.n), jbuf_puts(c, b, "\"");
            } else
                jfail_at(&c->f, line, "TypeError: keys must be str, int, float, bool or None, not %s", jv_type(k));
            jbuf_puts(c, b, key_sep);
            jv_write_json(c, line, b, val, indent, item_sep, key_sep, sort_keys, ensure_ascii, level + 1);
        }
        if (indent && n) json_newline(c, b, indent, level);
        jbuf_puts(c, b, "}");
        break;
    }
    default: jfail_at(&c->f, line, "TypeError: Object of type %s is not JSON serializable", jv_type(v));
    }
    c->depth--;
}

jv jv_from_cjson(jctx *c, const cJSON *j) {
    if (++c->depth > c->lim->max_depth)
        jfail_at(&c->f, 0, "the variables nest deeper than %d levels", c->lim->max_depth);
    jv v = jv_none();
    if (cJSON_IsBool(j)) {
        v = jv_bool(cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        v = d == floor(d) && fabs(d) < 9.2e18 ? jv_int((int64_t)d) : jv_float(d);
    } else if (cJSON_IsString(j)) {
        v = jv_strz(j->valuestring);
    } else if (cJSON_IsArray(j)) {
        v = jv_list(c, (size_t)cJSON_GetArraySize(j));
        for (const cJSON *e = j->child; e; e = e->next) jlist_push(c, v.u.l, jv_from_cjson(c, e));
    } else if (cJSON_IsObject(j)) {
        v = jv_dict(c, (size_t)cJSON_GetArraySize(j));
        for (const cJSON *e = j->child; e; e = e->next)
            jdict_set(c, v.u.d, jv_strz(e->string ? e->string : ""), jv_from_cjson(c, e));
    }
    c->depth--;
    return v;
}
