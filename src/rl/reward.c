/* Verifiable rewards (see reward.h): spec parsing with key-naming errors, and scoring. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rl/reward.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/json_file.h"
#include "rl/json_schema.h"
#include "rl/reward_text.h"

enum { MAX_STEPS = 8 };
enum { MATCH_LIMIT = 1000000 }; /* PCRE2 backtracking steps per match: a pathological pattern fails fast */

typedef enum { T_EXACT = 0, T_REGEX, T_SCHEMA, T_FORMAT, T_MODEL, N_TYPES } term_type;
static const char *const TYPE_NAMES[] = {"exact_match", "regex", "json_schema", "format", "model"};

/* Keys each type accepts besides the common ones; the checks (every type but model) also take CHECK_KEYS. */
static const char *const COMMON_KEYS[] = {"type", "name", "weight", NULL};
static const char *const CHECK_KEYS[] = {"pass", "fail", "extract", "marker", NULL};
static const char *const TYPE_KEYS[][8] = {
    {"trim", "collapse_whitespace", "numeric", "tolerance", "case_fold", "unicode_nfkc", NULL},
    {"pattern", "mode", "ignore_case", "dotall", "multiline", NULL},
    {"schema", NULL},
    {NULL},
    {"path", "adapter", "tokenizer", "template", "batch_size", "max_length", NULL},
};

typedef struct {
    term_type type;
    char *name;   /* owned */
    char *marker; /* owned or NULL */
    float weight, pass, fail;
    vkt_extract_kind steps[MAX_STEPS];
    int n_steps;
    vkt_answer_norm norm;    /* exact_match */
    pcre2_code *re;          /* owned (regex) */
    pcre2_match_data *md;    /* owned (regex) */
    pcre2_match_context *mc; /* owned (regex): the backtracking limit */
    vkt_json_schema *schema; /* owned (json_schema) */
    vkt_reward_model_term model; /* model: its strings owned */
} term;

struct vkt_reward {
    term *t; /* owned (n) */
    int n;
};

/* ---- parsing ---- */

typedef struct {
    char where[512]; /* "WHERE[i]" or "WHERE" */
} ctx_t;

static vkt_status bad(const ctx_t *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static vkt_status bad(const ctx_t *c, const char *key, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vkt_log_error("%s%s%s: %s (reward spec keys: src/rl/reward.h)", c->where, key ? "." : "", key ? key : "", msg);
    return VKT_ERR_FORMAT;
}

static bool listed(const char *k, const char *const *list) {
    for (; *list; list++)
        if (strcmp(k, *list) == 0) return true;
    return false;
}

static vkt_status get_number(const ctx_t *c, const cJSON *o, const char *key, float def, float *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j) return *out = def, VKT_OK;
    if (!cJSON_IsNumber(j)) return bad(c, key, "must be a number");
    *out = (float)j->valuedouble;
    return VKT_OK;
}

static vkt_status get_bool(const ctx_t *c, const cJSON *o, const char *key, bool def, bool *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j) return *out = def, VKT_OK;
    if (!cJSON_IsBool(j)) return bad(c, key, "must be true or false");
    *out = cJSON_IsTrue(j);
    return VKT_OK;
}

/* A string member (NULL when absent), borrowed from o. */
static vkt_status get_string(const ctx_t *c, const cJSON *o, const char *key, bool required, const char **out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!j && required) return bad(c, key, "missing");
    if (j && !cJSON_IsString(j)) return bad(c, key, "must be a string");
    if (j) *out = j->valuestring;
    return VKT_OK;
}

/* A positive integer member (def when absent). */
static vkt_status get_count(const ctx_t *c, const cJSON *o, const char *key, int64_t def, int64_t *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j) return *out = def, VKT_OK;
    if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > 1 << 20 || j->valuedouble != (int64_t)j->valuedouble)
        return bad(c, key, "must be a whole number from 1 to %d", 1 << 20);
    *out = (int64_t)j->valuedouble;
    return VKT_OK;
}

/* A copy of an optional string member into *out (NULL when absent). */
static vkt_status dup_string(const ctx_t *c, const cJSON *o, const char *key, bool required, char **out) {
    const char *v;
    VKT_TRY(get_string(c, o, key, required, &v));
    if (v && !v[0]) return bad(c, key, "must not be empty");
    if (v && !(*out = strdup(v))) return VKT_ERR_OOM;
    return VKT_OK;
}

static vkt_status parse_model(const ctx_t *c, const cJSON *o, term *t) {
    vkt_reward_model_term *m = &t->model;
    VKT_TRY(dup_string(c, o, "path", true, &m->path));
    VKT_TRY(dup_string(c, o, "adapter", false, &m->adapter));
    VKT_TRY(dup_string(c, o, "tokenizer", false, &m->tokenizer));
    VKT_TRY(dup_string(c, o, "template", false, &m->template_spec));
    VKT_TRY(get_count(c, o, "batch_size", 8, &m->batch_size));
    VKT_TRY(get_count(c, o, "max_length", 0, &m->max_length));
    return (m->where = strdup(c->where)) ? VKT_OK : VKT_ERR_OOM;
}

static vkt_status parse_step(const ctx_t *c, const cJSON *j, term *t) {
    int k = cJSON_IsString(j) ? vkt_extract_from_name(j->valuestring) : -1;
    if (k < 0) return bad(c, "extract", "unknown step %s%s%s (none, marker, last_number, boxed, fenced)",
                          cJSON_IsString(j) ? "\"" : "", cJSON_IsString(j) ? j->valuestring : "of another type",
                          cJSON_IsString(j) ? "\"" : "");
    if (t->n_steps == MAX_STEPS) return bad(c, "extract", "more than %d steps", MAX_STEPS);
    t->steps[t->n_steps++] = (vkt_extract_kind)k;
    return VKT_OK;
}

static vkt_status parse_extract(const ctx_t *c, const cJSON *o, term *t) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "extract"), *e;
    if (cJSON_IsArray(j)) {
        cJSON_ArrayForEach(e, j) VKT_TRY(parse_step(c, e, t));
    } else if (j) {
        VKT_TRY(parse_step(c, j, t));
    }
    bool needs_marker = false, finds = false;
    for (int i = 0; i < t->n_steps; i++) {
        needs_marker |= t->steps[i] == VKT_EXTRACT_MARKER;
        finds |= t->steps[i] != VKT_EXTRACT_NONE;
    }
    const char *marker;
    VKT_TRY(get_string(c, o, "marker", needs_marker, &marker));
    if (needs_marker && !marker[0]) return bad(c, "marker", "must not be empty");
    if (marker && !needs_marker) return bad(c, "marker", "given without a \"marker\" extract step");
    if (marker && !(t->marker = strdup(marker))) return VKT_ERR_OOM;
    if (t->type == T_FORMAT && !finds)
        return bad(c, "extract", "a format term needs a step that can find nothing (marker, last_number, boxed, fenced)");
    return VKT_OK;
}

static vkt_status parse_exact(const ctx_t *c, const cJSON *o, term *t) {
    vkt_answer_norm *n = &t->norm;
    *n = vkt_answer_norm_default();
    VKT_TRY(get_bool(c, o, "trim", n->trim, &n->trim));
    VKT_TRY(get_bool(c, o, "collapse_whitespace", n->collapse_space, &n->collapse_space));
    VKT_TRY(get_bool(c, o, "numeric", n->numeric, &n->numeric));
    VKT_TRY(get_bool(c, o, "case_fold", n->case_fold, &n->case_fold));
    VKT_TRY(get_bool(c, o, "unicode_nfkc", n->nfkc, &n->nfkc));
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(o, "tolerance"); /* a double: 1e-9 is below float's step at 1 */
    if (tj && !cJSON_IsNumber(tj)) return bad(c, "tolerance", "must be a number");
    if (tj) n->tolerance = tj->valuedouble;
    if (!(n->tolerance >= 0)) return bad(c, "tolerance", "must be >= 0");
    return VKT_OK;
}

static vkt_status parse_regex(const ctx_t *c, const cJSON *o, term *t) {
    const char *pattern, *mode;
    bool icase = false, dotall = false, multiline = false;
    VKT_TRY(get_string(c, o, "pattern", true, &pattern));
    VKT_TRY(get_string(c, o, "mode", false, &mode));
    VKT_TRY(get_bool(c, o, "ignore_case", false, &icase));
    VKT_TRY(get_bool(c, o, "dotall", false, &dotall));
    VKT_TRY(get_bool(c, o, "multiline", false, &multiline));
    bool full = mode && strcmp(mode, "full") == 0;
    if (mode && !full && strcmp(mode, "search") != 0) return bad(c, "mode", "is \"%s\"; use \"search\" or \"full\"", mode);
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | (icase ? PCRE2_CASELESS : 0) |
                    (dotall ? PCRE2_DOTALL : 0) | (multiline ? PCRE2_MULTILINE : 0) |
                    (full ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0);
    int err;
    PCRE2_SIZE off;
    t->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!t->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return bad(c, "pattern", "\"%.200s\" does not compile at offset %zu: %s (PCRE2 syntax)", pattern, (size_t)off,
                   (const char *)msg);
    }
    (void)pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* where JIT is unavailable the interpreter runs */
    t->md = pcre2_match_data_create_from_pattern(t->re, NULL);
    t->mc = pcre2_match_context_create(NULL);
    if (!t->md || !t->mc) return VKT_ERR_OOM;
    pcre2_set_match_limit(t->mc, MATCH_LIMIT);
    return VKT_OK;
}

static vkt_status parse_term(const ctx_t *c, const cJSON *o, term *t) {
    if (!cJSON_IsObject(o)) return bad(c, NULL, "a reward term must be an object with a \"type\"");
    const char *type, *name;
    VKT_TRY(get_string(c, o, "type", true, &type));
    int k = -1;
    for (int i = 0; i < N_TYPES; i++)
        if (strcmp(type, TYPE_NAMES[i]) == 0) k = i;
    if (k < 0)
        return bad(c, "type", "unknown reward type \"%s\" (exact_match, regex, json_schema, format, model)", type);
    t->type = (term_type)k;
    const cJSON *e;
    cJSON_ArrayForEach(e, o) if (!listed(e->string, COMMON_KEYS) && !listed(e->string, TYPE_KEYS[k]) &&
                                 (t->type == T_MODEL || !listed(e->string, CHECK_KEYS)))
        return bad(c, e->string, "unknown key for a \"%s\" term", type);
    VKT_TRY(get_string(c, o, "name", false, &name));
    if (!(t->name = strdup(name ? name : type))) return VKT_ERR_OOM;
    VKT_TRY(get_number(c, o, "weight", 1, &t->weight));
    if (t->type == T_MODEL) return parse_model(c, o, t);
    VKT_TRY(get_number(c, o, "pass", 1, &t->pass));
    VKT_TRY(get_number(c, o, "fail", 0, &t->fail));
    VKT_TRY(parse_extract(c, o, t));
    switch (t->type) {
    case T_EXACT: return parse_exact(c, o, t);
    case T_REGEX: return parse_regex(c, o, t);
    case T_SCHEMA: {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "schema");
        if (!s) return bad(c, "schema", "missing");
        char where[600];
        snprintf(where, sizeof where, "%s.schema", c->where);
        return vkt_json_schema_compile(s, where, &t->schema);
    }
    case T_FORMAT:
    case T_MODEL:
    case N_TYPES: return VKT_OK;
    }
    return VKT_OK;
}

static void term_free(term *t) {
    free(t->name);
    free(t->marker);
    pcre2_match_context_free(t->mc);
    pcre2_match_data_free(t->md);
    pcre2_code_free(t->re);
    vkt_json_schema_free(t->schema);
    free(t->model.path), free(t->model.adapter), free(t->model.tokenizer), free(t->model.template_spec);
    free(t->model.where);
}

void vkt_reward_free(vkt_reward *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) term_free(&r->t[i]);
    free(r->t);
    free(r);
}

vkt_status vkt_reward_from_json(const cJSON *spec, const char *where, vkt_reward **out) {
    *out = NULL;
    const char *w = where ? where : "reward";
    bool list = cJSON_IsArray(spec);
    int n = list ? cJSON_GetArraySize(spec) : 1;
    ctx_t c;
    snprintf(c.where, sizeof c.where, "%s", w);
    if (!spec || (list && n == 0)) return bad(&c, NULL, "no reward term (give an object or a non-empty list)");
    vkt_reward *r = calloc(1, sizeof *r);
    if (!r || !(r->t = calloc((size_t)n, sizeof *r->t))) {
        free(r);
        return VKT_ERR_OOM;
    }
    r->n = n;
    vkt_status st = VKT_OK;
    for (int i = 0; i < n && st == VKT_OK; i++) {
        if (list) snprintf(c.where, sizeof c.where, "%s[%d]", w, i);
        st = parse_term(&c, list ? cJSON_GetArrayItem(spec, i) : spec, &r->t[i]);
    }
    if (st != VKT_OK) {
        vkt_reward_free(r);
        return st;
    }
    *out = r;
    return VKT_OK;
}

vkt_status vkt_reward_parse(const char *text, size_t len, const char *where, vkt_reward **out) {
    *out = NULL;
    cJSON *j;
    VKT_TRY(vkt_json_parse(text, len, where ? where : "reward spec", &j));
    vkt_status st = vkt_reward_from_json(j, where, out);
    cJSON_Delete(j);
    return st;
}

int vkt_reward_n_terms(const vkt_reward *r) { return r->n; }
const char *vkt_reward_term_name(const vkt_reward *r, int i) { return i >= 0 && i < r->n ? r->t[i].name : NULL; }

bool vkt_reward_needs_answer(const vkt_reward *r) {
    for (int i = 0; i < r->n; i++)
        if (r->t[i].type == T_EXACT) return true;
    return false;
}

const vkt_reward_model_term *vkt_reward_term_model(const vkt_reward *r, int i) {
    return i >= 0 && i < r->n && r->t[i].type == T_MODEL ? &r->t[i].model : NULL;
}

bool vkt_reward_has_model(const vkt_reward *r) {
    for (int i = 0; i < r->n; i++)
        if (r->t[i].type == T_MODEL) return true;
    return false;
}

/* ---- scoring ---- */

static bool regex_holds(term *t, const char *s, size_t n) {
    int rc = pcre2_match(t->re, (PCRE2_SPTR)s, n, 0, 0, t->md, t->mc);
    if (rc >= 0) return true;
    if (rc != PCRE2_ERROR_NOMATCH) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        vkt_log_warn("reward %s: matching %zu bytes failed (%s): counted as no match", t->name, n, (const char *)msg);
    }
    return false;
}

static bool schema_holds(const term *t, const char *s, size_t n) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, false);
    bool ok = j != NULL;
    for (const char *p = end; ok && p < s + n; p++) /* one value: only white space may follow */
        ok = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
    ok = ok && vkt_json_schema_check(t->schema, j, NULL, 0);
    cJSON_Delete(j);
    return ok;
}

static vkt_status term_holds(term *t, const char *text, size_t len, const char *answer, bool *holds) {
    size_t b = 0, e = len;
    *holds = false;
    for (int i = 0; i < t->n_steps; i++)
        if (!vkt_extract_step(t->steps[i], t->marker, text, &b, &e)) return VKT_OK;
    switch (t->type) {
    case T_EXACT: return vkt_answer_equal(&t->norm, text + b, e - b, answer, strlen(answer), holds);
    case T_REGEX: *holds = regex_holds(t, text + b, e - b); break;
    case T_SCHEMA: *holds = schema_holds(t, text + b, e - b); break;
    case T_FORMAT: *holds = true; break;
    case T_MODEL:
    case N_TYPES: break;
    }
    return VKT_OK;
}

vkt_status vkt_reward_score(vkt_reward *r, const char *completion, size_t len, const char *answer, float *terms,
                            float *total) {
    return vkt_reward_score_given(r, completion, len, answer, NULL, terms, total);
}

vkt_status vkt_reward_score_given(vkt_reward *r, const char *completion, size_t len, const char *answer,
                                  const float *given, float *terms, float *total) {
    double sum = 0;
    for (int i = 0; i < r->n; i++) {
        term *t = &r->t[i];
        if (t->type == T_MODEL) {
            if (!given) {
                vkt_log_error("reward %s: a reward model's score is computed on the device (rl/reward_models.h), "
                              "and none was given", t->name);
                return VKT_ERR_ARG;
            }
            if (terms) terms[i] = given[i];
            sum += (double)t->weight * given[i];
            continue;
        }
        if (t->type == T_EXACT && !answer) {
            vkt_log_error("reward %s: exact_match needs the record's reference answer, and the record has none "
                          "(give each record an \"answer\")", t->name);
            return VKT_ERR_ARG;
        }
        bool holds;
        VKT_TRY(term_holds(t, completion ? completion : "", completion ? len : 0, answer, &holds));
        float v = holds ? t->pass : t->fail;
        if (terms) terms[i] = v;
        sum += (double)t->weight * v;
    }
    *total = (float)sum;
    return VKT_OK;
}
