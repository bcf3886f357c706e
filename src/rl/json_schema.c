/* The JSON Schema subset (see json_schema.h): compile checks the schema's own shape once, so that
 * checking a value can walk the schema without re-validating it. */
#include "rl/json_schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct vkt_json_schema {
    cJSON *root; /* owned copy */
};

static const char *const TYPES[] = {"object", "array", "string", "number", "integer", "boolean", "null"};
static const char *const ANNOTATIONS[] = {"$schema", "$id", "$comment", "title", "description", "default", "examples"};
static const char *const COUNTS[] = {"minItems", "maxItems", "minLength", "maxLength"};
static const char *const BOUNDS[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
#define N_OF(a) (sizeof(a) / sizeof *(a))

static bool in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

static const char *json_kind(const cJSON *j) {
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    return "null";
}

/* A path buffer grown and cut back as the walk goes down and up. */
typedef struct {
    char buf[512];
    size_t len;
} path_t;

static size_t path_push(path_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(path_t *p, const char *fmt, ...) {
    size_t old = p->len;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p->buf + p->len, sizeof p->buf - p->len, fmt, ap);
    va_end(ap);
    if (k > 0) p->len = p->len + (size_t)k < sizeof p->buf ? p->len + (size_t)k : sizeof p->buf - 1;
    return old;
}
static void path_pop(path_t *p, size_t old) { p->len = old, p->buf[old] = 0; }

/* ---- compile: the schema's own shape ---- */

static vkt_status bad(const path_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static vkt_status bad(const path_t *p, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vkt_log_error("%s: %s (the JSON Schema subset of src/rl/json_schema.h)", p->buf, msg);
    return VKT_ERR_FORMAT;
}

static bool is_count(const cJSON *j) {
    return cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble == floor(j->valuedouble) &&
           j->valuedouble <= 9007199254740992.0;
}

static vkt_status compile_node(const cJSON *s, path_t *p);

static vkt_status compile_type(const cJSON *t, path_t *p) {
    if (cJSON_IsString(t)) {
        if (!in_list(t->valuestring, TYPES, N_OF(TYPES)))
            return bad(p, "unknown type \"%s\" (object, array, string, number, integer, boolean, null)", t->valuestring);
        return VKT_OK;
    }
    if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) == 0) return bad(p, "must be a type name or a non-empty list of them");
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, t) {
        size_t old = path_push(p, "[%d]", i++);
        VKT_TRY(cJSON_IsString(e) ? compile_type(e, p) : bad(p, "must be a type name, not %s", json_kind(e)));
        path_pop(p, old);
    }
    return VKT_OK;
}

static vkt_status compile_keyword(const cJSON *s, const cJSON *kw, path_t *p) {
    const char *k = kw->string;
    if (in_list(k, ANNOTATIONS, N_OF(ANNOTATIONS)) || strcmp(k, "const") == 0) return VKT_OK;
    if (strcmp(k, "type") == 0) return compile_type(kw, p);
    if (strcmp(k, "enum") == 0)
        return cJSON_IsArray(kw) && cJSON_GetArraySize(kw) > 0 ? VKT_OK : bad(p, "must be a non-empty list of values");
    if (in_list(k, COUNTS, N_OF(COUNTS)))
        return is_count(kw) ? VKT_OK : bad(p, "must be a non-negative integer, not %s", json_kind(kw));
    if (in_list(k, BOUNDS, N_OF(BOUNDS))) return cJSON_IsNumber(kw) ? VKT_OK : bad(p, "must be a number, not %s", json_kind(kw));
    if (strcmp(k, "items") == 0 || strcmp(k, "additionalProperties") == 0) return compile_node(kw, p);
    if (strcmp(k, "required") == 0) {
        const cJSON *e;
        if (!cJSON_IsArray(kw)) return bad(p, "must be a list of member names");
        cJSON_ArrayForEach(e, kw) if (!cJSON_IsString(e)) return bad(p, "must be a list of member names (strings)");
        return VKT_OK;
    }
    if (strcmp(k, "properties") == 0) {
        if (!cJSON_IsObject(kw)) return bad(p, "must be an object of schemas");
        const cJSON *e;
        cJSON_ArrayForEach(e, kw) {
            size_t old = path_push(p, ".%s", e->string);
            VKT_TRY(compile_node(e, p));
            path_pop(p, old);
        }
        return VKT_OK;
    }
    (void)s;
    return bad(p, "keyword not supported; supported: type, enum, const, properties, required, additionalProperties, "
                  "items, minItems, maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, "
                  "maxLength");
}

static vkt_status check_pair(const cJSON *s, const char *lo, const char *hi, path_t *p) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, lo), *b = cJSON_GetObjectItemCaseSensitive(s, hi);
    if (a && b && a->valuedouble > b->valuedouble)
        return bad(p, "%s %g is above %s %g: no value can match", lo, a->valuedouble, hi, b->valuedouble);
    return VKT_OK;
}

static vkt_status compile_node(const cJSON *s, path_t *p) {
    if (cJSON_IsBool(s)) return VKT_OK; /* true: anything, false: nothing */
    if (!cJSON_IsObject(s)) return bad(p, "a schema must be an object or a boolean, not %s", json_kind(s));
    const cJSON *kw;
    cJSON_ArrayForEach(kw, s) {
        size_t old = path_push(p, ".%s", kw->string);
        VKT_TRY(compile_keyword(s, kw, p));
        path_pop(p, old);
    }
    VKT_TRY(check_pair(s, "minItems", "maxItems", p));
    VKT_TRY(check_pair(s, "minLength", "maxLength", p));
    return check_pair(s, "minimum", "maximum", p);
}

vkt_status vkt_json_schema_compile(const cJSON *schema, const char *where, vkt_json_schema **out) {
    *out = NULL;
    path_t p = {.len = 0};
    path_push(&p, "%s", where ? where : "schema");
    if (!schema) return bad(&p, "missing");
    VKT_TRY(compile_node(schema, &p));
    vkt_json_schema *s = calloc(1, sizeof *s);
    if (!s || !(s->root = cJSON_Duplicate(schema, true))) {
        free(s);
        return VKT_ERR_OOM;
    }
    *out = s;
    return VKT_OK;
}

void vkt_json_schema_free(vkt_json_schema *s) {
    if (!s) return;
    cJSON_Delete(s->root);
    free(s);
}

/* ---- check: a value against a compiled schema ---- */

typedef struct {
    path_t path;
    char *why;
    size_t why_len;
} walk_t;

static bool fail(walk_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(walk_t *w, const char *fmt, ...) {
    if (!w->why || w->why_len == 0) return false;
    int k = snprintf(w->why, w->why_len, "%s: ", w->path.buf);
    if (k >= 0 && (size_t)k < w->why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->why + k, w->why_len - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool has_type(const cJSON *v, const char *t) {
    if (strcmp(t, "object") == 0) return cJSON_IsObject(v);
    if (strcmp(t, "array") == 0) return cJSON_IsArray(v);
    if (strcmp(t, "string") == 0) return cJSON_IsString(v);
    if (strcmp(t, "number") == 0) return cJSON_IsNumber(v);
    if (strcmp(t, "integer") == 0) return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
    if (strcmp(t, "boolean") == 0) return cJSON_IsBool(v);
    return cJSON_IsNull(v);
}

static bool type_ok(const cJSON *t, const cJSON *v) {
    if (cJSON_IsString(t)) return has_type(v, t->valuestring);
    const cJSON *e;
    cJSON_ArrayForEach(e, t) if (has_type(v, e->valuestring)) return true;
    return false;
}

static size_t code_points(const char *s) {
    size_t k = 0;
    for (; *s; s++) k += ((unsigned char)*s & 0xC0) != 0x80;
    return k;
}

static double num(const cJSON *s, const char *k, bool *present) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, k);
    *present = j != NULL;
    return j ? j->valuedouble : 0;
}

static bool check_node(const cJSON *s, const cJSON *v, walk_t *w);

static bool check_number(const cJSON *s, double x, walk_t *w) {
    bool has;
    double b = num(s, "minimum", &has);
    if (has && !(x >= b)) return fail(w, "%g is below the minimum %g", x, b);
    b = num(s, "maximum", &has);
    if (has && !(x <= b)) return fail(w, "%g is above the maximum %g", x, b);
    b = num(s, "exclusiveMinimum", &has);
    if (has && !(x > b)) return fail(w, "%g is not above the exclusive minimum %g", x, b);
    b = num(s, "exclusiveMaximum", &has);
    if (has && !(x < b)) return fail(w, "%g is not below the exclusive maximum %g", x, b);
    return true;
}

static bool check_count(const cJSON *s, const char *lo, const char *hi, double n, const char *what, walk_t *w) {
    bool has;
    double b = num(s, lo, &has);
    if (has && n < b) return fail(w, "%s %.0f is below %s %.0f", what, n, lo, b);
    b = num(s, hi, &has);
    if (has && n > b) return fail(w, "%s %.0f is above %s %.0f", what, n, hi, b);
    return true;
}

static bool check_object(const cJSON *s, const cJSON *v, walk_t *w) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    const cJSON *e;
    cJSON_ArrayForEach(e, req) if (!cJSON_GetObjectItemCaseSensitive(v, e->valuestring))
        return fail(w, "the required member \"%s\" is missing", e->valuestring);
    cJSON_ArrayForEach(e, v) {
        const cJSON *sub = props ? cJSON_GetObjectItemCaseSensitive(props, e->string) : NULL;
        if (!sub && !extra) continue;
        size_t old = path_push(&w->path, ".%s", e->string);
        bool ok = sub ? check_node(sub, e, w)
                      : cJSON_IsFalse(extra) ? fail(w, "member not allowed (additionalProperties is false)")
                                             : check_node(extra, e, w);
        if (!ok) return false;
        path_pop(&w->path, old);
    }
    return true;
}

static bool check_array(const cJSON *s, const cJSON *v, walk_t *w) {
    if (!check_count(s, "minItems", "maxItems", (double)cJSON_GetArraySize(v), "length", w)) return false;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items"), *e;
    int i = 0;
    if (items) cJSON_ArrayForEach(e, v) {
        size_t old = path_push(&w->path, "[%d]", i++);
        if (!check_node(items, e, w)) return false;
        path_pop(&w->path, old);
    }
    return true;
}

static bool check_node(const cJSON *s, const cJSON *v, walk_t *w) {
    if (cJSON_IsTrue(s)) return true;
    if (cJSON_IsFalse(s)) return fail(w, "no value is allowed here (schema false)");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (t && !type_ok(t, v)) {
        char *want = cJSON_PrintUnformatted(t);
        bool r = fail(w, "expected type %s, got %s", want ? want : "?", json_kind(v));
        free(want);
        return r;
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum"), *c = cJSON_GetObjectItemCaseSensitive(s, "const"), *e;
    if (en) {
        bool any = false;
        cJSON_ArrayForEach(e, en) any |= cJSON_Compare(e, v, true);
        if (!any) return fail(w, "the value is not one of the enum's");
    }
    if (c && !cJSON_Compare(c, v, true)) return fail(w, "the value is not the const");
    if (cJSON_IsNumber(v)) return check_number(s, v->valuedouble, w);
    if (cJSON_IsString(v)) return check_count(s, "minLength", "maxLength", (double)code_points(v->valuestring), "length", w);
    if (cJSON_IsObject(v)) return check_object(s, v, w);
    if (cJSON_IsArray(v)) return check_array(s, v, w);
    return true;
}

bool vkt_json_schema_check(const vkt_json_schema *s, const cJSON *value, char *why, size_t why_len) {
    walk_t w = {.why = why, .why_len = why_len};
    path_push(&w.path, "$");
    if (why && why_len) why[0] = 0;
    return check_node(s->root, value, &w);
}
