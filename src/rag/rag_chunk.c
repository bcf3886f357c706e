/* Chunking documents into overlapping passages (rag_chunk.h has the rules). The text is read line by
 * line into words that carry "a sentence / paragraph ends here" flags; each section (the words under
 * one heading) is then packed greedily. Words point into the caller's text until a passage is built. */
#include "rag/rag_chunk.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)

enum { END_SENTENCE = 1, END_PARAGRAPH = 2 };

typedef struct {
    const char *p;
    int32_t len;
    uint8_t end; /* END_* flags: what ends after this word */
} word;

typedef struct {
    const vkt_rag_chunk_opts *o;
    word *w; /* owned: the current section's words */
    int32_t n, cap;
    int32_t doc_words; /* words of earlier sections, for first_word */
    char *levels[6];   /* owned: the latest heading of each level (1 to 6) above the current line */
    char *heading;     /* owned: the current section's heading path, levels joined by " > " */
    vkt_rag_passages *out;
    int32_t out_cap;
} chunker;

vkt_rag_chunk_opts vkt_rag_chunk_defaults(void) {
    return (vkt_rag_chunk_opts){.chunk_words = VKT_RAG_CHUNK_WORDS, .overlap_words = VKT_RAG_OVERLAP_WORDS};
}

vkt_status vkt_rag_chunk_check(const vkt_rag_chunk_opts *o) {
    if (o->chunk_words < 1 || o->chunk_words > VKT_RAG_MAX_CHUNK_WORDS) {
        vkt_log_error("chunk words %d is outside [1, %d]", o->chunk_words, VKT_RAG_MAX_CHUNK_WORDS);
        return VKT_ERR_ARG;
    }
    /* At most half: each passage then ends more than N/2 words after it starts, so the next one starts
     * strictly later and chunking always progresses. */
    if (o->overlap_words < 0 || o->overlap_words > o->chunk_words / 2) {
        vkt_log_error("overlap %d words is outside [0, %d] (at most half of %d chunk words)", o->overlap_words,
                      o->chunk_words / 2, o->chunk_words);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

void vkt_rag_passages_free(vkt_rag_passages *p) {
    for (int32_t i = 0; p->items && i < p->n; i++) {
        free(p->items[i].heading);
        free(p->items[i].text);
    }
    free(p->items);
    *p = (vkt_rag_passages){0};
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void mark_end(chunker *c, uint8_t flag) {
    if (c->n > 0) c->w[c->n - 1].end |= flag | END_SENTENCE;
}

/* Sentence end: . ! ? or an ellipsis, before any closing quotes, brackets or emphasis markers. */
static bool ends_sentence(const char *p, int32_t len) {
    while (len > 0) {
        unsigned char ch = (unsigned char)p[len - 1];
        if (strchr("\"')]*_", ch) && ch) {
            len--;
        } else if (len >= 3 && (unsigned char)p[len - 3] == 0xE2 && (unsigned char)p[len - 2] == 0x80 &&
                   (ch == 0x99 || ch == 0x9D)) { /* ’ ” */
            len -= 3;
        } else if (len >= 2 && (unsigned char)p[len - 2] == 0xC2 && ch == 0xBB) { /* » */
            len -= 2;
        } else {
            break;
        }
    }
    if (len <= 0) return false;
    char last = p[len - 1];
    if (last == '.' || last == '!' || last == '?') return true;
    return len >= 3 && memcmp(p + len - 3, "\xE2\x80\xA6", 3) == 0; /* … */
}

static vkt_status add_words(chunker *c, const char *s, const char *e) {
    while (s < e) {
        while (s < e && is_space(*s)) s++;
        const char *b = s;
        while (s < e && !is_space(*s)) s++;
        if (s == b) break;
        if (c->n == c->cap) {
            int32_t cap = c->cap ? 2 * c->cap : 256;
            word *w = realloc(c->w, (size_t)cap * sizeof *w);
            if (!w) return VKT_ERR_OOM;
            c->w = w, c->cap = cap;
        }
        int32_t len = (int32_t)(s - b);
        c->w[c->n++] = (word){b, len, ends_sentence(b, len) ? END_SENTENCE : 0};
    }
    return VKT_OK;
}

/* Words w[s..e) joined by single spaces. */
static char *join_words(const word *w, int32_t s, int32_t e) {
    size_t bytes = 1;
    for (int32_t i = s; i < e; i++) bytes += (size_t)w[i].len + 1;
    char *t = malloc(bytes), *o = t;
    if (!t) return NULL;
    for (int32_t i = s; i < e; i++) {
        if (i > s) *o++ = ' ';
        memcpy(o, w[i].p, (size_t)w[i].len);
        o += w[i].len;
    }
    *o = 0;
    return t;
}

static vkt_status emit(chunker *c, int32_t s, int32_t e) {
    vkt_rag_passages *out = c->out;
    if (out->n == c->out_cap) {
        int32_t cap = c->out_cap ? 2 * c->out_cap : 16;
        vkt_rag_passage *p = realloc(out->items, (size_t)cap * sizeof *p);
        if (!p) return VKT_ERR_OOM;
        out->items = p, c->out_cap = cap;
    }
    vkt_rag_passage *p = &out->items[out->n];
    *p = (vkt_rag_passage){.heading = strdup(c->heading ? c->heading : ""),
                           .text = join_words(c->w, s, e),
                           .n_words = e - s,
                           .first_word = c->doc_words + s};
    out->n++; /* counted before the check so vkt_rag_passages_free releases a half-built one */
    return p->heading && p->text ? VKT_OK : VKT_ERR_OOM;
}

/* Last j in (lo, hi] whose word j-1 carries `flag`, or 0. */
static int32_t last_end(const word *w, int32_t lo, int32_t hi, uint8_t flag) {
    for (int32_t j = hi; j > lo; j--)
        if (w[j - 1].end & flag) return j;
    return 0;
}

/* Packs the current section's words into passages and starts an empty section. */
static vkt_status flush_section(chunker *c) {
    const int32_t n = c->n, N = c->o->chunk_words, overlap = c->o->overlap_words;
    for (int32_t s = 0; s < n;) {
        int32_t hi = s + N < n ? s + N : n, e = hi;
        if (hi < n) {
            e = last_end(c->w, s + N / 2, hi, END_PARAGRAPH);
            if (!e) e = last_end(c->w, s + N / 2, hi, END_SENTENCE);
            if (!e) e = hi;
        }
        VKT_TRY(emit(c, s, e));
        if (e == n) break;
        int32_t next = e - overlap;
        for (int32_t j = next; j < e; j++) {
            if (c->w[j - 1].end & END_SENTENCE) {
                next = j;
                break;
            }
        }
        s = next;
    }
    c->doc_words += n;
    c->n = 0;
    return VKT_OK;
}

/* "## Title ##" -> "Title", inner whitespace runs as one space. */
static char *heading_text(const char *s, const char *e) {
    while (s < e && *s == '#') s++;
    while (e > s && is_space(e[-1])) e--;
    const char *h = e;
    while (h > s && h[-1] == '#') h--;
    if (h == s || is_space(h[-1])) e = h; /* a closing "##" run only after a space */
    char *t = malloc((size_t)(e - s) + 1), *o = t;
    if (!t) return NULL;
    for (const char *p = s; p < e; p++) {
        if (is_space(*p)) {
            if (o > t && o[-1] != ' ') *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    while (o > t && o[-1] == ' ') o--;
    *o = 0;
    return t;
}

/* A line of one repeated character out of - * _ = (3 or more, spaces allowed): a break, not text. */
static bool is_rule(const char *s, const char *e) {
    char ch = *s;
    int count = 0;
    if (!strchr("-*_=", ch)) return false;
    for (; s < e; s++) {
        if (*s == ch)
            count++;
        else if (*s != ' ' && *s != '\t')
            return false;
    }
    return count >= 3;
}

static int heading_level(const char *t, const char *e) {
    int h = 0;
    while (t + h < e && t[h] == '#') h++;
    return h >= 1 && h <= 6 && (t + h == e || t[h] == ' ' || t[h] == '\t') ? h : 0;
}

/* A heading of `level` replaces that level and ends the deeper ones ("## B" after "### C" leaves
 * "# A > ## B"); the section's heading is the path, so a document's title stays searchable in
 * every section under it. */
static vkt_status set_heading(chunker *c, int level, const char *t, const char *e) {
    for (int i = level - 1; i < 6; i++) free(c->levels[i]), c->levels[i] = NULL;
    if (!(c->levels[level - 1] = heading_text(t, e))) return VKT_ERR_OOM;
    size_t bytes = 1;
    for (int i = 0; i < level; i++) bytes += c->levels[i] ? strlen(c->levels[i]) + 3 : 0;
    char *path = malloc(bytes), *o = path;
    if (!path) return VKT_ERR_OOM;
    for (int i = 0; i < level; i++) {
        if (!c->levels[i] || !c->levels[i][0]) continue;
        if (o > path) memcpy(o, " > ", 3), o += 3;
        size_t n = strlen(c->levels[i]);
        memcpy(o, c->levels[i], n), o += n;
    }
    *o = 0;
    free(c->heading);
    c->heading = path;
    return VKT_OK;
}

static vkt_status markdown_line(chunker *c, const char *ls, const char *t, const char *e, bool *in_fence) {
    size_t rest = (size_t)(e - t);
    if (rest >= 3 && (memcmp(t, "```", 3) == 0 || memcmp(t, "~~~", 3) == 0)) {
        *in_fence = !*in_fence;
        mark_end(c, END_PARAGRAPH);
        return VKT_OK;
    }
    if (*in_fence) {
        VKT_TRY(add_words(c, t, e));
        mark_end(c, END_SENTENCE);
        return VKT_OK;
    }
    int level = t - ls <= 3 ? heading_level(t, e) : 0;
    if (level) {
        VKT_TRY(flush_section(c));
        return set_heading(c, level, t, e);
    }
    if (is_rule(t, e)) {
        mark_end(c, END_PARAGRAPH);
        return VKT_OK;
    }
    if (rest >= 2 && strchr("-*+", *t) && (t[1] == ' ' || t[1] == '\t')) {
        mark_end(c, END_PARAGRAPH);
        t += 2;
    } else {
        const char *d = t;
        while (d < e && *d >= '0' && *d <= '9') d++;
        if (d > t && d + 1 < e && (*d == '.' || *d == ')') && (d[1] == ' ' || d[1] == '\t')) mark_end(c, END_PARAGRAPH);
    }
    return add_words(c, t, e);
}

static vkt_status chunk_lines(chunker *c, const char *text, size_t len) {
    bool in_fence = false;
    for (const char *ls = text, *end = text + len; ls < end;) {
        const char *le = memchr(ls, '\n', (size_t)(end - ls));
        if (!le) le = end;
        const char *t = ls;
        while (t < le && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
        const char *e = le;
        while (e > t && is_space(e[-1])) e--;
        if (t == e && !in_fence)
            mark_end(c, END_PARAGRAPH);
        else if (c->o->markdown)
            VKT_TRY(markdown_line(c, ls, t, e, &in_fence));
        else
            VKT_TRY(add_words(c, t, e));
        ls = le + 1;
    }
    mark_end(c, END_PARAGRAPH);
    return flush_section(c);
}

vkt_status vkt_rag_chunk(const char *text, size_t len, const vkt_rag_chunk_opts *opts, const char *name,
                         vkt_rag_passages *out) {
    VKT_TRY(vkt_rag_chunk_check(opts));
    if (len > MAX_TEXT_BYTES) {
        vkt_log_error("%s: %zu bytes is over the 1 GiB a document may have; split it into smaller files", name, len);
        return VKT_ERR_ARG;
    }
    if (len == 0) text = ""; /* an empty file maps to NULL; no arithmetic on it */
    chunker c = {.o = opts, .out = out, .out_cap = out->n};
    vkt_status s = chunk_lines(&c, text, len);
    free(c.w);
    free(c.heading);
    for (int i = 0; i < 6; i++) free(c.levels[i]);
    if (s == VKT_OK) return VKT_OK;
    if (s == VKT_ERR_OOM) vkt_log_error("%s: out of memory while chunking %zu bytes", name, len);
    vkt_rag_passages_free(out);
    return s;
}
