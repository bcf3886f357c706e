/* Python methods templates call on values (str, dict, list, loop), the global functions a chat
 * template sees (range, namespace, dict, and transformers' raise_exception and strftime_now), and
 * Python's two string formatting forms ("%s" % x and "{}".format(x)).
 *
 * Methods follow CPython's semantics for the arguments templates pass (str.split with and without a
 * separator, strip with a character set, startswith with a tuple, replace with a count). Mutating
 * methods are refused as ImmutableSandboxedEnvironment refuses them. Not here: the str methods no
 * chat template uses (center, zfill, encode, ...): they are undefined, so calling one fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "chat/jinja_impl.h"

static jv str_arg(jctx *c, int line, const jargs *a, int i, const char *name, jv def) {
    jv v = jarg(a, i, name, def, NULL);
    if (v.kind != JV_STR && v.kind != JV_NONE)
        jfail_at(&c->f, line, "TypeError: %s must be str or None, not %s", name, jv_type(v));
    return v;
}

static jv m_strip_any(jctx *c, int line, jv s, const jargs *a, bool l, bool r) {
    jargs_check(c, line, a, 1, "strip()");
    jv chars = str_arg(c, line, a, 0, "chars", jv_none());
    return jstr_strip(s, chars.kind == JV_STR ? chars.u.s.p : NULL, chars.kind == JV_STR ? chars.u.s.n : 0, l, r);
}
static jv m_strip(jctx *c, int line, jv s, const jargs *a) { return m_strip_any(c, line, s, a, true, true); }
static jv m_lstrip(jctx *c, int line, jv s, const jargs *a) { return m_strip_any(c, line, s, a, true, false); }
static jv m_rstrip(jctx *c, int line, jv s, const jargs *a) { return m_strip_any(c, line, s, a, false, true); }

/* str.split / str.rsplit: by a separator, or by runs of whitespace (dropping empty ends). */
static jv split_any(jctx *c, int line, jv s, const jargs *a, bool from_right) {
    jv sep = str_arg(c, line, a, 0, "sep", jv_none()), max = jarg(a, 1, "maxsplit", jv_int(-1), NULL);
    int64_t left = max.kind == JV_INT ? max.u.i : -1;
    if (sep.kind == JV_STR && !sep.u.s.n) jfail_at(&c->f, line, "ValueError: empty separator");
    jv out = jv_list(c, 0);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (sep.kind == JV_STR) {
        size_t k = sep.u.s.n;
        if (!from_right) {
            size_t start = 0;
            for (size_t i = 0; i + k <= n && left != 0;) {
                if (memcmp(p + i, sep.u.s.p, k)) {
                    i++;
                    continue;
                }
                jlist_push(c, out.u.l, jv_str(p + start, i - start));
                i += k, start = i, left--;
            }
            jlist_push(c, out.u.l, jv_str(p + start, n - start));
            return out;
        }
        size_t end = n;
        for (size_t i = n; i >= k && left != 0;) {
            if (memcmp(p + i - k, sep.u.s.p, k)) {
                i--;
                continue;
            }
            jlist_push(c, out.u.l, jv_str(p + i, end - i));
            i -= k, end = i, left--;
        }
        jlist_push(c, out.u.l, jv_str(p, end));
    } else if (!from_right) { /* whitespace runs; the last piece keeps its trailing whitespace */
        const char *q = p + (n - jstr_strip(s, NULL, 0, true, false).u.s.n), *e = p + n;
        while (q < e) {
            if (left == 0) {
                jlist_push(c, out.u.l, jv_str(q, (size_t)(e - q)));
                break;
            }
            const char *w = q;
            uint32_t cp;
            for (size_t k; w < e && (k = jutf8_decode(w, (size_t)(e - w), &cp)) && !jpy_isspace(cp);) w += k;
            jlist_push(c, out.u.l, jv_str(q, (size_t)(w - q)));
            left--;
            q = e - jstr_strip(jv_str(w, (size_t)(e - w)), NULL, 0, true, false).u.s.n;
        }
        return out;
    } else { /* the same from the right; the first piece keeps its leading whitespace */
        const char *e = p + jstr_strip(s, NULL, 0, false, true).u.s.n;
        while (e > p) {
            if (left == 0) {
                jlist_push(c, out.u.l, jv_str(p, (size_t)(e - p)));
                break;
            }
            const char *w = e;
            while (w > p) {
                const char *prev = w - 1;
                while (prev > p && ((unsigned char)*prev & 0xC0) == 0x80) prev--;
                uint32_t cp;
                jutf8_decode(prev, (size_t)(w - prev), &cp);
                if (jpy_isspace(cp)) break;
                w = prev;
            }
            jlist_push(c, out.u.l, jv_str(w, (size_t)(e - w)));
            left--;
            e = p + jstr_strip(jv_str(p, (size_t)(w - p)), NULL, 0, false, true).u.s.n;
        }
    }
    for (size_t i = 0, j = out.u.l->n; i + 1 < j; i++, j--) {
        jv tmp = out.u.l->v[i];
        out.u.l->v[i] = out.u.l->v[j - 1], out.u.l->v[j - 1] = tmp;
    }
    return out;
}
static jv m_split(jctx *c, int line, jv s, const jargs *a) { return split_any(c, line, s, a, false); }
static jv m_rsplit(jctx *c, int line, jv s, const jargs *a) { return split_any(c, line, s, a, true); }

static jv m_splitlines(jctx *c, int line, jv s, const jargs *a) {
    bool keep = jv_truthy(jarg(a, 0, "keepends", jv_bool(false), NULL));
    jv out = jv_list(c, 0);
    size_t start = 0;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        size_t k = jutf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
        bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
                   cp == 0x2028 || cp == 0x2029;
        if (!brk) {
            i += k;
            continue;
        }
        size_t end = i + k;
        if (cp == '\r' && end < s.u.s.n && s.u.s.p[end] == '\n') end++;
        jlist_push(c, out.u.l, jv_str(s.u.s.p + start, (keep ? end : i) - start));
        i = start = end;
    }
    if (start < s.u.s.n) jlist_push(c, out.u.l, jv_str(s.u.s.p + start, s.u.s.n - start));
    return out;
}

static bool affix_match(jv s, jv x, bool at_end) {
    if (x.kind != JV_STR || x.u.s.n > s.u.s.n) return false;
    return !memcmp(s.u.s.p + (at_end ? s.u.s.n - x.u.s.n : 0), x.u.s.p, x.u.s.n);
}

static jv affix(jctx *c, int line, jv s, const jargs *a, bool at_end) {
    jargs_check(c, line, a, 1, at_end ? "endswith()" : "startswith()");
    jv x = jarg(a, 0, "prefix", jv_none(), NULL);
    if (x.kind == JV_LIST && x.tuple) {
        for (size_t i = 0; i < x.u.l->n; i++)
            if (affix_match(s, x.u.l->v[i], at_end)) return jv_bool(true);
        return jv_bool(false);
    }
    if (x.kind != JV_STR)
        jfail_at(&c->f, line, "TypeError: %s first arg must be str or a tuple of str, not %s",
                 at_end ? "endswith" : "startswith", jv_type(x));
    return jv_bool(affix_match(s, x, at_end));
}
static jv m_startswith(jctx *c, int line, jv s, const jargs *a) { return affix(c, line, s, a, false); }
static jv m_endswith(jctx *c, int line, jv s, const jargs *a) { return affix(c, line, s, a, true); }

/* Case mappings: 0 lower, 1 upper, 2 capitalize, 3 str.title (cased runs). */
static bool is_cased(uint32_t cp) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}
static jv py_case(jctx *c, jv s, int mode) {
    jbuf b = {.limit = -1};
    bool prev_cased = false;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        size_t k = jutf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
        bool up = mode == 1 || (mode == 2 && i == 0) || (mode == 3 && !prev_cased);
        utf8proc_int32_t m =
            up ? (mode >= 2 ? utf8proc_totitle((utf8proc_int32_t)cp) : utf8proc_toupper((utf8proc_int32_t)cp))
               : utf8proc_tolower((utf8proc_int32_t)cp);
        char enc[4];
        jbuf_put(c, &b, enc, jutf8_encode((uint32_t)m, enc));
        prev_cased = is_cased(cp);
        i += k;
    }
    return jbuf_str(&b);
}
static jv m_lower(jctx *c, int line, jv s, const jargs *a) { return py_case(c, s, 0); }
static jv m_upper(jctx *c, int line, jv s, const jargs *a) { return py_case(c, s, 1); }
static jv m_capitalize(jctx *c, int line, jv s, const jargs *a) { return py_case(c, s, 2); }
static jv m_title(jctx *c, int line, jv s, const jargs *a) { return py_case(c, s, 3); }

static jv m_replace(jctx *c, int line, jv s, const jargs *a) {
    jv old = str_arg(c, line, a, 0, "old", jv_strz("")), new = str_arg(c, line, a, 1, "new", jv_strz("")),
       count = jarg(a, 2, "count", jv_int(-1), NULL);
    if (old.kind != JV_STR || new.kind != JV_STR) jfail_at(&c->f, line, "TypeError: replace() needs two strings");
    int64_t left = count.kind == JV_INT ? count.u.i : -1;
    jbuf b = {.limit = -1};
    for (size_t i = 0; i <= s.u.s.n;) {
        bool at =
            left != 0 && (old.u.s.n ? i + old.u.s.n <= s.u.s.n && !memcmp(s.u.s.p + i, old.u.s.p, old.u.s.n) : true);
        if (at) {
            jbuf_put(c, &b, new.u.s.p, new.u.s.n);
            left--;
            if (old.u.s.n) {
                i += old.u.s.n;
                continue;
            }
        }
        if (i == s.u.s.n) break;
        uint32_t cp;
        size_t k = old.u.s.n ? 1 : jutf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
        jbuf_put(c, &b, s.u.s.p + i, k);
        i += k;
    }
    return jbuf_str(&b);
}

/* Byte offset of the first (or last) occurrence of sub in s, or -1. */
static int64_t find_bytes(jv s, jv sub, bool last) {
    int64_t found = -1;
    for (size_t i = 0; i + sub.u.s.n <= s.u.s.n; i++) {
        if (memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n)) continue;
        found = (int64_t)i;
        if (!last) break;
    }
    return found;
}
static jv find_any(jctx *c, int line, jv s, const jargs *a, bool last) {
    jv sub = str_arg(c, line, a, 0, "sub", jv_strz(""));
    if (sub.kind != JV_STR) jfail_at(&c->f, line, "TypeError: find() needs a string");
    int64_t at = find_bytes(s, sub, last);
    return jv_int(at < 0 ? -1 : (int64_t)jutf8_len(s.u.s.p, (size_t)at));
}
static jv m_find(jctx *c, int line, jv s, const jargs *a) { return find_any(c, line, s, a, false); }
static jv m_rfind(jctx *c, int line, jv s, const jargs *a) { return find_any(c, line, s, a, true); }

static jv m_str_count(jctx *c, int line, jv s, const jargs *a) {
    jv sub = str_arg(c, line, a, 0, "sub", jv_strz(""));
    if (sub.kind != JV_STR) jfail_at(&c->f, line, "TypeError: count() needs a string");
    if (!sub.u.s.n) return jv_int((int64_t)jutf8_len(s.u.s.p, s.u.s.n) + 1);
    int64_t k = 0;
    for (size_t i = 0; i + sub.u.s.n <= s.u.s.n;)
        if (!memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n))
            k++, i += sub.u.s.n;
        else
            i++;
    return jv_int(k);
}

static jv m_join(jctx *c, int line, jv s, const jargs *a) {
    jlist *l = jv_iter(c, line, jarg(a, 0, "iterable", jv_list(c, 0), NULL));
    jbuf b = {.limit = -1};
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].kind != JV_STR)
            jfail_at(&c->f, line, "TypeError: sequence item %zu: expected str instance, %s found", i, jv_type(l->v[i]));
        if (i) jbuf_put(c, &b, s.u.s.p, s.u.s.n);
        jbuf_put(c, &b, l->v[i].u.s.p, l->v[i].u.s.n);
    }
    return jbuf_str(&b);
}

/* str.isX(): every code point in a class, and at least one. */
static jv char_class(jv s, int cls) {
    bool all = s.u.s.n > 0, any_cased = false, any_lower = false, any_upper = false;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        i += jutf8_decode(s.u.s.p + i, s.u.s.n - i, &cp);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
        bool alpha = k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO, digit = k == UTF8PROC_CATEGORY_ND;
        any_cased |= is_cased(cp), any_lower |= k == UTF8PROC_CATEGORY_LL,
            any_upper |= k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LT;
        if (cls == 0)
            all &= digit;
        else if (cls == 1)
            all &= alpha;
        else if (cls == 2)
            all &= alpha || digit || (k >= UTF8PROC_CATEGORY_NL && k <= UTF8PROC_CATEGORY_NO);
        else if (cls == 3)
            all &= jpy_isspace(cp);
    }
    if (cls == 4) return jv_bool(any_cased && !any_upper);
    if (cls == 5) return jv_bool(any_cased && !any_lower);
    return jv_bool(all);
}
static jv m_isdigit(jctx *c, int line, jv s, const jargs *a) { return char_class(s, 0); }
static jv m_isalpha(jctx *c, int line, jv s, const jargs *a) { return char_class(s, 1); }
static jv m_isalnum(jctx *c, int line, jv s, const jargs *a) { return char_class(s, 2); }
static jv m_isspace(jctx *c, int line, jv s, const jargs *a) { return char_class(s, 3); }
static jv m_islower(jctx *c, int line, jv s, const jargs *a) { return char_class(s, 4); }
static jv m_isupper(jctx *c, int line, jv s, const jargs *a) { return char_class(s, 5); }

/* str.format: {} {0} {name}, !s / !r conversions, {{ and }}; format specs are outside the subset. */
static jv m_format(jctx *c, int line, jv s, const jargs *a) {
    jbuf b = {.limit = -1};
    int auto_index = 0;
    for (size_t i = 0; i < s.u.s.n; i++) {
        char ch = s.u.s.p[i];
        if ((ch == '{' || ch == '}') && i + 1 < s.u.s.n && s.u.s.p[i + 1] == ch) {
            jbuf_put(c, &b, &ch, 1), i++;
            continue;
        }
        if (ch == '}') jfail_at(&c->f, line, "ValueError: Single '}' encountered in format string");
        if (ch != '{') {
            jbuf_put(c, &b, &ch, 1);
            continue;
        }
        const char *end = memchr(s.u.s.p + i, '}', s.u.s.n - i);
        if (!end) jfail_at(&c->f, line, "ValueError: Single '{' encountered in format string");
        const char *f = s.u.s.p + i + 1;
        size_t n = (size_t)(end - f), name_n = strcspn(f, "!:}");
        if (name_n > n) name_n = n;
        char conv = name_n + 1 < n && f[name_n] == '!' ? f[name_n + 1] : 's';
        if (memchr(f, ':', n) && (size_t)((const char *)memchr(f, ':', n) - f) + 1 < n)
            jfail_at(&c->f, line, "unsupported construct: a format spec in str.format");
        jv v;
        if (!name_n) {
            v = auto_index < a->npos ? a->pos[auto_index] : jv_undef(NULL), auto_index++;
            if (auto_index > a->npos)
                jfail_at(&c->f, line, "IndexError: Replacement index %d out of range", auto_index - 1);
        } else if (f[0] >= '0' && f[0] <= '9') {
            long k = strtol(f, NULL, 10);
            if (k >= a->npos) jfail_at(&c->f, line, "IndexError: Replacement index %ld out of range", k);
            v = a->pos[k];
        } else {
            bool found;
            char *name = jstrndup(&c->f, f, name_n);
            v = jarg(a, -1, name, jv_none(), &found);
            if (!found) jfail_at(&c->f, line, "KeyError: '%s'", name);
        }
        if (conv == 'r')
            jv_write_repr(c, &b, v);
        else
            jv_write_str(c, &b, v);
        i = (size_t)(end - s.u.s.p);
    }
    return jbuf_str(&b);
}

jv jstr_percent(jctx *c, int line, jv fmt, jv args) {
    jbuf b = {.limit = -1};
    bool tuple = args.kind == JV_LIST && args.tuple;
    size_t next = 0, n_args = tuple ? args.u.l->n : 1;
    for (size_t i = 0; i < fmt.u.s.n; i++) {
        char ch = fmt.u.s.p[i];
        if (ch != '%') {
            jbuf_put(c, &b, &ch, 1);
            continue;
        }
        size_t j = i + 1;
        jv v = jv_none();
        bool keyed = false;
        if (j < fmt.u.s.n && fmt.u.s.p[j] == '(') {
            const char *close = memchr(fmt.u.s.p + j, ')', fmt.u.s.n - j);
            if (!close || args.kind != JV_DICT) jfail_at(&c->f, line, "TypeError: format requires a mapping");
            if (!jdict_gets(args.u.d, fmt.u.s.p + j + 1, (size_t)(close - fmt.u.s.p - j - 1), &v))
                jfail_at(&c->f, line, "KeyError: '%.*s'", (int)(close - fmt.u.s.p - j - 1), fmt.u.s.p + j + 1);
            j = (size_t)(close - fmt.u.s.p) + 1, next = n_args, keyed = true;
        }
        size_t spec_start = j;
        while (j < fmt.u.s.n && strchr("-+ 0#123456789.", fmt.u.s.p[j])) j++;
        if (j >= fmt.u.s.n || j - spec_start > 20) jfail_at(&c->f, line, "ValueError: incomplete format");
        char conv = fmt.u.s.p[j];
        i = j;
        if (conv == '%') {
            jbuf_puts(c, &b, "%");
            continue;
        }
        if (!keyed) {
            if (next >= n_args) jfail_at(&c->f, line, "TypeError: not enough arguments for format string");
            v = tuple ? args.u.l->v[next] : args;
            next++;
        }
        char spec[32], out[128];
        snprintf(spec, sizeof spec, "%%%.*s", (int)(j - spec_start), fmt.u.s.p + spec_start);
        if (conv == 's' || conv == 'r') {
            jbuf t = {.limit = -1};
            if (conv == 'r')
                jv_write_repr(c, &t, v);
            else
                jv_write_str(c, &t, v);
            jbuf_put(c, &b, t.p ? t.p : "", t.n);
        } else if (strchr("dixXo", conv) && jv_is_num(v)) {
            strcat(spec, "lld");
            spec[strlen(spec) - 1] = conv == 'i' ? 'd' : conv;
            snprintf(out, sizeof out, spec, (long long)jv_num(v));
            jbuf_puts(c, &b, out);
        } else if (strchr("eEfFgG", conv) && jv_is_num(v)) {
            size_t k = strlen(spec);
            spec[k] = conv, spec[k + 1] = 0;
            snprintf(out, sizeof out, spec, jv_num(v));
            jbuf_puts(c, &b, out);
        } else {
            jfail_at(&c->f, line, "TypeError: unsupported format %%%c for %s", conv, jv_type(v));
        }
    }
    if (next < n_args && args.kind != JV_DICT)
        jfail_at(&c->f, line, "TypeError: not all arguments converted during string formatting");
    return jbuf_str(&b);
}

/* ---- dict, list and loop methods ---- */

static jv m_get(jctx *c, int line, jv d, const jargs *a) {
    jv v, key = jarg(a, 0, "key", jv_none(), NULL);
    return jdict_get(d.u.d, key, &v) ? v : jarg(a, 1, "default", jv_none(), NULL);
}

static jv dict_view(jctx *c, jv d, int what /* 0 keys, 1 values, 2 items */) {
    jv out = jv_list(c, d.u.d->n);
    for (size_t i = 0; i < d.u.d->n; i++) {
        if (what < 2) {
            jlist_push(c, out.u.l, what ? d.u.d->v[i] : d.u.d->k[i]);
            continue;
        }
        jv pair = jv_list(c, 2);
        pair.tuple = true;
        jlist_push(c, pair.u.l, d.u.d->k[i]);
        jlist_push(c, pair.u.l, d.u.d->v[i]);
        jlist_push(c, out.u.l, pair);
    }
    return out;
}
static jv m_keys(jctx *c, int line, jv d, const jargs *a) { return dict_view(c, d, 0); }
static jv m_values(jctx *c, int line, jv d, const jargs *a) { return dict_view(c, d, 1); }
static jv m_items(jctx *c, int line, jv d, const jargs *a) { return dict_view(c, d, 2); }

static jv m_copy(jctx *c, int line, jv v, const jargs *a) {
    if (v.kind == JV_LIST) {
        jv out = jv_list(c, v.u.l->n);
        for (size_t i = 0; i < v.u.l->n; i++) jlist_push(c, out.u.l, v.u.l->v[i]);
        return out;
    }
    jv out = jv_dict(c, v.u.d->n);
    for (size_t i = 0; i < v.u.d->n; i++) jdict_set(c, out.u.d, v.u.d->k[i], v.u.d->v[i]);
    return out;
}

static jv m_index(jctx *c, int line, jv l, const jargs *a) {
    jv x = jarg(a, 0, "value", jv_none(), NULL);
    for (size_t i = 0; i < l.u.l->n; i++)
        if (jv_eq(l.u.l->v[i], x)) return jv_int((int64_t)i);
    jfail_at(&c->f, line, "ValueError: the value is not in the list");
}

static jv m_list_count(jctx *c, int line, jv l, const jargs *a) {
    jv x = jarg(a, 0, "value", jv_none(), NULL);
    int64_t k = 0;
    for (size_t i = 0; i < l.u.l->n; i++) k += jv_eq(l.u.l->v[i], x);
    return jv_int(k);
}

static jv m_cycle(jctx *c, int line, jv loop, const jargs *a) {
    if (!a->npos) jfail_at(&c->f, line, "TypeError: no items for cycling given");
    return a->pos[loop.u.loop->index0 % a->npos];
}

typedef struct {
    uint8_t kind;
    const char *name;
    jbuiltin fn; /* NULL: a mutating method the immutable sandbox refuses */
} jmethod_def;

static const jmethod_def k_methods[] = {
    {JV_STR, "strip", m_strip},
    {JV_STR, "lstrip", m_lstrip},
    {JV_STR, "rstrip", m_rstrip},
    {JV_STR, "split", m_split},
    {JV_STR, "rsplit", m_rsplit},
    {JV_STR, "splitlines", m_splitlines},
    {JV_STR, "startswith", m_startswith},
    {JV_STR, "endswith", m_endswith},
    {JV_STR, "lower", m_lower},
    {JV_STR, "upper", m_upper},
    {JV_STR, "capitalize", m_capitalize},
    {JV_STR, "title", m_title},
    {JV_STR, "replace", m_replace},
    {JV_STR, "find", m_find},
    {JV_STR, "rfind", m_rfind},
    {JV_STR, "count", m_str_count},
    {JV_STR, "join", m_join},
    {JV_STR, "format", m_format},
    {JV_STR, "isdigit", m_isdigit},
    {JV_STR, "isalpha", m_isalpha},
    {JV_STR, "isalnum", m_isalnum},
    {JV_STR, "isspace", m_isspace},
    {JV_STR, "islower", m_islower},
    {JV_STR, "isupper", m_isupper},
    {JV_DICT, "get", m_get},
    {JV_DICT, "keys", m_keys},
    {JV_DICT, "values", m_values},
    {JV_DICT, "items", m_items},
    {JV_DICT, "copy", m_copy},
    {JV_DICT, "clear", NULL},
    {JV_DICT, "pop", NULL},
    {JV_DICT, "popitem", NULL},
    {JV_DICT, "setdefault", NULL},
    {JV_DICT, "update", NULL},
    {JV_LIST, "index", m_index},
    {JV_LIST, "count", m_list_count},
    {JV_LIST, "copy", m_copy},
    {JV_LIST, "append", NULL},
    {JV_LIST, "clear", NULL},
    {JV_LIST, "pop", NULL},
    {JV_LIST, "reverse", NULL},
    {JV_LIST, "insert", NULL},
    {JV_LIST, "sort", NULL},
    {JV_LIST, "extend", NULL},
    {JV_LIST, "remove", NULL},
    {JV_LOOP, "cycle", m_cycle},
};

static jv builtin(jctx *c, const char *name, jbuiltin fn, jv self) {
    jfunc *f = jalloc(&c->f, sizeof *f);
    f->kind = JF_BUILTIN, f->name = name, f->fn = fn, f->self = self;
    return (jv){.kind = JV_FUNC, .u.fn = f};
}

jv jmethod_get(jctx *c, int line, jv self, const char *name, size_t n) {
    for (size_t i = 0; i < sizeof k_methods / sizeof k_methods[0]; i++) {
        const jmethod_def *m = &k_methods[i];
        if (m->kind != self.kind || strlen(m->name) != n || memcmp(m->name, name, n)) continue;
        if (m->fn) return builtin(c, m->name, m->fn, self);
        size_t len = n + 96;
        char *msg = jalloc(&c->f, len);
        snprintf(msg, len, "SecurityError: access to attribute '%.*s' of '%s' object is unsafe.", (int)n, name,
                 jv_type(self));
        return jv_undef(msg);
    }
    return jv_undef(NULL);
}

/* ---- globals ---- */

static int64_t int_arg(jctx *c, int line, jv v, const char *fn) {
    if (v.kind != JV_INT && v.kind != JV_BOOL)
        jfail_at(&c->f, line, "TypeError: %s expects an integer, not %s", fn, jv_type(v));
    return v.kind == JV_INT ? v.u.i : v.u.b;
}

static jv g_range(jctx *c, int line, jv self, const jargs *a) {
    if (a->npos < 1 || a->npos > 3 || a->nkw) jfail_at(&c->f, line, "TypeError: range expects 1 to 3 integers");
    int64_t start = 0, stop, step = 1;
    if (a->npos == 1)
        stop = int_arg(c, line, a->pos[0], "range");
    else
        start = int_arg(c, line, a->pos[0], "range"), stop = int_arg(c, line, a->pos[1], "range");
    if (a->npos == 3) step = int_arg(c, line, a->pos[2], "range");
    if (step == 0) jfail_at(&c->f, line, "ValueError: range() arg 3 must not be zero");
    double count =
        step > 0 ? ((double)stop - (double)start) / (double)step : ((double)start - (double)stop) / (double)-step;
    if (count > (double)c->lim->max_range)
        jfail_at(&c->f, line, "range() would produce more than %lld items (a limit of this renderer)",
                 (long long)c->lim->max_range);
    jv out = jv_list(c, count > 0 ? (size_t)count + 1 : 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        jlist_push(c, out.u.l, jv_int(i));
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    return out;
}

/* dict(mapping?, **kw) and namespace(mapping?, **kw). */
static jv make_dict(jctx *c, int line, const jargs *a, jkind kind) {
    jv d = jv_dict(c, 0);
    d.kind = (uint8_t)kind;
    if (a->npos > 1)
        jfail_at(&c->f, line, "TypeError: %s expects at most 1 positional argument",
                 kind == JV_NS ? "namespace" : "dict");
    if (a->npos == 1) {
        jv m = a->pos[0];
        if (m.kind != JV_DICT && m.kind != JV_NS)
            jfail_at(&c->f, line, "TypeError: cannot convert %s to a dict", jv_type(m));
        for (size_t i = 0; i < m.u.d->n; i++) jdict_set(c, d.u.d, m.u.d->k[i], m.u.d->v[i]);
    }
    for (int k = 0; k < a->nkw; k++) jdict_set(c, d.u.d, jv_strz(a->kwn[k]), a->kwv[k]);
    return d;
}
static jv g_dict(jctx *c, int line, jv self, const jargs *a) { return make_dict(c, line, a, JV_DICT); }
static jv g_namespace(jctx *c, int line, jv self, const jargs *a) { return make_dict(c, line, a, JV_NS); }

static jv g_raise_exception(jctx *c, int line, jv self, const jargs *a) {
    jv msg = jv_to_str(c, jarg(a, 0, "message", jv_strz(""), NULL));
    jfail_at(&c->f, line, "TemplateError: %.*s", (int)(msg.u.s.n < 400 ? msg.u.s.n : 400), msg.u.s.p);
}

static jv g_strftime_now(jctx *c, int line, jv self, const jargs *a) {
    jv fmt = jv_to_str(c, jarg(a, 0, "format", jv_strz(""), NULL));
    time_t t = c->fixed_now ? (time_t)c->now_unix : time(NULL);
    struct tm tm;
    if (!(c->fixed_now ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
        jfail_at(&c->f, line, "strftime_now: the time is out of range");
    char *f = jstrndup(&c->f, fmt.u.s.p, fmt.u.s.n), out[512];
    size_t n = fmt.u.s.n ? strftime(out, sizeof out, f, &tm) : 0;
    if (fmt.u.s.n && !n) jfail_at(&c->f, line, "strftime_now: the format gives an empty or over-long date");
    return jv_str(jstrndup(&c->f, out, n), n);
}

void jglobals_add(jctx *c, jdict *d) {
    static const struct {
        const char *name;
        jbuiltin fn;
    } k_globals[] = {{"range", g_range},
                     {"dict", g_dict},
                     {"namespace", g_namespace},
                     {"raise_exception", g_raise_exception},
                     {"strftime_now", g_strftime_now}};
    for (size_t i = 0; i < sizeof k_globals / sizeof k_globals[0]; i++)
        jdict_set(c, d, jv_strz(k_globals[i].name), builtin(c, k_globals[i].name, k_globals[i].fn, jv_none()));
}
