/* Byte-level BPE training (see tok_train.h).
 *
 * Words: distinct pre-tokens with their counts, each an array of token ids. Pairs: a table of
 * (left, right) -> count and the words that contain it. A max-heap holds (count, left, right)
 * candidates; an entry whose count is out of date is skipped when popped (every count change
 * pushes a fresh entry). Merging a pair rewrites only the words listed for it: their pair
 * counts are subtracted, the word is merged left to right (non-overlapping), and the new pairs are
 * added back. Cost per merge is proportional to the affected words, not the corpus. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_train.h"
#include "data/tok_unicode.h"

typedef struct {
    int64_t count;
    int32_t a, b, p;
} cand;

typedef struct {
    int32_t *w; /* owned: word indices (may repeat; deduplicated when read) */
    uint32_t n, cap;
} occ_list;

typedef struct {
    /* words */
    vkt_strmap word_index; /* word bytes -> index; owns keys */
    int64_t *freq;         /* owned (n_words) */
    uint32_t *off, *len;   /* owned (n_words): span of sym */
    int32_t *sym;          /* owned (total symbols) */
    int32_t n_words, cap_words;
    int64_t n_sym;
    /* tokens */
    char **tok;           /* owned (n_tok), each owned: bytes of each id */
    uint32_t *tok_len;    /* owned (n_tok) */
    vkt_strmap tok_index; /* token bytes -> id; keys borrowed from tok */
    int32_t n_tok;
    int32_t *merge_a, *merge_b, *merge_id; /* owned (n_merges) */
    int32_t n_merges;
    /* pairs */
    vkt_pairmap pair_index;   /* (a, b) -> pair index in .rank */
    int64_t *count, *before;  /* owned (cap_pairs) */
    int32_t *pa, *pb, *stamp; /* owned (cap_pairs) */
    occ_list *occ;            /* owned (cap_pairs) */
    int32_t n_pairs, cap_pairs;
    int32_t *touched; /* owned (cap_pairs): pairs changed in this step */
    int32_t n_touched;
    int32_t *word_stamp; /* owned (n_words) */
    cand *heap;          /* owned (cap_heap) */
    size_t n_heap, cap_heap;
} trainer;

static bool cand_before(const cand *x, const cand *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static vkt_status heap_push(trainer *t, cand c) {
    if (t->n_heap == t->cap_heap) {
        size_t cap = t->cap_heap ? t->cap_heap * 2 : 4096;
        cand *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return VKT_ERR_OOM;
        t->heap = h, t->cap_heap = cap;
    }
    size_t i = t->n_heap++;
    while (i > 0 && cand_before(&c, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = c;
    return VKT_OK;
}

static cand heap_pop(trainer *t) {
    cand top = t->heap[0], last = t->heap[--t->n_heap];
    size_t i = 0, n = t->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!cand_before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n) t->heap[i] = last;
    return top;
}

static vkt_status add_word(trainer *t, const char *w, size_t n) {
    int32_t i = vkt_strmap_get(&t->word_index, w, n);
    if (i >= 0) {
        t->freq[i]++;
        return VKT_OK;
    }
    i = t->n_words;
    if (i == t->cap_words) {
        int32_t cap = t->cap_words ? t->cap_words * 2 : 4096;
        int64_t *f = realloc(t->freq, (size_t)cap * sizeof *f);
        if (f) t->freq = f;
        uint32_t *o = realloc(t->off, (size_t)cap * sizeof *o);
        if (o) t->off = o;
        uint32_t *l = realloc(t->len, (size_t)cap * sizeof *l);
        if (l) t->len = l;
        if (!f || !o || !l) return VKT_ERR_OOM;
        t->cap_words = cap;
    }
    t->freq[i] = 1;
    t->off[i] = (uint32_t)t->n_sym; /* symbols are filled after counting */
    t->len[i] = (uint32_t)n;
    t->n_sym += (int64_t)n;
    t->n_words++;
    return vkt_strmap_put(&t->word_index, w, n, i, NULL);
}

/* Index of pair (a, b), created with count 0 when new. */
static vkt_status pair_get(trainer *t, int32_t a, int32_t b, int32_t *out) {
    const vkt_pair_slot *s = vkt_pairmap_get(&t->pair_index, a, b);
    if (s) {
        *out = s->rank;
        return VKT_OK;
    }
    int32_t p = t->n_pairs;
    if (p == t->cap_pairs) {
        int32_t cap = t->cap_pairs ? t->cap_pairs * 2 : 4096;
        int64_t *c = realloc(t->count, (size_t)cap * sizeof *c);
        if (c) t->count = c;
        int64_t *bf = realloc(t->before, (size_t)cap * sizeof *bf);
        if (bf) t->before = bf;
        int32_t *x = realloc(t->pa, (size_t)cap * sizeof *x);
        if (x) t->pa = x;
        int32_t *y = realloc(t->pb, (size_t)cap * sizeof *y);
        if (y) t->pb = y;
        int32_t *st = realloc(t->stamp, (size_t)cap * sizeof *st);
        if (st) t->stamp = st;
        int32_t *tc = realloc(t->touched, (size_t)cap * sizeof *tc);
        if (tc) t->touched = tc;
        occ_list *o = realloc(t->occ, (size_t)cap * sizeof *o);
        if (o) t->occ = o;
        if (!c || !bf || !x || !y || !st || !tc || !o) return VKT_ERR_OOM;
        t->cap_pairs = cap;
    }
    t->count[p] = 0, t->pa[p] = a, t->pb[p] = b, t->stamp[p] = -1;
    memset(&t->occ[p], 0, sizeof t->occ[p]);
    t->n_pairs++;
    *out = p;
    return vkt_pairmap_put(&t->pair_index, a, b, p, 0, NULL);
}

static vkt_status occ_add(occ_list *o, int32_t w) {
    if (o->n && o->w[o->n - 1] == w) return VKT_OK;
    if (o->n == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 4;
        int32_t *x = realloc(o->w, cap * sizeof *x);
        if (!x) return VKT_ERR_OOM;
        o->w = x, o->cap = cap;
    }
    o->w[o->n++] = w;
    return VKT_OK;
}

/* Adds delta to the count of pair (a, b) for word w, remembering the first change in this step. */
static vkt_status bump(trainer *t, int32_t a, int32_t b, int64_t delta, int32_t w, int32_t step) {
    int32_t p;
    VKT_TRY(pair_get(t, a, b, &p));
    if (t->stamp[p] != step) {
        t->stamp[p] = step;
        t->before[p] = t->count[p];
        t->touched[t->n_touched++] = p;
    }
    t->count[p] += delta;
    return delta > 0 ? occ_add(&t->occ[p], w) : VKT_OK;
}

static vkt_status new_token(trainer *t, int32_t a, int32_t b, int32_t *id) {
    size_t la = t->tok_len[a], lb = t->tok_len[b];
    char *s = malloc(la + lb + 1);
    if (!s) return VKT_ERR_OOM;
    memcpy(s, t->tok[a], la);
    memcpy(s + la, t->tok[b], lb);
    *id = vkt_strmap_get(&t->tok_index, s, la + lb);
    if (*id >= 0) { /* the same bytes were already made by another pair */
        free(s);
        return VKT_OK;
    }
    *id = t->n_tok;
    t->tok[*id] = s, t->tok_len[*id] = (uint32_t)(la + lb);
    t->n_tok++;
    return vkt_strmap_put(&t->tok_index, s, la + lb, *id, NULL);
}

static vkt_status merge_pair(trainer *t, int32_t p, int32_t id, int32_t step) {
    int32_t a = t->pa[p], b = t->pb[p];
    occ_list words = t->occ[p];
    memset(&t->occ[p], 0, sizeof t->occ[p]);
    t->n_touched = 0;
    vkt_status s = VKT_OK;
    for (uint32_t k = 0; k < words.n && s == VKT_OK; k++) {
        int32_t w = words.w[k];
        if (t->word_stamp[w] == step) continue;
        t->word_stamp[w] = step;
        int32_t *x = t->sym + t->off[w];
        uint32_t n = t->len[w], j = 0;
        int64_t f = t->freq[w];
        bool has = false;
        for (uint32_t i = 0; i + 1 < n; i++) has |= x[i] == a && x[i + 1] == b;
        if (!has) continue;
        for (uint32_t i = 0; i + 1 < n && s == VKT_OK; i++) s = bump(t, x[i], x[i + 1], -f, w, step);
        for (uint32_t i = 0; i < n;) {
            if (i + 1 < n && x[i] == a && x[i + 1] == b)
                x[j++] = id, i += 2;
            else
                x[j++] = x[i++];
        }
        t->len[w] = j;
        for (uint32_t i = 0; i + 1 < j && s == VKT_OK; i++) s = bump(t, x[i], x[i + 1], f, w, step);
    }
    free(words.w);
    for (int32_t i = 0; i < t->n_touched && s == VKT_OK; i++) {
        int32_t q = t->touched[i];
        if (t->count[q] != t->before[q] && t->count[q] > 0)
            s = heap_push(t, (cand){t->count[q], t->pa[q], t->pb[q], q});
    }
    return s;
}

/* Pre-tokenizes text (skipping the special strings) into counted words. */
static vkt_status count_words(trainer *t, const char *text, size_t len, const vkt_tok_train_opts *o) {
    size_t pos = 0;
    while (pos < len) {
        size_t stop = len, skip = 0;
        for (int32_t k = 0; k < o->n_special; k++) {
            size_t sl = strlen(o->special[k]);
            if (!sl) continue;
            for (size_t i = pos; i + sl <= stop; i++) {
                const char *p = memchr(text + i, o->special[k][0], stop - sl + 1 - i);
                if (!p) break;
                i = (size_t)(p - text);
                if (memcmp(p, o->special[k], sl) == 0) {
                    stop = i, skip = sl;
                    break;
                }
            }
        }
        for (size_t i = pos; i < stop;) {
            size_t l = vkt_tok_gpt2_split(text + i, stop - i);
            VKT_TRY(add_word(t, text + i, l));
            i += l;
        }
        pos = stop + skip;
    }
    return VKT_OK;
}

static vkt_status fill_symbols(trainer *t) {
    t->sym = malloc((size_t)(t->n_sym + 1) * sizeof *t->sym);
    t->word_stamp = malloc((size_t)(t->n_words + 1) * sizeof *t->word_stamp);
    if (!t->sym || !t->word_stamp) return VKT_ERR_OOM;
    for (size_t i = 0; i < t->word_index.cap; i++) {
        int32_t w = t->word_index.vals[i];
        if (w < 0) continue;
        const char *k = t->word_index.keys[i];
        for (uint32_t j = 0; j < t->len[w]; j++) t->sym[t->off[w] + j] = (uint8_t)k[j];
    }
    for (int32_t w = 0; w < t->n_words; w++) {
        t->word_stamp[w] = -1;
        int32_t *x = t->sym + t->off[w];
        for (uint32_t j = 0; j + 1 < t->len[w]; j++) VKT_TRY(bump(t, x[j], x[j + 1], t->freq[w], w, -2));
    }
    for (int32_t p = 0; p < t->n_pairs; p++) {
        t->stamp[p] = -1;
        if (t->count[p] > 0) VKT_TRY(heap_push(t, (cand){t->count[p], t->pa[p], t->pb[p], p}));
    }
    t->n_touched = 0;
    return VKT_OK;
}

static vkt_status learn(trainer *t, int32_t target, int64_t min_freq) {
    while (t->n_tok < target && t->n_heap) {
        cand c = heap_pop(t);
        if (c.count != t->count[c.p] || c.count <= 0) continue; /* out of date */
        if (c.count < min_freq) break;
        int32_t id;
        VKT_TRY(new_token(t, c.a, c.b, &id));
        t->merge_a[t->n_merges] = c.a, t->merge_b[t->n_merges] = c.b, t->merge_id[t->n_merges] = id;
        VKT_TRY(merge_pair(t, c.p, id, t->n_merges++));
    }
    return VKT_OK;
}

static vkt_status build(trainer *t, const vkt_tok_train_opts *o, vkt_tokenizer **out) {
    vkt_tokenizer *k;
    VKT_TRY(vkt_tok_alloc(VKT_TOK_BYTE_BPE, t->n_tok + o->n_special, &k));
    vkt_status s = VKT_OK;
    for (int32_t i = 0; i < t->n_tok && s == VKT_OK; i++)
        s = vkt_tok_set_piece(k, i, t->tok[i], t->tok_len[i], 0, "train");
    for (int32_t i = 0; i < o->n_special && s == VKT_OK; i++) {
        s = vkt_tok_set_piece(k, t->n_tok + i, o->special[i], strlen(o->special[i]), VKT_TOKF_SPECIAL, "train");
        if (s == VKT_OK) s = vkt_tok_add_added(k, t->n_tok + i);
    }
    if (s == VKT_OK) s = vkt_tok_finish(k, "train");
    for (int32_t r = 0; r < t->n_merges && s == VKT_OK; r++)
        s = vkt_pairmap_put(&k->merges, t->merge_a[r], t->merge_b[r], r, t->merge_id[r], NULL);
    if (o->n_special > 0) k->eot = k->bos = k->eos = t->n_tok;
    if (s != VKT_OK)
        vkt_tok_free(k);
    else
        *out = k;
    return s;
}

static void trainer_free(trainer *t) {
    vkt_strmap_free(&t->word_index);
    vkt_strmap_free(&t->tok_index);
    if (t->tok)
        for (int32_t i = 0; i < t->n_tok; i++) free(t->tok[i]);
    for (int32_t p = 0; t->occ && p < t->n_pairs; p++) free(t->occ[p].w);
    vkt_pairmap_free(&t->pair_index);
    void *owned[] = {t->freq,  t->off,    t->len, t->sym, t->tok,   t->tok_len, t->merge_a, t->merge_b,    t->merge_id,
                     t->count, t->before, t->pa,  t->pb,  t->stamp, t->occ,     t->touched, t->word_stamp, t->heap};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free(owned[i]);
}

vkt_status vkt_tok_train_bpe(const char *text, size_t len, const vkt_tok_train_opts *o, vkt_tokenizer **out) {
    *out = NULL;
    int32_t target = o->vocab_size - o->n_special;
    if (target < 256 || o->n_special < 0 || (o->n_special && !o->special)) {
        vkt_log_error("tokenizer training: vocab_size %d must be at least 256 bytes + %d special tokens", o->vocab_size,
                      o->n_special);
        return VKT_ERR_ARG;
    }
    trainer t;
    memset(&t, 0, sizeof t);
    vkt_status s = vkt_strmap_init(&t.word_index, 1 << 14, true);
    if (s == VKT_OK) s = vkt_strmap_init(&t.tok_index, (size_t)target, false);
    if (s == VKT_OK) s = vkt_pairmap_init(&t.pair_index, 1 << 14);
    t.tok = calloc((size_t)target, sizeof *t.tok);
    t.tok_len = calloc((size_t)target, sizeof *t.tok_len);
    t.merge_a = malloc((size_t)target * sizeof *t.merge_a);
    t.merge_b = malloc((size_t)target * sizeof *t.merge_b);
    t.merge_id = malloc((size_t)target * sizeof *t.merge_id);
    if (!t.tok || !t.tok_len || !t.merge_a || !t.merge_b || !t.merge_id) s = VKT_ERR_OOM;
    for (int b = 0; b < 256 && s == VKT_OK; b++) {
        t.tok[b] = malloc(1);
        if (!t.tok[b])
            s = VKT_ERR_OOM;
        else {
            t.tok[b][0] = (char)b, t.tok_len[b] = 1;
            t.n_tok++;
            s = vkt_strmap_put(&t.tok_index, t.tok[b], 1, b, NULL);
        }
    }
    if (s == VKT_OK) s = count_words(&t, text, len, o);
    if (s == VKT_OK) s = fill_symbols(&t);
    if (s == VKT_OK) s = learn(&t, target, o->min_frequency);
    if (s == VKT_OK && t.n_tok < target)
        vkt_log_warn("tokenizer training: the corpus ran out of pairs at %d of %d ids", t.n_tok + o->n_special,
                     o->vocab_size);
    if (s == VKT_OK) s = build(&t, o, out);
    trainer_free(&t);
    if (s == VKT_ERR_OOM) vkt_log_error("tokenizer training: out of memory");
    return s;
}
