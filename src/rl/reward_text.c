/* Answer extraction, normalisation and comparison for verifiable rewards (see reward_text.h). */
#include "rl/reward_text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

static const char *const EXTRACT_NAMES[] = {"none", "marker", "last_number", "boxed", "fenced"};
enum { N_EXTRACT = sizeof EXTRACT_NAMES / sizeof *EXTRACT_NAMES };

const char *vkt_extract_name(vkt_extract_kind k) {
    return (unsigned)k < N_EXTRACT ? EXTRACT_NAMES[k] : "?";
}

int vkt_extract_from_name(const char *name) {
    for (int i = 0; i < N_EXTRACT; i++)
        if (strcmp(name, EXTRACT_NAMES[i]) == 0) return i;
    return -1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The last occurrence of needle in hay[0..n), or NULL. */
static const char *last_occurrence(const char *hay, size_t n, const char *needle, size_t k) {
    if (k == 0 || k > n) return NULL;
    for (size_t i = n - k + 1; i-- > 0;)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

/* A number at s[0..n) of the extraction grammar (no exponent): its length, or 0. */
static size_t number_at(const char *s, size_t n) {
    size_t i = s[0] == '-' ? 1 : 0, int_digits = 0;
    while (i < n && is_digit(s[i])) i++, int_digits++;
    /* thousands groups: ",ddd" not followed by another digit */
    while (int_digits > 0 && i + 3 < n && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           is_digit(s[i + 3]) && (i + 4 == n || !is_digit(s[i + 4])))
        i += 4;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        i++;
        while (i < n && is_digit(s[i])) i++;
    } else if (int_digits == 0) {
        return 0;
    }
    return i;
}

static bool extract_last_number(const char *text, size_t *begin, size_t *end) {
    bool found = false;
    size_t b = 0, e = 0;
    for (size_t i = *begin; i < *end;) {
        size_t k = number_at(text + i, *end - i);
        if (k == 0) {
            i++;
            continue;
        }
        found = true, b = i, e = i + k;
        i += k;
    }
    if (found) *begin = b, *end = e;
    return found;
}

static bool extract_marker(const char *marker, const char *text, size_t *begin, size_t *end) {
    const char *at = last_occurrence(text + *begin, *end - *begin, marker, strlen(marker));
    if (!at) return false;
    size_t b = (size_t)(at - text) + strlen(marker);
    const char *nl = memchr(text + b, '\n', *end - b);
    size_t e = nl ? (size_t)(nl - text) : *end;
    bool any = false;
    for (size_t i = b; i < e; i++) any |= !(text[i] == ' ' || text[i] == '\t' || text[i] == '\r');
    if (!any) return false; /* "Answer:" with nothing after it is no answer */
    *begin = b, *end = e;
    return true;
}

static bool extract_boxed(const char *text, size_t *begin, size_t *end) {
    static const char key[] = "\\boxed{";
    const char *at = last_occurrence(text + *begin, *end - *begin, key, sizeof key - 1);
    if (!at) return false;
    size_t b = (size_t)(at - text) + sizeof key - 1;
    int depth = 1;
    for (size_t i = b; i < *end; i++) {
        depth += text[i] == '{';
        depth -= text[i] == '}';
        if (depth == 0) {
            *begin = b, *end = i;
            return true;
        }
    }
    return false; /* unbalanced: the box was cut off */
}

static bool extract_fenced(const char *text, size_t *begin, size_t *end) {
    size_t open = SIZE_MAX, last_open = SIZE_MAX, last_close = SIZE_MAX;
    for (size_t i = *begin; i + 3 <= *end; i++) {
        if (memcmp(text + i, "```", 3) != 0) continue;
        if (open == SIZE_MAX) {
            open = i;
        } else {
            last_open = open, last_close = i, open = SIZE_MAX;
        }
        i += 2;
    }
    if (last_close == SIZE_MAX) return false;
    size_t b = last_open + 3;
    const char *nl = memchr(text + b, '\n', last_close - b);
    if (nl) b = (size_t)(nl - text) + 1; /* drop the info string ("json") */
    *begin = b, *end = last_close;
    return true;
}

bool vkt_extract_step(vkt_extract_kind k, const char *marker, const char *text, size_t *begin, size_t *end) {
    switch (k) {
    case VKT_EXTRACT_NONE: return true;
    case VKT_EXTRACT_MARKER: return marker && marker[0] && extract_marker(marker, text, begin, end);
    case VKT_EXTRACT_LAST_NUMBER: return extract_last_number(text, begin, end);
    case VKT_EXTRACT_BOXED: return extract_boxed(text, begin, end);
    case VKT_EXTRACT_FENCED: return extract_fenced(text, begin, end);
    }
    return false;
}

vkt_answer_norm vkt_answer_norm_default(void) {
    return (vkt_answer_norm){.trim = true, .collapse_space = true, .numeric = true, .tolerance = 1e-9};
}

/* Unicode White_Space. */
static bool is_space_cp(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The code point at s[0..n) (a malformed byte reads as itself, never as space) and its length. */
static size_t next_cp(const char *s, size_t n, int32_t *cp) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)(n < 4 ? n : 4), &c);
    if (k <= 0) {
        *cp = -1;
        return 1;
    }
    *cp = c;
    return (size_t)k;
}

/* NFKC and/or case folding through utf8proc; invalid UTF-8 keeps the bytes (ASCII folded). */
static vkt_status unicode_map(const vkt_answer_norm *o, const char *s, size_t n, char **out, size_t *out_len) {
    utf8proc_option_t opts = 0;
    if (o->nfkc) opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE;
    if (o->case_fold) opts |= UTF8PROC_CASEFOLD;
    if (opts) {
        utf8proc_uint8_t *mapped = NULL;
        utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &mapped, opts);
        if (k >= 0) {
            *out = (char *)mapped, *out_len = (size_t)k;
            return VKT_OK;
        }
        if (k == UTF8PROC_ERROR_NOMEM) return VKT_ERR_OOM;
    }
    *out = malloc(n + 1);
    if (!*out) return VKT_ERR_OOM;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        (*out)[i] = o->case_fold && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    (*out)[n] = 0, *out_len = n;
    return VKT_OK;
}

vkt_status vkt_answer_normalize(const vkt_answer_norm *o, const char *s, size_t n, char **out, size_t *out_len) {
    char *u;
    size_t un;
    vkt_status st = unicode_map(o, s, n, &u, &un);
    if (st != VKT_OK) return st;
    char *w = malloc(un + 1);
    if (!w) {
        free(u);
        return VKT_ERR_OOM;
    }
    /* One pass: spaces are held back until a non-space follows, so trailing ones never land. */
    size_t len = 0, pending_from = 0;
    bool seen = false, pending = false;
    for (size_t i = 0; i < un;) {
        int32_t cp;
        size_t k = next_cp(u + i, un - i, &cp);
        if (is_space_cp(cp)) {
            if (!pending) pending = true, pending_from = i;
            i += k;
            continue;
        }
        if (pending && (seen || !o->trim)) {
            if (o->collapse_space) w[len++] = ' ';
            else memcpy(w + len, u + pending_from, i - pending_from), len += i - pending_from;
        }
        pending = false, seen = true;
        memcpy(w + len, u + i, k), len += k, i += k;
    }
    if (pending && !o->trim) {
        if (o->collapse_space) w[len++] = ' ';
        else memcpy(w + len, u + pending_from, un - pending_from), len += un - pending_from;
    }
    w[len] = 0;
    free(u);
    *out = w, *out_len = len;
    return VKT_OK;
}

bool vkt_answer_parse_number(const char *s, size_t n, double *v) {
    char buf[128];
    size_t len = 0, i = 0, int_digits = 0, frac_digits = 0;
    if (n == 0 || n >= sizeof buf) return false;
    if (s[i] == '-' || s[i] == '+') buf[len++] = s[i++];
    size_t group = i;
    while (i < n && is_digit(s[i])) buf[len++] = s[i++], int_digits++;
    if (i < n && s[i] == ',') {
        if (int_digits == 0 || i - group > 3) return false; /* the first group of "1,000" has 1 to 3 digits */
        while (i < n && s[i] == ',') {
            if (i + 3 >= n || !is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 3])) return false;
            if (i + 4 < n && is_digit(s[i + 4])) return false;
            memcpy(buf + len, s + i + 1, 3), len += 3, i += 4;
        }
    }
    if (i < n && s[i] == '.') {
        buf[len++] = s[i++];
        while (i < n && is_digit(s[i])) buf[len++] = s[i++], frac_digits++;
    }
    if (int_digits + frac_digits == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        buf[len++] = s[i++];
        if (i < n && (s[i] == '-' || s[i] == '+')) buf[len++] = s[i++];
        size_t exp_digits = 0;
        while (i < n && is_digit(s[i])) buf[len++] = s[i++], exp_digits++;
        if (exp_digits == 0) return false;
    }
    if (i != n) return false;
    buf[len] = 0;
    /* The grammar above is locale-free; strtod reads it as the C locale does (the library never calls
     * setlocale, so LC_NUMERIC stays "C"). */
    *v = strtod(buf, NULL);
    return isfinite(*v);
}

vkt_status vkt_answer_equal(const vkt_answer_norm *o, const char *a, size_t na, const char *b, size_t nb, bool *equal) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    vkt_status st = vkt_answer_normalize(o, a, na, &x, &nx);
    if (st == VKT_OK) st = vkt_answer_normalize(o, b, nb, &y, &ny);
    if (st == VKT_OK) {
        double va, vb;
        if (o->numeric && vkt_answer_parse_number(x, nx, &va) && vkt_answer_parse_number(y, ny, &vb)) {
            double scale = fmax(1.0, fmax(fabs(va), fabs(vb)));
            *equal = fabs(va - vb) <= o->tolerance * scale;
        } else {
            *equal = nx == ny && memcmp(x, y, nx) == 0;
        }
    }
    free(x);
    free(y);
    return st;
}
