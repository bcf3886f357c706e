/* Backward recording (see model.h): the blocks in reverse, each turning d(block output) in m->dres into
 * d(block input) in place, parameter gradients accumulated. */
#include "model/model.h"

#include "model/model_ops.h"

static const vkt_tensor *opt(const vkt_tensor *t) { return t->arena ? t : NULL; }

vkt_tensor vkt_model_g(const vkt_model *m, int layer, vkt_param_role role) {
    const vkt_param *e = m->grads_arena ? vkt_params_get(&m->table, layer, role) : NULL;
    return e ? vkt_model_grad_group(m, e) : (vkt_tensor){0};
}

static vkt_status block_backward(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *x) {
    const vkt_model_config *c = &m->cfg;
    vkt_layer_acts *a = &m->layers[l];
    int64_t C = c->n_embd, QKV = (c->n_head + 2 * c->n_kv_head) * c->head_dim;
    int64_t ATT = c->n_head * c->head_dim, F = c->n_inner, FC = c->arch == VKT_ARCH_GPT2 ? F : 2 * F;
    bool gpt2 = c->arch == VKT_ARCH_GPT2;

    /* MLP branch: res_mlp = res_attn + down(act(fc(norm2(res_attn)))); m->dres holds d(res_mlp). */
    VKT_TRY(vkt_model_mlp_down_bwd(m, r, l, &m->dres, &a->fc, &a->fc_act, &m->dfc_act, &m->dfc));
    vkt_param_role fc_w = gpt2 ? VKT_ROLE_FC_W : VKT_ROLE_GATE_W, fc_b = gpt2 ? VKT_ROLE_FC_B : VKT_ROLE_GATE_B;
    VKT_TRY(vkt_model_linear_bwd(m, r, l, fc_w, fc_b, &m->dfc, &a->norm2, &m->dtmp_c, C, FC));
    vkt_tensor n2w = vkt_model_p(m, l, VKT_ROLE_NORM2_W), gn2w = vkt_model_g(m, l, VKT_ROLE_NORM2_W);
    vkt_tensor gn2b = vkt_model_g(m, l, VKT_ROLE_NORM2_B);
    VKT_TRY(vkt_model_norm_bwd(m, r, &m->dtmp_c, &a->res_attn, &n2w, &a->norm2_mean, &a->norm2_rstd, &m->dres,
                               opt(&gn2w), opt(&gn2b)));

    /* Attention branch: res_attn = x + o(attention(qkv(norm1(x)))); m->dres now holds d(res_attn). */
    VKT_TRY(vkt_model_linear_bwd(m, r, l, VKT_ROLE_O_W, VKT_ROLE_O_B, &m->dres, &a->atty, &m->datty, ATT, C));
    vkt_attention_cfg acfg = vkt_model_attention_cfg(m);
    vkt_attention_view views[3], dviews[3];
    vkt_attention_views_fused(&acfg, &a->qkv, views);
    vkt_attention_views_fused(&acfg, &m->dqkv, dviews);
    VKT_TRY(vkt_op_attention_bwd(r, &acfg, &m->datty, views, &a->atty, &a->lse, dviews, &m->delta));
    if (!gpt2) VKT_TRY(vkt_model_rope(m, r, &m->dqkv, true));
    vkt_param_role qkv_w = gpt2 ? VKT_ROLE_QKV_W : VKT_ROLE_Q_W, qkv_b = gpt2 ? VKT_ROLE_QKV_B : VKT_ROLE_Q_B;
    VKT_TRY(vkt_model_linear_bwd(m, r, l, qkv_w, qkv_b, &m->dqkv, &a->norm1, &m->dtmp_c, C, QKV));
    vkt_tensor n1w = vkt_model_p(m, l, VKT_ROLE_NORM1_W), gn1w = vkt_model_g(m, l, VKT_ROLE_NORM1_W);
    vkt_tensor gn1b = vkt_model_g(m, l, VKT_ROLE_NORM1_B);
    return vkt_model_norm_bwd(m, r, &m->dtmp_c, x, &n1w, &a->norm1_mean, &a->norm1_rstd, &m->dres, opt(&gn1w),
                              opt(&gn1b));
}

/* From d(final-norm output) in dnormf down to the embeddings. */
static vkt_status backward_from_hidden(vkt_model *m, vkt_rec *r, const vkt_tensor *dnormf) {
    const vkt_model_config *c = &m->cfg;
    int64_t L = c->n_layer;
    VKT_TRY(vkt_rec_fill(r, &m->dres, 0));
    vkt_tensor nfw = vkt_model_p(m, -1, VKT_ROLE_NORM_F_W), gnfw = vkt_model_g(m, -1, VKT_ROLE_NORM_F_W);
    vkt_tensor gnfb = vkt_model_g(m, -1, VKT_ROLE_NORM_F_B);
    const vkt_tensor *last = L ? &m->layers[L - 1].res_mlp : &m->embed_out;
    VKT_TRY(vkt_model_norm_bwd(m, r, dnormf, last, &nfw, &m->normf_mean, &m->normf_rstd, &m->dres, opt(&gnfw),
                               opt(&gnfb)));
    for (int64_t l = L - 1; l >= 0; l--) {
        const vkt_tensor *x = l ? &m->layers[l - 1].res_mlp : &m->embed_out;
        if (m->recompute) VKT_TRY(vkt_model_block_forward(m, r, (int)l, x));
        VKT_TRY(block_backward(m, r, (int)l, x));
        if (m->bwd_hook) VKT_TRY(m->bwd_hook->block_done(m->bwd_hook->ctx, r, (int)l));
    }
    vkt_tensor gwte = vkt_model_embed_g(m, VKT_ROLE_WTE), gwpe = vkt_model_embed_g(m, VKT_ROLE_WPE);
    if (!gwte.arena && !gwpe.arena) return VKT_OK; /* frozen embeddings: nothing below needs the gradient */
    vkt_tensor dbtc = m->dres;
    dbtc.shape[0] = m->B, dbtc.shape[1] = m->T, dbtc.shape[2] = c->n_embd;
    return vkt_op_embed_bwd(r, &dbtc, &m->tokens, &m->embed_scratch, m->pos0, &m->seg_start, opt(&gwte), opt(&gwpe));
}

vkt_status vkt_model_record_backward(vkt_model *m, vkt_rec *r) {
    const vkt_model_config *c = &m->cfg;
    VKT_ASSERT(m->dres.arena); /* a model created with a backward (TRAIN or FROZEN) */
    int64_t BT = m->B * m->T;
    /* LM head: logits = normf head^T; the forward left dlogits in m->logits. */
    vkt_tensor head = vkt_model_head_w(m), ghead = vkt_model_head_g(m);
    /* dx = dlogits W, dW += dlogits^T normf, over rows dlogits_ld apart (padded after a training forward:
     * an aligned row stride keeps both on the fast kernel; see vkt_op_matmul's tail split). */
    int64_t V = c->vocab_size, lda = m->dlogits_ld != V ? m->dlogits_ld : 0;
    const vkt_tensor *dlogits = lda ? &m->logits_pad : &m->logits;
    vkt_matmul_desc dx = {.m = BT, .n = c->n_embd, .k = V, .lda = lda};
    VKT_TRY(vkt_op_matmul(r, dlogits, &head, NULL, &m->dtmp_c, &dx));
    if (ghead.arena) {
        vkt_matmul_desc dw = {.m = V, .n = c->n_embd, .k = BT, .trans_a = true, .accumulate = true, .lda = lda};
        VKT_TRY(vkt_op_matmul(r, dlogits, &m->normf, NULL, &ghead, &dw));
    }
    return backward_from_hidden(m, r, &m->dtmp_c);
}

vkt_status vkt_model_record_backward_hidden(vkt_model *m, vkt_rec *r, const vkt_tensor *dhidden) {
    VKT_ASSERT(m->dres.arena); /* a model created with a backward (TRAIN or FROZEN) */
    VKT_ASSERT(vkt_tensor_numel(dhidden) >= m->B * m->T * m->cfg.n_embd);
    return backward_from_hidden(m, r, dhidden);
}
