/* The Jinja parser's state and helpers, shared by its expression half (jinja_parse_expr.c) and its
 * statement half (jinja_parse.c). Internal to src/chat. */
#ifndef VKT_CHAT_JINJA_PARSE_H
#define VKT_CHAT_JINJA_PARSE_H

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

static inline const jtok *cur(jparser *P) { return &P->t[P->pos]; }
static inline const jtok *peek(jparser *P, int k) { return &P->t[P->pos + k < P->n ? P->pos + k : P->n - 1]; }
static inline bool is_op(const jtok *t, const char *op) {
    return t->kind == JT_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
static inline bool is_name(const jtok *t, const char *w) {
    return t->kind == JT_NAME && t->n == strlen(w) && !memcmp(t->s, w, t->n);
}

void jp_vpush(jparser *P, jnvec *v, jnode *x);
_Noreturn void jp_unexpected(jparser *P, const char *wanted);
void jp_expect_op(jparser *P, const char *op);
/* An arena copy of the current name token (not consumed); *len its length. */
const char *jp_expect_name(jparser *P, size_t *len);
jnode *jp_node(jparser *P, jnkind kind, int line);
jnode *jp_lit(jparser *P, jv v, int line);
void jp_enter(jparser *P); /* one nesting level deeper, failing past max_depth */

/* Expressions: a full expression (with "x if c else y" when with_cond), a tuple of them (a single
 * expression stays itself), a filter after its input (NULL for a filter block), call arguments. */
jnode *jp_expr(jparser *P, bool with_cond);
jnode *jp_tuple(jparser *P, bool with_cond, bool explicit_paren);
jnode *jp_filter(jparser *P, jnode *input);
void jp_call_args(jparser *P, jnode *x);

#endif
