/* GPT-2 byte-level BPE files: the byte <-> code point map, and loading encoder.json (token string
 * -> id) with vocab.bpe ("#version" line, then one merge "left right" per line, in rank order).
 * Reference: OpenAI gpt-2 src/encoder.py (bytes_to_unicode, bpe), read for the rules only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "data/tok_internal.h"
#include "data/tok_unicode.h"

static bool printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

uint32_t vkt_tok_byte_to_cp(uint8_t b) {
    if (printable(b)) return b;
    uint32_t k = 0;
    for (int i = 0; i < b; i++) k += !printable(i);
    return 256 + k;
}

int vkt_tok_cp_to_byte(uint32_t cp) {
    if (cp < 256) return printable((int)cp) ? (int)cp : -1;
    uint32_t k = 256;
    for (int b = 0; b < 256; b++) {
        if (printable(b)) continue;
        if (k++ == cp) return b;
    }
    return -1;
}

int64_t vkt_tok_bytelevel_decode(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t l;
        uint32_t cp = vkt_utf8_decode((const uint8_t *)s + i, len - i, &l);
        int b = cp < 512 ? vkt_tok_cp_to_byte(cp) : -1;
        if (b < 0) return -1;
        out[o++] = (char)b;
        i += l;
    }
    return (int64_t)o;
}

size_t vkt_tok_bytelevel_encode(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) o += vkt_utf8_encode(vkt_tok_byte_to_cp((uint8_t)s[i]), out + o);
    return o;
}

vkt_status vkt_tok_add_merge(vkt_tokenizer *t, const char *a, size_t al, const char *b, size_t bl, int32_t rank,
                             const char *where) {
    int32_t ia = vkt_strmap_get(&t->pieces, a, al), ib = vkt_strmap_get(&t->pieces, b, bl);
    char *ab = malloc(al + bl + 1);
    if (!ab) return VKT_ERR_OOM;
    memcpy(ab, a, al);
    memcpy(ab + al, b, bl);
    int32_t id = vkt_strmap_get(&t->pieces, ab, al + bl);
    free(ab);
    if (ia < 0 || ib < 0 || id < 0) {
        vkt_log_error("%s: merge \"%.*s\" + \"%.*s\" uses or makes a token missing from the vocabulary; the "
                      "merges must match the vocabulary file",
                      where, (int)al, a, (int)bl, b);
        return VKT_ERR_FORMAT;
    }
    bool existed;
    VKT_TRY(vkt_pairmap_put(&t->merges, ia, ib, rank, id, &existed));
    if (existed) vkt_log_debug("%s: repeated merge ignored (the first rank wins)", where);
    return VKT_OK;
}

/* Reads vocab.bpe text into merges. */
static vkt_status load_merges(vkt_tokenizer *t, const char *path, const char *text, size_t len) {
    char where[4200], *dec = malloc(len + 1);
    if (!dec) return VKT_ERR_OOM;
    vkt_status s = VKT_OK;
    int32_t rank = 0;
    size_t line = 0;
    for (const char *p = text, *end = text + len; p < end && s == VKT_OK;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r') n--;
        snprintf(where, sizeof where, "%s line %zu", path, line);
        if (n == 0 || (line == 1 && p[0] == '#')) {
            p = e + 1;
            continue;
        }
        const char *sp = memchr(p, ' ', n);
        if (!sp || sp == p || sp == p + n - 1 || memchr(sp + 1, ' ', (size_t)(p + n - sp - 1))) {
            vkt_log_error("%s: expected two byte-level tokens separated by one space, got \"%.*s\"", where,
                          (int)(n > 60 ? 60 : n), p);
            s = VKT_ERR_FORMAT;
            break;
        }
        int64_t al = vkt_tok_bytelevel_decode(p, (size_t)(sp - p), dec);
        int64_t bl = al < 0 ? -1 : vkt_tok_bytelevel_decode(sp + 1, (size_t)(p + n - sp - 1), dec + al);
        if (bl < 0) {
            vkt_log_error("%s: a character is outside GPT-2's byte-level alphabet; is this a GPT-2 vocab.bpe?", where);
            s = VKT_ERR_FORMAT;
            break;
        }
        s = vkt_tok_add_merge(t, dec, (size_t)al, dec + al, (size_t)bl, rank++, where);
        p = e + 1;
    }
    free(dec);
    return s;
}

vkt_status vkt_tok_load_gpt2(const char *encoder_json, const char *vocab_bpe, vkt_tokenizer **out) {
    *out = NULL;
    char *text = NULL, *merges = NULL;
    size_t len, mlen;
    vkt_status s = vkt_tok_read_file(encoder_json, "GPT-2 encoder.json", &text, &len);
    if (s == VKT_OK) s = vkt_tok_read_file(vocab_bpe, "GPT-2 vocab.bpe", &merges, &mlen);
    if (s == VKT_OK) s = vkt_tok_load_gpt2_mem(text, len, merges, mlen, encoder_json, vocab_bpe, out);
    free(text);
    free(merges);
    return s;
}

vkt_status vkt_tok_load_gpt2_mem(const char *text, size_t len, const char *merges, size_t mlen,
                                 const char *encoder_json, const char *vocab_bpe, vkt_tokenizer **out) {
    *out = NULL;
    char *dec = NULL;
    vkt_tokenizer *t = NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    vkt_status s = VKT_ERR_FORMAT;
    if (!root || !cJSON_IsObject(root)) {
        vkt_log_error("%s: %s; expected a JSON object mapping byte-level token strings to ids", encoder_json,
                      root ? "top level is not an object" : "not valid JSON (truncated?)");
        goto cleanup;
    }
    int32_t n = cJSON_GetArraySize(root);
    if (n <= 0) {
        vkt_log_error("%s: the token map is empty", encoder_json);
        goto cleanup;
    }
    s = vkt_tok_alloc(VKT_TOK_BYTE_BPE, n, &t);
    if (s != VKT_OK) goto cleanup;
    dec = malloc(len + 1);
    s = dec ? VKT_OK : VKT_ERR_OOM;
    for (cJSON *e = root->child; e && s == VKT_OK; e = e->next) {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (v < 0 || v >= n || v != (double)(int32_t)v) {
            vkt_log_error("%s: token \"%.40s\" has id %s; ids must be integers 0..%d", encoder_json, e->string,
                          cJSON_IsNumber(e) ? "out of range" : "that is not a number", n - 1);
            s = VKT_ERR_FORMAT;
            break;
        }
        int64_t dl = vkt_tok_bytelevel_decode(e->string, strlen(e->string), dec);
        if (dl < 0) {
            vkt_log_error("%s: token \"%.40s\" has a character outside GPT-2's byte-level alphabet", encoder_json,
                          e->string);
            s = VKT_ERR_FORMAT;
            break;
        }
        bool eot = strcmp(e->string, "<|endoftext|>") == 0;
        s = vkt_tok_set_piece(t, (int32_t)v, dec, (size_t)dl, eot ? VKT_TOKF_SPECIAL : 0, encoder_json);
        if (s == VKT_OK && eot) {
            t->eot = (int32_t)v;
            s = vkt_tok_add_added(t, t->eot);
        }
    }
    if (s == VKT_OK) s = vkt_tok_finish(t, encoder_json);
    if (s == VKT_OK) s = load_merges(t, vocab_bpe, merges, mlen);
    if (s == VKT_OK) t->bos = t->eos = t->eot;
cleanup:
    cJSON_Delete(root);
    free(dec);
    if (s != VKT_OK)
        vkt_tok_free(t);
    else
        *out = t;
    return s;
}
