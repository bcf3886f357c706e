/* Tokenizer handle: construction helpers shared by the loaders, queries, the byte tokenizer,
 * added-token splitting for encode, decode, and loading by name. The BPE merge engine lives in
 * tok_bpe.c, the file formats in tok_gpt2.c, tok_hf.c and tok_llama2c.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_norm.h"
#include "data/tok_pretok.h"

vkt_status vkt_tok_ids_push(vkt_tok_ids *v, int32_t id) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *d = realloc(v->data, cap * sizeof *d);
        if (!d) {
            vkt_log_error("tokenizer: out of memory growing an id array to %zu", cap);
            return VKT_ERR_OOM;
        }
        v->data = d, v->cap = cap;
    }
    v->data[v->len++] = id;
    return VKT_OK;
}

void vkt_tok_ids_free(vkt_tok_ids *v) {
    free(v->data);
    memset(v, 0, sizeof *v);
}

vkt_status vkt_tok_bytes_append(vkt_tok_bytes *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            vkt_log_error("tokenizer: out of memory growing a byte buffer to %zu", cap);
            return VKT_ERR_OOM;
        }
        b->data = d, b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return VKT_OK;
}

void vkt_tok_bytes_free(vkt_tok_bytes *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

vkt_status vkt_tok_alloc(vkt_tok_kind kind, int32_t n_vocab, vkt_tokenizer **out) {
    *out = NULL;
    vkt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return VKT_ERR_OOM;
    t->kind = kind;
    t->n_vocab = n_vocab;
    t->bos = t->eos = t->eot = t->unk = t->pad = -1;
    t->use_regex = true;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    t->piece = calloc((size_t)n_vocab, sizeof *t->piece);
    t->piece_len = calloc((size_t)n_vocab, sizeof *t->piece_len);
    t->flags = calloc((size_t)n_vocab, 1);
    if (!t->piece || !t->piece_len || !t->flags || vkt_strmap_init(&t->pieces, (size_t)n_vocab, false) != VKT_OK ||
        vkt_pairmap_init(&t->merges, 16) != VKT_OK || vkt_strmap_init(&t->cache, 1024, true) != VKT_OK) {
        vkt_tok_free(t);
        vkt_log_error("tokenizer: out of memory for %d tokens", n_vocab);
        return VKT_ERR_OOM;
    }
    *out = t;
    return VKT_OK;
}

void vkt_tok_free(vkt_tokenizer *t) {
    if (!t) return;
    if (t->piece)
        for (int32_t i = 0; i < t->n_vocab; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->flags);
    if (t->added_norm)
        for (int32_t i = 0; i < t->n_added; i++) free(t->added_norm[i]);
    free(t->added_norm);
    free(t->added);
    vkt_tok_norm_free(t->norm);
    vkt_tok_pretok_free(t->pre);
    vkt_tok_bytes_free(&t->norm_buf);
    vkt_strmap_free(&t->pieces);
    vkt_pairmap_free(&t->merges);
    vkt_strmap_free(&t->cache);
    free(t->cache_off);
    free(t->cache_n);
    vkt_tok_ids_free(&t->cache_ids);
    free(t->scratch);
    vkt_tok_ids_free(&t->enc_buf);
    free(t);
}

vkt_status vkt_tok_set_piece(vkt_tokenizer *t, int32_t id, const char *bytes, size_t len, uint8_t flags,
                             const char *src) {
    if (id < 0 || id >= t->n_vocab) {
        vkt_log_error("%s: token id %d is outside 0..%d; the vocabulary ids must be dense", src, id, t->n_vocab - 1);
        return VKT_ERR_FORMAT;
    }
    if (t->piece[id]) {
        vkt_log_error("%s: token id %d is defined twice; each id must appear once", src, id);
        return VKT_ERR_FORMAT;
    }
    char *p = malloc(len + 1);
    if (!p) return VKT_ERR_OOM;
    memcpy(p, bytes, len);
    p[len] = 0;
    t->piece[id] = p, t->piece_len[id] = (uint32_t)len, t->flags[id] = flags;
    if (flags & (VKT_TOKF_SPECIAL | VKT_TOKF_ADDED | VKT_TOKF_BYTE)) return VKT_OK;
    bool existed;
    vkt_status s = vkt_strmap_put(&t->pieces, p, len, id, &existed);
    if (s == VKT_OK && existed)
        vkt_log_debug("%s: token %d repeats the bytes of token %d; the lower id wins", src, id,
                      vkt_strmap_get(&t->pieces, p, len));
    return s;
}

vkt_status vkt_tok_add_added(vkt_tokenizer *t, int32_t id) {
    for (int32_t i = 0; i < t->n_added; i++)
        if (t->added[i] == id) return VKT_OK;
    int32_t *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) return VKT_ERR_OOM;
    t->added = a;
    t->added[t->n_added++] = id;
    return VKT_OK;
}

vkt_status vkt_tok_finish(vkt_tokenizer *t, const char *src) {
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (!t->piece[i]) {
            vkt_log_error("%s: token id %d has no entry (vocabulary of %d ids); ids must be 0..n-1 without gaps", src,
                          i, t->n_vocab);
            return VKT_ERR_FORMAT;
        }
    }
    if (t->kind == VKT_TOK_SP_BPE) {
        t->sp_cut = true;
        for (int32_t i = 0; i < t->n_vocab && t->sp_cut; i++)
            for (uint32_t k = 1; k < t->piece_len[i] && !t->flags[i]; k++)
                if (t->piece[i][k] == ' ' && t->piece[i][k - 1] != ' ') t->sp_cut = false;
    }
    if (t->kind == VKT_TOK_BYTE_BPE) {
        for (int b = 0; b < 256; b++) {
            char c = (char)b;
            t->byte_id[b] = vkt_strmap_get(&t->pieces, &c, 1);
            if (t->byte_id[b] < 0) {
                vkt_log_error("%s: the byte-level vocabulary lacks a token for byte 0x%02X; a byte-level BPE "
                              "needs all 256 single-byte tokens",
                              src, b);
                return VKT_ERR_FORMAT;
            }
        }
    }
    return VKT_OK;
}

vkt_status vkt_tok_init_bytes(vkt_tokenizer **out) {
    vkt_tokenizer *t;
    VKT_TRY(vkt_tok_alloc(VKT_TOK_BYTES, 256, &t));
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        vkt_status s = vkt_tok_set_piece(t, b, &c, 1, 0, "bytes");
        if (s != VKT_OK) {
            vkt_tok_free(t);
            return s;
        }
        t->byte_id[b] = b;
    }
    *out = t;
    return VKT_OK;
}

vkt_tok_kind vkt_tok_get_kind(const vkt_tokenizer *t) { return t->kind; }
int32_t vkt_tok_vocab_size(const vkt_tokenizer *t) { return t->n_vocab; }
int32_t vkt_tok_bos(const vkt_tokenizer *t) { return t->bos; }
int32_t vkt_tok_eos(const vkt_tokenizer *t) { return t->eos; }
int32_t vkt_tok_eot(const vkt_tokenizer *t) { return t->eot >= 0 ? t->eot : t->eos; }
int32_t vkt_tok_pad(const vkt_tokenizer *t) { return t->pad; }
bool vkt_tok_adds_bos(const vkt_tokenizer *t) { return t->add_bos && t->bos >= 0; }
bool vkt_tok_is_special(const vkt_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && (t->flags[id] & VKT_TOKF_SPECIAL);
}

const char *vkt_tok_piece(const vkt_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *len = t->piece_len[id];
    return t->piece[id];
}

int32_t vkt_tok_find(const vkt_tokenizer *t, const char *s, size_t len) {
    for (int32_t i = 0; i < t->n_added; i++) {
        int32_t id = t->added[i];
        if (t->piece_len[id] == len && memcmp(t->piece[id], s, len) == 0) return id;
    }
    return vkt_strmap_get(&t->pieces, s, len);
}

static const char *find_bytes(const char *h, size_t hn, const char *nd, size_t nn) {
    if (nn == 0 || nn > hn) return NULL;
    const char *end = h + hn - nn;
    for (const char *p = h; p <= end; p++) {
        p = memchr(p, nd[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, nd, nn) == 0) return p;
    }
    return NULL;
}

/* An added token to look for: its id, the bytes it is matched by, the next match at or after the
 * scan position (SIZE_MAX: none left). */
typedef struct {
    int32_t id;
    const char *s;
    size_t n, next;
} added_match;

/* Splits text[0..len) at the tokens of m (earliest match, longest on ties, as Hugging Face's
 * leftmost-longest automaton), pushing their ids (and, with ow, their offsets); each plain part goes
 * to plain(part, its offset). */
typedef vkt_status (*plain_fn)(vkt_tokenizer *t, const char *s, size_t n, size_t off, void *ctx);
static vkt_status split_added(vkt_tokenizer *t, const char *text, size_t len, added_match *m, int32_t nm,
                              plain_fn plain, void *ctx, vkt_tok_ids *out, const vkt_tok_offw *ow) {
    for (int32_t i = 0; i < nm; i++) {
        const char *p = find_bytes(text, len, m[i].s, m[i].n);
        m[i].next = p ? (size_t)(p - text) : SIZE_MAX;
    }
    size_t pos = 0;
    while (pos < len) {
        int32_t best = -1;
        for (int32_t i = 0; i < nm; i++) {
            if (m[i].next < pos) {
                const char *p = find_bytes(text + pos, len - pos, m[i].s, m[i].n);
                m[i].next = p ? (size_t)(p - text) : SIZE_MAX;
            }
            if (m[i].next == SIZE_MAX) continue;
            if (best < 0 || m[i].next < m[best].next || (m[i].next == m[best].next && m[i].n > m[best].n)) best = i;
        }
        size_t stop = best < 0 ? len : m[best].next;
        if (stop > pos) VKT_TRY(plain(t, text + pos, stop - pos, pos, ctx));
        if (best < 0) break;
        VKT_TRY(vkt_tok_ids_push(out, m[best].id));
        if (ow) VKT_TRY(vkt_tok_offw_push(ow, stop, stop + m[best].n));
        pos = stop + m[best].n;
    }
    return VKT_OK;
}

typedef struct {
    vkt_tok_ids *out;
    vkt_tok_offsets *offs; /* NULL: no offsets */
    added_match *norm_m;   /* tokens matched in normalized text */
    int32_t n_norm;
    bool at_start;      /* the normalized piece being split began the text */
    const int64_t *map; /* the normalized piece's map to its raw part */
    size_t raw_off;     /* where that raw part starts in the text */
} enc_ctx;

static vkt_status plain_normalized(vkt_tokenizer *t, const char *s, size_t n, size_t off, void *vc) {
    enc_ctx *c = vc;
    vkt_tok_offw ow = {c->offs, c->map, off, (int64_t)c->raw_off};
    return vkt_tok_encode_segment(t, s, n, c->at_start && off == 0, c->out, c->offs ? &ow : NULL);
}

/* A part of the raw text with no raw-matched added token: normalize it, then split it at the
 * normalized added tokens (Hugging Face's two-pass added-vocabulary split). */
static vkt_status plain_raw(vkt_tokenizer *t, const char *s, size_t n, size_t off, void *vc) {
    enc_ctx *c = vc;
    if (!t->norm) {
        vkt_tok_offw ow = {c->offs, NULL, off, 0};
        return vkt_tok_encode_segment(t, s, n, off == 0, c->out, c->offs ? &ow : NULL);
    }
    if (c->offs)
        VKT_TRY(vkt_tok_norm_apply_mapped(t->norm, s, n, &t->norm_buf, &c->map));
    else
        VKT_TRY(vkt_tok_norm_apply(t->norm, s, n, &t->norm_buf));
    c->at_start = off == 0;
    c->raw_off = off;
    vkt_tok_offw ow = {c->offs, c->map, 0, (int64_t)off};
    /* norm_buf and the map are not touched again until this part is done: encode_segment does not
     * normalize. */
    return split_added(t, t->norm_buf.data, t->norm_buf.len, c->norm_m, c->n_norm, plain_normalized, c, c->out,
                       c->offs ? &ow : NULL);
}

static vkt_status encode(vkt_tokenizer *t, const char *text, size_t len, bool parse_special, vkt_tok_ids *out,
                         vkt_tok_offsets *offs) {
    if (!text && len) return VKT_ERR_ARG;
    if (t->kind == VKT_TOK_BYTES) {
        for (size_t i = 0; i < len; i++) {
            VKT_TRY(vkt_tok_ids_push(out, (uint8_t)text[i]));
            if (offs) VKT_TRY(vkt_tok_offsets_push(offs, (int64_t)i, (int64_t)i + 1));
        }
        return VKT_OK;
    }
    added_match *m = malloc((size_t)t->n_added * sizeof *m + 1);
    if (!m) return VKT_ERR_OOM;
    int32_t n_raw = 0, n_norm = 0;
    for (int32_t i = 0; i < t->n_added; i++) { /* raw-matched tokens from the front, normalized from the back */
        int32_t id = t->added[i];
        if ((t->flags[id] & VKT_TOKF_SPECIAL) && !parse_special) continue;
        bool normalized = t->norm && (t->flags[id] & VKT_TOKF_NORMALIZED);
        const char *s = normalized && t->added_norm && t->added_norm[i] ? t->added_norm[i] : t->piece[id];
        size_t n = s == t->piece[id] ? t->piece_len[id] : strlen(s);
        if (n == 0) continue;
        m[normalized ? t->n_added - 1 - n_norm++ : n_raw++] = (added_match){id, s, n, 0};
    }
    enc_ctx c = {.out = out, .offs = offs, .norm_m = m + t->n_added - n_norm, .n_norm = n_norm};
    vkt_tok_offw ow = {offs, NULL, 0, 0};
    vkt_status s = split_added(t, text, len, m, n_raw, plain_raw, &c, out, offs ? &ow : NULL);
    free(m);
    return s;
}

vkt_status vkt_tok_encode(vkt_tokenizer *t, const char *text, size_t len, bool parse_special, vkt_tok_ids *out) {
    return encode(t, text, len, parse_special, out, NULL);
}

vkt_status vkt_tok_encode_offsets(vkt_tokenizer *t, const char *text, size_t len, bool parse_special,
                                  vkt_tok_ids *out_ids, vkt_tok_offsets *out_offsets) {
    if (!out_offsets) return VKT_ERR_ARG;
    return encode(t, text, len, parse_special, out_ids, out_offsets);
}

vkt_status vkt_tok_decode(const vkt_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, vkt_tok_bytes *out) {
    bool strip = t->kind == VKT_TOK_SP_BPE && t->sp_prefix;
    VKT_TRY(vkt_tok_bytes_append(out, "", 0));
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab) {
            vkt_log_error("tokenizer decode: id %d at position %zu is outside the vocabulary (0..%d)", id, i,
                          t->n_vocab - 1);
            return VKT_ERR_ARG;
        }
        bool special = t->flags[id] & VKT_TOKF_SPECIAL;
        if (special && skip_special) continue;
        const char *p = t->piece[id];
        size_t l = t->piece_len[id];
        if (strip && !special) {
            /* The prefix space was added by encode; it is the first byte of the first ordinary token. */
            if (l && p[0] == ' ') p++, l--;
            strip = false;
        }
        VKT_TRY(vkt_tok_bytes_append(out, p, l));
    }
    return VKT_OK;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A tokenizer.json, then the tokenizer_config.json beside it when there is one (a model folder). */
static vkt_status load_hf_folder(const char *tokenizer_json, vkt_tokenizer **out) {
    VKT_TRY(vkt_tok_load_hf(tokenizer_json, out));
    char cfg[4096];
    const char *slash = strrchr(tokenizer_json, '/');
    if (slash)
        snprintf(cfg, sizeof cfg, "%.*s/tokenizer_config.json", (int)(slash - tokenizer_json), tokenizer_json);
    else
        snprintf(cfg, sizeof cfg, "tokenizer_config.json");
    if (!is_file(cfg)) return VKT_OK;
    vkt_status s = vkt_tok_apply_hf_config(*out, cfg);
    if (s != VKT_OK) {
        vkt_tok_free(*out);
        *out = NULL;
    }
    return s;
}

vkt_status vkt_tok_load(const char *spec, vkt_tokenizer **out) {
    *out = NULL;
    if (strcmp(spec, "bytes") == 0) return vkt_tok_init_bytes(out);
    struct stat st;
    if (stat(spec, &st) != 0) {
        vkt_log_error("tokenizer '%s': no such file or directory; give \"bytes\", a tokenizer.json, a llama2.c "
                      ".bin, or a directory with tokenizer.json or encoder.json + vocab.bpe",
                      spec);
        return VKT_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/tokenizer.json", spec);
        if (is_file(a)) return load_hf_folder(a, out);
        snprintf(a, sizeof a, "%s/encoder.json", spec);
        snprintf(b, sizeof b, "%s/vocab.bpe", spec);
        if (is_file(a) && is_file(b)) return vkt_tok_load_gpt2(a, b, out);
        vkt_log_error("tokenizer directory '%s' has neither tokenizer.json nor encoder.json + vocab.bpe", spec);
        return VKT_ERR_IO;
    }
    if (has_suffix(spec, ".json")) return load_hf_folder(spec, out);
    if (has_suffix(spec, ".bin")) return vkt_tok_load_llama2c(spec, 0, out);
    vkt_log_error("tokenizer '%s': unknown kind; name a tokenizer.json, a llama2.c .bin or a directory", spec);
    return VKT_ERR_ARG;
}

vkt_status vkt_tok_load_for_model(const char *spec, int64_t model_vocab, const char *model, vkt_tokenizer **out) {
    size_t n = strlen(spec);
    bool bin = n >= 4 && strcmp(spec + n - 4, ".bin") == 0;
    VKT_TRY(bin ? vkt_tok_load_llama2c(spec, (int32_t)model_vocab, out) : vkt_tok_load(spec, out));
    if (vkt_tok_vocab_size(*out) > model_vocab) {
        vkt_log_error("tokenizer %s has %d ids but the model %s only %lld: not this model's tokenizer", spec,
                      vkt_tok_vocab_size(*out), model, (long long)model_vocab);
        vkt_tok_free(*out);
        *out = NULL;
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}
