/* Token offsets for vkt_tok_encode_offsets: the growable offset array, and laying the tokens of one
 * word along the word's bytes.
 *
 * The encoder (tokenizer.c, tok_bpe.c) knows where each word starts, so offsets need no search
 * through the text: within a word the tokens' pieces concatenate to the word's bytes (BPE merges
 * adjacent symbols, byte-fallback tokens hold one byte each), except the unknown token, whose piece
 * ("<unk>") is not text. Positions then go through the level's map (normalized -> raw) and base
 * (tok_internal.h, vkt_tok_offw). What the offsets mean is documented at vkt_tok_encode_offsets. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_unicode.h"

vkt_status vkt_tok_offsets_push(vkt_tok_offsets *v, int64_t begin, int64_t end) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        vkt_tok_offset *d = realloc(v->data, cap * sizeof *d);
        if (!d) {
            vkt_log_error("tokenizer: out of memory growing an offset array to %zu", cap);
            return VKT_ERR_OOM;
        }
        v->data = d, v->cap = cap;
    }
    v->data[v->len++] = (vkt_tok_offset){begin, end};
    return VKT_OK;
}

void vkt_tok_offsets_free(vkt_tok_offsets *v) {
    free(v->data);
    memset(v, 0, sizeof *v);
}

static int64_t level_to_text(const vkt_tok_offw *w, size_t p) {
    size_t q = w->off + p;
    return w->base + (w->map ? w->map[q] : (int64_t)q);
}

vkt_status vkt_tok_offw_push(const vkt_tok_offw *w, size_t begin, size_t end) {
    return vkt_tok_offsets_push(w->out, level_to_text(w, begin), level_to_text(w, end));
}

static bool piece_fits(const vkt_tokenizer *t, int32_t id, const char *word, size_t n, size_t pos) {
    size_t l = t->piece_len[id];
    return pos + l <= n && memcmp(word + pos, t->piece[id], l) == 0;
}

static size_t next_char(const char *word, size_t n, size_t pos) {
    size_t l;
    vkt_utf8_decode((const uint8_t *)word + pos, n - pos, &l);
    return pos + l;
}

vkt_status vkt_tok_offw_word(const vkt_tokenizer *t, const vkt_tok_offw *w, const char *word, size_t n, size_t at,
                             size_t inserted, const int32_t *ids, size_t k) {
    size_t pos = 0;
    for (size_t i = 0; i < k; i++) {
        int32_t id = ids[i];
        size_t b = pos, e;
        if (pos >= n) {
            e = n;
        } else if (piece_fits(t, id, word, n, pos)) {
            e = pos + t->piece_len[id];
        } else if (id == t->unk) {
            /* One character, or (fuse_unk) every character up to where the next token's piece fits. */
            e = next_char(word, n, pos);
            if (i + 1 == k)
                e = n;
            else if (ids[i + 1] != t->unk)
                while (e < n && !piece_fits(t, ids[i + 1], word, n, e)) e = next_char(word, n, e);
        } else {
            e = pos + t->piece_len[id] < n ? pos + t->piece_len[id] : n; /* not expected: keep moving */
        }
        pos = e;
        size_t tb = b > inserted ? at + b - inserted : at, te = e > inserted ? at + e - inserted : at;
        VKT_TRY(vkt_tok_offw_push(w, tb, te));
    }
    return VKT_OK;
}
