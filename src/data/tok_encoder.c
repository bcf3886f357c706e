/* vkt_encoder adapter (see tok_encoder.h). The identity hash covers everything encode depends on:
 * token bytes and flags, merges with ranks, and the options, so a token cache keyed on it is
 * invalidated by any change to the tokenizer files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_encoder.h"
#include "data/tok_internal.h"

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int by_key(const void *x, const void *y) {
    const vkt_pair_slot *a = x, *b = y;
    return a->key < b->key ? -1 : a->key > b->key;
}

static vkt_status content_hash(const vkt_tokenizer *t, uint64_t *out) {
    uint64_t h = 1469598103934665603ull;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        h = mix(h, &t->piece_len[i], sizeof t->piece_len[i]);
        h = mix(h, t->piece[i], t->piece_len[i]);
        h = mix(h, &t->flags[i], 1);
    }
    /* Merges in key order (the table's slot order depends on its growth history). */
    vkt_pair_slot *m = malloc((t->merges.n + 1) * sizeof *m);
    if (!m) return VKT_ERR_OOM;
    size_t n = 0;
    for (size_t i = 0; i < t->merges.cap; i++)
        if (t->merges.slots[i].key != UINT64_MAX) m[n++] = t->merges.slots[i];
    qsort(m, n, sizeof *m, by_key);
    for (size_t i = 0; i < n; i++) {
        h = mix(h, &m[i].key, sizeof m[i].key);
        h = mix(h, &m[i].rank, sizeof m[i].rank);
        h = mix(h, &m[i].id, sizeof m[i].id);
    }
    free(m);
    bool opts[] = {t->add_prefix_space, t->use_regex, t->sp_prefix,    t->sp_split,
                   t->byte_fallback,    t->fuse_unk,  t->ignore_merges};
    h = mix(h, opts, sizeof opts);
    if (t->config_hash) h = mix(h, &t->config_hash, sizeof t->config_hash);
    *out = h;
    return VKT_OK;
}

static int64_t encode_cb(void *ctx, const char *text, size_t len, int32_t *out_ids, int64_t cap) {
    vkt_tokenizer *t = ctx;
    t->enc_buf.len = 0;
    vkt_status s = vkt_tok_encode(t, text, len, false, &t->enc_buf);
    if (s != VKT_OK) return s;
    int64_t n = (int64_t)t->enc_buf.len;
    if (n <= cap) memcpy(out_ids, t->enc_buf.data, (size_t)n * sizeof *out_ids);
    return n;
}

vkt_status vkt_tok_encoder(vkt_tokenizer *t, vkt_encoder *enc) {
    static const char *kinds[] = {"bytes", "byte-bpe", "sp-bpe"};
    uint64_t h;
    VKT_TRY(content_hash(t, &h));
    snprintf(t->identity, sizeof t->identity, "%s:%d:%016llx", kinds[t->kind], t->n_vocab, (unsigned long long)h);
    memset(enc, 0, sizeof *enc);
    enc->encode = encode_cb;
    enc->ctx = t;
    enc->identity = t->identity;
    enc->vocab_size = t->n_vocab;
    enc->eot_id = vkt_tok_eot(t) >= 0 ? vkt_tok_eot(t) : 0;
    return VKT_OK;
}
