/* Jinja filters and tests: the ones chat templates use, with jinja2 3.1's semantics (filters.py,
 * tests.py), and transformers' tojson in place of jinja2's HTML-safe one.
 *
 * Filters: abs attr batch capitalize count d default dictsort e escape first float format indent int
 * items join last length list lower map max min reject rejectattr replace reverse round safe select
 * selectattr sort string sum title tojson trim unique upper wordcount (tests are in jinja_tests.c).
 * Any other name fails when the template is parsed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "chat/jinja_impl.h"

jv jarg(const jargs *a, int i, const char *name, jv def, bool *found) {
    if (found) *found = true;
    if (i >= 0 && i < a->npos) return a->pos[i];
    for (int k = 0; k < a->nkw; k++)
        if (!strcmp(a->kwn[k], name)) return a->kwv[k];
    if (found) *found = false;
    return def;
}

void jargs_check(jctx *c, int line, const jargs *a, int max_pos, const char *what) {
    if (a->npos > max_pos)
        jfail_at(&c->f, line, "TypeError: %s takes at most %d argument(s) (%d given)", what, max_pos, a->npos);
}

static bool arg_bool(const jargs *a, int i, const char *name) {
    return jv_truthy(jarg(a, i, name, jv_bool(false), NULL));
}

static jv need_str(jctx *c, int line, jv v, const char *what) {
    if (v.kind != JV_STR) jfail_at(&c->f, line, "TypeError: %s expects a string, not %s", what, jv_type(v));
    return v;
}

/* Case mapping of a string, code point by code point (utf8proc's simple mappings). */
static jv map_case(jctx *c, jv s, int mode /* 0 lower, 1 upper, 2 capitalize, 3 jinja2 title */) {
    jbuf b = {.limit = -1};
    bool word_start = true;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        size_t k = jutf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
        bool up = mode == 1 || (mode == 2 && i == 0) || (mode == 3 && word_start);
        uint32_t m = (uint32_t)(up ? utf8proc_toupper((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp));
        char enc[4];
        jbuf_put(c, &b, enc, jutf8_encode(m, enc));
        word_start = jpy_isspace(cp) || strchr("-({[<", (int)(cp < 128 ? cp : 1)) != NULL;
        if (cp == 0) word_start = false;
        i += k;
    }
    return jbuf_str(&b);
}

static jv f_lower(jctx *c, int line, jv v, const jargs *a) { return map_case(c, jv_to_str(c, v), 0); }
static jv f_upper(jctx *c, int line, jv v, const jargs *a) { return map_case(c, jv_to_str(c, v), 1); }
static jv f_capitalize(jctx *c, int line, jv v, const jargs *a) { return map_case(c, jv_to_str(c, v), 2); }
static jv f_title(jctx *c, int line, jv v, const jargs *a) { return map_case(c, jv_to_str(c, v), 3); }
static jv f_safe(jctx *c, int line, jv v, const jargs *a) { return v; }
static jv f_string(jctx *c, int line, jv v, const jargs *a) { return jv_to_str(c, v); }

static jv f_trim(jctx *c, int line, jv v, const jargs *a) {
    jv chars = jarg(a, 0, "chars", jv_none(), NULL);
    bool set = chars.kind == JV_STR;
    return jstr_strip(jv_to_str(c, v), set ? chars.u.s.p : NULL, set ? chars.u.s.n : 0, true, true);
}

static jv f_length(jctx *c, int line, jv v, const jargs *a) { return jv_int(jv_len(c, line, v)); }

static jv f_first(jctx *c, int line, jv v, const jargs *a) {
    jlist *l = jv_iter(c, line, v);
    return l->n ? l->v[0] : jv_undef("No first item, sequence was empty.");
}

static jv f_last(jctx *c, int line, jv v, const jargs *a) {
    jlist *l = jv_iter(c, line, v);
    return l->n ? l->v[l->n - 1] : jv_undef("No last item, sequence was empty.");
}

static jv f_list(jctx *c, int line, jv v, const jargs *a) {
    jlist *l = jv_iter(c, line, v);
    jv out = jv_list(c, l->n);
    for (size_t i = 0; i < l->n; i++) jlist_push(c, out.u.l, l->v[i]);
    return out;
}

static jv f_reverse(jctx *c, int line, jv v, const jargs *a) {
    if (v.kind == JV_STR) {
        jlist *ch = jv_iter(c, line, v);
        jbuf b = {.limit = -1};
        for (size_t i = ch->n; i-- > 0;) jbuf_put(c, &b, ch->v[i].u.s.p, ch->v[i].u.s.n);
        return jbuf_str(&b);
    }
    jlist *l = jv_iter(c, line, v);
    jv out = jv_list(c, l->n);
    for (size_t i = l->n; i-- > 0;) jlist_push(c, out.u.l, l->v[i]);
    return out;
}

/* Item attribute lookup by a dotted path ("a.b", or an integer index), as jinja2's make_attrgetter. */
static jv attr_path(jctx *c, int line, jv item, jv path) {
    if (path.kind == JV_INT) return jgetitem(c, line, item, path);
    path = jv_to_str(c, path);
    const char *p = path.u.s.p, *end = p + path.u.s.n;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        bool digits = n > 0;
        for (size_t i = 0; i < n; i++) digits &= p[i] >= '0' && p[i] <= '9';
        item = digits ? jgetitem(c, line, item, jv_int(strtoll(p, NULL, 10))) : jgetitem(c, line, item, jv_str(p, n));
        if (!dot) break;
        p = dot + 1;
    }
    return item;
}

static jv f_join(jctx *c, int line, jv v, const jargs *a) {
    jv sep = jv_to_str(c, jarg(a, 0, "d", jv_strz(""), NULL));
    bool by_attr;
    jv attr = jarg(a, 1, "attribute", jv_none(), &by_attr);
    jlist *l = jv_iter(c, line, v);
    jbuf b = {.limit = -1};
    for (size_t i = 0; i < l->n; i++) {
        if (i) jbuf_put(c, &b, sep.u.s.p, sep.u.s.n);
        jv_write_str(c, &b, by_attr ? attr_path(c, line, l->v[i], attr) : l->v[i]);
    }
    return jbuf_str(&b);
}

static jv f_tojson(jctx *c, int line, jv v, const jargs *a) {
    jv indent = jarg(a, 1, "indent", jv_none(), NULL), seps = jarg(a, 2, "separators", jv_none(), NULL);
    const char *ind = NULL, *item_sep = ", ", *key_sep = ": ";
    if (indent.kind == JV_INT || indent.kind == JV_BOOL) {
        int64_t k = indent.kind == JV_INT ? indent.u.i : indent.u.b;
        if (k > 64) jfail_at(&c->f, line, "tojson: indent %lld is larger than this renderer allows (64)", (long long)k);
        char *s = jalloc(&c->f, (size_t)(k > 0 ? k : 0) + 1);
        memset(s, ' ', (size_t)(k > 0 ? k : 0));
        ind = s, item_sep = ",";
    } else if (indent.kind == JV_STR) {
        ind = jstrndup(&c->f, indent.u.s.p, indent.u.s.n), item_sep = ",";
    } else if (indent.kind != JV_NONE) {
        jfail_at(&c->f, line, "TypeError: tojson indent must be an int or a string, not %s", jv_type(indent));
    }
    if (seps.kind == JV_LIST && seps.u.l->n == 2 && seps.u.l->v[0].kind == JV_STR && seps.u.l->v[1].kind == JV_STR) {
        item_sep = jstrndup(&c->f, seps.u.l->v[0].u.s.p, seps.u.l->v[0].u.s.n);
        key_sep = jstrndup(&c->f, seps.u.l->v[1].u.s.p, seps.u.l->v[1].u.s.n);
    } else if (seps.kind != JV_NONE) {
        jfail_at(&c->f, line, "tojson: separators must be a pair of strings");
    }
    jbuf b = {.limit = -1};
    jv_write_json(c, line, &b, v, ind, item_sep, key_sep, arg_bool(a, 3, "sort_keys"), arg_bool(a, 0, "ensure_ascii"),
                  0);
    return jbuf_str(&b);
}

static jv f_items(jctx *c, int line, jv v, const jargs *a) {
    jv out = jv_list(c, 0);
    if (v.kind == JV_UNDEF) return out;
    if (v.kind != JV_DICT) jfail_at(&c->f, line, "TypeError: Can only get item pairs from a mapping.");
    for (size_t i = 0; i < v.u.d->n; i++) {
        jv pair = jv_list(c, 2);
        pair.tuple = true;
        jlist_push(c, pair.u.l, v.u.d->k[i]);
        jlist_push(c, pair.u.l, v.u.d->v[i]);
        jlist_push(c, out.u.l, pair);
    }
    return out;
}

static jv f_default(jctx *c, int line, jv v, const jargs *a) {
    jv def = jarg(a, 0, "default_value", jv_strz(""), NULL);
    if (v.kind == JV_UNDEF || (arg_bool(a, 1, "boolean") && !jv_truthy(v))) return def;
    return v;
}

/* select / reject / selectattr / rejectattr: keep the items whose test (or truth) is `keep`. */
static jv select_items(jctx *c, int line, jv v, const jargs *a, bool by_attr, bool keep) {
    jlist *l = jv_iter(c, line, v);
    int first = by_attr ? 1 : 0;
    if (by_attr && a->npos < 1) jfail_at(&c->f, line, "TypeError: selectattr / rejectattr need an attribute");
    const jtest_def *test = NULL;
    if (a->npos > first) {
        jv name = need_str(c, line, a->pos[first], "the test name");
        if (!(test = jtest_find(name.u.s.p, name.u.s.n)))
            jfail_at(&c->f, line, "unsupported test '%.*s'", (int)name.u.s.n, name.u.s.p);
    }
    jargs rest = {.pos = a->pos + first + 1,
                  .npos = a->npos > first + 1 ? a->npos - first - 1 : 0,
                  .kwn = a->kwn,
                  .kwv = a->kwv,
                  .nkw = a->nkw};
    jv out = jv_list(c, 0);
    for (size_t i = 0; i < l->n; i++) {
        jv x = by_attr ? attr_path(c, line, l->v[i], a->pos[0]) : l->v[i];
        bool ok = test ? test->fn(c, line, x, &rest) : jv_truthy(x);
        if (ok == keep) jlist_push(c, out.u.l, l->v[i]);
    }
    return out;
}

static jv f_select(jctx *c, int line, jv v, const jargs *a) { return select_items(c, line, v, a, false, true); }
static jv f_reject(jctx *c, int line, jv v, const jargs *a) { return select_items(c, line, v, a, false, false); }
static jv f_selectattr(jctx *c, int line, jv v, const jargs *a) { return select_items(c, line, v, a, true, true); }
static jv f_rejectattr(jctx *c, int line, jv v, const jargs *a) { return select_items(c, line, v, a, true, false); }

static jv f_map(jctx *c, int line, jv v, const jargs *a) {
    jlist *l = jv_iter(c, line, v);
    bool by_attr, has_def;
    jv attr = jarg(a, -1, "attribute", jv_none(), &by_attr), def = jarg(a, -1, "default", jv_none(), &has_def);
    const jfilter_def *f = NULL;
    if (!by_attr) {
        if (a->npos < 1) jfail_at(&c->f, line, "TypeError: map needs a filter name or attribute=");
        jv name = need_str(c, line, a->pos[0], "the filter name");
        if (!(f = jfilter_find(name.u.s.p, name.u.s.n)))
            jfail_at(&c->f, line, "unsupported filter '%.*s'", (int)name.u.s.n, name.u.s.p);
    }
    jargs rest = {
        .pos = a->pos + 1, .npos = a->npos > 1 ? a->npos - 1 : 0, .kwn = a->kwn, .kwv = a->kwv, .nkw = a->nkw};
    jv out = jv_list(c, l->n);
    for (size_t i = 0; i < l->n; i++) {
        jv x;
        if (by_attr) {
            x = attr_path(c, line, l->v[i], attr);
            if (x.kind == JV_UNDEF && has_def) x = def;
        } else {
            x = f->fn(c, line, l->v[i], &rest);
        }
        jlist_push(c, out.u.l, x);
    }
    return out;
}

/* Sort keys: the item, or its attribute, lower-cased unless case_sensitive. */
typedef struct {
    bool case_sensitive, by_attr;
    jv attr;
} sort_key;

static jv key_of(jctx *c, int line, const sort_key *k, jv x) {
    if (k->by_attr) x = attr_path(c, line, x, k->attr);
    return !k->case_sensitive && x.kind == JV_STR ? map_case(c, x, 0) : x;
}

static int cmp_keyed(jctx *c, int line, const void *ctx, jv a, jv b) {
    return jv_cmp(c, line, key_of(c, line, ctx, a), key_of(c, line, ctx, b), "<");
}

static jv sorted_copy(jctx *c, int line, jv v, const sort_key *k, bool reverse) {
    jv out = f_list(c, line, v, NULL);
    jsort(c, line, out.u.l->v, out.u.l->n, cmp_keyed, k);
    if (reverse)
        for (size_t i = 0, j = out.u.l->n; i + 1 < j; i++, j--) {
            jv t = out.u.l->v[i];
            out.u.l->v[i] = out.u.l->v[j - 1], out.u.l->v[j - 1] = t;
        }
    return out;
}

static jv f_sort(jctx *c, int line, jv v, const jargs *a) {
    sort_key k = {arg_bool(a, 1, "case_sensitive"), false, jv_none()};
    k.attr = jarg(a, 2, "attribute", jv_none(), &k.by_attr);
    return sorted_copy(c, line, v, &k, arg_bool(a, 0, "reverse"));
}

static jv f_dictsort(jctx *c, int line, jv v, const jargs *a) {
    jv by = jarg(a, 1, "by", jv_strz("key"), NULL);
    bool by_value = by.kind == JV_STR && by.u.s.n == 5 && !memcmp(by.u.s.p, "value", 5);
    sort_key k = {arg_bool(a, 0, "case_sensitive"), true, jv_int(by_value ? 1 : 0)};
    return sorted_copy(c, line, f_items(c, line, v, NULL), &k, arg_bool(a, 2, "reverse"));
}

static jv f_unique(jctx *c, int line, jv v, const jargs *a) {
    sort_key k = {arg_bool(a, 0, "case_sensitive"), false, jv_none()};
    k.attr = jarg(a, 1, "attribute", jv_none(), &k.by_attr);
    jlist *l = jv_iter(c, line, v);
    jv out = jv_list(c, 0), seen = jv_list(c, 0);
    for (size_t i = 0; i < l->n; i++) {
        jv key = key_of(c, line, &k, l->v[i]);
        bool dup = false;
        for (size_t j = 0; j < seen.u.l->n && !dup; j++) dup = jv_eq(seen.u.l->v[j], key);
        if (!dup) jlist_push(c, seen.u.l, key), jlist_push(c, out.u.l, l->v[i]);
    }
    return out;
}

static jv min_max(jctx *c, int line, jv v, const jargs *a, int sign) {
    sort_key k = {arg_bool(a, 0, "case_sensitive"), false, jv_none()};
    k.attr = jarg(a, 1, "attribute", jv_none(), &k.by_attr);
    jlist *l = jv_iter(c, line, v);
    if (!l->n) return jv_undef("No aggregated item, sequence was empty.");
    jv best = l->v[0];
    for (size_t i = 1; i < l->n; i++)
        if (cmp_keyed(c, line, &k, l->v[i], best) * sign > 0) best = l->v[i];
    return best;
}

static jv f_min(jctx *c, int line, jv v, const jargs *a) { return min_max(c, line, v, a, -1); }
static jv f_max(jctx *c, int line, jv v, const jargs *a) { return min_max(c, line, v, a, 1); }

static jv f_sum(jctx *c, int line, jv v, const jargs *a) {
    bool by_attr;
    jv attr = jarg(a, 0, "attribute", jv_none(), &by_attr), total = jarg(a, 1, "start", jv_int(0), NULL);
    jlist *l = jv_iter(c, line, v);
    static const jnode add = {.kind = JN_BIN, .op = JOP_ADD};
    for (size_t i = 0; i < l->n; i++) {
        jv x = by_attr ? attr_path(c, line, l->v[i], attr) : l->v[i];
        jnode n = add;
        n.line = line;
        n.a = &(jnode){.kind = JN_LIT, .lit = total}, n.b = &(jnode){.kind = JN_LIT, .lit = x};
        total = jeval(c, &n);
    }
    return total;
}

static jv f_abs(jctx *c, int line, jv v, const jargs *a) {
    if (v.kind == JV_FLOAT) return jv_float(fabs(v.u.f));
    if (v.kind == JV_INT && v.u.i != INT64_MIN) return jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    if (v.kind == JV_BOOL) return jv_int(v.u.b);
    jfail_at(&c->f, line, "TypeError: bad operand type for abs(): '%s'", jv_type(v));
}

static jv f_round(jctx *c, int line, jv v, const jargs *a) {
    jv prec = jarg(a, 0, "precision", jv_int(0), NULL), method = jarg(a, 1, "method", jv_strz("common"), NULL);
    if (!jv_is_num(v)) jfail_at(&c->f, line, "TypeError: round expects a number, not %s", jv_type(v));
    double x = jv_num(v), p = pow(10, prec.kind == JV_INT ? (double)prec.u.i : 0);
    const char *m = method.kind == JV_STR ? method.u.s.p : "";
    /* "common" is Python's round(): halves go to the even neighbour */
    double r = !strncmp(m, "ceil", 4)    ? ceil(x * p) / p
               : !strncmp(m, "floor", 5) ? floor(x * p) / p
                                         : nearbyint(x * p) / p;
    return jv_float(r);
}

static jv f_int(jctx *c, int line, jv v, const jargs *a) {
    jv def = jarg(a, 0, "default", jv_int(0), NULL);
    jv base = jarg(a, 1, "base", jv_int(10), NULL);
    if (v.kind == JV_INT || v.kind == JV_BOOL) return jv_int(v.kind == JV_INT ? v.u.i : v.u.b);
    if (v.kind == JV_FLOAT) return isfinite(v.u.f) && fabs(v.u.f) < 9.2e18 ? jv_int((int64_t)v.u.f) : def;
    if (v.kind != JV_STR || v.u.s.n > 64) return def;
    char buf[72], *e;
    jv t = jstr_strip(v, NULL, 0, true, true);
    memcpy(buf, t.u.s.p, t.u.s.n), buf[t.u.s.n] = 0;
    long long x = strtoll(buf, &e, base.kind == JV_INT && base.u.i >= 2 && base.u.i <= 36 ? (int)base.u.i : 10);
    if (t.u.s.n && !*e) return jv_int(x);
    double d = strtod(buf, &e);
    return t.u.s.n && !*e && isfinite(d) && fabs(d) < 9.2e18 ? jv_int((int64_t)d) : def;
}

static jv f_float(jctx *c, int line, jv v, const jargs *a) {
    jv def = jarg(a, 0, "default", jv_float(0), NULL);
    if (jv_is_num(v)) return jv_float(jv_num(v));
    if (v.kind != JV_STR || v.u.s.n > 64) return def;
    char buf[72], *e;
    jv t = jstr_strip(v, NULL, 0, true, true);
    memcpy(buf, t.u.s.p, t.u.s.n), buf[t.u.s.n] = 0;
    double d = strtod(buf, &e);
    return t.u.s.n && !*e ? jv_float(d) : def;
}

static jv f_replace(jctx *c, int line, jv v, const jargs *a) {
    jv s = jv_to_str(c, v), old = jv_to_str(c, jarg(a, 0, "old", jv_strz(""), NULL)),
       new = jv_to_str(c, jarg(a, 1, "new", jv_strz(""), NULL)), count = jarg(a, 2, "count", jv_none(), NULL);
    jv args[3] = {old, new, count.kind == JV_NONE ? jv_int(-1) : count};
    jargs ra = {.pos = args, .npos = 3};
    return jcall(c, line, jmethod_get(c, line, s, "replace", 7), &ra);
}

static jv f_indent(jctx *c, int line, jv v, const jargs *a) {
    jv width = jarg(a, 0, "width", jv_int(4), NULL);
    bool first = arg_bool(a, 1, "first"), blank = arg_bool(a, 2, "blank");
    jv ind = jv_strz("");
    if (width.kind == JV_STR) {
        ind = width;
    } else if (width.kind == JV_INT && width.u.i > 0) {
        if (width.u.i > 1024)
            jfail_at(&c->f, line, "indent: width %lld is larger than this renderer allows (1024)",
                     (long long)width.u.i);
        char *sp = jalloc(&c->f, (size_t)width.u.i + 1);
        memset(sp, ' ', (size_t)width.u.i);
        ind = jv_str(sp, (size_t)width.u.i);
    }
    jv s = jv_to_str(c, v);
    jbuf b = {.limit = -1};
    if (first) jbuf_put(c, &b, ind.u.s.p, ind.u.s.n);
    /* jinja2 appends "\n" and splits lines: a trailing newline is kept, line ends become "\n". */
    jv split_args[1] = {jv_bool(false)};
    jargs sa = {.pos = split_args, .npos = 1};
    jv text = jv_str(jstrndup(&c->f, s.u.s.p, s.u.s.n + 1), s.u.s.n + 1);
    ((char *)text.u.s.p)[s.u.s.n] = '\n';
    jlist *lines = jcall(c, line, jmethod_get(c, line, text, "splitlines", 10), &sa).u.l;
    for (size_t i = 0; i < lines->n; i++) {
        if (i) {
            jbuf_put(c, &b, "\n", 1);
            if (blank || lines->v[i].u.s.n) jbuf_put(c, &b, ind.u.s.p, ind.u.s.n);
        }
        jbuf_put(c, &b, lines->v[i].u.s.p, lines->v[i].u.s.n);
    }
    return jbuf_str(&b);
}

static jv f_batch(jctx *c, int line, jv v, const jargs *a) {
    jv size = jarg(a, 0, "linecount", jv_int(1), NULL);
    bool fill;
    jv with = jarg(a, 1, "fill_with", jv_none(), &fill);
    if (size.kind != JV_INT || size.u.i < 1) jfail_at(&c->f, line, "ValueError: batch size must be a positive integer");
    jlist *l = jv_iter(c, line, v);
    jv out = jv_list(c, 0), cur = jv_none();
    for (size_t i = 0; i < l->n; i++) {
        if (i % (size_t)size.u.i == 0) cur = jv_list(c, 0), jlist_push(c, out.u.l, cur);
        jlist_push(c, cur.u.l, l->v[i]);
    }
    if (fill && cur.kind == JV_LIST)
        while ((int64_t)cur.u.l->n < size.u.i) jlist_push(c, cur.u.l, with);
    return out;
}

static jv f_escape(jctx *c, int line, jv v, const jargs *a) {
    jv s = jv_to_str(c, v);
    jbuf b = {.limit = -1};
    for (size_t i = 0; i < s.u.s.n; i++) {
        const char *r = NULL;
        switch (s.u.s.p[i]) {
        case '&': r = "&amp;"; break;
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '"': r = "&#34;"; break;
        case '\'': r = "&#39;"; break;
        }
        if (r)
            jbuf_puts(c, &b, r);
        else
            jbuf_put(c, &b, s.u.s.p + i, 1);
    }
    return jbuf_str(&b);
}

static jv f_wordcount(jctx *c, int line, jv v, const jargs *a) {
    jv s = jv_to_str(c, v);
    int64_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        i += jutf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
        bool w = cp == '_' || (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z') ||
                 (cp >= 0x80 && !jpy_isspace(cp) && utf8proc_category((utf8proc_int32_t)cp) <= UTF8PROC_CATEGORY_NO);
        words += w && !in_word;
        in_word = w;
    }
    return jv_int(words);
}

static jv f_attr(jctx *c, int line, jv v, const jargs *a) {
    jv name = jv_to_str(c, jarg(a, 0, "name", jv_strz(""), NULL));
    if (v.kind == JV_DICT) { /* a Python attribute only: dict keys are not attributes */
        jv m = jmethod_get(c, line, v, name.u.s.p, name.u.s.n);
        return m.kind != JV_UNDEF || m.u.s.p ? m : jv_undef("the dict has no such attribute");
    }
    return jgetattr(c, line, v, name.u.s.p, name.u.s.n);
}

static jv f_format(jctx *c, int line, jv v, const jargs *a) {
    jv args = jv_list(c, (size_t)a->npos);
    args.tuple = true;
    for (int i = 0; i < a->npos; i++) jlist_push(c, args.u.l, a->pos[i]);
    return jstr_percent(c, line, jv_to_str(c, v), args);
}

static const jfilter_def k_filters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

const jfilter_def *jfilter_find(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof k_filters / sizeof k_filters[0]; i++)
        if (strlen(k_filters[i].name) == n && !memcmp(k_filters[i].name, name, n)) return &k_filters[i];
    return NULL;
}
