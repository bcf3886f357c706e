/* Jinja evaluator: walks the AST of a parsed template over a render's values, and the public entry
 * points (parse, render, free).
 *
 * Scoping follows jinja2: a for loop gives every iteration a fresh frame over the enclosing one (a set
 * inside it is gone at the next iteration and after the loop; namespace() objects carry values out);
 * if blocks share their enclosing frame; a macro runs in a frame over the one it was defined in, seen
 * as it is at call time. Arithmetic and comparisons are Python's, with ints kept in 64 bits (an
 * overflow is an error rather than a big int). Attribute and item access are in jinja_access.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_impl.h"

struct vkt_jinja {
    jfail f; /* its arena owns the AST */
    jprogram prog;
};

struct jframe {
    jframe *parent;
    jdict vars;
};

vkt_jinja_limits vkt_jinja_default_limits(void) {
    return (vkt_jinja_limits){.max_output_bytes = 64ll << 20,
                              .max_memory_bytes = 512ll << 20,
                              .max_steps = 50000000,
                              .max_range = 1000000,
                              .max_depth = 256};
}

void jstep(jctx *c, int line) {
    if (++c->steps > c->lim->max_steps)
        jfail_at(&c->f, line, "the template ran more than %lld steps (a limit of this renderer)",
                 (long long)c->lim->max_steps);
}

static void enter(jctx *c, int line) {
    if (++c->depth > c->lim->max_depth)
        jfail_at(&c->f, line, "the template nests deeper than %d levels (a limit of this renderer)", c->lim->max_depth);
}

static jframe *new_frame(jctx *c, jframe *parent) {
    jframe *f = jalloc(&c->f, sizeof *f);
    f->parent = parent;
    return f;
}

static const char *msgf(jctx *c, const char *fmt, const char *a, size_t an, const char *b) {
    size_t n = strlen(fmt) + an + (b ? strlen(b) : 0) + 1;
    char *s = jalloc(&c->f, n);
    snprintf(s, n, fmt, (int)an, a, b ? b : "");
    return s;
}

static jv lookup(jctx *c, const char *name, size_t n) {
    jv v;
    for (jframe *f = c->frame; f; f = f->parent)
        if (jdict_gets(&f->vars, name, n, &v)) return v;
    if (jdict_gets(&c->globals, name, n, &v)) return v;
    return jv_undef(msgf(c, "'%.*s' is undefined%s", name, n, NULL));
}

static void assign(jctx *c, const char *name, jv v) { jdict_set(c, &c->frame->vars, jv_strz(name), v); }

/* ---- access ---- */

/* ---- operators ---- */

static _Noreturn void bad_operands(jctx *c, int line, const char *op, jv a, jv b) {
    if (a.kind == JV_UNDEF) jv_undef_fail(c, line, a);
    if (b.kind == JV_UNDEF) jv_undef_fail(c, line, b);
    if (!strcmp(op, "+") && (a.kind == JV_STR || a.kind == JV_LIST))
        jfail_at(&c->f, line, "TypeError: can only concatenate %s (not \"%s\") to %s", jv_type(a), jv_type(b),
                 jv_type(a));
    jfail_at(&c->f, line, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type(a), jv_type(b));
}

static int64_t as_int(jv v) { return v.kind == JV_INT ? v.u.i : v.u.b; }

static jv repeat(jctx *c, int line, jv seq, int64_t times) {
    int64_t unit = seq.kind == JV_STR ? (int64_t)seq.u.s.n : (int64_t)seq.u.l->n;
    if (times > 0 && unit > 0 && times > c->lim->max_memory_bytes / unit)
        jfail_at(&c->f, line, "a repeated %s would exceed the memory limit", jv_type(seq));
    jbuf b = {.limit = -1};
    jv out = seq.kind == JV_LIST ? jv_list(c, 0) : jv_none();
    out.tuple = seq.tuple;
    for (int64_t k = 0; k < times; k++) {
        if (seq.kind == JV_STR)
            jbuf_put(c, &b, seq.u.s.p, seq.u.s.n);
        else
            for (size_t i = 0; i < seq.u.l->n; i++) jlist_push(c, out.u.l, seq.u.l->v[i]);
    }
    return seq.kind == JV_STR ? jbuf_str(&b) : out;
}

static jv arith(jctx *c, int line, int op, jv a, jv b) {
    static const char *const sym[] = {"+", "-", "*", "/", "//", "%", "**"};
    bool ints = (a.kind == JV_INT || a.kind == JV_BOOL) && (b.kind == JV_INT || b.kind == JV_BOOL);
    if (!jv_is_num(a) || !jv_is_num(b)) {
        if (op == JOP_ADD && a.kind == JV_STR && b.kind == JV_STR) {
            char *s = jalloc(&c->f, a.u.s.n + b.u.s.n + 1);
            if (a.u.s.n) memcpy(s, a.u.s.p, a.u.s.n);
            if (b.u.s.n) memcpy(s + a.u.s.n, b.u.s.p, b.u.s.n);
            return jv_str(s, a.u.s.n + b.u.s.n);
        }
        if (op == JOP_ADD && a.kind == JV_LIST && b.kind == JV_LIST && a.tuple == b.tuple) {
            jv out = jv_list(c, a.u.l->n + b.u.l->n);
            out.tuple = a.tuple;
            for (size_t i = 0; i < a.u.l->n; i++) jlist_push(c, out.u.l, a.u.l->v[i]);
            for (size_t i = 0; i < b.u.l->n; i++) jlist_push(c, out.u.l, b.u.l->v[i]);
            return out;
        }
        if (op == JOP_MUL && (a.kind == JV_STR || a.kind == JV_LIST) && (b.kind == JV_INT || b.kind == JV_BOOL))
            return repeat(c, line, a, as_int(b));
        if (op == JOP_MUL && (b.kind == JV_STR || b.kind == JV_LIST) && (a.kind == JV_INT || a.kind == JV_BOOL))
            return repeat(c, line, b, as_int(a));
        if (op == JOP_MOD && a.kind == JV_STR && b.kind != JV_UNDEF) return jstr_percent(c, line, a, b);
        bad_operands(c, line, sym[op], a, b);
    }
    if ((op == JOP_DIV || op == JOP_FLOORDIV || op == JOP_MOD) && jv_num(b) == 0)
        jfail_at(&c->f, line, "ZeroDivisionError: %s",
                 op == JOP_DIV ? "division by zero" : "integer division or modulo by zero");
    if (ints && op != JOP_DIV) {
        int64_t x = as_int(a), y = as_int(b), r = 0;
        bool ovf = false;
        switch (op) {
        case JOP_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
        case JOP_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
        case JOP_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
        case JOP_FLOORDIV:
        case JOP_MOD:
            if (x == INT64_MIN && y == -1) {
                ovf = op == JOP_FLOORDIV;
                r = 0;
                break;
            }
            r = op == JOP_FLOORDIV ? x / y - ((x % y != 0) && ((x < 0) != (y < 0))) : x % y;
            if (op == JOP_MOD && r != 0 && ((r < 0) != (y < 0))) r += y;
            break;
        case JOP_POW:
            if (y < 0) return jv_float(pow((double)x, (double)y));
            r = 1;
            for (int64_t k = 0; k < y && !ovf; k++) {
                ovf = __builtin_mul_overflow(r, x, &r);
                if (r == 0 || r == 1 || (r == -1 && k > 0)) {
                    if (r == -1) r = (y % 2) ? -1 : 1;
                    break;
                }
            }
            break;
        }
        if (ovf) jfail_at(&c->f, line, "integer overflow in '%s' (Python would give a big integer)", sym[op]);
        return jv_int(r);
    }
    double x = jv_num(a), y = jv_num(b);
    switch (op) {
    case JOP_ADD: return jv_float(x + y);
    case JOP_SUB: return jv_float(x - y);
    case JOP_MUL: return jv_float(x * y);
    case JOP_DIV: return jv_float(x / y);
    case JOP_FLOORDIV: return jv_float(floor(x / y));
    case JOP_MOD: {
        double r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return jv_float(r);
    }
    default: return jv_float(pow(x, y));
    }
}

static bool contains(jctx *c, int line, jv item, jv seq) {
    switch (seq.kind) {
    case JV_UNDEF: return false;
    case JV_STR:
        if (item.kind != JV_STR)
            jfail_at(&c->f, line, "TypeError: 'in <string>' requires string as left operand, not %s", jv_type(item));
        if (!item.u.s.n) return true;
        for (size_t i = 0; i + item.u.s.n <= seq.u.s.n; i++)
            if (!memcmp(seq.u.s.p + i, item.u.s.p, item.u.s.n)) return true;
        return false;
    case JV_LIST:
        for (size_t i = 0; i < seq.u.l->n; i++)
            if (jv_eq(item, seq.u.l->v[i])) return true;
        return false;
    case JV_DICT: {
        jv v;
        return jdict_get(seq.u.d, item, &v);
    }
    default: jfail_at(&c->f, line, "TypeError: argument of type '%s' is not iterable", jv_type(seq));
    }
}

static bool compare(jctx *c, int line, int op, jv a, jv b) {
    static const char *const sym[] = {"<", "<=", ">", ">="};
    switch (op) {
    case JOP_EQ: return jv_eq(a, b);
    case JOP_NE: return !jv_eq(a, b);
    case JOP_IN: return contains(c, line, a, b);
    case JOP_NOTIN: return !contains(c, line, a, b);
    default: {
        int r = jv_cmp(c, line, a, b, sym[op - JOP_LT]);
        return op == JOP_LT ? r < 0 : op == JOP_LE ? r <= 0 : op == JOP_GT ? r > 0 : r >= 0;
    }
    }
}

/* ---- calls ---- */

static jargs eval_args(jctx *c, const jnode *n) {
    jargs a = {.npos = n->n_kids, .nkw = n->n_kids2, .kwn = n->names};
    jv *pos = jalloc(&c->f, (size_t)(n->n_kids + n->n_kids2 + 1) * sizeof *pos);
    for (int i = 0; i < n->n_kids; i++) pos[i] = jeval(c, n->kids[i]);
    for (int i = 0; i < n->n_kids2; i++) pos[n->n_kids + i] = jeval(c, n->kids2[i]);
    a.pos = pos, a.kwv = pos + n->n_kids;
    return a;
}

static void exec_body(jctx *c, jnode *const *body, int n);

/* Renders body in frame into a new string (block set, filter block, macro call). */
static jv capture(jctx *c, jnode *const *body, int n, jframe *frame) {
    jbuf b = {.limit = -1}, *saved_out = c->out;
    jframe *saved_frame = c->frame;
    c->out = &b, c->frame = frame;
    exec_body(c, body, n);
    c->out = saved_out, c->frame = saved_frame;
    return jbuf_str(&b);
}

static jv invoke_macro(jctx *c, int line, const jfunc *fn, const jargs *a) {
    const jnode *m = fn->macro;
    enter(c, line);
    jframe *fr = new_frame(c, fn->closure), *saved = c->frame;
    c->frame = fr; /* defaults are evaluated in the macro's frame, so they see earlier parameters */
    bool *used = jalloc(&c->f, (size_t)(a->nkw + 1));
    for (int i = 0; i < m->n_names; i++) {
        jv v = jv_undef(NULL);
        bool found = false;
        if (i < a->npos) v = a->pos[i], found = true;
        for (int k = 0; k < a->nkw && !found; k++)
            if (!strcmp(a->kwn[k], m->names[i])) v = a->kwv[k], found = used[k] = true;
        if (!found && m->kids2[i])
            v = jeval(c, m->kids2[i]);
        else if (!found)
            v = jv_undef(msgf(c, "parameter '%.*s' was not provided%s", m->names[i], strlen(m->names[i]), NULL));
        assign(c, m->names[i], v);
    }
    jv varargs = jv_list(c, 0), kwargs = jv_dict(c, 0);
    varargs.tuple = true;
    for (int i = m->n_names; i < a->npos; i++) jlist_push(c, varargs.u.l, a->pos[i]);
    for (int k = 0; k < a->nkw; k++)
        if (!used[k]) jdict_set(c, kwargs.u.d, jv_strz(a->kwn[k]), a->kwv[k]);
    assign(c, "varargs", varargs);
    assign(c, "kwargs", kwargs);
    if (fn->caller) assign(c, "caller", (jv){.kind = JV_FUNC, .u.fn = fn->caller});
    c->frame = saved;
    int saved_ctl = c->loop_ctl;
    jv out = capture(c, m->kids, m->n_kids, fr);
    c->loop_ctl = saved_ctl;
    c->depth--;
    return out;
}

jv jcall(jctx *c, int line, jv fn, const jargs *a) {
    if (fn.kind == JV_UNDEF) jv_undef_fail(c, line, fn);
    if (fn.kind != JV_FUNC) jfail_at(&c->f, line, "TypeError: '%s' object is not callable", jv_type(fn));
    if (fn.u.fn->kind == JF_BUILTIN) return fn.u.fn->fn(c, line, fn.u.fn->self, a);
    return invoke_macro(c, line, fn.u.fn, a);
}

jv japply_filter(jctx *c, const jnode *f, jv input) {
    jv v = f->a ? (f->a->kind == JN_FILTER ? japply_filter(c, f->a, input) : jeval(c, f->a)) : input;
    jargs a = eval_args(c, f);
    return ((const jfilter_def *)f->def)->fn(c, f->line, v, &a);
}

/* ---- expressions ---- */

jv jeval(jctx *c, const jnode *n) {
    enter(c, n->line);
    jv v, a;
    switch (n->kind) {
    case JN_LIT: v = n->lit; break;
    case JN_NAME: v = lookup(c, n->str, n->len); break;
    case JN_ATTR: v = jgetattr(c, n->line, jeval(c, n->a), n->str, n->len); break;
    case JN_ITEM: a = jeval(c, n->a), v = jgetitem(c, n->line, a, jeval(c, n->b)); break;
    case JN_SLICE: v = jeval_slice(c, n); break;
    case JN_CALL: {
        jv fn = jeval(c, n->a);
        jargs args = eval_args(c, n);
        v = jcall(c, n->line, fn, &args);
        break;
    }
    case JN_FILTER: v = japply_filter(c, n, jv_undef(NULL)); break;
    case JN_TEST: {
        a = jeval(c, n->a);
        jargs args = eval_args(c, n);
        v = jv_bool(((const jtest_def *)n->def)->fn(c, n->line, a, &args) != n->neg);
        break;
    }
    case JN_NEG:
    case JN_POS:
        a = jeval(c, n->a);
        if (!jv_is_num(a)) {
            if (a.kind == JV_UNDEF) jv_undef_fail(c, n->line, a);
            jfail_at(&c->f, n->line, "TypeError: bad operand type for unary %c: '%s'", n->kind == JN_NEG ? '-' : '+',
                     jv_type(a));
        }
        if (n->kind == JN_POS)
            v = a.kind == JV_BOOL ? jv_int(a.u.b) : a;
        else if (a.kind == JV_FLOAT)
            v = jv_float(-a.u.f);
        else if (as_int(a) == INT64_MIN)
            jfail_at(&c->f, n->line, "integer overflow in unary '-'");
        else
            v = jv_int(-as_int(a));
        break;
    case JN_NOT: v = jv_bool(!jv_truthy(jeval(c, n->a))); break;
    case JN_AND: a = jeval(c, n->a), v = jv_truthy(a) ? jeval(c, n->b) : a; break;
    case JN_OR: a = jeval(c, n->a), v = jv_truthy(a) ? a : jeval(c, n->b); break;
    case JN_BIN:
        a = jeval(c, n->a);
        if (n->op == JOP_CONCAT) {
            jv b = jv_to_str(c, jeval(c, n->b));
            a = jv_to_str(c, a);
            v = arith(c, n->line, JOP_ADD, a, b);
        } else {
            v = arith(c, n->line, n->op, a, jeval(c, n->b));
        }
        break;
    case JN_CMP:
        a = jeval(c, n->a);
        v = jv_bool(true);
        for (int i = 0; i < n->n_kids; i++) {
            jv b = jeval(c, n->kids[i]);
            if (!compare(c, n->line, n->ops[i], a, b)) {
                v = jv_bool(false);
                break;
            }
            a = b;
        }
        break;
    case JN_COND:
        if (jv_truthy(jeval(c, n->b)))
            v = jeval(c, n->a);
        else
            v = n->c ? jeval(c, n->c) : jv_undef("the inline if had no else and its condition was false");
        break;
    case JN_LIST:
    case JN_TUPLE:
        v = jv_list(c, (size_t)n->n_kids);
        v.tuple = n->kind == JN_TUPLE;
        for (int i = 0; i < n->n_kids; i++) jlist_push(c, v.u.l, jeval(c, n->kids[i]));
        break;
    case JN_DICT:
        v = jv_dict(c, (size_t)n->n_kids);
        for (int i = 0; i < n->n_kids; i++) {
            jv k = jeval(c, n->kids[i]);
            if (k.kind == JV_LIST && !k.tuple) jfail_at(&c->f, n->line, "TypeError: unhashable type: 'list'");
            if (k.kind == JV_DICT) jfail_at(&c->f, n->line, "TypeError: unhashable type: 'dict'");
            jdict_set(c, v.u.d, k, jeval(c, n->kids2[i]));
        }
        break;
    default: jfail_at(&c->f, n->line, "internal error: statement node in an expression");
    }
    c->depth--;
    return v;
}

/* ---- statements ---- */

static void unpack(jctx *c, int line, const jnode *n, jv v) {
    if (n->n_names == 1 && !n->neg) {
        assign(c, n->names[0], v);
        return;
    }
    jlist *items = jv_iter(c, line, v);
    if ((int64_t)items->n < n->n_names)
        jfail_at(&c->f, line, "ValueError: not enough values to unpack (expected %d, got %zu)", n->n_names, items->n);
    if ((int64_t)items->n > n->n_names)
        jfail_at(&c->f, line, "ValueError: too many values to unpack (expected %d)", n->n_names);
    for (int i = 0; i < n->n_names; i++) assign(c, n->names[i], items->v[i]);
}

static void exec_for(jctx *c, const jnode *n) {
    jlist *all = jv_iter(c, n->line, jeval(c, n->a));
    jframe *outer = c->frame;
    jv *items = all->v;
    size_t count = all->n;
    /* One frame for all iterations, emptied before each: an iteration starts from the enclosing
     * scope (as in jinja2), and a long loop does not allocate a frame per item. */
    jframe *it = new_frame(c, outer);
    if (n->b) { /* "for x in y if cond": the loop sees only the items passing cond */
        items = jalloc(&c->f, (all->n + 1) * sizeof *items);
        count = 0;
        for (size_t i = 0; i < all->n; i++) {
            jstep(c, n->line);
            it->vars.n = 0;
            c->frame = it;
            unpack(c, n->line, n, all->v[i]);
            if (jv_truthy(jeval(c, n->b))) items[count++] = all->v[i];
        }
        c->frame = outer;
    }
    jloop *loop = jalloc(&c->f, sizeof *loop);
    loop->length = (int64_t)count, loop->items = items;
    for (size_t i = 0; i < count; i++) {
        jstep(c, n->line);
        it->vars.n = 0;
        c->frame = it;
        loop->index0 = (int64_t)i;
        unpack(c, n->line, n, items[i]);
        assign(c, "loop", (jv){.kind = JV_LOOP, .u.loop = loop});
        exec_body(c, n->kids, n->n_kids);
        int ctl = c->loop_ctl;
        c->loop_ctl = 0;
        if (ctl == JN_BREAK) break;
    }
    c->frame = outer;
    if (!count) exec_body(c, n->kids2, n->n_kids2);
}

static void exec_stmt(jctx *c, const jnode *n) {
    jstep(c, n->line);
    enter(c, n->line);
    switch (n->kind) {
    case JN_TEXT: jbuf_put(c, c->out, n->str, n->len); break;
    case JN_OUTPUT: jv_write_str(c, c->out, jeval(c, n->a)); break;
    case JN_IF:
        if (jv_truthy(jeval(c, n->a)))
            exec_body(c, n->kids, n->n_kids);
        else
            exec_body(c, n->kids2, n->n_kids2);
        break;
    case JN_FOR: exec_for(c, n); break;
    case JN_SET: unpack(c, n->line, n, jeval(c, n->a)); break;
    case JN_SET_ATTR: {
        jv ns = lookup(c, n->str, n->len);
        if (ns.kind != JV_NS)
            jfail_at(&c->f, n->line, "TemplateRuntimeError: cannot assign attribute on non-namespace object");
        jdict_set(c, ns.u.d, jv_strz(n->names[0]), jeval(c, n->a));
        break;
    }
    case JN_SET_BLOCK: {
        jv v = capture(c, n->kids, n->n_kids, c->frame);
        assign(c, n->str, n->a ? japply_filter(c, n->a, v) : v);
        break;
    }
    case JN_MACRO: {
        jfunc *fn = jalloc(&c->f, sizeof *fn);
        fn->kind = JF_MACRO, fn->name = n->str, fn->macro = n, fn->closure = c->frame;
        assign(c, n->str, (jv){.kind = JV_FUNC, .u.fn = fn});
        break;
    }
    case JN_CALL_BLOCK: {
        jv callee = jeval(c, n->a->a);
        jargs args = eval_args(c, n->a);
        if (callee.kind != JV_FUNC || callee.u.fn->kind != JF_MACRO) {
            if (callee.kind == JV_UNDEF) jv_undef_fail(c, n->line, callee);
            jfail_at(&c->f, n->line, "TypeError: {%% call %%} needs a macro, not %s", jv_type(callee));
        }
        jfunc *caller = jalloc(&c->f, sizeof *caller), *with = jalloc(&c->f, sizeof *with);
        caller->kind = JF_MACRO, caller->name = "caller", caller->macro = n, caller->closure = c->frame;
        *with = *callee.u.fn;
        with->caller = caller;
        jv_write_str(c, c->out, invoke_macro(c, n->line, with, &args));
        break;
    }
    case JN_FILTER_BLOCK:
        jv_write_str(c, c->out, japply_filter(c, n->a, capture(c, n->kids, n->n_kids, c->frame)));
        break;
    case JN_BREAK:
    case JN_CONTINUE: c->loop_ctl = n->kind; break;
    default: jv_write_str(c, c->out, jeval(c, n)); break;
    }
    c->depth--;
}

static void exec_body(jctx *c, jnode *const *body, int n) {
    for (int i = 0; i < n && !c->loop_ctl; i++) exec_stmt(c, body[i]);
}

/* ---- entry points ---- */

vkt_status vkt_jinja_parse(const char *source, size_t len, vkt_jinja **out, vkt_jinja_error *err) {
    vkt_jinja *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t) return VKT_ERR_OOM;
    vkt_jinja_error local;
    t->f.err = err ? err : &local;
    t->f.err->line = 0, t->f.err->msg[0] = 0;
    t->f.status = VKT_ERR_FORMAT;
    t->f.arena.budget = (size_t)64 << 20 > len * 64 ? (size_t)64 << 20 : len * 64;
    if (setjmp(t->f.jmp)) {
        vkt_status s = t->f.status;
        jarena_free(&t->f.arena);
        free(t);
        return s;
    }
    int n_tokens;
    jtok *toks = jlex(&t->f, source, len, &n_tokens);
    t->prog = jparse(&t->f, toks, n_tokens, vkt_jinja_default_limits().max_depth);
    t->f.err = NULL; /* the caller's error struct is not kept; renders have their own */
    *out = t;
    return VKT_OK;
}

void vkt_jinja_free(vkt_jinja *t) {
    if (!t) return;
    jarena_free(&t->f.arena);
    free(t);
}

typedef struct {
    const vkt_jinja *t;
    const cJSON *vars;
    char **out;
    size_t *out_len;
} render_job;

/* The render behind the longjmp target: everything it reads after setjmp is behind unchanged pointers. */
static vkt_status render_run(jctx *c, const render_job *job) {
    if (setjmp(c->f.jmp)) return c->f.status;
    jglobals_add(c, &c->globals);
    const cJSON *vars = job->vars;
    if (vars && !cJSON_IsObject(vars)) jfail_at(&c->f, 0, "the template variables must be a JSON object");
    for (const cJSON *e = vars ? vars->child : NULL; e; e = e->next)
        jdict_set(c, &c->globals, jv_strz(e->string ? e->string : ""), jv_from_cjson(c, e));
    jbuf *main = jalloc(&c->f, sizeof *main);
    main->limit = c->lim->max_output_bytes;
    c->out = main;
    c->frame = new_frame(c, NULL);
    exec_body(c, job->t->prog.body, job->t->prog.n);
    char *text = malloc(main->n + 1);
    if (!text) {
        c->f.status = VKT_ERR_OOM;
        jfail_at(&c->f, 0, "out of host memory for the %zu-byte render", main->n);
    }
    if (main->n) memcpy(text, main->p, main->n);
    text[main->n] = 0;
    *job->out = text, *job->out_len = main->n;
    return VKT_OK;
}

vkt_status vkt_jinja_render(const vkt_jinja *t, const vkt_jinja_render_opts *opts, char **out, size_t *out_len,
                            vkt_jinja_error *err) {
    vkt_jinja_limits lim = opts && opts->limits ? *opts->limits : vkt_jinja_default_limits();
    *out = NULL, *out_len = 0;
    jctx *c = calloc(1, sizeof *c);
    if (!c) return VKT_ERR_OOM;
    vkt_jinja_error local;
    c->f.err = err ? err : &local;
    c->f.err->line = 0, c->f.err->msg[0] = 0;
    c->f.status = VKT_ERR_FORMAT;
    c->f.arena.budget = (size_t)lim.max_memory_bytes;
    c->lim = &lim;
    c->fixed_now = opts && opts->fixed_now, c->now_unix = opts ? opts->now_unix : 0;
    render_job job = {t, opts ? opts->vars : NULL, out, out_len};
    vkt_status s = render_run(c, &job);
    jarena_free(&c->f.arena);
    free(c);
    return s;
}
