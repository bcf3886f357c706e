/* Internals shared by the Jinja interpreter's files (see jinja.h for what it does).
 *
 * Memory: a parse and a render each own one arena (jarena); every node, value and buffer lives in
 * it and is freed at once, so errors need no unwinding. Errors: jfail_at formats the message and
 * longjmps to the entry point (vkt_jinja_parse / vkt_jinja_render), which frees the arena. The
 * interpreter is deeply recursive and nearly every operation can fail (a type error, a limit);
 * one exit keeps each function about its own job. Values are small structs passed by value; strings
 * are (pointer, length) views, immutable once built; lists and dicts are arena objects. */
#ifndef VKT_CHAT_JINJA_IMPL_H
#define VKT_CHAT_JINJA_IMPL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/jinja.h"

/* ---- arena and failure ---- */

typedef struct jchunk jchunk;
typedef struct {
    jchunk *head;
    size_t used;   /* bytes of all chunks */
    size_t budget; /* most bytes the arena may take */
} jarena;

typedef struct {
    jmp_buf jmp;
    vkt_jinja_error *err; /* never NULL */
    vkt_status status;    /* VKT_ERR_FORMAT, or VKT_ERR_OOM when malloc failed */
    jarena arena;
} jfail;

_Noreturn void jfail_at(jfail *f, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *jalloc(jfail *f, size_t bytes); /* zeroed */
char *jstrndup(jfail *f, const char *s, size_t n);
void jarena_free(jarena *a);

/* ---- values ---- */

typedef enum { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_NS, JV_FUNC, JV_LOOP } jkind;

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jfunc jfunc;
typedef struct jloop jloop;

typedef struct {
    uint8_t kind;
    bool tuple; /* JV_LIST: a Python tuple (prints in parentheses) */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p; /* JV_STR: the bytes; JV_UNDEF: the error message an operation on it gives */
            size_t n;
        } s;
        jlist *l;
        jdict *d; /* JV_DICT and JV_NS */
        jfunc *fn;
        jloop *loop;
    } u;
} jv;

struct jlist {
    jv *v;
    size_t n, cap;
};
struct jdict { /* insertion-ordered; keys compared with Python ==, linear search (dicts here are small) */
    jv *k, *v;
    size_t n, cap;
};

typedef struct jctx jctx;
typedef struct jnode jnode;
typedef struct jframe jframe;

typedef struct { /* the arguments of a call, filter or test */
    const jv *pos;
    int npos;
    const char *const *kwn;
    const jv *kwv;
    int nkw;
} jargs;

typedef jv (*jbuiltin)(jctx *c, int line, jv self, const jargs *a);

typedef enum { JF_BUILTIN, JF_MACRO } jfunc_kind;
struct jfunc {
    jfunc_kind kind;
    const char *name;
    jbuiltin fn;          /* JF_BUILTIN */
    jv self;              /* JF_BUILTIN: the object of a bound method */
    const jnode *macro;   /* JF_MACRO: the macro (or call block) node */
    jframe *closure;      /* JF_MACRO: the frame it was defined in */
    struct jfunc *caller; /* JF_MACRO: the caller() a {% call %} block passes, or NULL */
};

struct jloop {
    int64_t index0, length;
    const jv *items; /* the filtered items, for previtem / nextitem */
};

/* ---- AST ---- */

typedef enum {
    JN_LIT,
    JN_NAME,
    JN_ATTR,
    JN_ITEM,
    JN_SLICE,
    JN_CALL,
    JN_FILTER,
    JN_TEST,
    JN_NEG,
    JN_POS,
    JN_NOT,
    JN_AND,
    JN_OR,
    JN_BIN,
    JN_CMP,
    JN_COND,
    JN_LIST,
    JN_TUPLE,
    JN_DICT,
    JN_TEXT,
    JN_OUTPUT,
    JN_IF,
    JN_FOR,
    JN_SET,
    JN_SET_ATTR,
    JN_SET_BLOCK,
    JN_MACRO,
    JN_CALL_BLOCK,
    JN_FILTER_BLOCK,
    JN_BREAK,
    JN_CONTINUE
} jnkind;

/* Binary and comparison operators (jnode.op / jnode.ops). */
enum {
    JOP_ADD,
    JOP_SUB,
    JOP_MUL,
    JOP_DIV,
    JOP_FLOORDIV,
    JOP_MOD,
    JOP_POW,
    JOP_CONCAT,
    JOP_EQ,
    JOP_NE,
    JOP_LT,
    JOP_LE,
    JOP_GT,
    JOP_GE,
    JOP_IN,
    JOP_NOTIN
};

/* One node type for every construct; which fields a kind uses is listed in jinja_parse.c. */
struct jnode {
    uint8_t kind, op;
    bool neg; /* JN_TEST: "is not"; JN_FOR / JN_SET: the targets were a tuple */
    int line;
    jnode *a, *b, *c, *d;
    jnode **kids;
    int n_kids;
    jnode **kids2;
    int n_kids2;
    const char **names;
    int n_names;
    const char *str;
    size_t len;
    uint8_t *ops;    /* JN_CMP: one operator per operand in kids */
    const void *def; /* JN_FILTER / JN_TEST: the jfilter_def / jtest_def */
    jv lit;
};

typedef struct {
    jnode **body;
    int n;
} jprogram;

/* ---- lexer and parser ---- */

typedef enum {
    JT_TEXT,
    JT_VAR_BEGIN,
    JT_VAR_END,
    JT_BLOCK_BEGIN,
    JT_BLOCK_END,
    JT_NAME,
    JT_STRING,
    JT_INT,
    JT_FLOAT,
    JT_OP,
    JT_EOF
} jtok_kind;

typedef struct {
    uint8_t kind;
    int line;
    const char *s; /* JT_TEXT / JT_NAME / JT_OP: the text; JT_STRING: the decoded value */
    size_t n;
    int64_t i;
    double f;
} jtok;

/* Tokenizes src with trim_blocks and lstrip_blocks as transformers sets them; ends with JT_EOF. */
jtok *jlex(jfail *f, const char *src, size_t len, int *n_tokens);
jprogram jparse(jfail *f, const jtok *toks, int n_tokens, int max_depth);

/* ---- filters, tests, methods (jinja_filters.c, jinja_methods.c) ---- */

typedef jv (*jfilter_fn)(jctx *c, int line, jv v, const jargs *a);
typedef bool (*jtest_fn)(jctx *c, int line, jv v, const jargs *a);
typedef struct {
    const char *name;
    jfilter_fn fn;
} jfilter_def;
typedef struct {
    const char *name;
    jtest_fn fn;
} jtest_def;

const jfilter_def *jfilter_find(const char *name, size_t n);
const jtest_def *jtest_find(const char *name, size_t n);
/* A Python method of a str, dict, list or loop value (a bound JV_FUNC); undefined without a message when
 * the value has no such method; for a method the immutable sandbox refuses (list.append, dict.update),
 * an undefined whose use fails with jinja2's SecurityError. */
jv jmethod_get(jctx *c, int line, jv self, const char *name, size_t n);
/* The global functions (range, namespace, dict, raise_exception, strftime_now) into d. */
void jglobals_add(jctx *c, jdict *d);
/* Python's "fmt % args". */
jv jstr_percent(jctx *c, int line, jv fmt, jv args);

/* Positional-or-keyword argument i called `name`; *found false (and def returned) when absent. */
jv jarg(const jargs *a, int i, const char *name, jv def, bool *found);
void jargs_check(jctx *c, int line, const jargs *a, int max_pos, const char *what);

/* ---- values (jinja_value.c) ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int64_t limit; /* most bytes (the output limit), or -1 */
} jbuf;

struct jctx {
    jfail f;
    const vkt_jinja_limits *lim;
    int64_t steps;
    int depth;
    jbuf *out; /* where output goes now (a capture while a block set, filter block or macro renders) */
    jdict globals;
    jframe *frame;
    int loop_ctl; /* JN_BREAK / JN_CONTINUE pending, else 0 */
    bool fixed_now;
    int64_t now_unix;
};

static inline jv jv_undef(const char *why) {
    jv v = {.kind = JV_UNDEF};
    v.u.s.p = why;
    return v;
}
static inline jv jv_none(void) { return (jv){.kind = JV_NONE}; }
static inline jv jv_bool(bool b) {
    jv v = {.kind = JV_BOOL};
    v.u.b = b;
    return v;
}
static inline jv jv_int(int64_t i) {
    jv v = {.kind = JV_INT};
    v.u.i = i;
    return v;
}
static inline jv jv_float(double f) {
    jv v = {.kind = JV_FLOAT};
    v.u.f = f;
    return v;
}
static inline jv jv_str(const char *p, size_t n) {
    jv v = {.kind = JV_STR};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}
jv jv_strz(const char *s); /* a view of a static or arena NUL-terminated string */
jv jv_list(jctx *c, size_t cap);
jv jv_dict(jctx *c, size_t cap);
void jlist_push(jctx *c, jlist *l, jv v);
void jdict_set(jctx *c, jdict *d, jv key, jv v);
bool jdict_get(const jdict *d, jv key, jv *out);
bool jdict_gets(const jdict *d, const char *key, size_t n, jv *out);

const char *jv_type(jv v); /* Python's type name: "str", "int", "dict", "Undefined", ... */
bool jv_truthy(jv v);
bool jv_is_num(jv v); /* int, float or bool */
double jv_num(jv v);
bool jv_eq(jv a, jv b);
/* <0, 0, >0 for the Python ordering of a and b; a type error for values Python cannot order. */
int jv_cmp(jctx *c, int line, jv a, jv b, const char *op);
int64_t jv_len(jctx *c, int line, jv v);
/* The items of an iterable (list, tuple, dict keys, string characters; undefined: none). */
jlist *jv_iter(jctx *c, int line, jv v);
/* undefined: the error an operation on it raises. */
_Noreturn void jv_undef_fail(jctx *c, int line, jv v);

void jbuf_put(jctx *c, jbuf *b, const char *p, size_t n);
void jbuf_puts(jctx *c, jbuf *b, const char *s);
jv jbuf_str(jbuf *b);
/* Python str(v) and repr(v). */
void jv_write_str(jctx *c, jbuf *b, jv v);
void jv_write_repr(jctx *c, jbuf *b, jv v);
jv jv_to_str(jctx *c, jv v);
/* json.dumps(v, ensure_ascii, indent, separators, sort_keys); indent NULL for none. */
void jv_write_json(jctx *c, int line, jbuf *b, jv v, const char *indent, const char *item_sep, const char *key_sep,
                   bool sort_keys, bool ensure_ascii, int level);
jv jv_from_cjson(jctx *c, const cJSON *j);
/* A stable merge sort (as Python's sorted) of v[0..n) by cmp (which may fail with a type error). */
typedef int (*jcmp_fn)(jctx *c, int line, const void *ctx, jv a, jv b);
void jsort(jctx *c, int line, jv *v, size_t n, jcmp_fn cmp, const void *ctx);
void jfmt_float(double f, char out[40]); /* Python repr of a float */

/* UTF-8 and Python string classes. */
size_t jutf8_decode(const char *s, size_t n, uint32_t *cp); /* bytes used (1 for an invalid byte) */
size_t jutf8_encode(uint32_t cp, char out[4]);
size_t jutf8_len(const char *s, size_t n); /* code points */
bool jpy_isspace(uint32_t cp);
/* The bytes of s without leading / trailing Python whitespace (or without any of `chars`). */
jv jstr_strip(jv s, const char *chars, size_t nchars, bool left, bool right);

/* ---- evaluation (jinja_eval.c) ---- */

jv jeval(jctx *c, const jnode *n);
jv jcall(jctx *c, int line, jv fn, const jargs *a);
/* Attribute access (obj.name) and subscription (obj[key]) as jinja2's sandbox does them. */
jv jgetattr(jctx *c, int line, jv obj, const char *name, size_t n);
jv jgetitem(jctx *c, int line, jv obj, jv key);
jv jeval_slice(jctx *c, const jnode *n); /* a JN_SLICE node: obj[start:stop:step] */
jv japply_filter(jctx *c, const jnode *filter, jv input);
void jstep(jctx *c, int line); /* counts a statement or iteration against max_steps */

#endif
