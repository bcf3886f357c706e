/* Writing a BPE tokenizer as a Hugging Face tokenizer.json (format version 1.0) that
 * vkt_tok_load_hf and the tokenizers library load:
 *   - byte BPE: ByteLevel pre-tokenizer/decoder/post-processor, tokens in GPT-2's byte-level
 *     alphabet, merges "left right" in rank order;
 *   - SP BPE: Llama layout (normalizer Prepend("▁") + Replace(" " -> "▁"), byte_fallback,
 *     <0xXX> byte tokens, decoder Replace/ByteFallback/Fuse/Strip). A llama2.c tokenizer's scores
 *     become merge ranks: every split of a token into two tokens, best-scoring token first.
 * Special tokens go to added_tokens. The file is written to "<path>.tmp" and renamed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_save.h"

char *vkt_tok_file_string(const vkt_tokenizer *t, int32_t id) {
    const char *p = t->piece[id];
    size_t n = t->piece_len[id];
    char *s = malloc(3 * n + 8);
    if (!s) return NULL;
    if (t->flags[id] & (VKT_TOKF_SPECIAL | VKT_TOKF_ADDED)) {
        memcpy(s, p, n);
        s[n] = 0;
    } else if (t->kind == VKT_TOK_BYTE_BPE) {
        s[vkt_tok_bytelevel_encode(p, n, s)] = 0;
    } else if (t->flags[id] & VKT_TOKF_BYTE) {
        snprintf(s, 8, "<0x%02X>", (uint8_t)p[0]);
    } else {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == ' ')
                memcpy(s + o, "\xE2\x96\x81", 3), o += 3;
            else
                s[o++] = p[i];
        }
        s[o] = 0;
    }
    return s;
}

static int by_rank(const void *x, const void *y) {
    const vkt_pair_slot *a = x, *b = y;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

static cJSON *obj_type(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

static cJSON *bytelevel(const char *type, bool prefix, bool trim) {
    cJSON *o = obj_type(type);
    cJSON_AddBoolToObject(o, "add_prefix_space", prefix);
    cJSON_AddBoolToObject(o, "trim_offsets", trim);
    cJSON_AddBoolToObject(o, "use_regex", true);
    return o;
}

static void add_pipeline(const vkt_tokenizer *t, cJSON *root) {
    if (t->kind == VKT_TOK_BYTE_BPE) {
        cJSON_AddNullToObject(root, "normalizer");
        cJSON_AddItemToObject(root, "pre_tokenizer", bytelevel("ByteLevel", t->add_prefix_space, true));
        cJSON_AddItemToObject(root, "post_processor", bytelevel("ByteLevel", true, false));
        cJSON_AddItemToObject(root, "decoder", bytelevel("ByteLevel", true, true));
        return;
    }
    cJSON *norm = obj_type("Sequence"), *list = cJSON_AddArrayToObject(norm, "normalizers");
    if (t->sp_prefix) {
        cJSON *p = obj_type("Prepend");
        cJSON_AddStringToObject(p, "prepend", "\xE2\x96\x81");
        cJSON_AddItemToArray(list, p);
    }
    cJSON *r = obj_type("Replace"), *pat = cJSON_AddObjectToObject(r, "pattern");
    cJSON_AddStringToObject(pat, "String", " ");
    cJSON_AddStringToObject(r, "content", "\xE2\x96\x81");
    cJSON_AddItemToArray(list, r);
    cJSON_AddItemToObject(root, "normalizer", norm);
    cJSON_AddNullToObject(root, "pre_tokenizer");
    cJSON_AddNullToObject(root, "post_processor");
    cJSON *dec = obj_type("Sequence"), *dl = cJSON_AddArrayToObject(dec, "decoders");
    cJSON *rep = obj_type("Replace"), *rp = cJSON_AddObjectToObject(rep, "pattern");
    cJSON_AddStringToObject(rp, "String", "\xE2\x96\x81");
    cJSON_AddStringToObject(rep, "content", " ");
    cJSON_AddItemToArray(dl, rep);
    cJSON_AddItemToArray(dl, obj_type("ByteFallback"));
    cJSON_AddItemToArray(dl, obj_type("Fuse"));
    cJSON *strip = obj_type("Strip");
    cJSON_AddStringToObject(strip, "content", " ");
    cJSON_AddNumberToObject(strip, "start", t->sp_prefix ? 1 : 0);
    cJSON_AddNumberToObject(strip, "stop", 0);
    cJSON_AddItemToArray(dl, strip);
    cJSON_AddItemToObject(root, "decoder", dec);
}

static cJSON *build(const vkt_tokenizer *t) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!(t->flags[id] & (VKT_TOKF_SPECIAL | VKT_TOKF_ADDED))) continue;
        cJSON *a = cJSON_CreateObject();
        char *s = vkt_tok_file_string(t, id);
        cJSON_AddNumberToObject(a, "id", id);
        cJSON_AddStringToObject(a, "content", s ? s : "");
        cJSON_AddBoolToObject(a, "single_word", false);
        cJSON_AddBoolToObject(a, "lstrip", false);
        cJSON_AddBoolToObject(a, "rstrip", false);
        cJSON_AddBoolToObject(a, "normalized", false);
        cJSON_AddBoolToObject(a, "special", (t->flags[id] & VKT_TOKF_SPECIAL) != 0);
        cJSON_AddItemToArray(added, a);
        free(s);
    }
    add_pipeline(t, root);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    if (t->unk >= 0) {
        char *s = vkt_tok_file_string(t, t->unk);
        cJSON_AddStringToObject(model, "unk_token", s ? s : "");
        free(s);
    } else {
        cJSON_AddNullToObject(model, "unk_token");
    }
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", t->kind == VKT_TOK_SP_BPE ? true : t->fuse_unk);
    cJSON_AddBoolToObject(model, "byte_fallback", t->kind == VKT_TOK_SP_BPE && t->byte_fallback);
    cJSON_AddBoolToObject(model, "ignore_merges", t->ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        char *s = vkt_tok_file_string(t, id);
        if (s) cJSON_AddItemToObject(vocab, s, cJSON_CreateNumber(id));
        free(s);
    }
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    vkt_pair_slot *m = malloc((t->merges.n + 1) * sizeof *m);
    size_t n = 0;
    for (size_t i = 0; m && i < t->merges.cap; i++)
        if (t->merges.slots[i].key != UINT64_MAX) m[n++] = t->merges.slots[i];
    if (m) qsort(m, n, sizeof *m, by_rank);
    for (size_t i = 0; m && i < n; i++) {
        char *a = vkt_tok_file_string(t, (int32_t)(m[i].key >> 32)),
             *b = vkt_tok_file_string(t, (int32_t)(m[i].key & 0xFFFFFFFF));
        /* "left right" strings load in every tokenizers version; neither side holds a space here
         * (byte-level spells it U+0120, SentencePiece U+2581). */
        size_t al = a ? strlen(a) : 0, bl = b ? strlen(b) : 0;
        char *ab = malloc(al + bl + 2);
        if (ab) {
            memcpy(ab, a ? a : "", al);
            ab[al] = ' ';
            memcpy(ab + al + 1, b ? b : "", bl);
            ab[al + 1 + bl] = 0;
            cJSON_AddItemToArray(merges, cJSON_CreateString(ab));
        }
        free(ab);
        free(a);
        free(b);
    }
    free(m);
    return root;
}

vkt_status vkt_tok_save_hf(const vkt_tokenizer *t, const char *path) {
    if (t->kind == VKT_TOK_BYTES) {
        vkt_log_error("tokenizer save '%s': the byte tokenizer has no tokenizer.json form; use \"bytes\"", path);
        return VKT_ERR_ARG;
    }
    if (t->pre || t->norm) {
        /* Writing the steps back is not implemented; saving without them would change the ids. */
        vkt_log_error("tokenizer save '%s': this tokenizer has tokenizer.json normalizer/pre_tokenizer steps, "
                      "which the writer cannot store; copy the original tokenizer.json instead",
                      path);
        return VKT_ERR_UNSUPPORTED;
    }
    cJSON *root = build(t);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        vkt_log_error("tokenizer save '%s': out of memory building the JSON", path);
        return VKT_ERR_OOM;
    }
    size_t plen = strlen(path) + 5;
    char *tmp = malloc(plen);
    vkt_status s = tmp ? VKT_OK : VKT_ERR_OOM;
    FILE *f = NULL;
    if (s == VKT_OK) {
        snprintf(tmp, plen, "%s.tmp", path);
        f = fopen(tmp, "wb");
        size_t n = strlen(text);
        bool ok = f && fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
        if (f && fclose(f) != 0) ok = false;
        if (!ok || rename(tmp, path) != 0) {
            vkt_log_error("tokenizer save '%s': cannot write (%s); check the directory exists and is writable", path,
                          strerror(errno));
            remove(tmp);
            s = VKT_ERR_IO;
        }
    }
    free(tmp);
    cJSON_free(text);
    return s;
}
