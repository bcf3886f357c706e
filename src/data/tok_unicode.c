/* UTF-8 decoding, character classes and the hand-written GPT-2 pre-tokenizer (see tok_unicode.h).
 *
 * The split is a direct reading of the regex alternatives: at each position the first alternative
 * that matches wins, and each repeated class is greedy. The only backtracking case is \s+(?!\S),
 * which takes a whitespace run minus its last character when a non-space follows (so that the last
 * space can lead the next word), or the whole run at the end of the text. */
#include "data/tok_unicode.h"

uint32_t vkt_utf8_decode(const uint8_t *s, size_t n, size_t *len) {
    uint8_t c = s[0];
    *len = 1;
    if (c < 0x80) return c;
    size_t need;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0)
        need = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        need = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        need = 3, cp = c & 0x07, min = 0x10000;
    else
        return 0xFFFD;
    if (n < need + 1) return 0xFFFD;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0xFFFD;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
    *len = need + 1;
    return cp;
}

size_t vkt_utf8_encode(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6)), o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12)), o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18)), o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static bool in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid][0])
            hi = mid - 1;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool vkt_uni_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return cp != 0xFFFD && in_ranges(vkt_tok_letter_ranges, vkt_tok_letter_ranges_n, cp);
}

bool vkt_uni_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(vkt_tok_number_ranges, vkt_tok_number_ranges_n, cp);
}

bool vkt_uni_is_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

typedef enum { CLS_LETTER, CLS_NUMBER, CLS_SPACE, CLS_OTHER } cls_t;

static cls_t classify(uint32_t cp) {
    if (vkt_uni_is_letter(cp)) return CLS_LETTER;
    if (vkt_uni_is_number(cp)) return CLS_NUMBER;
    if (vkt_uni_is_space(cp)) return CLS_SPACE;
    return CLS_OTHER;
}

/* Class of the character at s[i] (i < n); *len gets its byte length. */
static cls_t cls_at(const uint8_t *s, size_t n, size_t i, size_t *len) {
    return classify(vkt_utf8_decode(s + i, n - i, len));
}

/* End of the run of class c starting at i. */
static size_t run_end(const uint8_t *s, size_t n, size_t i, cls_t c) {
    while (i < n) {
        size_t l;
        if (cls_at(s, n, i, &l) != c) break;
        i += l;
    }
    return i;
}

static size_t contraction(const uint8_t *s, size_t n) {
    if (n < 2 || s[0] != '\'') return 0;
    char a = (char)s[1], b = n > 2 ? (char)s[2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

size_t vkt_tok_gpt2_split(const char *str, size_t n) {
    const uint8_t *s = (const uint8_t *)str;
    size_t c = contraction(s, n);
    if (c) return c;
    size_t l0;
    cls_t c0 = cls_at(s, n, 0, &l0);
    /* " ?X+" for X in letters, numbers, other: an optional ASCII space, then a run of one class. */
    if (s[0] == ' ' && n > 1) {
        size_t l1;
        cls_t c1 = cls_at(s, n, 1, &l1);
        if (c1 != CLS_SPACE) return run_end(s, n, 1, c1);
    }
    if (c0 != CLS_SPACE) return run_end(s, n, 0, c0);
    /* Whitespace: \s+(?!\S) backs off one character when a non-space follows, unless that would
     * leave nothing, in which case \s+ takes the single character. */
    size_t end = run_end(s, n, 0, CLS_SPACE);
    if (end == n) return end;
    size_t last = 0, i = 0;
    while (i < end) {
        size_t l;
        vkt_utf8_decode(s + i, n - i, &l);
        last = i;
        i += l;
    }
    return last > 0 ? last : end;
}
