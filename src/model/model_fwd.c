/* Forward recording for GPT-2 and LLaMA blocks (see model.h). The two architectures share the block
 * skeleton  x -> norm -> qkv -> attention -> proj -> +x -> norm -> MLP -> +  and differ in the norm, the
 * position encoding and the MLP's activation, which the small helpers below pick. */
#include "model/model.h"

#include "model/model_ops.h"

vkt_attention_cfg vkt_model_attention_cfg(const vkt_model *m) {
    const vkt_model_config *c = &m->cfg;
    return (vkt_attention_cfg){.B = m->B, .T = m->T, .NH = c->n_head, .KVH = c->n_kv_head, .HS = c->head_dim,
                               .causal = !m->bidirectional, .seg_start = &m->seg_start};
}

static const vkt_param *P(const vkt_model *m, int layer, vkt_param_role role) {
    return vkt_params_get(&m->table, layer, role);
}

/* A parameter view, or an empty tensor (arena NULL) when the model has no such tensor. */
vkt_tensor vkt_model_p(const vkt_model *m, int layer, vkt_param_role role) {
    const vkt_param *e = P(m, layer, role);
    if (!e) return (vkt_tensor){0};
    vkt_tensor t = vkt_model_param_group(m, e);
    if (!m->half_arena) return t;
    /* The half copy shares the parameter arena's layout: the same element offset. */
    size_t elem = (t.offset - m->params.offset) / sizeof(float);
    t.arena = m->params_half.arena, t.dtype = m->params_half.dtype;
    t.offset = m->params_half.offset + elem * vkt_dtype_size(t.dtype);
    return t;
}

vkt_tensor vkt_model_p_master(const vkt_model *m, int layer, vkt_param_role role) {
    const vkt_param *e = P(m, layer, role);
    return e ? vkt_model_param_group(m, e) : (vkt_tensor){0};
}

static const vkt_tensor *opt(const vkt_tensor *t) { return t->arena ? t : NULL; }

vkt_status vkt_model_block_forward(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *x) {
    const vkt_model_config *c = &m->cfg;
    vkt_layer_acts *a = &m->layers[l];
    int64_t C = c->n_embd, QKV = (c->n_head + 2 * c->n_kv_head) * c->head_dim;
    int64_t ATT = c->n_head * c->head_dim, F = c->n_inner;
    bool gpt2 = c->arch == VKT_ARCH_GPT2;

    vkt_tensor n1w = vkt_model_p(m, l, VKT_ROLE_NORM1_W), n1b = vkt_model_p(m, l, VKT_ROLE_NORM1_B);
    VKT_TRY(vkt_model_norm_fwd(m, r, x, &n1w, opt(&n1b), &a->norm1, &a->norm1_mean, &a->norm1_rstd));
    vkt_param_role qkv_w = gpt2 ? VKT_ROLE_QKV_W : VKT_ROLE_Q_W;
    vkt_param_role qkv_b = gpt2 ? VKT_ROLE_QKV_B : VKT_ROLE_Q_B;
    VKT_TRY(vkt_model_linear_fwd(m, r, l, qkv_w, qkv_b, &a->norm1, NULL, &a->qkv, C, QKV));
    if (!gpt2) VKT_TRY(vkt_model_rope(m, r, &a->qkv, false));
    vkt_attention_cfg acfg = vkt_model_attention_cfg(m);
    vkt_attention_view views[3];
    vkt_attention_views_fused(&acfg, &a->qkv, views);
    VKT_TRY(vkt_op_attention_fwd(r, &acfg, views, &a->atty, &a->lse));
    VKT_TRY(vkt_model_linear_fwd(m, r, l, VKT_ROLE_O_W, VKT_ROLE_O_B, &a->atty, x, &a->res_attn, ATT, C));

    vkt_tensor n2w = vkt_model_p(m, l, VKT_ROLE_NORM2_W), n2b = vkt_model_p(m, l, VKT_ROLE_NORM2_B);
    VKT_TRY(vkt_model_norm_fwd(m, r, &a->res_attn, &n2w, opt(&n2b), &a->norm2, &a->norm2_mean, &a->norm2_rstd));
    VKT_TRY(vkt_model_mlp_up_fwd(m, r, l, &a->norm2, &a->fc, &a->fc_act, m->B * m->T));
    return vkt_model_linear_fwd(m, r, l, VKT_ROLE_DOWN_W, VKT_ROLE_DOWN_B, &a->fc_act, &a->res_attn, &a->res_mlp, F, C);
}

vkt_status vkt_model_record_forward(vkt_model *m, vkt_rec *r, vkt_fwd_mode mode) {
    const vkt_model_config *c = &m->cfg;
    m->training = mode == VKT_FWD_LOSS_GRAD || mode == VKT_FWD_LOSS_TRAIN || mode == VKT_FWD_HIDDEN_TRAIN;
    int64_t BT = m->B * m->T;
    vkt_tensor wte = vkt_model_embed_w(m, VKT_ROLE_WTE), wpe = vkt_model_embed_w(m, VKT_ROLE_WPE);
    vkt_tensor btc = m->embed_out;
    btc.shape[0] = m->B, btc.shape[1] = m->T, btc.shape[2] = c->n_embd;
    VKT_TRY(vkt_op_embed_fwd(r, &m->tokens, &wte, opt(&wpe), m->pos0, &m->seg_start, &btc));
    const vkt_tensor *x = &m->embed_out;
    for (int l = 0; l < c->n_layer; l++) {
        VKT_TRY(vkt_model_block_forward(m, r, l, x));
        x = &m->layers[l].res_mlp;
    }
    vkt_tensor nfw = vkt_model_p(m, -1, VKT_ROLE_NORM_F_W), nfb = vkt_model_p(m, -1, VKT_ROLE_NORM_F_B);
    VKT_TRY(vkt_model_norm_fwd(m, r, x, &nfw, opt(&nfb), &m->normf, &m->normf_mean, &m->normf_rstd));
    if (mode == VKT_FWD_HIDDEN || mode == VKT_FWD_HIDDEN_TRAIN) return VKT_OK;
    vkt_tensor head = vkt_model_head_w(m);
    /* Training: logits and dlogits in padded rows (logits_pad); every other mode leaves (BT, V) logits for
     * the caller. */
    bool padded = mode == VKT_FWD_LOSS_GRAD && m->logits_pad.shape[1] != c->vocab_size;
    m->dlogits_ld = padded ? m->logits_pad.shape[1] : c->vocab_size;
    vkt_matmul_desc hd = {.m = BT, .n = c->vocab_size, .k = c->n_embd, .trans_b = true,
                          .ldc = padded ? m->dlogits_ld : 0};
    VKT_TRY(vkt_op_matmul(r, &m->normf, &head, NULL, padded ? &m->logits_pad : &m->logits, &hd));
    if (mode == VKT_FWD_LOGITS) return VKT_OK;
    vkt_xent_opts xo = vkt_xent_opts_default();
    xo.dloss = m->dloss;
    if (m->dloss_scale.arena) xo.dloss_scale = &m->dloss_scale, xo.dloss_scale_index = m->dloss_scale_index;
    if (mode == VKT_FWD_LOSS_GRAD) {
        const vkt_tensor *lg = padded ? &m->logits_pad : &m->logits;
        xo.vocab = c->vocab_size;
        return vkt_op_xent_fwd_bwd(r, lg, &m->targets, &m->losses, &m->loss_stats, lg, &xo);
    }
    return vkt_op_xent_fwd(r, &m->logits, &m->targets, &m->losses, &m->xent_rowstats, &m->loss_stats, &xo);
}
