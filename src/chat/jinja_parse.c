/* Jinja parser: tokens into the AST, with jinja2's grammar and precedence (parser.py).
 *
 * Expressions, loosest first: "x if c else y", or, and, not, comparisons (== != < <= > >= in, not in;
 * chained), + -, ~, * / // %, **, unary - +, then postfix .attr [key] [a:b:c] (args) and the filter and
 * test chain (|f(args), is [not] t args). Statements: if/elif/else, for (tuple targets, "if" filter,
 * else), set (name, tuple, ns.attr, block set with filters), macro, call blocks, filter blocks,
 * break/continue, and transformers' {% generation %} marker (rendered as its body).
 *
 * Node fields by kind: LIT lit; NAME str; ATTR a.str; ITEM a[b]; SLICE a[b:c:d]; CALL a(kids, names=kids2);
 * FILTER a|str(kids, names=kids2) def; TEST a is [neg] str(kids) def; NEG/POS/NOT a; AND/OR a b; BIN a op b;
 * CMP a (ops[i] kids[i])...; COND a if b else c; LIST/TUPLE kids; DICT kids: kids2. TEXT str; OUTPUT a;
 * IF a kids else kids2; FOR names in a if b: kids else kids2; SET names = a; SET_ATTR str.names[0] = a;
 * SET_BLOCK str (filter chain a): kids; MACRO str(names = kids2 defaults): kids; CALL_BLOCK a with
 * caller(names = kids2): kids; FILTER_BLOCK a (a chain whose innermost input is NULL): kids. */
#include <stdio.h>
#include <string.h>

#include "chat/jinja_impl.h"

typedef struct {
    jfail *f;
    const jtok *t;
    int n, pos;
    int depth, max_depth;
    int loops; /* enclosing for loops (break / continue are valid) */
} jparser;

typedef struct {
    jnode **v;
    int n, cap;
} jnvec;

static void vpush(jparser *P, jnvec *v, jnode *x) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        jnode **nv = jalloc(P->f, (size_t)cap * sizeof *nv);
        if (v->n) memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static const jtok *cur(jparser *P) { return &P->t[P->pos]; }
static const jtok *peek(jparser *P, int k) { return &P->t[P->pos + k < P->n ? P->pos + k : P->n - 1]; }
static bool is_op(const jtok *t, const char *op) { return t->kind == JT_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n); }
static bool is_name(const jtok *t, const char *w) {
    return t->kind == JT_NAME && t->n == strlen(w) && !memcmp(t->s, w, t->n);
}

static const char *tok_desc(const jtok *t, char buf[64]) {
    switch (t->kind) {
    case JT_EOF: return "end of template";
    case JT_VAR_END: return "end of print statement '}}'";
    case JT_BLOCK_END: return "end of statement block '%}'";
    case JT_STRING: return "string";
    case JT_INT: case JT_FLOAT: return "number";
    default: break;
    }
    snprintf(buf, 64, "'%.*s'", (int)(t->n < 40 ? t->n : 40), t->s ? t->s : "");
    return buf;
}

static _Noreturn void unexpected(jparser *P, const char *wanted) {
    char b[64];
    jfail_at(P->f, cur(P)->line, "syntax error: unexpected %s, expected %s", tok_desc(cur(P), b), wanted);
}

static void expect_op(jparser *P, const char *op) {
    if (!is_op(cur(P), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        unexpected(P, w);
    }
    P->pos++;
}

static const char *expect_name(jparser *P, size_t *len) {
    if (cur(P)->kind != JT_NAME) unexpected(P, "a name");
    *len = cur(P)->n;
    return jstrndup(P->f, cur(P)->s, cur(P)->n);
}

static jnode *node(jparser *P, jnkind kind, int line) {
    jnode *x = jalloc(P->f, sizeof *x);
    x->kind = (uint8_t)kind;
    x->line = line;
    return x;
}

static void enter(jparser *P) {
    if (++P->depth > P->max_depth)
        jfail_at(P->f, cur(P)->line, "the template nests deeper than %d levels (a limit of this renderer)", P->max_depth);
}

static jnode *parse_expr(jparser *P, bool with_cond);
static jnode *parse_tuple(jparser *P, bool with_cond, bool explicit_paren);
static jnode *parse_unary(jparser *P, bool with_filter);

/* (args): positional, then name=value; *args and **kwargs are outside the subset. */
static void parse_call_args(jparser *P, jnode *x) {
    expect_op(P, "(");
    jnvec pos = {0}, kwv = {0};
    const char *names[64];
    int nk = 0;
    while (!is_op(cur(P), ")")) {
        if (pos.n + nk) expect_op(P, ",");
        if (is_op(cur(P), ")")) break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            jfail_at(P->f, cur(P)->line, "unsupported construct: *args / **kwargs in a call");
        if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), "=")) {
            if (nk == 64) jfail_at(P->f, cur(P)->line, "too many keyword arguments");
            size_t n;
            names[nk++] = expect_name(P, &n);
            P->pos += 2;
            vpush(P, &kwv, parse_expr(P, true));
        } else {
            if (nk) jfail_at(P->f, cur(P)->line, "syntax error: a positional argument follows a keyword argument");
            vpush(P, &pos, parse_expr(P, true));
        }
    }
    P->pos++;
    x->kids = pos.v, x->n_kids = pos.n, x->kids2 = kwv.v, x->n_kids2 = kwv.n;
    x->names = jalloc(P->f, (size_t)(nk ? nk : 1) * sizeof *x->names);
    memcpy(x->names, names, (size_t)nk * sizeof *names);
    x->n_names = nk;
}

/* |name(args) after `input` (NULL for a filter block's chain). */
static jnode *parse_filter(jparser *P, jnode *input) {
    jnode *x = node(P, JN_FILTER, cur(P)->line);
    x->a = input;
    x->str = expect_name(P, &x->len);
    P->pos++;
    while (is_op(cur(P), ".")) jfail_at(P->f, cur(P)->line, "unsupported construct: dotted filter name");
    if (!(x->def = jfilter_find(x->str, x->len))) jfail_at(P->f, x->line, "unsupported filter '%s'", x->str);
    if (is_op(cur(P), "(")) parse_call_args(P, x);
    return x;
}

static jnode *parse_test(jparser *P, jnode *input) {
    jnode *x = node(P, JN_TEST, cur(P)->line);
    x->a = input;
    if (is_name(cur(P), "not")) x->neg = true, P->pos++;
    x->str = expect_name(P, &x->len);
    P->pos++;
    if (!(x->def = jtest_find(x->str, x->len))) jfail_at(P->f, x->line, "unsupported test '%s'", x->str);
    const jtok *t = cur(P);
    if (is_op(t, "(")) {
        parse_call_args(P, x);
    } else if ((t->kind == JT_NAME || t->kind == JT_STRING || t->kind == JT_INT || t->kind == JT_FLOAT ||
                is_op(t, "[") || is_op(t, "{")) &&
               !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
        if (is_name(t, "is")) jfail_at(P->f, t->line, "syntax error: tests cannot be chained with 'is'");
        x->kids = jalloc(P->f, sizeof *x->kids);
        x->kids[0] = parse_unary(P, false);
        x->n_kids = 1;
    }
    return x;
}

static jnode *lit(jparser *P, jv v, int line) {
    jnode *x = node(P, JN_LIT, line);
    x->lit = v;
    return x;
}

static jnode *parse_primary(jparser *P) {
    const jtok *t = cur(P);
    int line = t->line;
    if (t->kind == JT_NAME) {
        static const char *const k_true[] = {"true", "True"}, *const k_false[] = {"false", "False"},
                                 *const k_none[] = {"none", "None"};
        P->pos++;
        for (int i = 0; i < 2; i++) {
            if (is_name(t, k_true[i])) return lit(P, jv_bool(true), line);
            if (is_name(t, k_false[i])) return lit(P, jv_bool(false), line);
            if (is_name(t, k_none[i])) return lit(P, jv_none(), line);
        }
        jnode *x = node(P, JN_NAME, line);
        x->str = jstrndup(P->f, t->s, t->n);
        x->len = t->n;
        return x;
    }
    if (t->kind == JT_STRING) { /* adjacent string literals concatenate */
        size_t total = 0;
        int k = P->pos;
        while (P->t[k].kind == JT_STRING) total += P->t[k++].n;
        char *s = jalloc(P->f, total + 1), *w = s;
        while (cur(P)->kind == JT_STRING) {
            if (cur(P)->n) memcpy(w, cur(P)->s, cur(P)->n);
            w += cur(P)->n;
            P->pos++;
        }
        return lit(P, jv_str(s, total), line);
    }
    if (t->kind == JT_INT) return P->pos++, lit(P, jv_int(t->i), line);
    if (t->kind == JT_FLOAT) return P->pos++, lit(P, jv_float(t->f), line);
    if (is_op(t, "(")) {
        P->pos++;
        jnode *x = parse_tuple(P, true, true);
        expect_op(P, ")");
        return x;
    }
    if (is_op(t, "[") || is_op(t, "{")) {
        bool dict = is_op(t, "{");
        const char *close = dict ? "}" : "]";
        jnode *x = node(P, dict ? JN_DICT : JN_LIST, line);
        jnvec keys = {0}, vals = {0};
        P->pos++;
        while (!is_op(cur(P), close)) {
            if (keys.n) expect_op(P, ",");
            if (is_op(cur(P), close)) break;
            vpush(P, &keys, parse_expr(P, true));
            if (dict) {
                expect_op(P, ":");
                vpush(P, &vals, parse_expr(P, true));
            }
        }
        P->pos++;
        x->kids = keys.v, x->n_kids = keys.n, x->kids2 = vals.v, x->n_kids2 = vals.n;
        return x;
    }
    unexpected(P, "an expression");
}

static jnode *parse_subscript(jparser *P, jnode *obj) {
    int line = cur(P)->line;
    jnode *parts[3] = {0};
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!is_op(cur(P), ":") && !is_op(cur(P), "]")) parts[k] = parse_expr(P, true);
        if (!is_op(cur(P), ":")) break;
        if (++k == 3) unexpected(P, "']'");
        slice = true;
        P->pos++;
    }
    if (is_op(cur(P), ",")) jfail_at(P->f, line, "unsupported construct: a tuple subscript");
    expect_op(P, "]");
    if (!slice && !parts[0]) unexpected(P, "an expression");
    jnode *x = node(P, slice ? JN_SLICE : JN_ITEM, line);
    x->a = obj, x->b = parts[0], x->c = parts[1], x->d = parts[2];
    return x;
}

static jnode *parse_postfix(jparser *P, jnode *x) {
    for (;;) {
        const jtok *t = cur(P);
        if (is_op(t, ".")) {
            P->pos++;
            if (cur(P)->kind == JT_INT) {
                jnode *it = node(P, JN_ITEM, t->line);
                it->a = x, it->b = lit(P, jv_int(cur(P)->i), t->line);
                P->pos++;
                x = it;
                continue;
            }
            jnode *at = node(P, JN_ATTR, t->line);
            at->a = x;
            at->str = expect_name(P, &at->len);
            P->pos++;
            x = at;
        } else if (is_op(t, "[")) {
            P->pos++;
            x = parse_subscript(P, x);
        } else if (is_op(t, "(")) {
            jnode *call = node(P, JN_CALL, t->line);
            call->a = x;
            parse_call_args(P, call);
            x = call;
        } else {
            return x;
        }
    }
}

static jnode *parse_unary(jparser *P, bool with_filter) {
    enter(P);
    const jtok *t = cur(P);
    jnode *x;
    if (is_op(t, "-") || is_op(t, "+")) {
        P->pos++;
        x = node(P, is_op(t, "-") ? JN_NEG : JN_POS, t->line);
        x->a = parse_unary(P, false);
    } else {
        x = parse_primary(P);
    }
    x = parse_postfix(P, x);
    while (with_filter) {
        if (is_op(cur(P), "|")) P->pos++, x = parse_filter(P, x);
        else if (is_name(cur(P), "is")) P->pos++, x = parse_test(P, x);
        else if (is_op(cur(P), "(")) {
            jnode *call = node(P, JN_CALL, cur(P)->line);
            call->a = x;
            parse_call_args(P, call);
            x = call;
        } else break;
    }
    P->depth--;
    return x;
}

static jnode *binary(jparser *P, int op, jnode *a, jnode *b, int line) {
    jnode *x = node(P, JN_BIN, line);
    x->op = (uint8_t)op, x->a = a, x->b = b;
    return x;
}

static jnode *parse_pow(jparser *P) {
    jnode *x = parse_unary(P, true);
    while (is_op(cur(P), "**")) {
        int line = cur(P)->line;
        P->pos++;
        x = binary(P, JOP_POW, x, parse_unary(P, true), line);
    }
    return x;
}

static jnode *parse_math2(jparser *P) {
    jnode *x = parse_pow(P);
    for (;;) {
        const jtok *t = cur(P);
        int op = is_op(t, "*") ? JOP_MUL : is_op(t, "/") ? JOP_DIV : is_op(t, "//") ? JOP_FLOORDIV
               : is_op(t, "%") ? JOP_MOD : -1;
        if (op < 0) return x;
        P->pos++;
        x = binary(P, op, x, parse_pow(P), t->line);
    }
}

static jnode *parse_concat(jparser *P) {
    jnode *x = parse_math2(P);
    while (is_op(cur(P), "~")) {
        int line = cur(P)->line;
        P->pos++;
        x = binary(P, JOP_CONCAT, x, parse_math2(P), line);
    }
    return x;
}

static jnode *parse_math1(jparser *P) {
    jnode *x = parse_concat(P);
    while (is_op(cur(P), "+") || is_op(cur(P), "-")) {
        const jtok *t = cur(P);
        P->pos++;
        x = binary(P, is_op(t, "+") ? JOP_ADD : JOP_SUB, x, parse_concat(P), t->line);
    }
    return x;
}

static jnode *parse_compare(jparser *P) {
    jnode *first = parse_math1(P);
    jnvec rest = {0};
    uint8_t ops[32];
    int line = cur(P)->line;
    for (;;) {
        const jtok *t = cur(P);
        int op = is_op(t, "==") ? JOP_EQ : is_op(t, "!=") ? JOP_NE : is_op(t, "<") ? JOP_LT : is_op(t, "<=") ? JOP_LE
               : is_op(t, ">") ? JOP_GT : is_op(t, ">=") ? JOP_GE : is_name(t, "in") ? JOP_IN : -1;
        if (op < 0 && is_name(t, "not") && is_name(peek(P, 1), "in")) op = JOP_NOTIN, P->pos++;
        if (op < 0) break;
        if (rest.n == 32) jfail_at(P->f, t->line, "too many chained comparisons");
        P->pos++;
        ops[rest.n] = (uint8_t)op;
        vpush(P, &rest, parse_math1(P));
    }
    if (!rest.n) return first;
    jnode *x = node(P, JN_CMP, line);
    x->a = first, x->kids = rest.v, x->n_kids = rest.n;
    x->ops = jalloc(P->f, (size_t)rest.n);
    memcpy(x->ops, ops, (size_t)rest.n);
    return x;
}

static jnode *parse_not(jparser *P) {
    if (!is_name(cur(P), "not")) return parse_compare(P);
    jnode *x = node(P, JN_NOT, cur(P)->line);
    P->pos++;
    enter(P);
    x->a = parse_not(P);
    P->depth--;
    return x;
}

static jnode *parse_logic(jparser *P, bool is_or) {
    jnode *x = is_or ? parse_logic(P, false) : parse_not(P);
    while (is_name(cur(P), is_or ? "or" : "and")) {
        jnode *y = node(P, is_or ? JN_OR : JN_AND, cur(P)->line);
        P->pos++;
        y->a = x, y->b = is_or ? parse_logic(P, false) : parse_not(P);
        x = y;
    }
    return x;
}

static jnode *parse_expr(jparser *P, bool with_cond) {
    enter(P);
    jnode *x = parse_logic(P, true);
    while (with_cond && is_name(cur(P), "if")) {
        jnode *c = node(P, JN_COND, cur(P)->line);
        P->pos++;
        c->a = x, c->b = parse_logic(P, true);
        if (is_name(cur(P), "else")) P->pos++, c->c = parse_expr(P, true);
        x = c;
    }
    P->depth--;
    return x;
}

static bool tuple_end(jparser *P) {
    const jtok *t = cur(P);
    return t->kind == JT_VAR_END || t->kind == JT_BLOCK_END || t->kind == JT_EOF || is_op(t, ")") ||
           is_name(t, "in") || is_name(t, "if") || is_name(t, "recursive");
}

/* a, b, ... (a single expression without a comma stays itself); "()" in parentheses. */
static jnode *parse_tuple(jparser *P, bool with_cond, bool explicit_paren) {
    int line = cur(P)->line;
    jnvec items = {0};
    bool comma = false;
    while (!tuple_end(P)) {
        if (items.n) {
            if (!is_op(cur(P), ",")) break;
            P->pos++, comma = true;
            if (tuple_end(P)) break;
        }
        vpush(P, &items, parse_expr(P, with_cond));
    }
    if (items.n == 1 && !comma) return items.v[0];
    if (!items.n && !explicit_paren) unexpected(P, "an expression");
    jnode *x = node(P, JN_TUPLE, line);
    x->kids = items.v, x->n_kids = items.n;
    return x;
}

/* ---- statements ---- */

static jprogram parse_body(jparser *P, const char *const *ends, const char **ended, int open_line);

static void expect_block_end(jparser *P) {
    if (cur(P)->kind != JT_BLOCK_END) unexpected(P, "end of statement block '%}'");
    P->pos++;
}

/* Targets of for / set: a name or names separated by commas, optionally in parentheses. */
static void parse_targets(jparser *P, jnode *x) {
    bool paren = is_op(cur(P), "(");
    if (paren) P->pos++;
    const char *names[16];
    int n = 0;
    do {
        if (n == 16) jfail_at(P->f, cur(P)->line, "too many assignment targets");
        size_t len;
        names[n++] = expect_name(P, &len);
        P->pos++;
    } while (is_op(cur(P), ",") && (P->pos++, x->neg = true));
    if (paren) expect_op(P, ")"), x->neg = true;
    x->names = jalloc(P->f, (size_t)n * sizeof *names);
    memcpy(x->names, names, (size_t)n * sizeof *names);
    x->n_names = n;
}

static void set_body(jnode *x, jprogram b, bool second) {
    if (second) x->kids2 = b.body, x->n_kids2 = b.n;
    else x->kids = b.body, x->n_kids = b.n;
}

static jnode *parse_if(jparser *P, int line) {
    jnode *x = node(P, JN_IF, line);
    x->a = parse_tuple(P, false, false);
    expect_block_end(P);
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    const char *ended;
    set_body(x, parse_body(P, ends, &ended, line), false);
    if (!strcmp(ended, "elif")) {
        int l2 = cur(P)->line;
        P->pos++;
        jnode *e = parse_if(P, l2);
        x->kids2 = jalloc(P->f, sizeof *x->kids2);
        x->kids2[0] = e, x->n_kids2 = 1;
        return x;
    }
    P->pos++;
    expect_block_end(P);
    if (!strcmp(ended, "else")) {
        static const char *const ends2[] = {"endif", NULL};
        set_body(x, parse_body(P, ends2, &ended, line), true);
        P->pos++;
        expect_block_end(P);
    }
    return x;
}

static jnode *parse_for(jparser *P, int line) {
    jnode *x = node(P, JN_FOR, line);
    parse_targets(P, x);
    if (!is_name(cur(P), "in")) unexpected(P, "'in'");
    P->pos++;
    x->a = parse_tuple(P, false, false);
    if (is_name(cur(P), "if")) P->pos++, x->b = parse_expr(P, true);
    if (is_name(cur(P), "recursive")) jfail_at(P->f, cur(P)->line, "unsupported construct: recursive for loop");
    expect_block_end(P);
    static const char *const ends[] = {"endfor", "else", NULL}, *const ends2[] = {"endfor", NULL};
    const char *ended;
    P->loops++;
    set_body(x, parse_body(P, ends, &ended, line), false);
    P->loops--;
    P->pos++;
    expect_block_end(P);
    if (!strcmp(ended, "else")) {
        set_body(x, parse_body(P, ends2, &ended, line), true);
        P->pos++;
        expect_block_end(P);
    }
    return x;
}

/* A filter chain for a filter block or block set: |f(args)|g ..., innermost input NULL. */
static jnode *parse_filter_chain(jparser *P) {
    jnode *x = parse_filter(P, NULL);
    while (is_op(cur(P), "|")) P->pos++, x = parse_filter(P, x);
    return x;
}

static jnode *parse_set(jparser *P, int line) {
    jnode *x = node(P, JN_SET, line);
    if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), ".")) {
        x->kind = JN_SET_ATTR;
        x->str = expect_name(P, &x->len);
        P->pos += 2;
        size_t n;
        x->names = jalloc(P->f, sizeof *x->names);
        x->names[0] = expect_name(P, &n);
        x->n_names = 1;
        P->pos++;
        expect_op(P, "=");
        x->a = parse_tuple(P, true, false);
        expect_block_end(P);
        return x;
    }
    parse_targets(P, x);
    if (is_op(cur(P), "=")) {
        P->pos++;
        x->a = parse_tuple(P, true, false);
        expect_block_end(P);
        return x;
    }
    if (x->n_names != 1 || x->neg) unexpected(P, "'='");
    x->kind = JN_SET_BLOCK;
    x->str = x->names[0];
    if (is_op(cur(P), "|")) P->pos++, x->a = parse_filter_chain(P);
    expect_block_end(P);
    static const char *const ends[] = {"endset", NULL};
    const char *ended;
    set_body(x, parse_body(P, ends, &ended, line), false);
    P->pos++;
    expect_block_end(P);
    return x;
}

/* (name, name=default, ...) of a macro or a call block's caller. */
static void parse_params(jparser *P, jnode *x) {
    const char *names[64];
    jnode *defs[64];
    int n = 0;
    if (is_op(cur(P), "(")) {
        P->pos++;
        while (!is_op(cur(P), ")")) {
            if (n) expect_op(P, ",");
            if (n == 64) jfail_at(P->f, cur(P)->line, "too many macro parameters");
            size_t len;
            names[n] = expect_name(P, &len);
            P->pos++;
            defs[n] = NULL;
            if (is_op(cur(P), "=")) P->pos++, defs[n] = parse_expr(P, true);
            n++;
        }
        P->pos++;
    }
    x->names = jalloc(P->f, (size_t)(n ? n : 1) * sizeof *names);
    x->kids2 = jalloc(P->f, (size_t)(n ? n : 1) * sizeof *defs);
    memcpy(x->names, names, (size_t)n * sizeof *names);
    memcpy(x->kids2, defs, (size_t)n * sizeof *defs);
    x->n_names = x->n_kids2 = n;
}

static jnode *parse_block_with_body(jparser *P, jnode *x, const char *end, int line) {
    expect_block_end(P);
    const char *const ends[] = {end, NULL};
    const char *ended;
    int loops = P->loops;
    if (x->kind == JN_MACRO || x->kind == JN_CALL_BLOCK) P->loops = 0; /* break cannot leave a macro */
    set_body(x, parse_body(P, ends, &ended, line), false);
    P->loops = loops;
    P->pos++;
    expect_block_end(P);
    return x;
}

static jnode *parse_statement(jparser *P) {
    const jtok *t = cur(P);
    int line = t->line;
    if (t->kind != JT_NAME) unexpected(P, "a statement name");
    P->pos++;
    if (is_name(t, "if")) return parse_if(P, line);
    if (is_name(t, "for")) return parse_for(P, line);
    if (is_name(t, "set")) return parse_set(P, line);
    if (is_name(t, "break") || is_name(t, "continue")) {
        if (!P->loops) jfail_at(P->f, line, "'%.*s' outside a for loop", (int)t->n, t->s);
        expect_block_end(P);
        return node(P, is_name(t, "break") ? JN_BREAK : JN_CONTINUE, line);
    }
    if (is_name(t, "macro")) {
        jnode *x = node(P, JN_MACRO, line);
        x->str = expect_name(P, &x->len);
        P->pos++;
        if (!is_op(cur(P), "(")) unexpected(P, "'('");
        parse_params(P, x);
        return parse_block_with_body(P, x, "endmacro", line);
    }
    if (is_name(t, "call")) {
        jnode *x = node(P, JN_CALL_BLOCK, line);
        if (is_op(cur(P), "(")) parse_params(P, x);
        else parse_params(P, x); /* no caller parameters */
        x->a = parse_expr(P, true);
        if (x->a->kind != JN_CALL) jfail_at(P->f, line, "syntax error: {%% call %%} needs a macro call");
        return parse_block_with_body(P, x, "endcall", line);
    }
    if (is_name(t, "filter")) {
        jnode *x = node(P, JN_FILTER_BLOCK, line);
        x->a = parse_filter_chain(P);
        return parse_block_with_body(P, x, "endfilter", line);
    }
    if (is_name(t, "generation")) { /* transformers' AssistantTracker marker: its body renders as is */
        jnode *x = node(P, JN_IF, line);
        x->a = lit(P, jv_bool(true), line);
        return parse_block_with_body(P, x, "endgeneration", line);
    }
    jfail_at(P->f, line, "unsupported construct '{%% %.*s %%}'", (int)(t->n < 40 ? t->n : 40), t->s);
}

/* Statements until a block starting with one of `ends` (left current) or the end of the template. */
static jprogram parse_body(jparser *P, const char *const *ends, const char **ended, int open_line) {
    jnvec body = {0};
    enter(P);
    for (;;) {
        const jtok *t = cur(P);
        if (t->kind == JT_EOF) {
            if (!ends) break;
            const char *closer = ends[0];
            for (int i = 0; ends[i]; i++)
                if (!strncmp(ends[i], "end", 3)) closer = ends[i];
            jfail_at(P->f, open_line, "unexpected end of template: the block opened here needs '{%% %s %%}'", closer);
        }
        if (t->kind == JT_TEXT) {
            jnode *x = node(P, JN_TEXT, t->line);
            x->str = t->s, x->len = t->n;
            vpush(P, &body, x);
            P->pos++;
        } else if (t->kind == JT_VAR_BEGIN) {
            jnode *x = node(P, JN_OUTPUT, t->line);
            P->pos++;
            x->a = parse_tuple(P, true, false);
            if (cur(P)->kind != JT_VAR_END) unexpected(P, "end of print statement '}}'");
            P->pos++;
            vpush(P, &body, x);
        } else if (t->kind == JT_BLOCK_BEGIN) {
            P->pos++;
            for (int i = 0; ends && ends[i]; i++) {
                if (is_name(cur(P), ends[i])) {
                    *ended = ends[i];
                    P->depth--;
                    return (jprogram){body.v, body.n};
                }
            }
            static const char *const closers[] = {"endif", "endfor", "endset", "endmacro", "endcall", "endfilter",
                                                  "elif", "else", "endgeneration", NULL};
            for (int i = 0; closers[i]; i++)
                if (is_name(cur(P), closers[i])) jfail_at(P->f, cur(P)->line, "unexpected '{%% %s %%}'", closers[i]);
            vpush(P, &body, parse_statement(P));
        } else {
            unexpected(P, "text or a tag");
        }
    }
    P->depth--;
    return (jprogram){body.v, body.n};
}

jprogram jparse(jfail *f, const jtok *toks, int n_tokens, int max_depth) {
    jparser P = {.f = f, .t = toks, .n = n_tokens, .max_depth = max_depth};
    return parse_body(&P, NULL, NULL, 1);
}
