/* Jinja parser, statements: tokens into the AST as jinja2's parser.py builds it (expressions are in
 * jinja_parse_expr.c). Statements: if/elif/else, for (tuple targets, "if" filter,
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

#include "chat/jinja_parse.h"

static jprogram parse_body(jparser *P, const char *const *ends, const char **ended, int open_line);

static void expect_block_end(jparser *P) {
    if (cur(P)->kind != JT_BLOCK_END) jp_unexpected(P, "end of statement block '%}'");
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
        names[n++] = jp_expect_name(P, &len);
        P->pos++;
    } while (is_op(cur(P), ",") && (P->pos++, x->neg = true));
    if (paren) jp_expect_op(P, ")"), x->neg = true;
    x->names = jalloc(P->f, (size_t)n * sizeof *names);
    memcpy(x->names, names, (size_t)n * sizeof *names);
    x->n_names = n;
}

static void set_body(jnode *x, jprogram b, bool second) {
    if (second)
        x->kids2 = b.body, x->n_kids2 = b.n;
    else
        x->kids = b.body, x->n_kids = b.n;
}

static jnode *parse_if(jparser *P, int line) {
    jnode *x = jp_node(P, JN_IF, line);
    x->a = jp_tuple(P, false, false);
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
    jnode *x = jp_node(P, JN_FOR, line);
    parse_targets(P, x);
    if (!is_name(cur(P), "in")) jp_unexpected(P, "'in'");
    P->pos++;
    x->a = jp_tuple(P, false, false);
    if (is_name(cur(P), "if")) P->pos++, x->b = jp_expr(P, true);
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
    jnode *x = jp_filter(P, NULL);
    while (is_op(cur(P), "|")) P->pos++, x = jp_filter(P, x);
    return x;
}

static jnode *parse_set(jparser *P, int line) {
    jnode *x = jp_node(P, JN_SET, line);
    if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), ".")) {
        x->kind = JN_SET_ATTR;
        x->str = jp_expect_name(P, &x->len);
        P->pos += 2;
        size_t n;
        x->names = jalloc(P->f, sizeof *x->names);
        x->names[0] = jp_expect_name(P, &n);
        x->n_names = 1;
        P->pos++;
        jp_expect_op(P, "=");
        x->a = jp_tuple(P, true, false);
        expect_block_end(P);
        return x;
    }
    parse_targets(P, x);
    if (is_op(cur(P), "=")) {
        P->pos++;
        x->a = jp_tuple(P, true, false);
        expect_block_end(P);
        return x;
    }
    if (x->n_names != 1 || x->neg) jp_unexpected(P, "'='");
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
            if (n) jp_expect_op(P, ",");
            if (n == 64) jfail_at(P->f, cur(P)->line, "too many macro parameters");
            size_t len;
            names[n] = jp_expect_name(P, &len);
            P->pos++;
            defs[n] = NULL;
            if (is_op(cur(P), "=")) P->pos++, defs[n] = jp_expr(P, true);
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
    if (t->kind != JT_NAME) jp_unexpected(P, "a statement name");
    P->pos++;
    if (is_name(t, "if")) return parse_if(P, line);
    if (is_name(t, "for")) return parse_for(P, line);
    if (is_name(t, "set")) return parse_set(P, line);
    if (is_name(t, "break") || is_name(t, "continue")) {
        if (!P->loops) jfail_at(P->f, line, "'%.*s' outside a for loop", (int)t->n, t->s);
        expect_block_end(P);
        return jp_node(P, is_name(t, "break") ? JN_BREAK : JN_CONTINUE, line);
    }
    if (is_name(t, "macro")) {
        jnode *x = jp_node(P, JN_MACRO, line);
        x->str = jp_expect_name(P, &x->len);
        P->pos++;
        if (!is_op(cur(P), "(")) jp_unexpected(P, "'('");
        parse_params(P, x);
        return parse_block_with_body(P, x, "endmacro", line);
    }
    if (is_name(t, "call")) {
        jnode *x = jp_node(P, JN_CALL_BLOCK, line);
        if (is_op(cur(P), "("))
            parse_params(P, x);
        else
            parse_params(P, x); /* no caller parameters */
        x->a = jp_expr(P, true);
        if (x->a->kind != JN_CALL) jfail_at(P->f, line, "syntax error: {%% call %%} needs a macro call");
        return parse_block_with_body(P, x, "endcall", line);
    }
    if (is_name(t, "filter")) {
        jnode *x = jp_node(P, JN_FILTER_BLOCK, line);
        x->a = parse_filter_chain(P);
        return parse_block_with_body(P, x, "endfilter", line);
    }
    if (is_name(t, "generation")) { /* transformers' AssistantTracker marker: its body renders as is */
        jnode *x = jp_node(P, JN_IF, line);
        x->a = jp_lit(P, jv_bool(true), line);
        return parse_block_with_body(P, x, "endgeneration", line);
    }
    jfail_at(P->f, line, "unsupported construct '{%% %.*s %%}'", (int)(t->n < 40 ? t->n : 40), t->s);
}

/* Statements until a block starting with one of `ends` (left current) or the end of the template. */
static jprogram parse_body(jparser *P, const char *const *ends, const char **ended, int open_line) {
    jnvec body = {0};
    jp_enter(P);
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
            jnode *x = jp_node(P, JN_TEXT, t->line);
            x->str = t->s, x->len = t->n;
            jp_vpush(P, &body, x);
            P->pos++;
        } else if (t->kind == JT_VAR_BEGIN) {
            jnode *x = jp_node(P, JN_OUTPUT, t->line);
            P->pos++;
            x->a = jp_tuple(P, true, false);
            if (cur(P)->kind != JT_VAR_END) jp_unexpected(P, "end of print statement '}}'");
            P->pos++;
            jp_vpush(P, &body, x);
        } else if (t->kind == JT_BLOCK_BEGIN) {
            P->pos++;
            for (int i = 0; ends && ends[i]; i++) {
                if (is_name(cur(P), ends[i])) {
                    *ended = ends[i];
                    P->depth--;
                    return (jprogram){body.v, body.n};
                }
            }
            static const char *const closers[] = {"endif",     "endfor", "endset", "endmacro",      "endcall",
                                                  "endfilter", "elif",   "else",   "endgeneration", NULL};
            for (int i = 0; closers[i]; i++)
                if (is_name(cur(P), closers[i])) jfail_at(P->f, cur(P)->line, "unexpected '{%% %s %%}'", closers[i]);
            jp_vpush(P, &body, parse_statement(P));
        } else {
            jp_unexpected(P, "text or a tag");
        }
    }
    P->depth--;
    return (jprogram){body.v, body.n};
}

jprogram jparse(jfail *f, const jtok *toks, int n_tokens, int max_depth) {
    jparser P = {.f = f, .t = toks, .n = n_tokens, .max_depth = max_depth};
    return parse_body(&P, NULL, NULL, 1);
}
