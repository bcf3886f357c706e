/* Tokenizer vocabulary for GGUF (see tok_export.h). */
#include "data/tok_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_norm.h"
#include "data/tok_pretok.h"

/* io/gguf.h token types (data/ does not include io/). */
enum {
    TOKEN_NORMAL = 1,
    TOKEN_UNKNOWN = 2,
    TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4,
    TOKEN_UNUSED = 5,
    TOKEN_BYTE = 6
};

void vkt_tok_vocab_free(vkt_tok_vocab *v) {
    for (int32_t i = 0; v->tokens && i < v->n; i++) free(v->tokens[i]);
    for (int32_t i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->tokens), free(v->scores), free(v->types), free(v->merges);
    memset(v, 0, sizeof *v);
}

static int by_rank(const void *x, const void *y) {
    const vkt_pair_slot *a = x, *b = y;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Merge slots sorted by rank; *n gets the count. */
static vkt_pair_slot *sorted_merges(const vkt_tokenizer *t, size_t *n) {
    vkt_pair_slot *m = malloc((t->merges.n + 1) * sizeof *m);
    *n = 0;
    for (size_t i = 0; m && i < t->merges.cap; i++)
        if (t->merges.slots[i].key != UINT64_MAX) m[(*n)++] = t->merges.slots[i];
    if (m) qsort(m, *n, sizeof *m, by_rank);
    return m;
}

static vkt_status gpt2_merges(const vkt_tokenizer *t, vkt_tok_vocab *v) {
    size_t n;
    vkt_pair_slot *m = sorted_merges(t, &n);
    v->merges = calloc(n + 1, sizeof *v->merges);
    if (!m || !v->merges) return free(m), VKT_ERR_OOM;
    vkt_status s = VKT_OK;
    for (size_t i = 0; i < n && s == VKT_OK; i++) {
        char *a = vkt_tok_file_string(t, (int32_t)(m[i].key >> 32));
        char *b = vkt_tok_file_string(t, (int32_t)(m[i].key & 0xFFFFFFFF));
        char *ab = a && b ? malloc(strlen(a) + strlen(b) + 2) : NULL;
        if (ab)
            sprintf(ab, "%s %s", a, b), v->merges[v->n_merges++] = ab;
        else
            s = VKT_ERR_OOM;
        free(a), free(b);
    }
    free(m);
    return s;
}

/* llama.cpp's byte-level pre-tokenizers (tokenizer.ggml.pre) that vktrain can name, each as the
 * tokenizer.json normalizer and pre-tokenizer steps it reimplements (vkt_tok_norm_signature,
 * vkt_tok_pretok_signature). llama.cpp's converter names a model's by hashing test encodings instead;
 * these configurations are the ones its names stand for (Llama 3, Qwen2 / 2.5 / 3, SmolLM / SmolLM2). */
#define CONTRACTIONS_I "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define GPT4_TAIL      "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
static const struct {
    const char *name, *norm, *pretok;
} LLAMA_CPP_PRE[] = {
    {"gpt-2", "", ""}, /* GPT-2's own ByteLevel split (tokenizer.c keeps it as use_regex, no steps) */
    {"llama-bpe", "",
     "split Isolated invert=0 regex=" CONTRACTIONS_I "\\p{N}{1,3}" GPT4_TAIL "; bytelevel prefix=0 regex=0"},
    {"qwen2", "NFC", "split Isolated invert=0 regex=" CONTRACTIONS_I "\\p{N}" GPT4_TAIL "; bytelevel prefix=0 regex=0"},
    {"smollm", "", "split Isolated invert=0 regex=\\p{N}; bytelevel prefix=0 regex=1"},
};

/* The llama.cpp name of byte-level tokenizer t's pre-tokenization, or NULL (logged) when it has none. */
static const char *llama_cpp_pre(const vkt_tokenizer *t) {
    char norm[256], pre[1024];
    bool plain = !t->pre && !t->norm;
    if (plain && !t->use_regex) {
        vkt_log_error("GGUF export: this byte-level tokenizer splits no words before BPE (ByteLevel with use_regex "
                      "false and no Split); llama.cpp has no such pre-tokenizer");
        return NULL;
    }
    if (vkt_tok_norm_signature(t->norm, norm, sizeof norm) >= sizeof norm ||
        vkt_tok_pretok_signature(t->pre, pre, sizeof pre) >= sizeof pre)
        norm[0] = 1; /* longer than any known configuration */
    for (size_t i = 0; i < sizeof LLAMA_CPP_PRE / sizeof *LLAMA_CPP_PRE; i++)
        if (strcmp(norm, LLAMA_CPP_PRE[i].norm) == 0 && strcmp(pre, LLAMA_CPP_PRE[i].pretok) == 0)
            return LLAMA_CPP_PRE[i].name;
    vkt_log_error("GGUF export: this byte-level tokenizer's normalizer and pre-tokenizer (tokenizer.json) are not "
                  "one of the configurations llama.cpp implements that vktrain can name (GPT-2, Llama 3, Qwen2, "
                  "SmolLM); convert such a model with llama.cpp's convert_hf_to_gguf.py. Found: normalizer [%s], "
                  "pre-tokenizer [%s]",
                  norm[0] == 1 ? "(long)" : norm, norm[0] == 1 ? "(long)" : pre);
    return NULL;
}

vkt_status vkt_tok_vocab_get(const vkt_tokenizer *t, int32_t n_vocab, vkt_tok_vocab *out) {
    memset(out, 0, sizeof *out);
    if (t->kind == VKT_TOK_BYTES) {
        vkt_log_error("GGUF export: vktrain's byte tokenizer has no llama.cpp equivalent; train or give a BPE "
                      "tokenizer (--tokenizer)");
        return VKT_ERR_UNSUPPORTED;
    }
    bool sp = t->kind == VKT_TOK_SP_BPE;
    const char *pre = sp ? NULL : llama_cpp_pre(t);
    if (!sp && !pre) return VKT_ERR_UNSUPPORTED;
    if (n_vocab < t->n_vocab) {
        vkt_log_error("GGUF export: the tokenizer has %d ids but the model only %d", t->n_vocab, n_vocab);
        return VKT_ERR_ARG;
    }
    out->model = sp ? "llama" : "gpt2";
    out->pre = pre;
    out->n = n_vocab;
    out->bos = t->bos, out->eos = t->eos, out->unk = t->unk;
    out->add_bos = sp || vkt_tok_adds_bos(t);
    out->add_space_prefix = sp && t->sp_prefix;
    out->tokens = calloc((size_t)n_vocab, sizeof *out->tokens);
    out->types = calloc((size_t)n_vocab, sizeof *out->types);
    out->scores = sp ? calloc((size_t)n_vocab, sizeof *out->scores) : NULL;
    vkt_status s = out->tokens && out->types && (!sp || out->scores) ? VKT_OK : VKT_ERR_OOM;
    for (int32_t id = 0; id < n_vocab && s == VKT_OK; id++) {
        if (id >= t->n_vocab || !t->piece[id]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", id);
            out->tokens[id] = strdup(pad);
            out->types[id] = TOKEN_UNUSED;
            if (sp) out->scores[id] = -1000.0f;
        } else {
            uint8_t f = t->flags[id];
            out->tokens[id] = vkt_tok_file_string(t, id);
            out->types[id] = id == t->unk && sp     ? TOKEN_UNKNOWN
                             : f & VKT_TOKF_SPECIAL ? TOKEN_CONTROL
                             : f & VKT_TOKF_ADDED   ? TOKEN_USER_DEFINED
                             : f & VKT_TOKF_BYTE    ? TOKEN_BYTE
                                                    : TOKEN_NORMAL;
        }
        if (!out->tokens[id]) s = VKT_ERR_OOM;
    }
    if (s == VKT_OK && sp) {
        size_t n;
        vkt_pair_slot *m = sorted_merges(t, &n);
        if (!m) s = VKT_ERR_OOM;
        /* Sorted by rank, so the first merge producing a token carries its best (lowest) rank. */
        for (size_t i = n; m && i-- > 0;) out->scores[m[i].id] = -(float)m[i].rank - 1.0f;
        free(m);
    }
    if (s == VKT_OK && !sp) s = gpt2_merges(t, out);
    if (s != VKT_OK) vkt_tok_vocab_free(out);
    return s;
}
