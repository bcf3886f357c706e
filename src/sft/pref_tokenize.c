/* Preference pairs to token sequences and completion flags (see pref_tokenize.h): whole-conversation
 * renders masked by the completion's assistant spans, prompt + completion strings with BOS/EOS,
 * truncation of prompts from the left and completions from the right, and the counts. Batching is
 * pref_pack.c. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sft/pref_tokenize.h"

enum { LOGGED = 5 }; /* dropped or skipped pairs logged one by one */

void vkt_pref_seq_free(vkt_pref_seq *s) {
    vkt_tok_ids_free(&s->ids);
    vkt_sft_flags_free(&s->loss);
    s->n_prompt = 0;
}

static int cmp_span(const void *a, const void *b) {
    const vkt_chat_span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int64_t first_flagged(const vkt_pref_seq *s) {
    size_t i = 0;
    while (i < s->loss.len && !s->loss.data[i]) i++;
    return (int64_t)i;
}

/* prompt + completion rendered whole; flags from the spans of the completion's messages. */
static vkt_status encode_chat(const vkt_pref_tok_opts *o, const vkt_pref_example *e, const cJSON *completion,
                              vkt_pref_seq *out) {
    cJSON *msgs = cJSON_Duplicate(e->prompt, true);
    int32_t n_prompt = (int32_t)cJSON_GetArraySize(e->prompt);
    const cJSON *m;
    cJSON_ArrayForEach(m, completion) {
        cJSON *c = msgs ? cJSON_Duplicate(m, true) : NULL;
        if (!c) {
            cJSON_Delete(msgs);
            return VKT_ERR_OOM;
        }
        cJSON_AddItemToArray(msgs, c);
    }
    vkt_chat_render_out r = {0};
    vkt_status s = vkt_chat_render(o->chat, msgs, e->tools, false, NULL, &r);
    cJSON_Delete(msgs);
    if (s == VKT_OK) {
        int32_t n = 0;
        for (int32_t i = 0; i < r.n_spans; i++)
            if (r.spans[i].message >= n_prompt) r.spans[n++] = r.spans[i];
        qsort(r.spans, (size_t)n, sizeof *r.spans, cmp_span);
        s = vkt_sft_mask_spans(o->tok, r.text, r.len, r.spans, n, false, &out->ids, &out->loss);
        out->n_prompt = first_flagged(out);
    }
    vkt_chat_render_free(&r);
    return s;
}

static vkt_status encode_part(const vkt_pref_tok_opts *o, const char *text, uint8_t flag, vkt_pref_seq *out) {
    size_t first = out->ids.len;
    VKT_TRY(vkt_tok_encode(o->tok, text, strlen(text), o->parse_special, &out->ids));
    return vkt_sft_flags_push(&out->loss, flag, out->ids.len - first);
}

static vkt_status encode_text(const vkt_pref_tok_opts *o, const char *prompt, const char *completion,
                              vkt_pref_seq *out) {
    int32_t eos = vkt_tok_eot(o->tok);
    if (vkt_tok_adds_bos(o->tok)) {
        VKT_TRY(vkt_tok_ids_push(&out->ids, vkt_tok_bos(o->tok)));
        VKT_TRY(vkt_sft_flags_push(&out->loss, 0, 1));
    }
    VKT_TRY(encode_part(o, prompt, 0, out));
    out->n_prompt = (int64_t)out->ids.len;
    VKT_TRY(encode_part(o, completion, 1, out));
    if (eos >= 0) {
        VKT_TRY(vkt_tok_ids_push(&out->ids, eos));
        VKT_TRY(vkt_sft_flags_push(&out->loss, 1, 1));
    }
    return VKT_OK;
}

vkt_status vkt_pref_encode_pair(const vkt_pref_tok_opts *o, const vkt_pref_example *e, vkt_pref_seq *chosen,
                                vkt_pref_seq *rejected) {
    if (e->kind == VKT_PREF_TEXT) {
        VKT_TRY(encode_text(o, e->prompt_text, e->chosen_text, chosen));
        return encode_text(o, e->prompt_text, e->rejected_text, rejected);
    }
    if (!o->chat) {
        vkt_log_error("preference tokenize: a conversational pair needs a chat template (none was given)");
        return VKT_ERR_ARG;
    }
    VKT_TRY(encode_chat(o, e, e->chosen, chosen));
    return encode_chat(o, e, e->rejected, rejected);
}

static void cut(vkt_pref_seq *s, int64_t at, int64_t count) {
    int64_t n = (int64_t)s->ids.len;
    memmove(s->ids.data + at, s->ids.data + at + count, (size_t)(n - at - count) * sizeof *s->ids.data);
    memmove(s->loss.data + at, s->loss.data + at + count, (size_t)(n - at - count));
    s->ids.len = s->loss.len = (size_t)(n - count);
}

int vkt_pref_truncate(const vkt_pref_tok_opts *o, vkt_pref_seq *s) {
    int outcome = 0;
    int64_t p = s->n_prompt;
    if (o->max_prompt_tokens > 0 && p > o->max_prompt_tokens) {
        int64_t keep_bos =
            s->ids.data[0] == vkt_tok_bos(o->tok) && vkt_tok_bos(o->tok) >= 0 && o->max_prompt_tokens > 1;
        cut(s, keep_bos, p - o->max_prompt_tokens);
        s->n_prompt = p = o->max_prompt_tokens;
        outcome |= VKT_PREF_CUT_PROMPT;
    }
    int64_t n = (int64_t)s->ids.len;
    if (o->max_completion_tokens > 0 && n - p > o->max_completion_tokens) {
        n = p + o->max_completion_tokens;
        outcome |= VKT_PREF_CUT_COMPLETION;
    }
    if (n > o->max_tokens) {
        if (p >= o->max_tokens) return VKT_PREF_DROP_LONG_PROMPT;
        if (o->truncation == VKT_PREF_TRUNC_DROP) return VKT_PREF_DROP_LONG;
        n = o->max_tokens;
        outcome |= VKT_PREF_CUT_COMPLETION;
    }
    s->ids.len = s->loss.len = (size_t)n;
    for (int64_t i = 1; i < n; i++)
        if (s->loss.data[i]) return outcome;
    return VKT_PREF_DROP_NO_COMPLETION;
}

static bool same_seq(const vkt_pref_seq *a, const vkt_pref_seq *b) {
    return a->ids.len == b->ids.len && !memcmp(a->ids.data, b->ids.data, a->ids.len * sizeof *a->ids.data) &&
           !memcmp(a->loss.data, b->loss.data, a->loss.len);
}

/* Capacities of the output arrays, in elements. */
typedef struct {
    int64_t ids, loss, start, n_prompt, source;
} caps_t;

static vkt_status grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return VKT_OK;
    int64_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *g = realloc(*p, (size_t)c * elem);
    if (!g) return VKT_ERR_OOM;
    *p = g, *cap = c;
    return VKT_OK;
}

/* Appends q as sequence s (start[s] is set). */
static void copy_seq(vkt_pref_tokenized *out, const vkt_pref_seq *q, int64_t s) {
    memcpy(out->ids + out->n_tokens, q->ids.data, q->ids.len * sizeof *out->ids);
    memcpy(out->loss + out->n_tokens, q->loss.data, q->loss.len);
    out->n_prompt[s] = q->n_prompt;
    out->n_tokens += (int64_t)q->ids.len;
    out->start[s + 1] = out->n_tokens;
}

static vkt_status append_pair(vkt_pref_tokenized *out, caps_t *caps, const vkt_pref_seq *c, const vkt_pref_seq *r,
                              int64_t source) {
    int64_t n = out->n_tokens + (int64_t)(c->ids.len + r->ids.len), seqs = 2 * out->n_pairs + 2;
    VKT_TRY(grow((void **)&out->ids, &caps->ids, n, sizeof *out->ids));
    VKT_TRY(grow((void **)&out->loss, &caps->loss, n, sizeof *out->loss));
    VKT_TRY(grow((void **)&out->start, &caps->start, seqs + 1, sizeof *out->start));
    VKT_TRY(grow((void **)&out->n_prompt, &caps->n_prompt, seqs, sizeof *out->n_prompt));
    VKT_TRY(grow((void **)&out->source, &caps->source, out->n_pairs + 1, sizeof *out->source));
    copy_seq(out, c, seqs - 2);
    copy_seq(out, r, seqs - 1);
    out->source[out->n_pairs++] = source;
    return VKT_OK;
}

static void log_stats(const vkt_pref_tok_stats *s, int64_t max_tokens) {
    vkt_log_info(
        "preference tokens: %lld of %lld pairs kept (sequences cut: %lld prompts at the start, %lld completions "
        "at the end; pairs dropped: %lld with a prompt over seq_len %lld, %lld over %lld tokens, %lld with no "
        "completion left, %lld identical after the cut; skipped: %lld identical, %lld the template failed "
        "on), %lld tokens (%lld cut), %lld completion targets",
        (long long)s->n_kept, (long long)s->n_in, (long long)s->n_prompt_cut, (long long)s->n_completion_cut,
        (long long)s->n_dropped_long_prompt, (long long)max_tokens - 1, (long long)s->n_dropped_long,
        (long long)max_tokens, (long long)s->n_dropped_no_completion, (long long)s->n_dropped_identical,
        (long long)s->n_skipped_identical, (long long)s->n_skipped_render, (long long)s->n_tokens,
        (long long)s->n_tokens_cut, (long long)s->n_targets);
}

/* A pair that fails a check: an error, or with skip_bad a count (the first few logged). */
static vkt_status bad_pair(const vkt_pref_tok_opts *o, const char *where, const char *why, int64_t *count) {
    if (!o->skip_bad) {
        vkt_log_error("%s: %s", where, why);
        return VKT_ERR_FORMAT;
    }
    if (++*count <= LOGGED) vkt_log_warn("%s: %s (pair skipped)", where, why);
    return VKT_OK;
}

/* Truncates both sides and counts; returns whether the pair is kept. */
static bool truncate_pair(const vkt_pref_tok_opts *o, vkt_pref_seq *c, vkt_pref_seq *r, const char *where,
                          vkt_pref_tok_stats *st) {
    int64_t nc = (int64_t)c->ids.len, nr = (int64_t)r->ids.len, pc = c->n_prompt, pr = r->n_prompt;
    int oc = vkt_pref_truncate(o, c), orj = vkt_pref_truncate(o, r), drop = oc < 0 ? oc : orj < 0 ? orj : 0;
    if (drop == VKT_PREF_DROP_LONG_PROMPT) {
        if (++st->n_dropped_long_prompt <= LOGGED)
            vkt_log_warn("%s: the prompt has %lld tokens, more than seq_len = %lld: pair dropped (set a prompt limit, "
                         "max_prompt_tokens, to keep such pairs with their prompt cut from the left)",
                         where, (long long)(pc > pr ? pc : pr), (long long)o->max_tokens - 1);
        return false;
    }
    st->n_dropped_long += drop == VKT_PREF_DROP_LONG;
    st->n_dropped_no_completion += drop == VKT_PREF_DROP_NO_COMPLETION;
    if (drop) return false;
    if (same_seq(c, r)) {
        st->n_dropped_identical++;
        return false;
    }
    st->n_prompt_cut += !!(oc & VKT_PREF_CUT_PROMPT) + !!(orj & VKT_PREF_CUT_PROMPT);
    st->n_completion_cut += !!(oc & VKT_PREF_CUT_COMPLETION) + !!(orj & VKT_PREF_CUT_COMPLETION);
    st->n_tokens_cut += nc + nr - (int64_t)(c->ids.len + r->ids.len);
    for (size_t i = 1; i < c->loss.len; i++) st->n_targets += c->loss.data[i];
    for (size_t i = 1; i < r->loss.len; i++) st->n_targets += r->loss.data[i];
    return true;
}

vkt_status vkt_pref_tokenize(const vkt_pref_tok_opts *o, const vkt_pref_dataset *d, vkt_pref_tokenized *out) {
    memset(out, 0, sizeof *out);
    if (!o->tok || o->max_tokens < 2 || o->max_prompt_tokens < 0 || o->max_completion_tokens < 0) {
        vkt_log_error("preference tokenize: %s", !o->tok ? "no tokenizer"
                                                 : o->max_tokens < 2
                                                     ? "max_tokens (seq_len + 1) must be at least 2"
                                                     : "max_prompt_tokens and max_completion_tokens must be >= 0");
        return VKT_ERR_ARG;
    }
    caps_t caps = {0};
    vkt_status s = grow((void **)&out->start, &caps.start, 1, sizeof *out->start);
    if (s == VKT_OK) out->start[0] = 0;
    vkt_pref_tok_stats *st = &out->stats;
    vkt_pref_seq c = {0}, r = {0};
    for (int64_t i = 0; s == VKT_OK && i < d->n; i++) {
        c.ids.len = c.loss.len = r.ids.len = r.loss.len = 0;
        st->n_in++;
        char where[1100];
        vkt_pref_example_where(d, &d->ex[i], where, sizeof where);
        s = vkt_pref_encode_pair(o, &d->ex[i], &c, &r);
        if (s == VKT_ERR_FORMAT) {
            s = bad_pair(o, where, "the chat template failed on this pair (see above)", &st->n_skipped_render);
            continue;
        }
        if (s != VKT_OK) break;
        if (same_seq(&c, &r)) {
            char why[160];
            snprintf(why, sizeof why,
                     "chosen and rejected give the same %zu tokens (the template renders them alike): the pair "
                     "prefers nothing",
                     c.ids.len);
            s = bad_pair(o, where, why, &st->n_skipped_identical);
            continue;
        }
        if (!truncate_pair(o, &c, &r, where, st)) continue;
        s = append_pair(out, &caps, &c, &r, i);
        st->n_kept++;
    }
    vkt_pref_seq_free(&c);
    vkt_pref_seq_free(&r);
    if (s != VKT_OK) return s;
    st->n_tokens = out->n_tokens;
    log_stats(st, o->max_tokens);
    if (out->n_pairs == 0) {
        vkt_log_error("preference tokenize: no pair is left to train on (see the counts above)");
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

void vkt_pref_tokenized_free(vkt_pref_tokenized *t) {
    if (!t) return;
    free(t->ids);
    free(t->loss);
    free(t->start);
    free(t->n_prompt);
    free(t->source);
    memset(t, 0, sizeof *t);
}

vkt_status vkt_pref_tokenized_append(vkt_pref_tokenized *t, int32_t id) {
    int64_t S = 2 * t->n_pairs, n = t->n_tokens + S;
    int32_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    uint8_t *loss = malloc((size_t)(n > 0 ? n : 1));
    if (!ids || !loss) {
        free(ids), free(loss);
        return VKT_ERR_OOM;
    }
    int64_t at = 0;
    for (int64_t s = 0; s < S; s++) {
        int64_t a = t->start[s], len = t->start[s + 1] - a;
        memcpy(ids + at, t->ids + a, (size_t)len * sizeof *ids);
        memcpy(loss + at, t->loss + a, (size_t)len);
        t->start[s] = at, at += len;
        ids[at] = id, loss[at++] = 0;
    }
    t->start[S] = at;
    free(t->ids), free(t->loss);
    t->ids = ids, t->loss = loss, t->n_tokens = n;
    return VKT_OK;
}
