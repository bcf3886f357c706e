/* Decode forward with a KV cache (see model_decode.h). The block mirrors vkt_model_block_forward over
 * the first Tq rows of each activation, with the attention replaced by append + cache attention. */
#include "model/model_decode.h"

#include "model/model_ops.h"
#include "ops/attention_decode.h"
#include "ops/rope.h"

/* The first n rows of an activation (empty tensors stay empty). */
static vkt_tensor rows(const vkt_tensor *t, int64_t n) { return t->arena ? vkt_tensor_rows(t, 0, n) : *t; }

static const vkt_tensor *opt(const vkt_tensor *t) { return t->arena ? t : NULL; }

int32_t *vkt_model_decode_pos(const vkt_model *m) { return vkt_tensor_host_ptr(&m->dec_pos); }

static vkt_status block(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *x, int64_t Tq) {
    const vkt_model_config *c = &m->cfg;
    const vkt_layer_acts *a = &m->layers[l];
    const int64_t C = c->n_embd, NH = c->n_head, KVH = c->n_kv_head, HS = c->head_dim;
    const int64_t QKV = (NH + 2 * KVH) * HS, ATT = NH * HS, F = c->n_inner;
    const bool gpt2 = c->arch == VKT_ARCH_GPT2;
    vkt_tensor n1 = rows(&a->norm1, Tq), n1m = rows(&a->norm1_mean, Tq), n1r = rows(&a->norm1_rstd, Tq);
    vkt_tensor qkv = rows(&a->qkv, Tq), atty = rows(&a->atty, Tq), res_attn = rows(&a->res_attn, Tq);
    vkt_tensor n2 = rows(&a->norm2, Tq), n2m = rows(&a->norm2_mean, Tq), n2r = rows(&a->norm2_rstd, Tq);
    vkt_tensor fc = rows(&a->fc, Tq), fc_act = rows(&a->fc_act, Tq), res_mlp = rows(&a->res_mlp, Tq);

    vkt_tensor n1w = vkt_model_p(m, l, VKT_ROLE_NORM1_W), n1b = vkt_model_p(m, l, VKT_ROLE_NORM1_B);
    VKT_TRY(vkt_model_norm_fwd(m, r, x, &n1w, opt(&n1b), &n1, &n1m, &n1r));
    VKT_TRY(vkt_model_linear_fwd_rows(m, r, l, gpt2 ? VKT_ROLE_QKV_W : VKT_ROLE_Q_W, gpt2 ? VKT_ROLE_QKV_B : VKT_ROLE_Q_B,
                                      &n1, NULL, &qkv, Tq, C, QKV));
    if (!gpt2) {
        /* q and k heads are adjacent in the fused row: one pass rotates both, at positions pos0 + t. */
        vkt_rope_desc d = {.B = 1, .T = Tq, .n_heads = NH + KVH, .head_size = HS, .row_stride = QKV};
        VKT_TRY(vkt_op_rope_fwd_at(r, &qkv, &m->rope_table, &d, &m->dec_pos));
    }
    vkt_attention_decode_cfg dc = {.B = 1, .Tq = Tq, .Tmax = m->kv_len, .NH = NH, .KVH = KVH, .HS = HS};
    vkt_attention_view q = {qkv, QKV, 0}, k = {qkv, QKV, ATT}, v = {qkv, QKV, ATT + KVH * HS};
    vkt_tensor kc = vkt_tensor_rows(&m->k_cache, l * m->kv_len, m->kv_len);
    vkt_tensor vc = vkt_tensor_rows(&m->v_cache, l * m->kv_len, m->kv_len);
    VKT_TRY(vkt_op_attention_decode_append(r, &dc, &k, &v, &m->dec_pos, &kc, &vc));
    VKT_TRY(vkt_op_attention_decode_fwd(r, &dc, &q, &kc, &vc, &m->dec_pos, &atty));
    VKT_TRY(vkt_model_linear_fwd_rows(m, r, l, VKT_ROLE_O_W, VKT_ROLE_O_B, &atty, x, &res_attn, Tq, ATT, C));

    vkt_tensor n2w = vkt_model_p(m, l, VKT_ROLE_NORM2_W), n2b = vkt_model_p(m, l, VKT_ROLE_NORM2_B);
    VKT_TRY(vkt_model_norm_fwd(m, r, &res_attn, &n2w, opt(&n2b), &n2, &n2m, &n2r));
    VKT_TRY(vkt_model_mlp_up_fwd(m, r, l, &n2, &fc, &fc_act, Tq));
    return vkt_model_linear_fwd_rows(m, r, l, VKT_ROLE_DOWN_W, VKT_ROLE_DOWN_B, &fc_act, &res_attn, &res_mlp, Tq, F, C);
}

vkt_status vkt_model_record_decode(vkt_model *m, vkt_rec *r, int64_t Tq) {
    const vkt_model_config *c = &m->cfg;
    VKT_ASSERT(m->kv_len > 0 && m->B == 1 && Tq >= 1 && Tq <= m->T);
    const int64_t C = c->n_embd;
    vkt_tensor wte = vkt_model_embed_w(m, VKT_ROLE_WTE), wpe = vkt_model_embed_w(m, VKT_ROLE_WPE);
    vkt_tensor tok = m->tokens;
    tok.shape[0] = 1, tok.shape[1] = Tq;
    vkt_tensor x = rows(&m->embed_out, Tq), btc = x;
    btc.shape[0] = 1, btc.shape[1] = Tq, btc.shape[2] = C;
    VKT_TRY(vkt_op_embed_fwd_at(r, &tok, &wte, opt(&wpe), &m->dec_pos, &btc));
    for (int l = 0; l < c->n_layer; l++) {
        VKT_TRY(block(m, r, l, &x, Tq));
        x = rows(&m->layers[l].res_mlp, Tq);
    }
    /* Only the last position needs logits: its row moves to an aligned (1, C) tensor for norm and head. */
    vkt_tensor last = vkt_tensor_rows(&x, Tq - 1, 1);
    VKT_TRY(vkt_rec_copy(r, &last, &m->dec_last));
    vkt_tensor nf = rows(&m->normf, 1), nfm = rows(&m->normf_mean, 1), nfr = rows(&m->normf_rstd, 1);
    vkt_tensor nfw = vkt_model_p(m, -1, VKT_ROLE_NORM_F_W), nfb = vkt_model_p(m, -1, VKT_ROLE_NORM_F_B);
    VKT_TRY(vkt_model_norm_fwd(m, r, &m->dec_last, &nfw, opt(&nfb), &nf, &nfm, &nfr));
    vkt_tensor head = vkt_model_head_w(m);
    vkt_tensor logits = rows(&m->logits, 1);
    VKT_TRY(vkt_op_matmul_fwd(r, &nf, &head, NULL, &logits, 1, C, c->vocab_size));
    /* Into host-visible memory in the same submit: the host reads them right after the wait (no
     * separate download, which is a staged copy and a second submit on a discrete GPU). */
    return vkt_rec_copy(r, &logits, &m->dec_logits);
}

const float *vkt_model_decode_logits(const vkt_model *m) { return vkt_tensor_host_ptr(&m->dec_logits); }
