/* The BPE merge engine and per-segment encoding for both BPE kinds.
 *
 * Merging: a doubly linked list over the symbols and a binary heap of candidate pairs keyed by
 * (rank, position). Popping the lowest key and re-validating it against the list gives the same
 * result as the reference loops, in O(n log n):
 *   - GPT-2 encoder.py merges every occurrence of the lowest-ranked pair left to right; a pair
 *     created by a merge always ranks after the merge that created its token, so taking
 *     occurrences one at a time, leftmost first, is equivalent.
 *   - llama2.c merges the best-scoring pair, leftmost on ties, one at a time; ranks derived from
 *     scores (equal scores -> equal rank) reproduce that order exactly.
 *   - Hugging Face's BPE model uses the same (rank, position) heap.
 * Encoded words of byte-level BPE (and split SentencePiece) are cached by their bytes. A byte-level
 * tokenizer loaded from tokenizer.json cuts segments into words with its pre-tokenizer steps
 * (tok_pretok.c); the others use add_prefix_space / use_regex. With ignore_merges (Llama 3), a word
 * that is itself in the vocabulary is one token, whatever the merges would make of it. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_pretok.h"
#include "data/tok_unicode.h"

typedef struct {
    int32_t rank, pos, a, b;
} heap_ent;

typedef struct {
    int32_t *next, *prev; /* (cap) */
    heap_ent *heap;       /* (3 * cap): n - 1 initial pairs + at most 2 per merge */
} scratch_t;

static bool ent_less(const heap_ent *x, const heap_ent *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n) {
    heap_ent top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && ent_less(&h[c + 1], &h[c])) c++;
        if (!ent_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static scratch_t *scratch_get(vkt_tokenizer *t, size_t n) {
    if (n > t->scratch_cap || !t->scratch) {
        size_t cap = n < 256 ? 256 : n;
        size_t bytes = sizeof(scratch_t) + 2 * cap * sizeof(int32_t) + 3 * cap * sizeof(heap_ent);
        void *m = malloc(bytes);
        if (!m) return NULL;
        free(t->scratch);
        t->scratch = m;
        t->scratch_cap = cap;
        scratch_t *s = m;
        s->heap = (heap_ent *)(s + 1);
        s->next = (int32_t *)(s->heap + 3 * cap);
        s->prev = s->next + cap;
    }
    return t->scratch;
}

static void push_pair(vkt_tokenizer *t, scratch_t *s, size_t *hn, const int32_t *ids, int32_t i, int32_t j) {
    if (i < 0 || j < 0) return;
    const vkt_pair_slot *m = vkt_pairmap_get(&t->merges, ids[i], ids[j]);
    if (m) heap_push(s->heap, hn, (heap_ent){m->rank, i, ids[i], ids[j]});
}

int64_t vkt_tok_bpe_merge(vkt_tokenizer *t, int32_t *ids, size_t n) {
    if (n < 2 || t->merges.n == 0) return (int64_t)n;
    scratch_t *s = scratch_get(t, n);
    if (!s) return -1;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        s->prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, s, &hn, ids, (int32_t)i, (int32_t)i + 1);
    while (hn) {
        heap_ent e = heap_pop(s->heap, &hn);
        int32_t j = s->next[e.pos];
        if (ids[e.pos] != e.a || j < 0 || ids[j] != e.b) continue; /* stale candidate */
        ids[e.pos] = vkt_pairmap_get(&t->merges, e.a, e.b)->id;
        ids[j] = -1;
        s->next[e.pos] = s->next[j];
        if (s->next[j] >= 0) s->prev[s->next[j]] = e.pos;
        push_pair(t, s, &hn, ids, s->prev[e.pos], e.pos);
        push_pair(t, s, &hn, ids, e.pos, s->next[e.pos]);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0) ids[k++] = ids[i];
    return (int64_t)k;
}

enum { CACHE_MAX_WORD = 256, CACHE_MAX_ENTRIES = 1 << 20 };

static vkt_status cache_put(vkt_tokenizer *t, const char *w, size_t n, const int32_t *ids, size_t k) {
    if (n > CACHE_MAX_WORD || t->cache_len >= CACHE_MAX_ENTRIES) return VKT_OK;
    if (t->cache_len == t->cache_cap) {
        size_t cap = t->cache_cap ? t->cache_cap * 2 : 4096;
        uint32_t *o = realloc(t->cache_off, cap * sizeof *o);
        if (!o) return VKT_ERR_OOM;
        t->cache_off = o;
        uint32_t *c = realloc(t->cache_n, cap * sizeof *c);
        if (!c) return VKT_ERR_OOM;
        t->cache_n = c;
        t->cache_cap = cap;
    }
    t->cache_off[t->cache_len] = (uint32_t)t->cache_ids.len;
    t->cache_n[t->cache_len] = (uint32_t)k;
    for (size_t i = 0; i < k; i++) VKT_TRY(vkt_tok_ids_push(&t->cache_ids, ids[i]));
    VKT_TRY(vkt_strmap_put(&t->cache, w, n, (int32_t)t->cache_len, NULL));
    t->cache_len++;
    return VKT_OK;
}

/* Appends the merged ids of a word whose initial symbols are pushed by init(). */
static vkt_status word_done(vkt_tokenizer *t, const char *w, size_t n, vkt_tok_ids *out, size_t start) {
    int64_t k = vkt_tok_bpe_merge(t, out->data + start, out->len - start);
    if (k < 0) return VKT_ERR_OOM;
    out->len = start + (size_t)k;
    return cache_put(t, w, n, out->data + start, (size_t)k);
}

static bool cache_hit(vkt_tokenizer *t, const char *w, size_t n, vkt_tok_ids *out, vkt_status *st) {
    int32_t e = n <= CACHE_MAX_WORD ? vkt_strmap_get(&t->cache, w, n) : -1;
    if (e < 0) return false;
    *st = VKT_OK;
    for (uint32_t i = 0; i < t->cache_n[e] && *st == VKT_OK; i++)
        *st = vkt_tok_ids_push(out, t->cache_ids.data[t->cache_off[e] + i]);
    return true;
}

static vkt_status bytelevel_word(vkt_tokenizer *t, const char *w, size_t n, vkt_tok_ids *out) {
    vkt_status st;
    if (cache_hit(t, w, n, out, &st)) return st;
    if (t->ignore_merges) {
        int32_t id = vkt_strmap_get(&t->pieces, w, n);
        if (id >= 0) return vkt_tok_ids_push(out, id);
    }
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) VKT_TRY(vkt_tok_ids_push(out, t->byte_id[(uint8_t)w[i]]));
    return word_done(t, w, n, out, start);
}

static vkt_status sp_word(vkt_tokenizer *t, const char *w, size_t n, vkt_tok_ids *out) {
    vkt_status st;
    if (cache_hit(t, w, n, out, &st)) return st;
    if (t->ignore_merges) {
        int32_t id = vkt_strmap_get(&t->pieces, w, n);
        if (id >= 0) return vkt_tok_ids_push(out, id);
    }
    size_t start = out->len;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = vkt_utf8_decode((const uint8_t *)w + i, n - i, &l);
        int32_t id = vkt_strmap_get(&t->pieces, w + i, l);
        if (id >= 0) {
            VKT_TRY(vkt_tok_ids_push(out, id));
        } else if (t->byte_fallback) {
            for (size_t k = 0; k < l; k++) {
                int32_t b = t->byte_id[(uint8_t)w[i + k]];
                if (b < 0) b = t->unk;
                if (b < 0) goto no_token;
                VKT_TRY(vkt_tok_ids_push(out, b));
            }
        } else if (t->unk >= 0) {
            bool fuse = t->fuse_unk && out->len > start && out->data[out->len - 1] == t->unk;
            if (!fuse) VKT_TRY(vkt_tok_ids_push(out, t->unk));
        } else {
        no_token:
            vkt_log_error("tokenizer: character U+%04X has no token, and the tokenizer has neither byte fallback "
                          "nor an unknown token; use a tokenizer with byte_fallback or an unk_token",
                          cp);
            return VKT_ERR_ARG;
        }
        i += l;
    }
    return word_done(t, w, n, out, start);
}

/* Encodes one word and, with ow, lays its tokens along it (word byte i >= inserted is level
 * position at + i - inserted). */
static vkt_status emit_word(vkt_tokenizer *t, const char *w, size_t n, size_t at, size_t inserted, vkt_tok_ids *out,
                            const vkt_tok_offw *ow) {
    size_t start = out->len;
    VKT_TRY(t->kind == VKT_TOK_SP_BPE ? sp_word(t, w, n, out) : bytelevel_word(t, w, n, out));
    if (!ow) return VKT_OK;
    return vkt_tok_offw_word(t, ow, w, n, at, inserted, out->data + start, out->len - start);
}

typedef struct {
    vkt_tokenizer *t;
    vkt_tok_ids *out;
    const vkt_tok_offw *ow;
} word_ctx;

static vkt_status pretok_word(void *vc, const char *w, size_t n, size_t at, size_t inserted) {
    word_ctx *c = vc;
    return emit_word(c->t, w, n, at, inserted, c->out, c->ow);
}

vkt_status vkt_tok_encode_segment(vkt_tokenizer *t, const char *s, size_t n, bool at_start, vkt_tok_ids *out,
                                  const vkt_tok_offw *ow) {
    if (t->kind == VKT_TOK_BYTE_BPE && t->pre) {
        word_ctx c = {t, out, ow};
        return vkt_tok_pretok_run(t->pre, s, n, pretok_word, &c);
    }
    char *tmp = NULL;
    bool prefix;
    if (t->kind == VKT_TOK_SP_BPE)
        prefix = t->sp_prefix && n > 0 && !(t->sp_meta && s[0] == ' ') && (at_start || !t->sp_first);
    else
        prefix = t->add_prefix_space && (n == 0 || s[0] != ' ');
    if (prefix) {
        tmp = malloc(n + 1);
        if (!tmp) return VKT_ERR_OOM;
        tmp[0] = ' ';
        memcpy(tmp + 1, s, n);
        s = tmp, n++;
    }
    size_t ins = prefix ? 1 : 0; /* word start i in s is level position i - ins (or 0 inside the prefix) */
    vkt_status st = VKT_OK;
    for (size_t i = 0; i < n && st == VKT_OK;) {
        size_t j;
        if (t->kind == VKT_TOK_BYTE_BPE) {
            j = i + (t->use_regex ? vkt_tok_gpt2_split(s + i, n - i) : n - i);
        } else if (t->sp_split || t->sp_cut) {
            /* Metaspace split: a word starts at every space. Cut: a word starts at a space that follows
             * a non-space (no token spans such a boundary, so the merges are the same as for the whole). */
            j = i + 1;
            while (j < n && !(s[j] == ' ' && (t->sp_split || s[j - 1] != ' '))) j++;
        } else {
            j = n;
        }
        st = emit_word(t, s + i, j - i, i > ins ? i - ins : 0, i < ins ? ins - i : 0, out, ow);
        i = j;
    }
    free(tmp);
    return st;
}
