/* Loading Hugging Face tokenizer.json files whose model is BPE, of two kinds:
 *   - byte level (GPT-2, Llama 3, Qwen2, and the files vkt_tok_train_bpe writes): vocab and merges
 *     in GPT-2's byte-to-code-point alphabet; the normalizer runs through tok_norm.c and the
 *     pre_tokenizer (Split regexes, ByteLevel, Digits, ...) through tok_pretok.c. A plain ByteLevel
 *     pre_tokenizer (GPT-2) keeps the built-in path, so its ids and cache identity match
 *     encoder.json + vocab.bpe. ignore_merges (Llama 3) is honoured.
 *   - SentencePiece style (Llama 1/2): byte_fallback with <0xXX> tokens, "▁" for spaces, normalizer
 *     Prepend("▁") + Replace(" " -> "▁") or a Metaspace pre-tokenizer.
 * Inside the handle "▁" is stored as a plain space, so encoding never rewrites the text.
 * Not supported (an error names the field and the type): other models (Unigram, WordPiece,
 * WordLevel), continuing_subword_prefix/end_of_word_suffix, pre-tokenizers other than Metaspace on
 * SentencePiece-style files, the normalizers and pre-tokenizers tok_norm.h / tok_pretok.h leave out.
 * Added tokens: "special" ones are matched only when the caller parses specials, "normalized" ones
 * in the normalized text (as Hugging Face does); lstrip/rstrip/single_word are ignored.
 * Like Hugging Face, a Metaspace pre-tokenizer adds no "▁" to a segment that already starts with a
 * space, so such tokenizers drop one leading space in decode(encode(x)); Prepend-normalizer files
 * (Llama's, and the ones tok_hf_save.c writes) round-trip exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_norm.h"
#include "data/tok_pretok.h"

static const char SP_SPACE[] = "\xE2\x96\x81"; /* U+2581 */

typedef struct {
    const char *path;
    vkt_tokenizer *t;
    char *buf; /* owned scratch for decoded token bytes */
} ctx_t;

static const char *type_name(const cJSON *j) {
    if (!j) return "missing";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsArray(j)) return "an array";
    return "an object";
}

static vkt_status field_err(const ctx_t *c, const char *field, const cJSON *got, const char *expect) {
    vkt_log_error("%s: field \"%s\" is %s; expected %s", c->path, field, type_name(got), expect);
    return VKT_ERR_FORMAT;
}

static bool flag(const cJSON *obj, const char *key, bool dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(j) ? cJSON_IsTrue(j) : dflt;
}

static const char *str_or(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(j) ? j->valuestring : dflt;
}

/* Token string from the file -> bytes in the handle (byte-level alphabet decoded, "▁" -> ' '). */
static int64_t to_bytes(const ctx_t *c, const char *s, size_t n, char *out) {
    if (c->t->kind == VKT_TOK_BYTE_BPE) return vkt_tok_bytelevel_decode(s, n, out);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(s + i, SP_SPACE, 3) == 0)
            out[o++] = ' ', i += 3;
        else
            out[o++] = s[i++];
    }
    return (int64_t)o;
}

static int byte_token(const char *s) {
    unsigned v;
    char tail;
    if (strlen(s) != 6 || sscanf(s, "<0x%2X%c", &v, &tail) != 2 || tail != '>') return -1;
    return (int)v;
}

/* Whether a pre-tokenizer (or a Sequence of them) has a ByteLevel step. */
static bool has_bytelevel(const cJSON *p) {
    if (strcmp(str_or(p, "type", ""), "ByteLevel") == 0) return true;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "pretokenizers")) if (has_bytelevel(e)) return true;
    return false;
}

/* Which kind the file is, from its pre-tokenizer, decoder and model flags. */
static vkt_status pick_kind(const ctx_t *c, const cJSON *root, const cJSON *model, vkt_tok_kind *kind) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const char *pt = str_or(pre, "type", ""), *dt = str_or(dec, "type", "");
    if (has_bytelevel(pre) || strcmp(dt, "ByteLevel") == 0)
        *kind = VKT_TOK_BYTE_BPE;
    else if (flag(model, "byte_fallback", false) || strcmp(pt, "Metaspace") == 0 || strcmp(dt, "Metaspace") == 0 ||
             strcmp(dt, "Sequence") == 0)
        *kind = VKT_TOK_SP_BPE;
    else {
        vkt_log_error("%s: cannot tell the tokenizer kind: neither a ByteLevel pre_tokenizer/decoder (GPT-2 style) "
                      "nor byte_fallback/Metaspace (SentencePiece style)",
                      c->path);
        return VKT_ERR_UNSUPPORTED;
    }
    return VKT_OK;
}

/* SentencePiece-style pre_tokenizer: null, Metaspace, or a Sequence of Metaspace. */
static vkt_status read_pre_sp(const ctx_t *c, const cJSON *p, const char *field) {
    vkt_tokenizer *t = c->t;
    if (!p || cJSON_IsNull(p)) return VKT_OK;
    char sub[256];
    const char *type = str_or(p, "type", NULL);
    snprintf(sub, sizeof sub, "%s.type", field);
    if (!type) return field_err(c, sub, cJSON_GetObjectItemCaseSensitive(p, "type"), "a string");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        snprintf(sub, sizeof sub, "%s.pretokenizers", field);
        if (!cJSON_IsArray(list)) return field_err(c, sub, list, "an array");
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, list) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", field, i++);
            VKT_TRY(read_pre_sp(c, e, sub));
        }
        return VKT_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        const char *rep = str_or(p, "replacement", SP_SPACE);
        if (strcmp(rep, SP_SPACE) != 0) {
            vkt_log_error("%s: %s.replacement \"%s\" is not supported; only U+2581", c->path, field, rep);
            return VKT_ERR_UNSUPPORTED;
        }
        const char *scheme = str_or(p, "prepend_scheme", NULL);
        t->sp_prefix = scheme ? strcmp(scheme, "never") != 0 : flag(p, "add_prefix_space", true);
        t->sp_meta = true;
        t->sp_first = scheme && strcmp(scheme, "first") == 0;
        t->sp_split = flag(p, "split", true);
        return VKT_OK;
    }
    vkt_log_error("%s: %s.type \"%s\" is not supported for a SentencePiece-style (Metaspace / byte_fallback) "
                  "tokenizer; only Metaspace (or none) is implemented there",
                  c->path, field, type);
    return VKT_ERR_UNSUPPORTED;
}

/* pre_tokenizer: byte-level files run their steps through tok_pretok.c (null: one word per
 * segment); SentencePiece-style files use the Metaspace flags. */
static vkt_status read_pre(const ctx_t *c, const cJSON *p) {
    vkt_tokenizer *t = c->t;
    if (t->kind == VKT_TOK_SP_BPE) return read_pre_sp(c, p, "pre_tokenizer");
    if (!p || cJSON_IsNull(p)) {
        t->use_regex = false, t->add_prefix_space = false;
        return VKT_OK;
    }
    VKT_TRY(vkt_tok_pretok_add(&t->pre, p, c->path, "pre_tokenizer"));
    if (vkt_tok_pretok_is_bytelevel(t->pre, &t->add_prefix_space, &t->use_regex)) {
        /* GPT-2's plain ByteLevel: the built-in path, identical to encoder.json + vocab.bpe. */
        vkt_tok_pretok_free(t->pre);
        t->pre = NULL;
    }
    return VKT_OK;
}

/* Hash of the normalizer and pre-tokenizer objects as written, for the cache identity. */
static vkt_status hash_config(const ctx_t *c, const cJSON *root) {
    vkt_tokenizer *t = c->t;
    if (!t->pre && !t->norm) return VKT_OK;
    const char *keys[] = {"normalizer", "pre_tokenizer"};
    uint64_t h = 0;
    for (int i = 0; i < 2; i++) {
        char *js = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, keys[i]));
        if (js) h = h * 31 + vkt_tok_hash(js, strlen(js));
        free(js);
    }
    t->config_hash = h ? h : 1;
    return VKT_OK;
}

/* normalizer: the steps of tok_norm.c, except two forms kept as flags for SentencePiece-style files
 * (inside the handle U+2581 is a space): Prepend("▁") is the per-segment prefix space that decode
 * removes again, and Replace(" " -> "▁") changes nothing. A ByteLevel normalizer on a byte-level
 * file is what the model does anyway. */
static vkt_status read_norm(const ctx_t *c, const cJSON *n, const char *field) {
    vkt_tokenizer *t = c->t;
    if (!n || cJSON_IsNull(n)) return VKT_OK;
    char sub[256];
    const char *type = str_or(n, "type", NULL);
    snprintf(sub, sizeof sub, "%s.type", field);
    if (!type) return field_err(c, sub, cJSON_GetObjectItemCaseSensitive(n, "type"), "a string");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        snprintf(sub, sizeof sub, "%s.normalizers", field);
        if (!cJSON_IsArray(list)) return field_err(c, sub, list, "an array");
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, list) {
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", field, i++);
            VKT_TRY(read_norm(c, e, sub));
        }
        return VKT_OK;
    }
    bool sp = t->kind == VKT_TOK_SP_BPE;
    if (sp && strcmp(type, "Prepend") == 0 && strcmp(str_or(n, "prepend", ""), SP_SPACE) == 0) {
        t->sp_prefix = true;
        return VKT_OK;
    }
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
    if (sp && strcmp(type, "Replace") == 0 && strcmp(str_or(pat, "String", ""), " ") == 0 &&
        strcmp(str_or(n, "content", ""), SP_SPACE) == 0)
        return VKT_OK;
    if (!sp && strcmp(type, "ByteLevel") == 0) return VKT_OK;
    return vkt_tok_norm_add(&t->norm, n, c->path, field, sp);
}

/* Tokens flagged "normalized" are looked for in normalized text, so their content is normalized too. */
static vkt_status normalize_added(vkt_tokenizer *t) {
    if (!t->norm || t->n_added == 0) return VKT_OK;
    t->added_norm = calloc((size_t)t->n_added, sizeof *t->added_norm);
    if (!t->added_norm) return VKT_ERR_OOM;
    vkt_tok_bytes b = {0};
    vkt_status s = VKT_OK;
    for (int32_t i = 0; i < t->n_added && s == VKT_OK; i++) {
        int32_t id = t->added[i];
        if (!(t->flags[id] & VKT_TOKF_NORMALIZED)) continue;
        s = vkt_tok_norm_apply(t->norm, t->piece[id], t->piece_len[id], &b);
        if (s == VKT_OK && !(t->added_norm[i] = strndup(b.data, b.len))) s = VKT_ERR_OOM;
    }
    vkt_tok_bytes_free(&b);
    return s;
}

static vkt_status read_added(const ctx_t *c, const cJSON *added) {
    vkt_tokenizer *t = c->t;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        char field[64];
        snprintf(field, sizeof field, "added_tokens[%d].content", i);
        if (!cJSON_IsString(content)) return field_err(c, field, content, "a string");
        snprintf(field, sizeof field, "added_tokens[%d].id", i++);
        if (!cJSON_IsNumber(id)) return field_err(c, field, id, "an integer id");
        bool special = flag(e, "special", false);
        bool normalized = flag(e, "normalized", !special);
        int32_t v = (int32_t)id->valuedouble;
        /* The flag matters only with a normalizer; leaving it off otherwise keeps the handle (and its
         * cache identity) the same as one loaded from other files. */
        uint8_t f = (special ? VKT_TOKF_SPECIAL : VKT_TOKF_ADDED) | (normalized && t->norm ? VKT_TOKF_NORMALIZED : 0);
        VKT_TRY(vkt_tok_set_piece(t, v, content->valuestring, strlen(content->valuestring), f, c->path));
        VKT_TRY(vkt_tok_add_added(t, v));
        const char *s = content->valuestring;
        if (strcmp(s, "<s>") == 0 || strcmp(s, "<|begin_of_text|>") == 0) t->bos = v;
        if (strcmp(s, "</s>") == 0 || strcmp(s, "<|end_of_text|>") == 0) t->eos = v;
        if (strcmp(s, "<|endoftext|>") == 0) t->eot = v;
        if (strcmp(s, "<unk>") == 0) t->unk = v;
    }
    if (t->eot >= 0 && t->bos < 0) t->bos = t->eot;
    if (t->eot >= 0 && t->eos < 0) t->eos = t->eot;
    return normalize_added(t);
}

static vkt_status read_vocab(const ctx_t *c, const cJSON *vocab) {
    vkt_tokenizer *t = c->t;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int32_t id = (int32_t)e->valuedouble;
        if (id >= 0 && id < t->n_vocab && t->piece[id] && (t->flags[id] & (VKT_TOKF_SPECIAL | VKT_TOKF_ADDED)))
            continue; /* also listed in added_tokens, which gives its raw content */
        size_t n = strlen(e->string);
        int b = t->kind == VKT_TOK_SP_BPE ? byte_token(e->string) : -1;
        if (b >= 0) {
            char ch = (char)b;
            VKT_TRY(vkt_tok_set_piece(t, id, &ch, 1, VKT_TOKF_BYTE, c->path));
            t->byte_id[b] = id;
            continue;
        }
        int64_t dl = to_bytes(c, e->string, n, c->buf);
        if (dl < 0) {
            vkt_log_error("%s: model.vocab token \"%.40s\" has a character outside GPT-2's byte-level alphabet; "
                          "a ByteLevel tokenizer's vocabulary must use it",
                          c->path, e->string);
            return VKT_ERR_FORMAT;
        }
        VKT_TRY(vkt_tok_set_piece(t, id, c->buf, (size_t)dl, 0, c->path));
    }
    return VKT_OK;
}

static vkt_status read_merges(const ctx_t *c, const cJSON *merges) {
    const cJSON *e;
    int32_t rank = 0;
    char where[4200];
    cJSON_ArrayForEach(e, merges) {
        const char *a, *b;
        size_t al, bl;
        snprintf(where, sizeof where, "%s: model.merges[%d]", c->path, rank);
        if (cJSON_IsString(e)) {
            const char *sp = strchr(e->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                vkt_log_error("%s is \"%.60s\"; expected \"left right\" with one space", where, e->valuestring);
                return VKT_ERR_FORMAT;
            }
            a = e->valuestring, al = (size_t)(sp - a), b = sp + 1, bl = strlen(b);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            a = e->child->valuestring, al = strlen(a), b = e->child->next->valuestring, bl = strlen(b);
        } else {
            vkt_log_error("%s is %s; expected \"left right\" or [\"left\", \"right\"]", where, type_name(e));
            return VKT_ERR_FORMAT;
        }
        int64_t da = to_bytes(c, a, al, c->buf);
        int64_t db = da < 0 ? -1 : to_bytes(c, b, bl, c->buf + da);
        if (db < 0) {
            vkt_log_error("%s has a character outside GPT-2's byte-level alphabet", where);
            return VKT_ERR_FORMAT;
        }
        VKT_TRY(vkt_tok_add_merge(c->t, c->buf, (size_t)da, c->buf + da, (size_t)db, rank++, where));
    }
    return VKT_OK;
}

/* Vocabulary size: one past the largest id in model.vocab and added_tokens (checking types). */
static vkt_status count_ids(const ctx_t *c, const cJSON *vocab, const cJSON *added, int32_t *n) {
    double top = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e8 ||
            e->valuedouble != (int32_t)e->valuedouble) {
            vkt_log_error("%s: model.vocab[\"%.40s\"] is %s; expected a non-negative integer id", c->path, e->string,
                          cJSON_IsNumber(e) ? "out of range" : type_name(e));
            return VKT_ERR_FORMAT;
        }
        if (e->valuedouble > top) top = e->valuedouble;
    }
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8) {
            vkt_log_error("%s: an added_tokens entry has id %s; expected a non-negative integer", c->path,
                          type_name(id));
            return VKT_ERR_FORMAT;
        }
        if (id->valuedouble > top) top = id->valuedouble;
    }
    if (top < 0) {
        vkt_log_error("%s: model.vocab is empty", c->path);
        return VKT_ERR_FORMAT;
    }
    /* Ids are dense, so the largest cannot exceed the entry count; checking before allocating keeps
     * a stray huge id from reserving memory for ids that cannot all be filled. */
    int entries = cJSON_GetArraySize(vocab) + (cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0);
    if (top >= entries) {
        vkt_log_error("%s: the largest id is %.0f but there are only %d vocab and added_tokens entries; ids must be "
                      "0..n-1 without gaps",
                      c->path, top, entries);
        return VKT_ERR_FORMAT;
    }
    *n = (int32_t)top + 1;
    return VKT_OK;
}

static vkt_status load_root(ctx_t *c, const cJSON *root) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return field_err(c, "model", model, "an object with type \"BPE\"");
    const char *type = str_or(model, "type", "BPE");
    if (strcmp(type, "BPE") != 0) {
        vkt_log_error("%s: model.type \"%s\" is not supported; only BPE models load", c->path, type);
        return VKT_ERR_UNSUPPORTED;
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab)) return field_err(c, "model.vocab", vocab, "an object mapping tokens to ids");
    if (!cJSON_IsArray(merges)) return field_err(c, "model.merges", merges, "an array of merges");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return field_err(c, "added_tokens", added, "an array of {id, content, special}");
    if (*str_or(model, "continuing_subword_prefix", "") || *str_or(model, "end_of_word_suffix", "")) {
        vkt_log_error("%s: model.continuing_subword_prefix/end_of_word_suffix are not supported", c->path);
        return VKT_ERR_UNSUPPORTED;
    }
    vkt_tok_kind kind;
    int32_t n;
    VKT_TRY(pick_kind(c, root, model, &kind));
    VKT_TRY(count_ids(c, vocab, added, &n));
    VKT_TRY(vkt_tok_alloc(kind, n, &c->t));
    vkt_tokenizer *t = c->t;
    t->byte_fallback = flag(model, "byte_fallback", false);
    t->fuse_unk = flag(model, "fuse_unk", false);
    t->ignore_merges = flag(model, "ignore_merges", false);
    VKT_TRY(read_norm(c, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer"));
    VKT_TRY(read_pre(c, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")));
    VKT_TRY(hash_config(c, root));
    if (cJSON_IsArray(added)) VKT_TRY(read_added(c, added));
    VKT_TRY(read_vocab(c, vocab));
    VKT_TRY(vkt_tok_finish(t, c->path));
    VKT_TRY(read_merges(c, merges));
    const char *unk = str_or(model, "unk_token", NULL);
    if (unk) t->unk = vkt_tok_find(t, unk, strlen(unk));
    vkt_tok_read_post_processor(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
    return VKT_OK;
}

vkt_status vkt_tok_load_hf(const char *tokenizer_json, vkt_tokenizer **out) {
    *out = NULL;
    char *text;
    size_t len;
    VKT_TRY(vkt_tok_read_file(tokenizer_json, "tokenizer.json", &text, &len));
    vkt_status s = vkt_tok_load_hf_mem(text, len, tokenizer_json, out);
    free(text);
    return s;
}

vkt_status vkt_tok_load_hf_mem(const char *text, size_t len, const char *tokenizer_json, vkt_tokenizer **out) {
    *out = NULL;
    ctx_t c = {.path = tokenizer_json, .buf = malloc(len + 16)};
    cJSON *root = cJSON_ParseWithLength(text, len);
    vkt_status s;
    if (!c.buf)
        s = VKT_ERR_OOM;
    else if (!root || !cJSON_IsObject(root)) {
        vkt_log_error("%s: %s; expected a Hugging Face tokenizer.json object", tokenizer_json,
                      root ? "the top level is not an object" : "not valid JSON (truncated or corrupt?)");
        s = VKT_ERR_FORMAT;
    } else
        s = load_root(&c, root);
    cJSON_Delete(root);
    free(c.buf);
    if (s != VKT_OK)
        vkt_tok_free(c.t);
    else
        *out = c.t;
    return s;
}
