/* SFT examples to token ids and loss flags (see sft_tokenize.h): chat renders masked by assistant
 * spans through token offsets, prompt/completion and text with BOS/EOS, truncation and its counts.
 * Packing into batches is sft_pack.c. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sft/sft_tokenize.h"

vkt_status vkt_sft_flags_push(vkt_sft_flags *f, uint8_t v, size_t count) {
    if (count == 0) return VKT_OK; /* an empty prompt: memset on a still-NULL array would be undefined */
    if (f->len + count > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + count) cap *= 2;
        uint8_t *d = realloc(f->data, cap);
        if (!d) return VKT_ERR_OOM;
        f->data = d, f->cap = cap;
    }
    memset(f->data + f->len, v, count);
    f->len += count;
    return VKT_OK;
}

void vkt_sft_flags_free(vkt_sft_flags *f) {
    free(f->data);
    memset(f, 0, sizeof *f);
}

vkt_status vkt_sft_mask_spans(vkt_tokenizer *t, const char *text, size_t len, const vkt_chat_span *spans,
                              int32_t n_spans, bool all, vkt_tok_ids *ids, vkt_sft_flags *loss) {
    vkt_tok_offsets offs = {0};
    size_t first = ids->len;
    vkt_status s = vkt_tok_encode_offsets(t, text, len, true, ids, &offs);
    if (s == VKT_OK) s = vkt_sft_flags_push(loss, all ? 1 : 0, ids->len - first);
    /* Spans come in text order, as do token starts: one merge-like walk. */
    int32_t k = 0;
    for (size_t i = 0; s == VKT_OK && !all && i < offs.len; i++) {
        int64_t b = offs.data[i].begin;
        while (k < n_spans && spans[k].end <= b) k++;
        for (int32_t j = k; j < n_spans && spans[j].begin <= b; j++) /* spans may touch or nest */
            if (b < spans[j].end) loss->data[first + i] = 1;
    }
    vkt_tok_offsets_free(&offs);
    return s;
}

static int cmp_span(const void *a, const void *b) {
    const vkt_chat_span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static vkt_status encode_chat(const vkt_sft_tok_opts *o, const vkt_sft_example *e, vkt_tok_ids *ids,
                              vkt_sft_flags *loss) {
    if (!o->chat) {
        vkt_log_error("sft: a conversational example needs a chat template (none was given)");
        return VKT_ERR_ARG;
    }
    vkt_chat_render_out r = {0};
    VKT_TRY(vkt_chat_render(o->chat, e->messages, e->tools, false, NULL, &r));
    /* The trained spans: every assistant message whose flag is set, or the last assistant one. */
    int32_t n = 0, n_msg = (int32_t)cJSON_GetArraySize(e->messages);
    for (int32_t i = 0; i < r.n_spans; i++) {
        const vkt_chat_span sp = r.spans[i];
        bool trained = sp.message >= 0 && sp.message < n_msg && e->train[sp.message];
        bool last = i == r.n_spans - 1;
        if (trained && (o->loss != VKT_SFT_LOSS_LAST || last)) r.spans[n++] = sp;
    }
    qsort(r.spans, (size_t)n, sizeof *r.spans, cmp_span);
    vkt_status s = vkt_sft_mask_spans(o->tok, r.text, r.len, r.spans, n, o->loss == VKT_SFT_LOSS_ALL, ids, loss);
    vkt_chat_render_free(&r);
    return s;
}

static vkt_status encode_part(const vkt_sft_tok_opts *o, const char *s, uint8_t flag, vkt_tok_ids *ids,
                              vkt_sft_flags *loss) {
    size_t first = ids->len;
    VKT_TRY(vkt_tok_encode(o->tok, s, strlen(s), o->parse_special, ids));
    return vkt_sft_flags_push(loss, flag, ids->len - first);
}

vkt_status vkt_sft_encode_example(const vkt_sft_tok_opts *o, const vkt_sft_example *e, vkt_tok_ids *ids,
                                  vkt_sft_flags *loss) {
    if (e->kind == VKT_SFT_CHAT) return encode_chat(o, e, ids, loss);
    bool all = o->loss == VKT_SFT_LOSS_ALL || e->kind == VKT_SFT_TEXT;
    int32_t bos = vkt_tok_bos(o->tok), eos = vkt_tok_eot(o->tok);
    if (vkt_tok_adds_bos(o->tok)) {
        VKT_TRY(vkt_tok_ids_push(ids, bos));
        VKT_TRY(vkt_sft_flags_push(loss, all, 1));
    }
    if (e->kind == VKT_SFT_PROMPT_COMPLETION) {
        VKT_TRY(encode_part(o, e->prompt, all, ids, loss));
        VKT_TRY(encode_part(o, e->completion, 1, ids, loss));
    } else {
        VKT_TRY(encode_part(o, e->text, 1, ids, loss));
    }
    if (eos >= 0) {
        VKT_TRY(vkt_tok_ids_push(ids, eos));
        VKT_TRY(vkt_sft_flags_push(loss, 1, 1));
    }
    return VKT_OK;
}

static bool any_target(const uint8_t *loss, int64_t n) {
    for (int64_t i = 1; i < n; i++)
        if (loss[i]) return true;
    return false;
}

int vkt_sft_truncate(const vkt_sft_tok_opts *o, int32_t *ids, uint8_t *loss, int64_t *n) {
    int outcome = 0;
    if (*n > o->max_tokens) {
        if (o->truncation == VKT_SFT_TRUNC_DROP) return -1;
        if (o->truncation == VKT_SFT_TRUNC_LEFT) {
            int64_t cut = *n - o->max_tokens;
            memmove(ids, ids + cut, (size_t)o->max_tokens * sizeof *ids);
            memmove(loss, loss + cut, (size_t)o->max_tokens);
        }
        *n = o->max_tokens;
        outcome = o->truncation == VKT_SFT_TRUNC_LEFT ? 2 : 1;
    }
    return any_target(loss, *n) ? outcome : -2;
}

/* Appends one example's tokens to out (arrays grown as needed). */
static vkt_status append(vkt_sft_tokenized *out, int64_t *cap, int64_t *cap_ex, const int32_t *ids, const uint8_t *loss,
                         int64_t n, int64_t source) {
    if (out->n_tokens + n > *cap) {
        int64_t c = *cap ? *cap : 4096;
        while (c < out->n_tokens + n) c *= 2;
        int32_t *gi = realloc(out->ids, (size_t)c * sizeof *gi);
        if (gi) out->ids = gi;
        uint8_t *gl = gi ? realloc(out->loss, (size_t)c) : NULL;
        if (!gl) return VKT_ERR_OOM;
        out->loss = gl, *cap = c;
    }
    if (out->n_examples + 2 > *cap_ex) {
        int64_t c = *cap_ex ? 2 * *cap_ex : 256;
        int64_t *gs = realloc(out->start, (size_t)c * sizeof *gs);
        if (gs) out->start = gs;
        int64_t *go = gs ? realloc(out->source, (size_t)c * sizeof *go) : NULL;
        if (!go) return VKT_ERR_OOM;
        out->source = go, *cap_ex = c;
    }
    memcpy(out->ids + out->n_tokens, ids, (size_t)n * sizeof *ids);
    memcpy(out->loss + out->n_tokens, loss, (size_t)n);
    out->source[out->n_examples] = source;
    out->start[out->n_examples] = out->n_tokens;
    out->n_examples++;
    out->n_tokens += n;
    out->start[out->n_examples] = out->n_tokens;
    return VKT_OK;
}

static void log_stats(const vkt_sft_tok_stats *s, int64_t max_tokens) {
    vkt_log_info("sft tokens: %lld of %lld examples kept (%lld cut at the end, %lld at the start; dropped: %lld over "
                 "%lld tokens, %lld with no target left, %lld the template failed on), %lld tokens (%lld cut), %lld "
                 "targets with loss",
                 (long long)s->n_kept, (long long)s->n_in, (long long)s->n_truncated_right,
                 (long long)s->n_truncated_left, (long long)s->n_dropped_long, (long long)max_tokens,
                 (long long)s->n_dropped_no_loss, (long long)s->n_skipped_render, (long long)s->n_tokens,
                 (long long)s->n_tokens_cut, (long long)s->n_targets);
}

vkt_status vkt_sft_tokenize(const vkt_sft_tok_opts *o, const vkt_sft_dataset *d, vkt_sft_tokenized *out) {
    memset(out, 0, sizeof *out);
    if (!o->tok || o->max_tokens < 2) {
        vkt_log_error("sft tokenize: %s", !o->tok ? "no tokenizer" : "max_tokens (seq_len + 1) must be at least 2");
        return VKT_ERR_ARG;
    }
    if (!(out->start = calloc(1, sizeof *out->start))) return VKT_ERR_OOM;
    vkt_sft_tok_stats *st = &out->stats;
    vkt_tok_ids ids = {0};
    vkt_sft_flags loss = {0};
    int64_t cap = 0, cap_ex = 1;
    vkt_status s = VKT_OK;
    for (int64_t i = 0; s == VKT_OK && i < d->n; i++) {
        ids.len = loss.len = 0;
        st->n_in++;
        s = vkt_sft_encode_example(o, &d->ex[i], &ids, &loss);
        if (s == VKT_ERR_FORMAT) {
            char where[1100];
            vkt_sft_example_where(d, &d->ex[i], where, sizeof where);
            if (o->skip_bad) {
                if (++st->n_skipped_render <= 5)
                    vkt_log_warn("%s: the chat template failed on this example (skipped)", where);
                s = VKT_OK;
            } else {
                vkt_log_error("%s: the chat template failed on this example (see above)", where);
            }
            continue;
        }
        if (s != VKT_OK) break;
        int64_t n = (int64_t)ids.len;
        int r = vkt_sft_truncate(o, ids.data, loss.data, &n);
        if (r == -1) st->n_dropped_long++;
        if (r == -2) st->n_dropped_no_loss++;
        if (r < 0) continue;
        st->n_truncated_right += r == 1;
        st->n_truncated_left += r == 2;
        st->n_tokens_cut += (int64_t)ids.len - n;
        for (int64_t k = 1; k < n; k++) st->n_targets += loss.data[k];
        s = append(out, &cap, &cap_ex, ids.data, loss.data, n, i);
        st->n_kept++;
    }
    vkt_tok_ids_free(&ids);
    vkt_sft_flags_free(&loss);
    if (s != VKT_OK) return s;
    st->n_tokens = out->n_tokens;
    log_stats(st, o->max_tokens);
    if (out->n_examples == 0) {
        vkt_log_error("sft tokenize: no example is left to train on (see the counts above)");
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

void vkt_sft_tokenized_free(vkt_sft_tokenized *t) {
    if (!t) return;
    free(t->ids);
    free(t->loss);
    free(t->start);
    free(t->source);
    memset(t, 0, sizeof *t);
}
