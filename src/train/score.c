/* Rewards of conversations (see score.h). */
#include "train/score.h"

#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/log.h"
#include "model/score_head.h"
#include "sft/sft_tokenize.h"

/* Every record's ids, concatenated: record i is ids[start[i], start[i + 1]). */
typedef struct {
    vkt_tok_ids ids;
    int64_t *start;
    int64_t n;
} encoded;

static vkt_status encode_all(const vkt_score_opts *o, const vkt_chat_template *chat, const vkt_sft_dataset *d,
                             encoded *out, int64_t *n_cut) {
    vkt_sft_tok_opts to = {.tok = o->tok, .chat = chat, .max_tokens = o->model->T + 1,
                           .parse_special = o->parse_special};
    const int64_t T = o->model->T;
    out->start = calloc((size_t)d->n + 1, sizeof *out->start);
    if (!out->start) return VKT_ERR_OOM;
    vkt_sft_flags flags = {0};
    vkt_status s = VKT_OK;
    for (int64_t i = 0; i < d->n && s == VKT_OK; i++) {
        const vkt_sft_example *e = &d->ex[i];
        const char *file = d->files[e->file];
        size_t before = out->ids.len;
        s = vkt_sft_encode_example(&to, e, &out->ids, &flags);
        int64_t len = (int64_t)(out->ids.len - before);
        if (s == VKT_OK && len > T && o->keep_end) { /* the score is read at the end: keep it */
            memmove(out->ids.data + before, out->ids.data + before + (len - T), (size_t)T * sizeof *out->ids.data);
            out->ids.len = before + (size_t)T, len = T, ++*n_cut;
        }
        if (s != VKT_OK) vkt_log_error("%s:%lld: the record could not be encoded", file, (long long)e->line);
        else if (len < 1 || len > T) {
            vkt_log_error("%s:%lld: the record is %lld tokens; a row holds 1 to %lld (give a longer --seq, up to the "
                          "model's context)", file, (long long)e->line, (long long)len, (long long)T);
            s = VKT_ERR_FORMAT;
        }
        out->start[i + 1] = (int64_t)out->ids.len;
    }
    vkt_sft_flags_free(&flags);
    out->n = d->n;
    return s;
}

/* Records b0 .. b0 + B - 1 into slot 0's rows (one per row, padding after) and the last-position table. */
static void fill_rows(const encoded *en, int64_t b0, vkt_model *m, int32_t *last_id) {
    int64_t B = m->B, T = m->T;
    int32_t *tok = vkt_model_slot_tokens(m, 0), *tgt = vkt_model_slot_targets(m, 0);
    int32_t *seg = vkt_model_slot_seg_start(m, 0);
    for (int64_t i = 0; i < B * T; i++) tok[i] = 0, tgt[i] = -100, last_id[i] = -1;
    for (int64_t r = 0; r < B; r++) {
        int64_t k = b0 + r, len = k < en->n ? en->start[k + 1] - en->start[k] : 0;
        for (int64_t t = 0; t < T; t++) {
            if (t < len) tok[r * T + t] = en->ids.data[en->start[k] + t];
            seg[r * T + t] = (int32_t)(t < len ? 0 : len); /* padding: a document of its own after the record */
        }
        if (len > 0) last_id[r * T + len - 1] = (int32_t)r;
    }
}

static vkt_status score_batches(const vkt_score_opts *o, const encoded *en, double *rewards) {
    vkt_model *m = o->model;
    vkt_device *dev = m->dev;
    int64_t BT = m->B * m->T;
    vkt_arena *host = NULL;
    vkt_rec *r = NULL;
    vkt_score_head head = {0};
    vkt_tensor last_id, out;
    vkt_status s = vkt_arena_create_host(dev, "score batches", (size_t)(BT + 2 * m->B) * 4 + 4096, &host);
    if (s == VKT_OK) s = vkt_tensor_alloc(host, VKT_DTYPE_I32, BT, 1, 1, 1, &last_id);
    if (s == VKT_OK) s = vkt_tensor_alloc(host, VKT_DTYPE_F32, m->B, 2, 1, 1, &out);
    if (s == VKT_OK) s = vkt_score_head_create(dev, BT, &head);
    if (s == VKT_OK) s = vkt_rec_create(dev, 0, &r);
    if (s == VKT_OK) {
        vkt_model_use_slot(m, 0);
        s = vkt_rec_begin(r);
        if (s == VKT_OK) s = vkt_model_record_forward(m, r, VKT_FWD_HIDDEN);
        if (s == VKT_OK) s = vkt_score_head_fwd(&head, r, m, &o->w, &last_id, &out);
        if (s == VKT_OK) s = vkt_rec_end(r);
    }
    for (int64_t b0 = 0; b0 < en->n && s == VKT_OK; b0 += m->B) {
        fill_rows(en, b0, m, vkt_tensor_host_ptr(&last_id));
        s = vkt_rec_submit_wait(r);
        const float *rw = vkt_tensor_host_ptr(&out);
        for (int64_t k = 0; s == VKT_OK && k < m->B && b0 + k < en->n; k++) rewards[b0 + k] = rw[2 * k];
    }
    vkt_rec_destroy(r);
    vkt_score_head_destroy(&head);
    vkt_arena_destroy(host);
    return s;
}

/* Encodes and scores d with the template chat (NULL when no record is a conversation). */
static vkt_status score_records(const vkt_score_opts *o, const vkt_chat_template *chat, const vkt_sft_dataset *d,
                                double *rewards, int64_t *n_cut) {
    encoded en = {0};
    int64_t cut = 0;
    vkt_status s = encode_all(o, chat, d, &en, &cut);
    if (s == VKT_OK) s = score_batches(o, &en, rewards);
    if (n_cut) *n_cut = cut;
    vkt_tok_ids_free(&en.ids);
    free(en.start);
    return s;
}

vkt_status vkt_score_dataset(const vkt_score_opts *o, const vkt_sft_dataset *d, double *rewards, int64_t *n_cut) {
    return score_records(o, o->chat, d, rewards, n_cut);
}

vkt_status vkt_score_file(const vkt_score_opts *o, const char *path, double **rewards, int64_t *n) {
    *rewards = NULL, *n = 0;
    vkt_sft_dataset d = {0};
    vkt_chat_template *own = NULL;
    vkt_status s = vkt_sft_dataset_load(path, NULL, &d);
    bool conversations = false;
    for (int64_t i = 0; s == VKT_OK && i < d.n; i++) conversations |= d.ex[i].kind == VKT_SFT_CHAT;
    if (s == VKT_OK && conversations && !o->chat)
        s = vkt_chat_template_resolve(o->template_spec, o->tokenizer_spec, o->tok, &own);
    double *out = s == VKT_OK ? calloc((size_t)(d.n > 0 ? d.n : 1), sizeof *out) : NULL;
    if (s == VKT_OK && !out) s = VKT_ERR_OOM;
    if (s == VKT_OK) s = score_records(o, own ? own : o->chat, &d, out, NULL);
    if (s == VKT_OK) *rewards = out, *n = d.n;
    else free(out);
    vkt_chat_template_free(own);
    vkt_sft_dataset_free(&d);
    return s;
}
