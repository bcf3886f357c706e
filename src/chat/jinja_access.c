/* Jinja attribute access, subscription and slicing, as jinja2's sandbox does them: obj.name prefers a
 * Python attribute (dict.items, str.strip, loop.index) and falls back to the key; obj[key] prefers the
 * key or index and falls back to the attribute; a missing one is undefined (with jinja2's message),
 * and any access on an undefined value is an error. Strings index and slice by code point. */
#include <stdio.h>
#include <string.h>

#include "chat/jinja_impl.h"

static jv no_attr(jctx *c, jv obj, const char *name, size_t n) {
    char what[40];
    snprintf(what, sizeof what, "%s object", obj.kind == JV_NS ? "Namespace" : jv_type(obj));
    size_t len = strlen(what) + n + 32;
    char *s = jalloc(&c->f, len);
    snprintf(s, len, "'%s' has no attribute '%.*s'", what, (int)n, name);
    return jv_undef(s);
}

static jv loop_attr(jctx *c, jloop *l, const char *name, size_t n) {
    static const char *const names[] = {"index",     "index0",   "first",    "last",  "length", "revindex",
                                        "revindex0", "previtem", "nextitem", "depth", "depth0"};
    int k = 0;
    while (k < 11 && !(strlen(names[k]) == n && !memcmp(names[k], name, n))) k++;
    switch (k) {
    case 0: return jv_int(l->index0 + 1);
    case 1: return jv_int(l->index0);
    case 2: return jv_bool(l->index0 == 0);
    case 3: return jv_bool(l->index0 == l->length - 1);
    case 4: return jv_int(l->length);
    case 5: return jv_int(l->length - l->index0);
    case 6: return jv_int(l->length - l->index0 - 1);
    case 7: return l->index0 > 0 ? l->items[l->index0 - 1] : jv_undef("there is no previous item");
    case 8: return l->index0 + 1 < l->length ? l->items[l->index0 + 1] : jv_undef("there is no next item");
    case 9: return jv_int(1);
    case 10: return jv_int(0);
    default: return jmethod_get(c, 0, (jv){.kind = JV_LOOP, .u.loop = l}, name, n);
    }
}

jv jgetattr(jctx *c, int line, jv obj, const char *name, size_t n) {
    jv v;
    switch (obj.kind) {
    case JV_UNDEF: jv_undef_fail(c, line, obj);
    case JV_LOOP: return loop_attr(c, obj.u.loop, name, n);
    case JV_NS: return jdict_gets(obj.u.d, name, n, &v) ? v : no_attr(c, obj, name, n);
    case JV_DICT:
        v = jmethod_get(c, line, obj, name, n);
        if (v.kind != JV_UNDEF || v.u.s.p) return v; /* a method, or the sandbox's refusal */
        return jdict_gets(obj.u.d, name, n, &v) ? v : no_attr(c, obj, name, n);
    case JV_STR:
    case JV_LIST:
        v = jmethod_get(c, line, obj, name, n);
        return v.kind != JV_UNDEF || v.u.s.p ? v : no_attr(c, obj, name, n);
    default: return no_attr(c, obj, name, n);
    }
}

/* Index of a (possibly negative) position in a sequence of len items, or -1. */
static int64_t seq_index(jv key, int64_t len) {
    if (key.kind != JV_INT && key.kind != JV_BOOL) return -1;
    int64_t i = key.kind == JV_INT ? key.u.i : key.u.b;
    if (i < 0) i += len;
    return i >= 0 && i < len ? i : -1;
}

/* Byte offsets of the code points of s (n + 1 entries, the last = s.n). */
static size_t *char_offsets(jctx *c, jv s, int64_t *n) {
    *n = (int64_t)jutf8_len(s.u.s.p, s.u.s.n);
    size_t *off = jalloc(&c->f, (size_t)(*n + 1) * sizeof *off);
    int64_t k = 0;
    for (size_t i = 0; i < s.u.s.n; i++)
        if (((unsigned char)s.u.s.p[i] & 0xC0) != 0x80) off[k++] = i;
    off[k] = s.u.s.n;
    return off;
}

jv jgetitem(jctx *c, int line, jv obj, jv key) {
    jv v;
    if (obj.kind == JV_UNDEF) jv_undef_fail(c, line, obj);
    if (obj.kind == JV_DICT && jdict_get(obj.u.d, key, &v)) return v;
    if (obj.kind == JV_LIST) {
        int64_t i = seq_index(key, (int64_t)obj.u.l->n);
        if (i >= 0) return obj.u.l->v[i];
    }
    if (obj.kind == JV_STR) {
        int64_t n;
        size_t *off = char_offsets(c, obj, &n);
        int64_t i = seq_index(key, n);
        if (i >= 0) return jv_str(obj.u.s.p + off[i], off[i + 1] - off[i]);
    }
    if (key.kind == JV_STR && obj.kind != JV_LIST && obj.kind != JV_STR)
        return jgetattr(c, line, obj, key.u.s.p, key.u.s.n);
    if (key.kind == JV_STR) {
        v = jmethod_get(c, line, obj, key.u.s.p, key.u.s.n);
        if (v.kind != JV_UNDEF || v.u.s.p) return v;
    }
    jbuf b = {.limit = -1};
    jbuf_puts(c, &b, "'");
    jbuf_puts(c, &b, jv_type(obj));
    jbuf_puts(c, &b, " object' has no element ");
    jv_write_repr(c, &b, key);
    jbuf_put(c, &b, "", 1);
    return jv_undef(b.p);
}

static int64_t slice_arg(jctx *c, int line, const jnode *n, bool *given) {
    *given = false;
    if (!n) return 0;
    jv v = jeval(c, n);
    if (v.kind == JV_NONE) return 0;
    if (v.kind != JV_INT && v.kind != JV_BOOL)
        jfail_at(&c->f, line, "TypeError: slice indices must be integers or None, not %s", jv_type(v));
    *given = true;
    return v.kind == JV_INT ? v.u.i : v.u.b;
}

static int64_t clamp_index(int64_t i, int64_t len, bool neg_step) {
    if (i < 0) {
        i += len;
        if (i < 0) i = neg_step ? -1 : 0;
    } else if (i >= len) {
        i = neg_step ? len - 1 : len;
    }
    return i;
}

jv jeval_slice(jctx *c, const jnode *n) {
    jv obj = jeval(c, n->a);
    bool gs, ge, gt;
    int64_t start = slice_arg(c, n->line, n->b, &gs), stop = slice_arg(c, n->line, n->c, &ge),
            step = slice_arg(c, n->line, n->d, &gt);
    if (!gt) step = 1;
    if (step == 0) jfail_at(&c->f, n->line, "ValueError: slice step cannot be zero");
    if (obj.kind == JV_UNDEF) jv_undef_fail(c, n->line, obj);
    if (obj.kind != JV_LIST && obj.kind != JV_STR) return jv_undef("the value cannot be sliced");
    int64_t len;
    size_t *off = obj.kind == JV_STR ? char_offsets(c, obj, &len) : NULL;
    if (obj.kind == JV_LIST) len = (int64_t)obj.u.l->n;
    start = gs ? clamp_index(start, len, step < 0) : step < 0 ? len - 1 : 0;
    stop = ge ? clamp_index(stop, len, step < 0) : step < 0 ? -1 : len;
    jbuf b = {.limit = -1};
    jv out = obj.kind == JV_LIST ? jv_list(c, 0) : jv_none();
    out.tuple = obj.tuple;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (off)
            jbuf_put(c, &b, obj.u.s.p + off[i], off[i + 1] - off[i]);
        else
            jlist_push(c, out.u.l, obj.u.l->v[i]);
    }
    return off ? jbuf_str(&b) : out;
}
