/* Loading Hugging Face tokenizer.json files whose model is BPE, of two kinds:
 *   - byte level (GPT-2 and the files vkt_tok_train_bpe writes): pre_tokenizer ByteLevel, vocab and
 *     merges in GPT-2's byte-to-code-point alphabet;
 *   - SentencePiece style (Llama): byte_fallback with <0xXX> tokens, "▁" for spaces, normalizer
 *     Prepend("▁") + Replace(" " -> "▁") or a Metaspace pre-tokenizer.
 * Inside the handle "▁" is stored as a plain space, so encoding never rewrites the text.
 * Not supported (an error names the field): other models (Unigram, WordPiece, WordLevel),
 * custom Split regexes, continuing_subword_prefix/end_of_word_suffix, lowercasing and other
 * normalizers. NFC/NFKC normalizers are ignored with a warning (the text is taken as normalized).
 * Added tokens are matched as plain strings; their lstrip/rstrip/single_word flags are ignored.
 * Like Hugging Face, a Metaspace pre-tokenizer adds no "▁" to a segment that already starts with a
 * space, so such tokenizers drop one leading space in decode(encode(x)); Prepend-normalizer files
 * (Llama's, and the ones tok_hf_save.c writes) round-trip exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "data/tok_internal.h"

static const char SP_SPACE[] = "\xE2\x96\x81"; /* U+2581 */
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

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

/* Which kind the file is, from its pre-tokenizer, decoder and model flags. */
static vkt_status pick_kind(const ctx_t *c, const cJSON *root, const cJSON *model, vkt_tok_kind *kind) {
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const char *pt = str_or(pre, "type", ""), *dt = str_or(dec, "type", "");
    if (strcmp(pt, "ByteLevel") == 0 || strcmp(dt, "ByteLevel") == 0)
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

/* pre_tokenizer: null, ByteLevel, Metaspace, or a Sequence of those and Split(GPT-2 pattern). */
static vkt_status read_pre(const ctx_t *c, const cJSON *p) {
    vkt_tokenizer *t = c->t;
    if (!p || cJSON_IsNull(p)) return VKT_OK;
    const char *type = str_or(p, "type", NULL);
    if (!type) return field_err(c, "pre_tokenizer.type", cJSON_GetObjectItemCaseSensitive(p, "type"), "a string");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (!cJSON_IsArray(list)) return field_err(c, "pre_tokenizer.pretokenizers", list, "an array");
        const cJSON *e;
        cJSON_ArrayForEach(e, list) VKT_TRY(read_pre(c, e));
        return VKT_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        t->add_prefix_space = flag(p, "add_prefix_space", false);
        t->use_regex = t->use_regex && flag(p, "use_regex", true);
        return VKT_OK;
    }
    if (strcmp(type, "Split") == 0) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const char *re = str_or(pat, "Regex", NULL);
        if (re && strcmp(re, GPT2_PATTERN) == 0) return VKT_OK;
        vkt_log_error("%s: pre_tokenizer Split with pattern %s is not supported; only GPT-2's pre-tokenization "
                      "regex is implemented",
                      c->path, re ? re : "(not a regex)");
        return VKT_ERR_UNSUPPORTED;
    }
    if (strcmp(type, "Metaspace") == 0) {
        const char *rep = str_or(p, "replacement", SP_SPACE);
        if (strcmp(rep, SP_SPACE) != 0) {
            vkt_log_error("%s: pre_tokenizer Metaspace replacement \"%s\" is not supported; only U+2581", c->path, rep);
            return VKT_ERR_UNSUPPORTED;
        }
        const char *scheme = str_or(p, "prepend_scheme", NULL);
        t->sp_prefix = scheme ? strcmp(scheme, "never") != 0 : flag(p, "add_prefix_space", true);
        t->sp_meta = true;
        t->sp_first = scheme && strcmp(scheme, "first") == 0;
        t->sp_split = flag(p, "split", true);
        return VKT_OK;
    }
    vkt_log_error("%s: pre_tokenizer type \"%s\" is not supported; use ByteLevel, Metaspace or none", c->path, type);
    return VKT_ERR_UNSUPPORTED;
}

/* normalizer: null, Prepend("▁"), Replace(" " -> "▁"), NFC-like (ignored), or a Sequence. */
static vkt_status read_norm(const ctx_t *c, const cJSON *n) {
    if (!n || cJSON_IsNull(n)) return VKT_OK;
    const char *type = str_or(n, "type", NULL);
    if (!type) return field_err(c, "normalizer.type", cJSON_GetObjectItemCaseSensitive(n, "type"), "a string");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(list)) return field_err(c, "normalizer.normalizers", list, "an array");
        const cJSON *e;
        cJSON_ArrayForEach(e, list) VKT_TRY(read_norm(c, e));
        return VKT_OK;
    }
    if (strcmp(type, "Prepend") == 0 && strcmp(str_or(n, "prepend", ""), SP_SPACE) == 0) {
        c->t->sp_prefix = true;
        return VKT_OK;
    }
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
    if (strcmp(type, "Replace") == 0 && strcmp(str_or(pat, "String", ""), " ") == 0 &&
        strcmp(str_or(n, "content", ""), SP_SPACE) == 0)
        return VKT_OK;
    if (strncmp(type, "NF", 2) == 0) {
        vkt_log_warn("%s: normalizer %s is ignored; text is assumed to be already normalized", c->path, type);
        return VKT_OK;
    }
    vkt_log_error("%s: normalizer \"%s\" (with these arguments) is not supported; supported are Prepend(U+2581), "
                  "Replace(\" \" -> U+2581), NFC/NFKC (ignored) and Sequence",
                  c->path, type);
    return VKT_ERR_UNSUPPORTED;
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
        int32_t v = (int32_t)id->valuedouble;
        VKT_TRY(vkt_tok_set_piece(t, v, content->valuestring, strlen(content->valuestring),
                                  special ? VKT_TOKF_SPECIAL : VKT_TOKF_ADDED, c->path));
        VKT_TRY(vkt_tok_add_added(t, v));
        const char *s = content->valuestring;
        if (strcmp(s, "<s>") == 0 || strcmp(s, "<|begin_of_text|>") == 0) t->bos = v;
        if (strcmp(s, "</s>") == 0 || strcmp(s, "<|end_of_text|>") == 0) t->eos = v;
        if (strcmp(s, "<|endoftext|>") == 0) t->eot = v;
        if (strcmp(s, "<unk>") == 0) t->unk = v;
    }
    if (t->eot >= 0 && t->bos < 0) t->bos = t->eot;
    if (t->eot >= 0 && t->eos < 0) t->eos = t->eot;
    return VKT_OK;
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
    VKT_TRY(read_norm(c, cJSON_GetObjectItemCaseSensitive(root, "normalizer")));
    VKT_TRY(read_pre(c, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")));
    if (cJSON_IsArray(added)) VKT_TRY(read_added(c, added));
    VKT_TRY(read_vocab(c, vocab));
    VKT_TRY(vkt_tok_finish(t, c->path));
    VKT_TRY(read_merges(c, merges));
    const char *unk = str_or(model, "unk_token", NULL);
    if (unk) t->unk = vkt_tok_find(t, unk, strlen(unk));
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
