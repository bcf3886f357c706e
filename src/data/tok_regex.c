/* PCRE2 wrapper for the tokenizer regexes (see tok_regex.h). Compiles with PCRE2_UTF | PCRE2_UCP so
 * that \s, \w, \d and case-insensitive matching follow Unicode, as Oniguruma does for Hugging Face;
 * JIT compilation is tried and silently skipped where unavailable (the interpreter gives the same
 * matches, only slower). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/tok_regex.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct vkt_tok_regex {
    pcre2_code *code;        /* owned */
    pcre2_match_data *md;    /* owned */
    pcre2_match_context *mc; /* owned: JIT stack */
    pcre2_jit_stack *stack;  /* owned (NULL without JIT) */
    bool jit;
};

vkt_status vkt_tok_regex_compile(const char *pattern, size_t len, bool literal, const char *where,
                                 vkt_tok_regex **out) {
    *out = NULL;
    int err;
    PCRE2_SIZE off;
    /* PCRE2_LITERAL admits no PCRE2_UCP; a literal needs no character classes anyway. */
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        vkt_log_error("%s: regex \"%.*s\" does not compile at offset %zu: %s; fix the pattern (PCRE2 syntax)", where,
                      (int)(len > 200 ? 200 : len), pattern, (size_t)off, (const char *)msg);
        return VKT_ERR_FORMAT;
    }
    vkt_tok_regex *re = calloc(1, sizeof *re);
    if (!re) {
        pcre2_code_free(code);
        return VKT_ERR_OOM;
    }
    re->code = code;
    re->md = pcre2_match_data_create_from_pattern(code, NULL);
    re->mc = pcre2_match_context_create(NULL);
    if (!re->md || !re->mc) {
        vkt_tok_regex_free(re);
        return VKT_ERR_OOM;
    }
    if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0) {
        re->stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
        if (re->stack) {
            pcre2_jit_stack_assign(re->mc, NULL, re->stack);
            re->jit = true;
        }
    }
    *out = re;
    return VKT_OK;
}

void vkt_tok_regex_free(vkt_tok_regex *re) {
    if (!re) return;
    pcre2_jit_stack_free(re->stack);
    pcre2_match_context_free(re->mc);
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    free(re);
}

int vkt_tok_regex_find(vkt_tok_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, from, 0, re->md, re->mc)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, n, from, 0, re->md, re->mc);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        vkt_log_error("tokenizer regex: matching %zu bytes failed: %s; the text or pattern is pathological", n,
                      (const char *)msg);
        return rc == PCRE2_ERROR_NOMEMORY ? VKT_ERR_OOM : VKT_ERR_ARG;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    *ms = ov[0], *me = ov[1];
    return 1;
}
