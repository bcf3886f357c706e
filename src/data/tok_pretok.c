/* Pre-tokenizer steps for byte-level BPE (see tok_pretok.h).
 *
 * A split step first lists the segments of a word: the matches of its pattern and the stretches
 * between them, each flagged as a match or not (invert flips the flags). Matches of a character
 * class without a quantifier (Digits, Punctuation, WhitespaceSplit) are one character each, as in
 * Hugging Face, where such patterns are per-character predicates. The behavior then regroups them:
 *   Removed             drop the matches;
 *   Isolated            every segment is a word;
 *   Contiguous          neighbouring segments with the same flag join;
 *   MergedWithPrevious  a match joins the segment before it when that one is not a match;
 *   MergedWithNext      a match joins the segment after it when that one is not a match.
 * Steps recurse: each word of step k goes through steps k+1.. before the next word of step k, so
 * no list of all words is built. Empty matches are skipped (they add no text). */
#include "data/tok_pretok.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_regex.h"
#include "data/tok_unicode.h"

typedef enum { B_REMOVED, B_ISOLATED, B_CONTIGUOUS, B_PREV, B_NEXT } behavior_t;
typedef enum { S_SPLIT, S_GPT2, S_BYTELEVEL } kind_t;

typedef struct {
    size_t a, b;
    bool match;
} seg_t;

typedef struct {
    kind_t kind;
    vkt_tok_regex *re; /* owned (S_SPLIT) */
    char *pattern;     /* owned (S_SPLIT): its source, for vkt_tok_pretok_signature */
    bool literal;
    behavior_t behavior;
    bool invert;
    bool prefix, use_regex; /* S_BYTELEVEL */
    seg_t *segs;            /* owned scratch (cap) */
    size_t cap;
    char *buf; /* owned scratch for a prefixed word (buf_cap) */
    size_t buf_cap;
} step_t;

struct vkt_tok_pretok {
    step_t *steps; /* owned (n) */
    int n;
};

static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Rust's char::is_ascii_punctuation covers ASCII symbols too ($+<=>^`|~), which \p{P} does not. */
static const char PUNCT_CLASS[] = "[\\p{P}!-/:-@\\[-`{-~]";

static vkt_status push(vkt_tok_pretok *p, step_t s) {
    step_t *g = realloc(p->steps, (size_t)(p->n + 1) * sizeof *g);
    if (!g) {
        vkt_tok_regex_free(s.re);
        free(s.pattern);
        return VKT_ERR_OOM;
    }
    p->steps = g;
    p->steps[p->n++] = s;
    return VKT_OK;
}

static vkt_status push_split(vkt_tok_pretok *p, const char *pat, bool literal, behavior_t b, bool invert,
                             const char *where) {
    step_t s = {.kind = S_SPLIT, .behavior = b, .invert = invert, .literal = literal};
    VKT_TRY(vkt_tok_regex_compile(pat, strlen(pat), literal, where, &s.re));
    if (!(s.pattern = strdup(pat))) {
        vkt_tok_regex_free(s.re);
        return VKT_ERR_OOM;
    }
    return push(p, s);
}

static const char *str_of(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool bool_of(const cJSON *j, const char *key, bool dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static vkt_status parse_behavior(const cJSON *j, const char *path, const char *field, behavior_t dflt, behavior_t *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "behavior");
    *b = dflt;
    if (!v) return VKT_OK;
    static const char *names[] = {"Removed", "Isolated", "Contiguous", "MergedWithPrevious", "MergedWithNext"};
    for (int i = 0; i < 5 && cJSON_IsString(v); i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *b = (behavior_t)i;
            return VKT_OK;
        }
    vkt_log_error("%s: %s.behavior is %s%s%s; expected one of Removed, Isolated, Contiguous, MergedWithPrevious, "
                  "MergedWithNext",
                  path, field, cJSON_IsString(v) ? "\"" : "", cJSON_IsString(v) ? v->valuestring : "not a string",
                  cJSON_IsString(v) ? "\"" : "");
    return VKT_ERR_FORMAT;
}

vkt_status vkt_tok_pretok_add(vkt_tok_pretok **pp, const cJSON *j, const char *path, const char *field) {
    if (!*pp) {
        *pp = calloc(1, sizeof **pp);
        if (!*pp) return VKT_ERR_OOM;
    }
    vkt_tok_pretok *p = *pp;
    char where[512];
    const char *type = str_of(j, "type");
    if (!type) {
        vkt_log_error("%s: %s has no \"type\" string; expected a pre-tokenizer object", path, field);
        return VKT_ERR_FORMAT;
    }
    behavior_t b;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(list)) {
            vkt_log_error("%s: %s is a Sequence without a \"pretokenizers\" array", path, field);
            return VKT_ERR_FORMAT;
        }
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, list) {
            snprintf(where, sizeof where, "%s.pretokenizers[%d]", field, i++);
            VKT_TRY(vkt_tok_pretok_add(pp, e, path, where));
        }
        return VKT_OK;
    }
    if (strcmp(type, "ByteLevel") == 0)
        return push(p, (step_t){.kind = S_BYTELEVEL,
                                .prefix = bool_of(j, "add_prefix_space", true),
                                .use_regex = bool_of(j, "use_regex", true)});
    if (strcmp(type, "Split") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const char *rx = str_of(pat, "Regex"), *lit = str_of(pat, "String");
        if (!rx && !lit) {
            vkt_log_error("%s: %s.pattern is not {\"Regex\": ...} or {\"String\": ...}", path, field);
            return VKT_ERR_FORMAT;
        }
        VKT_TRY(parse_behavior(j, path, field, B_ISOLATED, &b));
        bool invert = bool_of(j, "invert", false);
        if (rx && strcmp(rx, GPT2_PATTERN) == 0 && b == B_ISOLATED && !invert) return push(p, (step_t){.kind = S_GPT2});
        const char *pt = rx ? rx : lit;
        if (!*pt) {
            vkt_log_error("%s: %s.pattern is empty; give a non-empty pattern", path, field);
            return VKT_ERR_FORMAT;
        }
        snprintf(where, sizeof where, "%s: %s.pattern.%s", path, field, rx ? "Regex" : "String");
        return push_split(p, pt, lit != NULL, b, invert, where);
    }
    snprintf(where, sizeof where, "%s: %s (%s)", path, field, type);
    if (strcmp(type, "Digits") == 0) {
        b = bool_of(j, "individual_digits", false) ? B_ISOLATED : B_CONTIGUOUS;
        return push_split(p, "\\p{N}", false, b, false, where);
    }
    if (strcmp(type, "Whitespace") == 0) return push_split(p, "\\w+|[^\\w\\s]+", false, B_REMOVED, true, where);
    if (strcmp(type, "WhitespaceSplit") == 0) return push_split(p, "\\s", false, B_REMOVED, false, where);
    if (strcmp(type, "Punctuation") == 0) {
        VKT_TRY(parse_behavior(j, path, field, B_ISOLATED, &b));
        return push_split(p, PUNCT_CLASS, false, b, false, where);
    }
    if (strcmp(type, "BertPreTokenizer") == 0) {
        VKT_TRY(push_split(p, "\\s", false, B_REMOVED, false, where));
        return push_split(p, PUNCT_CLASS, false, B_ISOLATED, false, where);
    }
    if (strcmp(type, "CharDelimiterSplit") == 0) {
        const char *d = str_of(j, "delimiter");
        if (!d || !*d) {
            vkt_log_error("%s: %s.delimiter is not a one-character string", path, field);
            return VKT_ERR_FORMAT;
        }
        return push_split(p, d, true, B_REMOVED, false, where);
    }
    vkt_log_error("%s: %s.type \"%s\" is not supported for byte-level BPE; supported are Split, ByteLevel, Digits, "
                  "Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer, CharDelimiterSplit and Sequence",
                  path, field, type);
    return VKT_ERR_UNSUPPORTED;
}

bool vkt_tok_pretok_is_bytelevel(const vkt_tok_pretok *p, bool *add_prefix_space, bool *use_regex) {
    if (!p || p->n != 1 || p->steps[0].kind != S_BYTELEVEL) return false;
    *add_prefix_space = p->steps[0].prefix;
    *use_regex = p->steps[0].use_regex;
    return true;
}

size_t vkt_tok_pretok_signature(const vkt_tok_pretok *p, char *out, size_t cap) {
    static const char *const behaviors[] = {"Removed", "Isolated", "Contiguous", "MergedWithPrevious",
                                            "MergedWithNext"};
    size_t n = 0;
    if (cap) out[0] = 0;
    for (int i = 0; p && i < p->n; i++) {
        const step_t *s = &p->steps[i];
        char *at = n < cap ? out + n : NULL;
        size_t room = n < cap ? cap - n : 0;
        int k = s->kind == S_GPT2 ? snprintf(at, room, "%sgpt2", i ? "; " : "")
                : s->kind == S_BYTELEVEL
                    ? snprintf(at, room, "%sbytelevel prefix=%d regex=%d", i ? "; " : "", s->prefix, s->use_regex)
                    : snprintf(at, room, "%ssplit %s invert=%d %s=%s", i ? "; " : "", behaviors[s->behavior], s->invert,
                               s->literal ? "string" : "regex", s->pattern);
        n += (size_t)k;
    }
    return n;
}

void vkt_tok_pretok_free(vkt_tok_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        vkt_tok_regex_free(p->steps[i].re);
        free(p->steps[i].pattern);
        free(p->steps[i].segs);
        free(p->steps[i].buf);
    }
    free(p->steps);
    free(p);
}

static vkt_status seg_push(step_t *st, size_t *n, size_t a, size_t b, bool match) {
    if (a == b) return VKT_OK;
    if (*n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        seg_t *g = realloc(st->segs, cap * sizeof *g);
        if (!g) return VKT_ERR_OOM;
        st->segs = g, st->cap = cap;
    }
    st->segs[(*n)++] = (seg_t){a, b, match};
    return VKT_OK;
}

/* Segments of s[0..n) for a split step, flags already inverted when asked. */
static vkt_status list_segments(step_t *st, const char *s, size_t n, size_t *count) {
    size_t k = 0, prev = 0, from = 0, ms, me;
    while (from <= n) {
        int r = vkt_tok_regex_find(st->re, s, n, from, &ms, &me);
        if (r < 0) return (vkt_status)r;
        if (r == 0) break;
        if (me == ms) {
            size_t l = 1;
            if (ms < n) vkt_utf8_decode((const uint8_t *)s + ms, n - ms, &l);
            from = ms + l;
            continue;
        }
        VKT_TRY(seg_push(st, &k, prev, ms, st->invert));
        VKT_TRY(seg_push(st, &k, ms, me, !st->invert));
        prev = from = me;
    }
    VKT_TRY(seg_push(st, &k, prev, n, st->invert));
    *count = k;
    return VKT_OK;
}

/* Regroups the segments in place by the step's behavior; returns the word count. Words with
 * match set are dropped by the caller (only Removed keeps the flag). prev is the flag of the
 * segment looked at last, read before its slot may be overwritten. */
static size_t regroup(step_t *st, size_t n) {
    seg_t *g = st->segs;
    size_t k = 0;
    bool prev = false;
    if (st->behavior == B_REMOVED) return n;
    if (st->behavior == B_NEXT) {
        /* Walk from the end, growing words leftwards into the top of the array, then move down. */
        size_t w = n;
        for (size_t i = n; i-- > 0;) {
            seg_t cur = g[i];
            if (w < n && cur.match && !prev)
                g[w].a = cur.a;
            else
                g[--w] = cur;
            prev = cur.match;
        }
        for (size_t i = w; i < n; i++) g[k++] = g[i];
    } else {
        for (size_t i = 0; i < n; i++) {
            seg_t cur = g[i];
            bool join = k > 0 && ((st->behavior == B_CONTIGUOUS && cur.match == prev) ||
                                  (st->behavior == B_PREV && cur.match && !prev));
            if (join)
                g[k - 1].b = cur.b;
            else
                g[k++] = cur;
            prev = cur.match;
        }
    }
    for (size_t i = 0; i < k; i++) g[i].match = false;
    return k;
}

/* s[0..n) is a word of the input whose first ins bytes were inserted (a prefix space) and whose
 * other bytes start at input byte at. A sub-word at s + i starts at input byte at + max(0, i - ins). */
typedef struct {
    size_t at, ins;
} origin_t;

static origin_t sub_origin(origin_t o, size_t i) {
    return i >= o.ins ? (origin_t){o.at + i - o.ins, 0} : (origin_t){o.at, o.ins - i};
}

static vkt_status run(vkt_tok_pretok *p, int k, const char *s, size_t n, origin_t o, vkt_tok_word_fn fn, void *ctx) {
    if (n == 0) return VKT_OK;
    if (k == p->n) return fn(ctx, s, n, o.at, o.ins < n ? o.ins : n);
    step_t *st = &p->steps[k];
    if (st->kind == S_BYTELEVEL) {
        if (st->prefix && s[0] != ' ') {
            if (st->buf_cap < n + 1) {
                char *g = realloc(st->buf, n + 1);
                if (!g) return VKT_ERR_OOM;
                st->buf = g, st->buf_cap = n + 1;
            }
            st->buf[0] = ' ';
            memcpy(st->buf + 1, s, n);
            s = st->buf, n++, o.ins++;
        }
        if (!st->use_regex) return run(p, k + 1, s, n, o, fn, ctx);
    }
    if (st->kind == S_BYTELEVEL || st->kind == S_GPT2) {
        for (size_t i = 0; i < n;) {
            size_t l = vkt_tok_gpt2_split(s + i, n - i);
            VKT_TRY(run(p, k + 1, s + i, l, sub_origin(o, i), fn, ctx));
            i += l;
        }
        return VKT_OK;
    }
    size_t count;
    VKT_TRY(list_segments(st, s, n, &count));
    count = regroup(st, count);
    /* Deeper steps use their own scratch, so st->segs stays valid across the recursion. */
    for (size_t i = 0; i < count; i++) {
        seg_t g = st->segs[i];
        if (g.match) continue;
        VKT_TRY(run(p, k + 1, s + g.a, g.b - g.a, sub_origin(o, g.a), fn, ctx));
    }
    return VKT_OK;
}

vkt_status vkt_tok_pretok_run(vkt_tok_pretok *p, const char *s, size_t n, vkt_tok_word_fn fn, void *ctx) {
    return run(p, 0, s, n, (origin_t){0, 0}, fn, ctx);
}
