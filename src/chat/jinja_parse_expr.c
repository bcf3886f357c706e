/* Jinja parser, expressions: jinja2's grammar and precedence (parser.py), loosest first:
 * "x if c else y", or, and, not, comparisons (== != < <= > >= in, not in; chained), + -, ~, * / // %,
 * **, unary - +, then postfix .attr [key] [a:b:c] (args) and the filter and test chain (|f(args),
 * is [not] t args). Filters and tests are resolved here, so an unknown one fails at load time.
 * The node fields each kind uses are listed in jinja_parse.c. */
#include <stdio.h>
#include <string.h>

#include "chat/jinja_parse.h"

void jp_vpush(jparser *P, jnvec *v, jnode *x) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        jnode **nv = jalloc(P->f, (size_t)cap * sizeof *nv);
        if (v->n) memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static const char *tok_desc(const jtok *t, char buf[64]) {
    switch (t->kind) {
    case JT_EOF: return "end of template";
    case JT_VAR_END: return "end of print statement '}}'";
    case JT_BLOCK_END: return "end of statement block '%}'";
    case JT_STRING: return "string";
    case JT_INT:
    case JT_FLOAT: return "number";
    default: break;
    }
    snprintf(buf, 64, "'%.*s'", (int)(t->n < 40 ? t->n : 40), t->s ? t->s : "");
    return buf;
}

_Noreturn void jp_unexpected(jparser *P, const char *wanted) {
    char b[64];
    jfail_at(P->f, cur(P)->line, "syntax error: unexpected %s, expected %s", tok_desc(cur(P), b), wanted);
}

void jp_expect_op(jparser *P, const char *op) {
    if (!is_op(cur(P), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        jp_unexpected(P, w);
    }
    P->pos++;
}

const char *jp_expect_name(jparser *P, size_t *len) {
    if (cur(P)->kind != JT_NAME) jp_unexpected(P, "a name");
    *len = cur(P)->n;
    return jstrndup(P->f, cur(P)->s, cur(P)->n);
}

jnode *jp_node(jparser *P, jnkind kind, int line) {
    jnode *x = jalloc(P->f, sizeof *x);
    x->kind = (uint8_t)kind;
    x->line = line;
    return x;
}

void jp_enter(jparser *P) {
    if (++P->depth > P->max_depth)
        jfail_at(P->f, cur(P)->line, "the template nests deeper than %d levels (a limit of this renderer)",
                 P->max_depth);
}

static jnode *parse_unary(jparser *P, bool with_filter);

/* (args): positional, then name=value; *args and **kwargs are outside the subset. */
void jp_call_args(jparser *P, jnode *x) {
    jp_expect_op(P, "(");
    jnvec pos = {0}, kwv = {0};
    const char *names[64];
    int nk = 0;
    while (!is_op(cur(P), ")")) {
        if (pos.n + nk) jp_expect_op(P, ",");
        if (is_op(cur(P), ")")) break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            jfail_at(P->f, cur(P)->line, "unsupported construct: *args / **kwargs in a call");
        if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), "=")) {
            if (nk == 64) jfail_at(P->f, cur(P)->line, "too many keyword arguments");
            size_t n;
            names[nk++] = jp_expect_name(P, &n);
            P->pos += 2;
            jp_vpush(P, &kwv, jp_expr(P, true));
        } else {
            if (nk) jfail_at(P->f, cur(P)->line, "syntax error: a positional argument follows a keyword argument");
            jp_vpush(P, &pos, jp_expr(P, true));
        }
    }
    P->pos++;
    x->kids = pos.v, x->n_kids = pos.n, x->kids2 = kwv.v, x->n_kids2 = kwv.n;
    x->names = jalloc(P->f, (size_t)(nk ? nk : 1) * sizeof *x->names);
    memcpy(x->names, names, (size_t)nk * sizeof *names);
    x->n_names = nk;
}

/* |name(args) after `input` (NULL for a filter block's chain). */
jnode *jp_filter(jparser *P, jnode *input) {
    jnode *x = jp_node(P, JN_FILTER, cur(P)->line);
    x->a = input;
    x->str = jp_expect_name(P, &x->len);
    P->pos++;
    while (is_op(cur(P), ".")) jfail_at(P->f, cur(P)->line, "unsupported construct: dotted filter name");
    if (!(x->def = jfilter_find(x->str, x->len))) jfail_at(P->f, x->line, "unsupported filter '%s'", x->str);
    if (is_op(cur(P), "(")) jp_call_args(P, x);
    return x;
}

static jnode *parse_test(jparser *P, jnode *input) {
    jnode *x = jp_node(P, JN_TEST, cur(P)->line);
    x->a = input;
    if (is_name(cur(P), "not")) x->neg = true, P->pos++;
    x->str = jp_expect_name(P, &x->len);
    P->pos++;
    if (!(x->def = jtest_find(x->str, x->len))) jfail_at(P->f, x->line, "unsupported test '%s'", x->str);
    const jtok *t = cur(P);
    if (is_op(t, "(")) {
        jp_call_args(P, x);
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

jnode *jp_lit(jparser *P, jv v, int line) {
    jnode *x = jp_node(P, JN_LIT, line);
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
            if (is_name(t, k_true[i])) return jp_lit(P, jv_bool(true), line);
            if (is_name(t, k_false[i])) return jp_lit(P, jv_bool(false), line);
            if (is_name(t, k_none[i])) return jp_lit(P, jv_none(), line);
        }
        jnode *x = jp_node(P, JN_NAME, line);
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
        return jp_lit(P, jv_str(s, total), line);
    }
    if (t->kind == JT_INT) return P->pos++, jp_lit(P, jv_int(t->i), line);
    if (t->kind == JT_FLOAT) return P->pos++, jp_lit(P, jv_float(t->f), line);
    if (is_op(t, "(")) {
        P->pos++;
        jnode *x = jp_tuple(P, true, true);
        jp_expect_op(P, ")");
        return x;
    }
    if (is_op(t, "[") || is_op(t, "{")) {
        bool dict = is_op(t, "{");
        const char *close = dict ? "}" : "]";
        jnode *x = jp_node(P, dict ? JN_DICT : JN_LIST, line);
        jnvec keys = {0}, vals = {0};
        P->pos++;
        while (!is_op(cur(P), close)) {
            if (keys.n) jp_expect_op(P, ",");
            if (is_op(cur(P), close)) break;
            jp_vpush(P, &keys, jp_expr(P, true));
            if (dict) {
                jp_expect_op(P, ":");
                jp_vpush(P, &vals, jp_expr(P, true));
            }
        }
        P->pos++;
        x->kids = keys.v, x->n_kids = keys.n, x->kids2 = vals.v, x->n_kids2 = vals.n;
        return x;
    }
    jp_unexpected(P, "an expression");
}

static jnode *parse_subscript(jparser *P, jnode *obj) {
    int line = cur(P)->line;
    jnode *parts[3] = {0};
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!is_op(cur(P), ":") && !is_op(cur(P), "]")) parts[k] = jp_expr(P, true);
        if (!is_op(cur(P), ":")) break;
        if (++k == 3) jp_unexpected(P, "']'");
        slice = true;
        P->pos++;
    }
    if (is_op(cur(P), ",")) jfail_at(P->f, line, "unsupported construct: a tuple subscript");
    jp_expect_op(P, "]");
    if (!slice && !parts[0]) jp_unexpected(P, "an expression");
    jnode *x = jp_node(P, slice ? JN_SLICE : JN_ITEM, line);
    x->a = obj, x->b = parts[0], x->c = parts[1], x->d = parts[2];
    return x;
}

static jnode *parse_postfix(jparser *P, jnode *x) {
    for (;;) {
        const jtok *t = cur(P);
        if (is_op(t, ".")) {
            P->pos++;
            if (cur(P)->kind == JT_INT) {
                jnode *it = jp_node(P, JN_ITEM, t->line);
                it->a = x, it->b = jp_lit(P, jv_int(cur(P)->i), t->line);
                P->pos++;
                x = it;
                continue;
            }
            jnode *at = jp_node(P, JN_ATTR, t->line);
            at->a = x;
            at->str = jp_expect_name(P, &at->len);
            P->pos++;
            x = at;
        } else if (is_op(t, "[")) {
            P->pos++;
            x = parse_subscript(P, x);
        } else if (is_op(t, "(")) {
            jnode *call = jp_node(P, JN_CALL, t->line);
            call->a = x;
            jp_call_args(P, call);
            x = call;
        } else {
            return x;
        }
    }
}

static jnode *parse_unary(jparser *P, bool with_filter) {
    jp_enter(P);
    const jtok *t = cur(P);
    jnode *x;
    if (is_op(t, "-") || is_op(t, "+")) {
        P->pos++;
        x = jp_node(P, is_op(t, "-") ? JN_NEG : JN_POS, t->line);
        x->a = parse_unary(P, false);
    } else {
        x = parse_primary(P);
    }
    x = parse_postfix(P, x);
    while (with_filter) {
        if (is_op(cur(P), "|"))
            P->pos++, x = jp_filter(P, x);
        else if (is_name(cur(P), "is"))
            P->pos++, x = parse_test(P, x);
        else if (is_op(cur(P), "(")) {
            jnode *call = jp_node(P, JN_CALL, cur(P)->line);
            call->a = x;
            jp_call_args(P, call);
            x = call;
        } else
            break;
    }
    P->depth--;
    return x;
}

static jnode *binary(jparser *P, int op, jnode *a, jnode *b, int line) {
    jnode *x = jp_node(P, JN_BIN, line);
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
        int op = is_op(t, "*")    ? JOP_MUL
                 : is_op(t, "/")  ? JOP_DIV
                 : is_op(t, "//") ? JOP_FLOORDIV
                 : is_op(t, "%")  ? JOP_MOD
                                  : -1;
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
        int op = is_op(t, "==")     ? JOP_EQ
                 : is_op(t, "!=")   ? JOP_NE
                 : is_op(t, "<")    ? JOP_LT
                 : is_op(t, "<=")   ? JOP_LE
                 : is_op(t, ">")    ? JOP_GT
                 : is_op(t, ">=")   ? JOP_GE
                 : is_name(t, "in") ? JOP_IN
                                    : -1;
        if (op < 0 && is_name(t, "not") && is_name(peek(P, 1), "in")) op = JOP_NOTIN, P->pos++;
        if (op < 0) break;
        if (rest.n == 32) jfail_at(P->f, t->line, "too many chained comparisons");
        P->pos++;
        ops[rest.n] = (uint8_t)op;
        jp_vpush(P, &rest, parse_math1(P));
    }
    if (!rest.n) return first;
    jnode *x = jp_node(P, JN_CMP, line);
    x->a = first, x->kids = rest.v, x->n_kids = rest.n;
    x->ops = jalloc(P->f, (size_t)rest.n);
    memcpy(x->ops, ops, (size_t)rest.n);
    return x;
}

static jnode *parse_not(jparser *P) {
    if (!is_name(cur(P), "not")) return parse_compare(P);
    jnode *x = jp_node(P, JN_NOT, cur(P)->line);
    P->pos++;
    jp_enter(P);
    x->a = parse_not(P);
    P->depth--;
    return x;
}

static jnode *parse_logic(jparser *P, bool is_or) {
    jnode *x = is_or ? parse_logic(P, false) : parse_not(P);
    while (is_name(cur(P), is_or ? "or" : "and")) {
        jnode *y = jp_node(P, is_or ? JN_OR : JN_AND, cur(P)->line);
        P->pos++;
        y->a = x, y->b = is_or ? parse_logic(P, false) : parse_not(P);
        x = y;
    }
    return x;
}

jnode *jp_expr(jparser *P, bool with_cond) {
    jp_enter(P);
    jnode *x = parse_logic(P, true);
    while (with_cond && is_name(cur(P), "if")) {
        jnode *c = jp_node(P, JN_COND, cur(P)->line);
        P->pos++;
        c->a = x, c->b = parse_logic(P, true);
        if (is_name(cur(P), "else")) P->pos++, c->c = jp_expr(P, true);
        x = c;
    }
    P->depth--;
    return x;
}

static bool tuple_end(jparser *P) {
    const jtok *t = cur(P);
    return t->kind == JT_VAR_END || t->kind == JT_BLOCK_END || t->kind == JT_EOF || is_op(t, ")") || is_name(t, "in") ||
           is_name(t, "if") || is_name(t, "recursive");
}

/* a, b, ... (a single expression without a comma stays itself); "()" in parentheses. */
jnode *jp_tuple(jparser *P, bool with_cond, bool explicit_paren) {
    int line = cur(P)->line;
    jnvec items = {0};
    bool comma = false;
    while (!tuple_end(P)) {
        if (items.n) {
            if (!is_op(cur(P), ",")) break;
            P->pos++, comma = true;
            if (tuple_end(P)) break;
        }
        jp_vpush(P, &items, jp_expr(P, with_cond));
    }
    if (items.n == 1 && !comma) return items.v[0];
    if (!items.n && !explicit_paren) jp_unexpected(P, "an expression");
    jnode *x = jp_node(P, JN_TUPLE, line);
    x->kids = items.v, x->n_kids = items.n;
    return x;
}
