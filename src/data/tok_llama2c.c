/* llama2.c tokenizer.bin: int32 max_token_length, then per token {float32 score, int32 len,
 * len bytes}, little endian. Spaces are stored as ' ' (llama2.c's export replaced U+2581).
 * Encoding follows llama2.c's run.c rules: a ' ' is prepended to non-empty text, each UTF-8
 * character becomes its token or its <0xXX> byte tokens, then the adjacent pair whose concatenation
 * is the best-scoring token merges, leftmost on ties, until none applies. Here that becomes a merge
 * table: every split of a token into two tokens, ranked by the token's score.
 * Ids 0, 1, 2 are named "<unk>", "<s>", "</s>" (the file spells BOS/EOS "\n<s>\n"/"\n</s>\n"). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_internal.h"

static const float *g_scores; /* qsort context; load is not reentrant across threads for this sort */

static int by_score_desc(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    if (g_scores[a] != g_scores[b]) return g_scores[a] > g_scores[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

static vkt_status build_merges(vkt_tokenizer *t, const float *score) {
    int32_t *order = malloc((size_t)t->n_vocab * sizeof *order);
    int32_t *rank = malloc((size_t)t->n_vocab * sizeof *rank);
    vkt_status s = order && rank ? VKT_OK : VKT_ERR_OOM;
    for (int32_t i = 0; i < t->n_vocab && s == VKT_OK; i++) order[i] = i;
    if (s == VKT_OK) {
        g_scores = score;
        qsort(order, (size_t)t->n_vocab, sizeof *order, by_score_desc);
        int32_t r = 0;
        for (int32_t i = 0; i < t->n_vocab; i++) {
            if (i > 0 && score[order[i]] != score[order[i - 1]]) r++;
            rank[order[i]] = r;
        }
    }
    for (int32_t id = 0; id < t->n_vocab && s == VKT_OK; id++) {
        if (t->flags[id] || t->piece_len[id] < 2) continue;
        if (vkt_strmap_get(&t->pieces, t->piece[id], t->piece_len[id]) != id) continue; /* duplicate bytes */
        /* Only a split whose left part is a token can merge. Extending one prefix hash finds those in
         * a single pass; hashing both halves of every split from scratch was quadratic in the token's
         * length (a 64 KiB token, which the format allows, took seconds to load, a minute under ASan). */
        const char *p = t->piece[id];
        uint64_t h = VKT_TOK_HASH_SEED;
        for (uint32_t k = 1; k < t->piece_len[id] && s == VKT_OK; k++) {
            h = vkt_tok_hash_add(h, (uint8_t)p[k - 1]);
            int32_t a = vkt_strmap_get_hashed(&t->pieces, p, k, vkt_tok_hash_end(h));
            if (a < 0) continue;
            int32_t b = vkt_strmap_get(&t->pieces, p + k, t->piece_len[id] - k);
            if (b >= 0) s = vkt_pairmap_put(&t->merges, a, b, rank[id], id, NULL);
        }
    }
    free(order);
    free(rank);
    return s;
}

static int byte_token(const char *p, int32_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    const char *h = strchr(hex, p[3]), *l = strchr(hex, p[4]);
    if (!h || !l || !p[3] || !p[4]) return -1;
    return (int)((h - hex) * 16 + (l - hex));
}

vkt_status vkt_tok_load_llama2c(const char *path, int32_t n_vocab, vkt_tokenizer **out) {
    *out = NULL;
    char *d;
    size_t len;
    VKT_TRY(vkt_tok_read_file(path, "llama2.c tokenizer", &d, &len));
    vkt_status s = vkt_tok_load_llama2c_mem(d, len, n_vocab, path, out);
    free(d);
    return s;
}

vkt_status vkt_tok_load_llama2c_mem(const void *data, size_t len, int32_t n_vocab, const char *path,
                                    vkt_tokenizer **out) {
    *out = NULL;
    const char *d = data;
    vkt_tokenizer *t = NULL;
    float *score = NULL;
    vkt_status s = VKT_ERR_FORMAT;
    /* First pass: count and validate records. */
    int32_t n = 0;
    size_t off = 4;
    if (len < 4) {
        vkt_log_error("%s: %zu bytes is too short for the header (int32 max_token_length); is this a llama2.c "
                      "tokenizer.bin?",
                      path, len);
        goto cleanup;
    }
    while (off < len && (n_vocab <= 0 || n < n_vocab)) {
        int32_t l;
        if (len - off < 8) break;
        memcpy(&l, d + off + 4, 4);
        if (l < 0 || l > (1 << 16) || (size_t)l > len - off - 8) {
            vkt_log_error("%s: token %d at byte %zu has length %d, past the end of the file or implausible; the "
                          "file is truncated or not a llama2.c tokenizer",
                          path, n, off, l);
            goto cleanup;
        }
        off += 8 + (size_t)l;
        n++;
    }
    if (off != len && (n_vocab <= 0 || n < n_vocab)) {
        vkt_log_error("%s: %zu stray bytes after token %d; the file is truncated mid-record", path, len - off, n);
        goto cleanup;
    }
    if (n_vocab > 0 && n != n_vocab) {
        vkt_log_error("%s: holds %d tokens but the model expects %d; use the tokenizer trained with the model", path, n,
                      n_vocab);
        goto cleanup;
    }
    if (n < 3) {
        vkt_log_error("%s: holds %d tokens; llama2.c needs at least <unk>, BOS and EOS", path, n);
        goto cleanup;
    }
    s = vkt_tok_alloc(VKT_TOK_SP_BPE, n, &t);
    score = malloc((size_t)n * sizeof *score);
    if (s == VKT_OK && !score) s = VKT_ERR_OOM;
    off = 4;
    for (int32_t id = 0; id < n && s == VKT_OK; id++) {
        int32_t l;
        memcpy(&score[id], d + off, 4);
        memcpy(&l, d + off + 4, 4);
        const char *p = d + off + 8;
        off += 8 + (size_t)l;
        int b = byte_token(p, l);
        if (id < 3) { /* stored as "<unk>", "\n<s>\n", "\n</s>\n"; canonical names keep tokenizer.json exports usable */
            static const char *names[] = {"<unk>", "<s>", "</s>"};
            p = names[id], l = (int32_t)strlen(names[id]);
        }
        uint8_t f = id < 3 ? VKT_TOKF_SPECIAL : b >= 0 ? VKT_TOKF_BYTE : 0;
        if (b >= 0) {
            char ch = (char)b;
            t->byte_id[b] = id;
            s = vkt_tok_set_piece(t, id, &ch, 1, f, path);
        } else {
            s = vkt_tok_set_piece(t, id, p, (size_t)l, f, path);
        }
        /* As Hugging Face's Llama tokenizers: "<s>", "</s>" in a text encoded with special tokens parsed (a
         * rendered chat template) are those tokens, not their letters. */
        if (s == VKT_OK && id < 3) s = vkt_tok_add_added(t, id);
    }
    if (s == VKT_OK) s = vkt_tok_finish(t, path);
    if (s == VKT_OK) s = build_merges(t, score);
    if (s == VKT_OK) {
        t->unk = 0, t->bos = 1, t->eos = 2;
        t->sp_prefix = true;
        t->byte_fallback = true;
    }
cleanup:
    free(score);
    if (s != VKT_OK)
        vkt_tok_free(t);
    else
        *out = t;
    return s;
}
