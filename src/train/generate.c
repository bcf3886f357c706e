/* Generation loop (see generate.h): a KV-cache engine while the sequence fits the context, a sliding-window
 * engine (full forward per token) past it or on request. */
#include "train/generate.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "model/model_decode.h"
#include "vk/memory.h"

#define PREFILL_CHUNK 64 /* prompt tokens per cached forward: bounds the (chunk, V) logits buffer */

static vkt_status copy_params(vkt_device *dev, const vkt_model *src, vkt_model *dst) {
    if (src->base.format != VKT_QFORMAT_F32 || src->half_arena) {
        /* A quantized base has no f32 arena to copy, and a mixed-precision model's table is aligned for its
         * half copy (other offsets): go through the host (dequantized), entry by entry from src's layout into
         * dst's (the same entries in the same order). */
        VKT_ASSERT(src->table.n == dst->table.n);
        float *host = malloc((size_t)src->table.total * sizeof *host);
        float *out = calloc((size_t)dst->table.total, sizeof *out);
        vkt_status s = host && out ? vkt_model_download_params(src, host) : VKT_ERR_OOM;
        for (int i = 0; s == VKT_OK && i < src->table.n; i++) {
            const vkt_param *a = &src->table.p[i], *b = &dst->table.p[i];
            VKT_ASSERT(a->numel == b->numel);
            memcpy(out + b->offset, host + a->offset, (size_t)a->numel * sizeof *out);
        }
        if (s == VKT_OK) s = vkt_model_upload_params(dst, out);
        free(host);
        free(out);
        return s;
    }
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(dev, 0, &r));
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_rec_copy(r, &src->params, &dst->params);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_destroy(r);
    return s;
}

/* Decoding token by token loses what depends on neighbours (SentencePiece's leading-space rule, bytes
 * of a multi-byte character), so decode the whole generated run, behind the last prompt token so a space
 * the first new token starts with is kept (unless it is a reply), and print what is new. */
static void stream_new_text(vkt_tokenizer *tok, FILE *f, bool reply, const int32_t *seq, int64_t first_new, int64_t n,
                            size_t *printed) {
    if (!f) return;
    int64_t from = first_new > 0 && !reply ? first_new - 1 : first_new;
    vkt_tok_bytes lead = {0}, b = {0};
    bool ok = vkt_tok_decode(tok, seq + from, (size_t)(first_new - from), true, &lead) == VKT_OK &&
              vkt_tok_decode(tok, seq + from, (size_t)(n - from), true, &b) == VKT_OK;
    if (ok && b.len >= lead.len && b.len - lead.len > *printed) {
        fwrite(b.data + lead.len + *printed, 1, b.len - lead.len - *printed, f);
        *printed = b.len - lead.len;
    }
    fflush(f);
    vkt_tok_bytes_free(&lead);
    vkt_tok_bytes_free(&b);
}

/* A model, its parameters copied from the source, and its recordings. */
typedef struct {
    const vkt_gen_adapter *adapter; /* borrowed, NULL: none */
    void *adapter_handle;           /* what adapter->attach returned for m */
    vkt_model *m;     /* owned */
    vkt_rec *rec;     /* owned: window forward (window engine) or the one-token step (cache engine) */
    vkt_rec *prefill; /* owned, cache engine: re-recorded per prompt chunk (cheap: a few dozen dispatches) */
    int64_t fed;      /* cache engine: positions already in the cache */
} engine;

static void engine_free(engine *e) {
    vkt_rec_destroy(e->prefill);
    vkt_rec_destroy(e->rec);
    if (e->adapter && e->adapter_handle) e->adapter->release(e->adapter->ctx, e->adapter_handle);
    vkt_model_destroy(e->m);
    memset(e, 0, sizeof *e);
}

static vkt_status engine_window(vkt_device *dev, const vkt_model *src, int64_t T, engine *e) {
    VKT_TRY(vkt_model_create(dev, &src->cfg, 1, T, false, &e->m));
    VKT_TRY(copy_params(dev, src, e->m));
    if (e->adapter) VKT_TRY(e->adapter->attach(e->adapter->ctx, e->m, &e->adapter_handle));
    VKT_TRY(vkt_rec_create(dev, 0, &e->rec));
    vkt_model_use_slot(e->m, 0);
    VKT_TRY(vkt_rec_begin(e->rec));
    VKT_TRY(vkt_model_record_forward(e->m, e->rec, VKT_FWD_LOGITS));
    return vkt_rec_end(e->rec);
}

static vkt_status engine_cache(vkt_device *dev, const vkt_model *src, int64_t chunk, int64_t kv_len, engine *e) {
    VKT_TRY(vkt_model_create_decode(dev, &src->cfg, chunk, kv_len, &e->m));
    VKT_TRY(copy_params(dev, src, e->m));
    if (e->adapter) VKT_TRY(e->adapter->attach(e->adapter->ctx, e->m, &e->adapter_handle));
    VKT_TRY(vkt_rec_create(dev, 0, &e->rec));
    VKT_TRY(vkt_rec_create(dev, 0, &e->prefill));
    vkt_model_use_slot(e->m, 0);
    VKT_TRY(vkt_rec_begin(e->rec));
    VKT_TRY(vkt_model_record_decode(e->m, e->rec, 1));
    return vkt_rec_end(e->rec);
}

/* Window engine: logits of the last of seq[0, n) from a forward over the last T tokens. */
static vkt_status window_logits(vkt_device *dev, engine *e, const int32_t *seq, int64_t n, float *row) {
    const int64_t T = e->m->T, start = n > T ? n - T : 0, len = n - start;
    int32_t *tokens = vkt_model_slot_tokens(e->m, 0);
    /* Positions past the window's end are padding the causal mask hides. */
    for (int64_t i = 0; i < T; i++) tokens[i] = i < len ? seq[start + i] : 0;
    VKT_TRY(vkt_rec_submit_wait(e->rec));
    vkt_tensor last = vkt_tensor_rows(&e->m->logits, len - 1, 1);
    return vkt_tensor_download(dev, &last, row, (size_t)e->m->cfg.vocab_size * sizeof *row);
}

/* Cache engine: feeds seq[fed, n) (n <= kv_len) in prompt chunks, then one token at a time; the logits of
 * the last fed position are in row 0. */
static vkt_status cache_logits(engine *e, const int32_t *seq, int64_t n, float *row) {
    int32_t *tokens = vkt_model_slot_tokens(e->m, 0), *pos = vkt_model_decode_pos(e->m);
    while (e->fed < n) {
        int64_t tq = n - e->fed < e->m->T ? n - e->fed : e->m->T;
        memcpy(tokens, seq + e->fed, (size_t)tq * sizeof *tokens);
        *pos = (int32_t)e->fed;
        if (tq == 1) {
            VKT_TRY(vkt_rec_submit_wait(e->rec));
        } else {
            VKT_TRY(vkt_rec_begin(e->prefill));
            VKT_TRY(vkt_model_record_decode(e->m, e->prefill, tq));
            VKT_TRY(vkt_rec_end(e->prefill));
            VKT_TRY(vkt_rec_submit_wait(e->prefill));
        }
        e->fed += tq;
    }
    memcpy(row, vkt_model_decode_logits(e->m), (size_t)e->m->cfg.vocab_size * sizeof *row);
    return VKT_OK;
}

struct vkt_gen_session {
    vkt_device *dev;
    const vkt_model *src; /* borrowed: the window engine copies its parameters when first needed */
    int64_t T;            /* context: cache positions and window length */
    engine cache, window;
    int32_t *cached;      /* (T) the ids whose keys and values the cache holds: cache.fed of them */
};

vkt_status vkt_gen_session_create(vkt_device *dev, const vkt_model *src, int64_t context, vkt_gen_session **out) {
    return vkt_gen_session_create_ex(dev, src, context, NULL, out);
}

vkt_status vkt_gen_session_create_ex(vkt_device *dev, const vkt_model *src, int64_t context,
                                     const vkt_gen_adapter *adapter, vkt_gen_session **out) {
    *out = NULL;
    int64_t T = context > 0 && context < src->cfg.max_seq_len ? context : src->cfg.max_seq_len;
    vkt_gen_session *s = calloc(1, sizeof *s);
    if (!s) return VKT_ERR_OOM;
    s->dev = dev, s->src = src, s->T = T;
    s->cache.adapter = s->window.adapter = adapter;
    s->cached = malloc((size_t)T * sizeof *s->cached);
    vkt_status st = s->cached ? VKT_OK : VKT_ERR_OOM;
    if (st == VKT_OK) st = engine_cache(dev, src, T < PREFILL_CHUNK ? T : PREFILL_CHUNK, T, &s->cache);
    if (st != VKT_OK) {
        vkt_gen_session_destroy(s);
        return st;
    }
    *out = s;
    return VKT_OK;
}

void vkt_gen_session_destroy(vkt_gen_session *s) {
    if (!s) return;
    engine_free(&s->window);
    engine_free(&s->cache);
    free(s->cached);
    free(s);
}

int64_t vkt_gen_session_context(const vkt_gen_session *s) { return s->T; }

vkt_status vkt_gen_session_refresh(vkt_gen_session *s, bool reload) {
    s->cache.fed = 0;
    if (!reload) return VKT_OK;
    VKT_TRY(copy_params(s->dev, s->src, s->cache.m));
    return s->window.m ? copy_params(s->dev, s->src, s->window.m) : VKT_OK;
}

static bool is_stop(const vkt_generate_opts *o, int32_t id, int32_t eos) {
    if (o->stop_at_eos && id == eos) return true;
    for (int i = 0; i < o->n_stop; i++)
        if (o->stop_ids[i] == id) return true;
    return false;
}

/* Logits of the last of seq[0, n): from the cache while the sequence fits it (keeping the positions it shares
 * with what the cache holds), else from a window forward. */
static vkt_status session_logits(vkt_gen_session *s, const int32_t *seq, int64_t n, bool full_recompute, float *row) {
    if (!full_recompute && n <= s->T) {
        int64_t keep = 0;
        while (keep < s->cache.fed && keep < n && s->cached[keep] == seq[keep]) keep++;
        if (keep == n) keep--; /* the last position is fed again for its logits */
        s->cache.fed = keep;
        VKT_TRY(cache_logits(&s->cache, seq, n, row));
        memcpy(s->cached + keep, seq + keep, (size_t)(n - keep) * sizeof *seq);
        return VKT_OK;
    }
    if (!s->window.m) VKT_TRY(engine_window(s->dev, s->src, s->T, &s->window));
    return window_logits(s->dev, &s->window, seq, n, row);
}

vkt_status vkt_gen_session_run(vkt_gen_session *s, vkt_tokenizer *tok, const int32_t *prompt, int64_t n_prompt,
                               const vkt_generate_opts *opts, int32_t **out_ids, int64_t *n_out) {
    VKT_ASSERT(n_prompt >= 1);
    const vkt_model *src = s->src;
    int64_t total = n_prompt + opts->max_tokens;
    int32_t *seq = malloc((size_t)(total + 1) * sizeof *seq);
    float *row = malloc((size_t)src->cfg.vocab_size * sizeof *row);
    vkt_sampler sampler = {0};
    vkt_status st = seq && row ? VKT_OK : VKT_ERR_OOM;
    if (st == VKT_OK) st = vkt_sampler_init(&sampler, src->cfg.vocab_size, opts->sampler, opts->seed);
    int64_t n = n_prompt;
    if (st == VKT_OK) memcpy(seq, prompt, (size_t)n_prompt * sizeof *seq);
    int32_t eos = vkt_tok_eos(tok) >= 0 ? vkt_tok_eos(tok) : vkt_tok_eot(tok);
    size_t printed = 0;
    while (st == VKT_OK && n - n_prompt < opts->max_tokens) {
        st = session_logits(s, seq, n, opts->full_recompute, row);
        if (st != VKT_OK) break;
        int32_t next = vkt_sampler_next(&sampler, row);
        seq[n++] = next;
        if (is_stop(opts, next, eos)) break;
        stream_new_text(tok, opts->stream, opts->stream_reply, seq, n_prompt, n, &printed);
    }
    if (st == VKT_OK && out_ids) {
        *n_out = n - n_prompt;
        *out_ids = malloc((size_t)(*n_out > 0 ? *n_out : 1) * sizeof **out_ids);
        if (*out_ids) memcpy(*out_ids, seq + n_prompt, (size_t)*n_out * sizeof **out_ids);
        else st = VKT_ERR_OOM;
    }
    vkt_sampler_free(&sampler);
    free(seq);
    free(row);
    return st;
}

vkt_status vkt_generate_ids(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const int32_t *prompt,
                            int64_t n_prompt, const vkt_generate_opts *opts, int32_t **out_ids, int64_t *n_out) {
    int64_t T = opts->context > 0 ? opts->context : src->cfg.max_seq_len;
    if (T > src->cfg.max_seq_len) T = src->cfg.max_seq_len;
    int32_t start = vkt_tok_bos(tok) >= 0 ? vkt_tok_bos(tok) : (vkt_tok_eot(tok) >= 0 ? vkt_tok_eot(tok) : 0);
    if (n_prompt == 0) prompt = &start, n_prompt = 1; /* nothing to continue: start from BOS */
    int64_t total = n_prompt + opts->max_tokens;
    if (total < T) T = total; /* a cache no longer than the sequence can grow */
    vkt_gen_session *s;
    VKT_TRY(vkt_gen_session_create(dev, src, T, &s));
    vkt_status st = vkt_gen_session_run(s, tok, prompt, n_prompt, opts, out_ids, n_out);
    vkt_gen_session_destroy(s);
    return st;
}

vkt_status vkt_generate(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const char *prompt,
                        const vkt_generate_opts *opts) {
    vkt_tok_ids ids = {0};
    vkt_status s = VKT_OK;
    if (prompt && *prompt) {
        s = vkt_tok_encode(tok, prompt, strlen(prompt), true, &ids);
        if (s == VKT_OK && opts->stream) fputs(prompt, opts->stream);
    }
    if (s == VKT_OK) s = vkt_generate_ids(dev, src, tok, ids.data, (int64_t)ids.len, opts, NULL, NULL);
    vkt_tok_ids_free(&ids);
    return s;
}
