/* Normalizers for tokenizer.json (see tok_norm.h). Each step rewrites the whole piece into a second
 * buffer and the two buffers swap; pieces are short (text between added tokens), so the copies do
 * not matter next to BPE. Unicode normalization and case mapping come from utf8proc; NFKC and the
 * others are not reimplemented here (their tables are large and versioned). */
#include "data/tok_norm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/log.h"
#include "data/tok_regex.h"
#include "data/tok_unicode.h"

typedef enum { N_NFC, N_NFD, N_NFKC, N_NFKD, N_LOWER, N_STRIP, N_ACCENTS, N_PREPEND, N_REPLACE } kind_t;

typedef struct {
    kind_t kind;
    bool left, right; /* Strip */
    char *arg;        /* owned: Prepend string or Replace content */
    size_t arg_len;
    vkt_tok_regex *re; /* owned: Replace pattern */
} step_t;

/* Growable source map (vkt_tok_norm_apply_mapped). */
typedef struct {
    int64_t *data; /* owned (cap) */
    size_t len, cap;
} map_t;

struct vkt_tok_norm {
    step_t *steps; /* owned (n) */
    int n;
    vkt_tok_bytes tmp; /* owned scratch */
    map_t map, tmap;   /* owned: the source map of out and of tmp */
};

static const char SP_SPACE[] = "\xE2\x96\x81";

/* Copies s, mapping U+2581 to ' ' when sp_space. */
static char *dup_arg(const char *s, bool sp_space, size_t *len) {
    size_t n = strlen(s), o = 0;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    for (size_t i = 0; i < n;) {
        if (sp_space && n - i >= 3 && memcmp(s + i, SP_SPACE, 3) == 0)
            d[o++] = ' ', i += 3;
        else
            d[o++] = s[i++];
    }
    d[o] = 0;
    *len = o;
    return d;
}

static const char *str_of(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool bool_of(const cJSON *j, const char *key, bool dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static vkt_status push(vkt_tok_norm *n, step_t s) {
    step_t *g = realloc(n->steps, (size_t)(n->n + 1) * sizeof *g);
    if (!g) return VKT_ERR_OOM;
    n->steps = g;
    n->steps[n->n++] = s;
    return VKT_OK;
}

static vkt_status bad(const char *path, const char *field, const char *what) {
    vkt_log_error("%s: %s %s", path, field, what);
    return VKT_ERR_FORMAT;
}

vkt_status vkt_tok_norm_add(vkt_tok_norm **np, const cJSON *j, const char *path, const char *field, bool sp_space) {
    if (!*np) {
        *np = calloc(1, sizeof **np);
        if (!*np) return VKT_ERR_OOM;
    }
    vkt_tok_norm *n = *np;
    char sub[256];
    const char *type = str_of(j, "type");
    if (!type)
        return bad(path, field, "has no \"type\" string; expected a normalizer object such as {\"type\": \"NFC\"}");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(list)) return bad(path, field, "is a Sequence without a \"normalizers\" array");
        int i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, list) {
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", field, i++);
            VKT_TRY(vkt_tok_norm_add(np, e, path, sub, sp_space));
        }
        return VKT_OK;
    }
    step_t s = {0};
    if (strcmp(type, "NFC") == 0)
        s.kind = N_NFC;
    else if (strcmp(type, "NFD") == 0)
        s.kind = N_NFD;
    else if (strcmp(type, "NFKC") == 0)
        s.kind = N_NFKC;
    else if (strcmp(type, "NFKD") == 0)
        s.kind = N_NFKD;
    else if (strcmp(type, "Lowercase") == 0)
        s.kind = N_LOWER;
    else if (strcmp(type, "StripAccents") == 0)
        s.kind = N_ACCENTS;
    else if (strcmp(type, "Strip") == 0) {
        s.kind = N_STRIP;
        s.left = bool_of(j, "strip_left", true);
        s.right = bool_of(j, "strip_right", true);
    } else if (strcmp(type, "Prepend") == 0) {
        const char *p = str_of(j, "prepend");
        if (!p) return bad(path, field, "is a Prepend without a \"prepend\" string");
        s.kind = N_PREPEND;
        if (!(s.arg = dup_arg(p, sp_space, &s.arg_len))) return VKT_ERR_OOM;
    } else if (strcmp(type, "Replace") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        const char *lit = str_of(pat, "String"), *rx = str_of(pat, "Regex"), *content = str_of(j, "content");
        if ((!lit && !rx) || !content)
            return bad(path, field,
                       "is a Replace without pattern {\"String\"|\"Regex\": ...} and a \"content\" string");
        s.kind = N_REPLACE;
        size_t pl;
        char *p = dup_arg(lit ? lit : rx, sp_space && lit, &pl);
        if (!p) return VKT_ERR_OOM;
        snprintf(sub, sizeof sub, "%s: %s.pattern", path, field);
        vkt_status st = pl ? vkt_tok_regex_compile(p, pl, lit != NULL, sub, &s.re) : VKT_OK;
        free(p);
        if (st != VKT_OK) return st;
        if (!s.re) return bad(path, field, "is a Replace with an empty pattern; give a non-empty String or Regex");
        if (!(s.arg = dup_arg(content, sp_space, &s.arg_len))) {
            vkt_tok_regex_free(s.re);
            return VKT_ERR_OOM;
        }
    } else {
        vkt_log_error("%s: %s.type \"%s\" is not supported; supported normalizers are NFC, NFD, NFKC, NFKD, "
                      "Lowercase, Strip, StripAccents, Prepend, Replace and Sequence",
                      path, field, type);
        return VKT_ERR_UNSUPPORTED;
    }
    vkt_status st = push(n, s);
    if (st != VKT_OK) {
        free(s.arg);
        vkt_tok_regex_free(s.re);
    }
    return st;
}

size_t vkt_tok_norm_signature(const vkt_tok_norm *n, char *out, size_t cap) {
    static const char *const names[] = {"NFC",   "NFD",          "NFKC",    "NFKD",   "Lowercase",
                                        "Strip", "StripAccents", "Prepend", "Replace"};
    size_t len = 0;
    if (cap) out[0] = 0;
    for (int i = 0; n && i < n->n; i++) {
        const step_t *s = &n->steps[i];
        char *at = len < cap ? out + len : NULL;
        size_t room = len < cap ? cap - len : 0;
        int k = s->kind == N_STRIP ? snprintf(at, room, "%sStrip left=%d right=%d", i ? "; " : "", s->left, s->right)
                : s->arg           ? snprintf(at, room, "%s%s %s", i ? "; " : "", names[s->kind], s->arg)
                                   : snprintf(at, room, "%s%s", i ? "; " : "", names[s->kind]);
        len += (size_t)k;
    }
    return len;
}

void vkt_tok_norm_free(vkt_tok_norm *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) {
        free(n->steps[i].arg);
        vkt_tok_regex_free(n->steps[i].re);
    }
    free(n->steps);
    vkt_tok_bytes_free(&n->tmp);
    free(n->map.data);
    free(n->tmap.data);
    free(n);
}

static vkt_status map_push(map_t *m, int64_t v) {
    if (m->len == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        int64_t *d = realloc(m->data, cap * sizeof *d);
        if (!d) return VKT_ERR_OOM;
        m->data = d, m->cap = cap;
    }
    m->data[m->len++] = v;
    return VKT_OK;
}

/* Where a step writes: the output bytes and, when mapping, each byte's source (src: the map of the
 * step's input, len + 1 entries). */
typedef struct {
    vkt_tok_bytes *b;
    map_t *m;           /* NULL: not mapping */
    const int64_t *src; /* borrowed, when m */
} sink_t;

/* Appends p[0..n), made from the step's input bytes [a, a + sn): byte for byte when n == sn, else
 * every byte from a. */
static vkt_status put(sink_t *k, const void *p, size_t n, size_t a, size_t sn) {
    VKT_TRY(vkt_tok_bytes_append(k->b, p, n));
    for (size_t i = 0; k->m && i < n; i++) VKT_TRY(map_push(k->m, k->src[n == sn ? a + i : a]));
    return VKT_OK;
}

/* Length of the valid UTF-8 run at s[0..n) (stops before the first malformed byte). */
static size_t valid_run(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t l;
        uint32_t cp = vkt_utf8_decode((const uint8_t *)s + i, n - i, &l);
        if (cp == 0xFFFD && l == 1 && (uint8_t)s[i] >= 0x80) break;
        i += l;
    }
    return i;
}

static int form_options(kind_t k) {
    return UTF8PROC_STABLE | (k == N_NFC || k == N_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
           (k == N_NFKC || k == N_NFKD ? UTF8PROC_COMPAT : 0);
}

/* utf8proc_map of s[0..n) (valid UTF-8); *d is malloc'd (caller frees). */
static vkt_status form_map(int opts, const char *s, size_t n, utf8proc_uint8_t **d, size_t *dn) {
    *d = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, d, (utf8proc_option_t)opts);
    if (m < 0) {
        vkt_log_error("tokenizer normalizer: utf8proc failed on %zu bytes: %s", n, utf8proc_errmsg(m));
        return m == UTF8PROC_ERROR_NOMEM ? VKT_ERR_OOM : VKT_ERR_ARG;
    }
    *dn = (size_t)m;
    return VKT_OK;
}

/* End of the combining sequence at s[i..n): a character and the non-starters after it. */
static size_t sequence_end(const char *s, size_t n, size_t i) {
    size_t l;
    vkt_utf8_decode((const uint8_t *)s + i, n - i, &l);
    for (i += l; i < n; i += l) {
        uint32_t cp = vkt_utf8_decode((const uint8_t *)s + i, n - i, &l);
        if (utf8proc_get_property((utf8proc_int32_t)cp)->combining_class == 0) break;
    }
    return i;
}

enum { MAX_SEQUENCES_PER_UNIT = 8 };

/* Maps d[0..dn), the normalization of the valid run s[a, a + r), by units of combining sequences
 * (each widened up to MAX_SEQUENCES_PER_UNIT sequences until it normalizes alone to the next bytes
 * of d); when no such cut reproduces d, the whole run is one unit. */
static vkt_status form_mapped(int opts, const char *s, size_t a, size_t r, const utf8proc_uint8_t *d, size_t dn,
                              sink_t *k) {
    size_t b0 = k->b->len, m0 = k->m->len, i = a, o = 0;
    while (i < a + r) {
        size_t j = i;
        bool cut = false;
        for (int q = 0; q < MAX_SEQUENCES_PER_UNIT && j < a + r && !cut; q++) {
            j = sequence_end(s, a + r, j);
            utf8proc_uint8_t *g;
            size_t gn;
            VKT_TRY(form_map(opts, s + i, j - i, &g, &gn));
            cut = gn <= dn - o && memcmp(d + o, g, gn) == 0;
            vkt_status st = cut ? put(k, g, gn, i, j - i) : VKT_OK;
            free(g);
            VKT_TRY(st);
            if (cut) o += gn;
        }
        if (!cut) break;
        i = j;
    }
    if (i == a + r && o == dn) return VKT_OK;
    k->b->len = b0, k->m->len = m0;
    return put(k, d, dn, a, r);
}

static vkt_status unicode_form(kind_t kind, const char *s, size_t len, sink_t *k) {
    int opts = form_options(kind);
    for (size_t i = 0; i < len;) {
        size_t r = valid_run(s + i, len - i);
        if (r) {
            utf8proc_uint8_t *d;
            size_t dn;
            VKT_TRY(form_map(opts, s + i, r, &d, &dn));
            bool same = dn == r && memcmp(d, s + i, r) == 0;
            vkt_status st = k->m && !same ? form_mapped(opts, s, i, r, d, dn, k) : put(k, d, dn, i, r);
            free(d);
            VKT_TRY(st);
            i += r;
        } else {
            VKT_TRY(put(k, s + i, 1, i, 1));
            i++;
        }
    }
    return VKT_OK;
}

/* Per character: lowercase (k == N_LOWER) or drop combining marks (N_ACCENTS). */
static vkt_status per_char(kind_t kind, const char *s, size_t len, sink_t *k) {
    for (size_t i = 0; i < len;) {
        size_t l;
        uint32_t cp = vkt_utf8_decode((const uint8_t *)s + i, len - i, &l);
        bool invalid = cp == 0xFFFD && l == 1 && (uint8_t)s[i] >= 0x80;
        char enc[8];
        if (invalid) {
            VKT_TRY(put(k, s + i, 1, i, 1));
        } else if (kind == N_LOWER) {
            if (cp == 0x130) /* the one unconditional multi-character lowercase mapping */
                VKT_TRY(put(k, "i\xCC\x87", 3, i, l));
            else
                VKT_TRY(put(k, enc, vkt_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc), i, l));
        } else {
            utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
            if (c != UTF8PROC_CATEGORY_MN && c != UTF8PROC_CATEGORY_MC && c != UTF8PROC_CATEGORY_ME)
                VKT_TRY(put(k, s + i, l, i, l));
        }
        i += l;
    }
    return VKT_OK;
}

/* Returns the end of what is kept in *end (for the map's last entry). */
static vkt_status strip(const step_t *st, const char *s, size_t len, sink_t *k, size_t *end) {
    size_t a = 0, b = len;
    while (st->left && a < b) {
        size_t l;
        if (!vkt_uni_is_space(vkt_utf8_decode((const uint8_t *)s + a, b - a, &l))) break;
        a += l;
    }
    while (st->right && b > a) {
        size_t p = b - 1;
        while (p > a && ((uint8_t)s[p] & 0xC0) == 0x80) p--;
        size_t l;
        if (!vkt_uni_is_space(vkt_utf8_decode((const uint8_t *)s + p, b - p, &l)) || p + l != b) break;
        b = p;
    }
    *end = b;
    return put(k, s + a, b - a, a, b - a);
}

static vkt_status replace(const step_t *st, const char *s, size_t len, sink_t *k) {
    size_t pos = 0, from = 0, ms, me;
    for (;;) {
        int r = from <= len ? vkt_tok_regex_find(st->re, s, len, from, &ms, &me) : 0;
        if (r < 0) return (vkt_status)r;
        if (r == 0) break;
        if (me == ms) { /* an empty match replaces nothing; step one character on */
            size_t l = 1;
            if (ms < len) vkt_utf8_decode((const uint8_t *)s + ms, len - ms, &l);
            from = ms + l;
            continue;
        }
        VKT_TRY(put(k, s + pos, ms - pos, pos, ms - pos));
        VKT_TRY(put(k, st->arg, st->arg_len, ms, me - ms));
        pos = from = me;
    }
    return put(k, s + pos, len - pos, pos, len - pos);
}

static vkt_status apply(vkt_tok_norm *n, const char *s, size_t len, vkt_tok_bytes *out, bool mapping) {
    out->len = 0;
    VKT_TRY(vkt_tok_bytes_append(out, s, len));
    n->map.len = 0;
    for (size_t i = 0; mapping && i <= len; i++) VKT_TRY(map_push(&n->map, (int64_t)i));
    for (int i = 0; i < n->n; i++) {
        const step_t *st = &n->steps[i];
        vkt_tok_bytes *t = &n->tmp;
        t->len = 0;
        n->tmap.len = 0;
        VKT_TRY(vkt_tok_bytes_append(t, "", 0));
        const char *src = out->data;
        size_t sl = out->len, end = sl;
        sink_t k = {t, mapping ? &n->tmap : NULL, n->map.data};
        switch (st->kind) {
        case N_NFC:
        case N_NFD:
        case N_NFKC:
        case N_NFKD: VKT_TRY(unicode_form(st->kind, src, sl, &k)); break;
        case N_LOWER:
        case N_ACCENTS: VKT_TRY(per_char(st->kind, src, sl, &k)); break;
        case N_STRIP: VKT_TRY(strip(st, src, sl, &k, &end)); break;
        case N_PREPEND:
            if (sl) VKT_TRY(put(&k, st->arg, st->arg_len, 0, 0));
            VKT_TRY(put(&k, src, sl, 0, sl));
            break;
        case N_REPLACE: VKT_TRY(replace(st, src, sl, &k)); break;
        }
        if (mapping) VKT_TRY(map_push(&n->tmap, n->map.data[end]));
        vkt_tok_bytes sw = *out;
        *out = *t;
        *t = sw;
        map_t mw = n->map;
        n->map = n->tmap;
        n->tmap = mw;
    }
    return VKT_OK;
}

vkt_status vkt_tok_norm_apply(vkt_tok_norm *n, const char *s, size_t len, vkt_tok_bytes *out) {
    return apply(n, s, len, out, false);
}

vkt_status vkt_tok_norm_apply_mapped(vkt_tok_norm *n, const char *s, size_t len, vkt_tok_bytes *out,
                                     const int64_t **map) {
    VKT_TRY(apply(n, s, len, out, true));
    *map = n->map.data;
    return VKT_OK;
}
