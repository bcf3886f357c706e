/* Jinja tests (the right-hand side of "is"), with jinja2 3.1's semantics (tests.py): boolean callable
 * defined divisibleby eq equalto escaped even false float ge greaterthan gt in integer iterable le
 * lessthan lower lt mapping ne none number odd sameas sequence string true undefined upper, and the
 * operator spellings == != < <= > >=. As in jinja2, an undefined value is iterable, a sequence and
 * callable (it defines those methods, which then fail), and "number" includes booleans. Any other
 * name fails when the template is parsed. */
#include <math.h>
#include <string.h>

#include <utf8proc.h>

#include "chat/jinja_impl.h"

static jv other(const jargs *a) { return jarg(a, 0, "other", jv_undef("the test needs an argument"), NULL); }

static bool t_defined(jctx *c, int line, jv v, const jargs *a) { return v.kind != JV_UNDEF; }
static bool t_undefined(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_UNDEF; }
static bool t_none(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_NONE; }
static bool t_boolean(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_BOOL; }
static bool t_true(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_BOOL && v.u.b; }
static bool t_false(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_BOOL && !v.u.b; }
static bool t_integer(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_INT; }
static bool t_float(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_FLOAT; }
static bool t_number(jctx *c, int line, jv v, const jargs *a) { return jv_is_num(v); }
static bool t_string(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_STR; }
static bool t_mapping(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_DICT; }
static bool t_escaped(jctx *c, int line, jv v, const jargs *a) { return false; }
static bool t_callable(jctx *c, int line, jv v, const jargs *a) { return v.kind == JV_FUNC || v.kind == JV_UNDEF; }
static bool t_iterable(jctx *c, int line, jv v, const jargs *a) {
    return v.kind == JV_STR || v.kind == JV_LIST || v.kind == JV_DICT || v.kind == JV_UNDEF;
}
static bool t_sequence(jctx *c, int line, jv v, const jargs *a) { return t_iterable(c, line, v, a); }

static jv int_operand(jctx *c, int line, jv v) {
    if (v.kind == JV_UNDEF) jv_undef_fail(c, line, v);
    if (!jv_is_num(v)) jfail_at(&c->f, line, "TypeError: the test needs a number, not %s", jv_type(v));
    return v;
}

static bool divisible(jctx *c, int line, jv v, jv by) {
    v = int_operand(c, line, v), by = int_operand(c, line, by);
    if (jv_num(by) == 0) jfail_at(&c->f, line, "ZeroDivisionError: integer division or modulo by zero");
    if (v.kind == JV_FLOAT || by.kind == JV_FLOAT) return fmod(jv_num(v), jv_num(by)) == 0;
    int64_t x = v.kind == JV_INT ? v.u.i : v.u.b, y = by.kind == JV_INT ? by.u.i : by.u.b;
    return y == -1 || x % y == 0;
}

static bool t_odd(jctx *c, int line, jv v, const jargs *a) { return !divisible(c, line, v, jv_int(2)); }
static bool t_even(jctx *c, int line, jv v, const jargs *a) { return divisible(c, line, v, jv_int(2)); }
static bool t_divisibleby(jctx *c, int line, jv v, const jargs *a) {
    return divisible(c, line, v, jarg(a, 0, "num", jv_undef("divisibleby needs a number"), NULL));
}

static bool t_sameas(jctx *c, int line, jv v, const jargs *a) {
    jv o = other(a);
    if (v.kind != o.kind) return false;
    switch (v.kind) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_BOOL: return v.u.b == o.u.b;
    case JV_INT: return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256; /* CPython's cached small ints */
    case JV_LIST: return v.u.l == o.u.l;
    case JV_DICT:
    case JV_NS: return v.u.d == o.u.d;
    case JV_FUNC: return v.u.fn == o.u.fn;
    default: return false;
    }
}

static bool t_eq(jctx *c, int line, jv v, const jargs *a) { return jv_eq(v, other(a)); }
static bool t_ne(jctx *c, int line, jv v, const jargs *a) { return !jv_eq(v, other(a)); }
static bool t_lt(jctx *c, int line, jv v, const jargs *a) { return jv_cmp(c, line, v, other(a), "<") < 0; }
static bool t_le(jctx *c, int line, jv v, const jargs *a) { return jv_cmp(c, line, v, other(a), "<=") <= 0; }
static bool t_gt(jctx *c, int line, jv v, const jargs *a) { return jv_cmp(c, line, v, other(a), ">") > 0; }
static bool t_ge(jctx *c, int line, jv v, const jargs *a) { return jv_cmp(c, line, v, other(a), ">=") >= 0; }

static bool t_in(jctx *c, int line, jv v, const jargs *a) {
    static const jnode in = {.kind = JN_CMP};
    uint8_t op = JOP_IN;
    jnode rhs = {.kind = JN_LIT, .lit = jarg(a, 0, "seq", jv_undef(NULL), NULL)}, *kids[1] = {&rhs};
    jnode n = in, lhs = {.kind = JN_LIT, .lit = v};
    n.line = line, n.a = &lhs, n.kids = kids, n.n_kids = 1, n.ops = &op;
    return jv_truthy(jeval(c, &n));
}

/* str.islower() / str.isupper(): at least one cased character, and none of the other case. */
static bool case_is(jctx *c, jv v, bool lower) {
    v = jv_to_str(c, v);
    bool cased = false;
    for (size_t i = 0; i < v.u.s.n;) {
        uint32_t cp;
        i += jutf8_decode(v.u.s.p + i, v.u.s.n - i, &cp);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
        bool up = k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LT, low = k == UTF8PROC_CATEGORY_LL;
        if (lower ? up : low) return false;
        cased |= lower ? low : up;
    }
    return cased;
}

static bool t_lower(jctx *c, int line, jv v, const jargs *a) { return case_is(c, v, true); }
static bool t_upper(jctx *c, int line, jv v, const jargs *a) { return case_is(c, v, false); }

static const jtest_def k_tests[] = {
    {"boolean", t_boolean},
    {"callable", t_callable},
    {"defined", t_defined},
    {"divisibleby", t_divisibleby},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"==", t_eq},
    {"escaped", t_escaped},
    {"even", t_even},
    {"false", t_false},
    {"float", t_float},
    {"ge", t_ge},
    {">=", t_ge},
    {"greaterthan", t_gt},
    {"gt", t_gt},
    {">", t_gt},
    {"in", t_in},
    {"integer", t_integer},
    {"iterable", t_iterable},
    {"le", t_le},
    {"<=", t_le},
    {"lessthan", t_lt},
    {"lower", t_lower},
    {"lt", t_lt},
    {"<", t_lt},
    {"mapping", t_mapping},
    {"ne", t_ne},
    {"!=", t_ne},
    {"none", t_none},
    {"number", t_number},
    {"odd", t_odd},
    {"sameas", t_sameas},
    {"sequence", t_sequence},
    {"string", t_string},
    {"true", t_true},
    {"undefined", t_undefined},
    {"upper", t_upper},
};

const jtest_def *jtest_find(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof k_tests / sizeof k_tests[0]; i++)
        if (strlen(k_tests[i].name) == n && !memcmp(k_tests[i].name, name, n)) return &k_tests[i];
    return NULL;
}
