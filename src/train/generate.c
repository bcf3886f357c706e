/* Generation loop (see generate.h). */
#include "train/generate.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "vk/memory.h"

static vkt_status copy_params(vkt_device *dev, const vkt_model *src, vkt_model *dst) {
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
 * of a multi-byte character), so decode the whole generated run and print what is new. */
static void stream_new_text(vkt_tokenizer *tok, FILE *f, const int32_t *ids, int64_t n, size_t *printed) {
    if (!f) return;
    vkt_tok_bytes b = {0};
    if (vkt_tok_decode(tok, ids, (size_t)n, true, &b) == VKT_OK && b.len > *printed) {
        fwrite(b.data + *printed, 1, b.len - *printed, f);
        *printed = b.len;
    }
    fflush(f);
    vkt_tok_bytes_free(&b);
}

vkt_status vkt_generate_ids(vkt_device *dev, const vkt_model *src, vkt_tokenizer *tok, const int32_t *prompt,
                            int64_t n_prompt, const vkt_generate_opts *opts, int32_t **out_ids, int64_t *n_out) {
    int64_t T = opts->context > 0 ? opts->context : src->cfg.max_seq_len;
    if (T > src->cfg.max_seq_len) T = src->cfg.max_seq_len;
    int64_t total = n_prompt + opts->max_tokens;
    if (total < T) T = total > 0 ? total : 1;
    int32_t *seq = malloc((size_t)(total + 1) * sizeof *seq);
    float *row = malloc((size_t)src->cfg.vocab_size * sizeof *row);
    vkt_model *m = NULL;
    vkt_rec *r = NULL;
    vkt_sampler sampler = {0};
    vkt_status s = seq && row ? VKT_OK : VKT_ERR_OOM;
    if (s == VKT_OK) s = vkt_model_create(dev, &src->cfg, 1, T, false, &m);
    if (s == VKT_OK) s = copy_params(dev, src, m);
    if (s == VKT_OK) s = vkt_rec_create(dev, 0, &r);
    if (s == VKT_OK) {
        vkt_model_use_slot(m, 0);
        s = vkt_rec_begin(r);
    }
    if (s == VKT_OK) s = vkt_model_record_forward(m, r, VKT_FWD_LOGITS);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_sampler_init(&sampler, src->cfg.vocab_size, opts->sampler, opts->seed);
    int64_t n = 0;
    if (s == VKT_OK) {
        if (n_prompt > 0) memcpy(seq, prompt, (size_t)n_prompt * sizeof *seq);
        n = n_prompt;
        if (n == 0) seq[n++] = vkt_tok_bos(tok) >= 0 ? vkt_tok_bos(tok) : (vkt_tok_eot(tok) >= 0 ? vkt_tok_eot(tok) : 0);
    }
    int64_t first_new = n;
    int32_t stop = vkt_tok_eos(tok) >= 0 ? vkt_tok_eos(tok) : vkt_tok_eot(tok);
    int32_t *tokens = m ? vkt_model_slot_tokens(m, 0) : NULL;
    size_t printed = 0;
    while (s == VKT_OK && n - first_new < opts->max_tokens) {
        /* The window is the last T tokens; positions past its end are padding the causal mask hides. */
        int64_t start = n > T ? n - T : 0, len = n - start;
        for (int64_t i = 0; i < T; i++) tokens[i] = i < len ? seq[start + i] : 0;
        s = vkt_rec_submit_wait(r);
        if (s != VKT_OK) break;
        vkt_tensor last = vkt_tensor_rows(&m->logits, len - 1, 1);
        s = vkt_tensor_download(dev, &last, row, (size_t)src->cfg.vocab_size * sizeof *row);
        if (s != VKT_OK) break;
        int32_t next = vkt_sampler_next(&sampler, row);
        seq[n++] = next;
        if (opts->stop_at_eos && next == stop) break;
        stream_new_text(tok, opts->stream, seq + first_new, n - first_new, &printed);
    }
    if (s == VKT_OK && out_ids) {
        *n_out = n - first_new;
        *out_ids = malloc((size_t)(*n_out > 0 ? *n_out : 1) * sizeof **out_ids);
        if (*out_ids) memcpy(*out_ids, seq + first_new, (size_t)*n_out * sizeof **out_ids);
    }
    vkt_sampler_free(&sampler);
    vkt_rec_destroy(r);
    vkt_model_destroy(m);
    free(seq);
    free(row);
    return s;
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
