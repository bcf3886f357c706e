/* Whole-model reference (see ref_model.h). The structure mirrors src/model/model_fwd.c and model_bwd.c
 * step for step so a mismatch can be bisected by comparing activations. */
#include "ref/ref_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ref/ref_attention.h"
#include "ref/ref_embed.h"
#include "ref/ref_gelu.h"
#include "ref/ref_layernorm.h"
#include "ref/ref_matmul.h"
#include "ref/ref_rmsnorm.h"
#include "ref/ref_rope.h"
#include "ref/ref_swiglu.h"
#include "ref/ref_xent.h"

typedef struct {
    double *norm1, *mean1, *rstd1, *qkv, *q, *k, *v, *atty, *res_attn, *norm2, *mean2, *rstd2, *fc, *act, *res_mlp;
} layer_acts;

typedef struct {
    const vkt_model_config *c;
    const vkt_param_table *t;
    const double *p;
    double *g;
    int64_t B, T, BT, C, NH, KVH, HS, QKV, ATT, F, FC;
    bool gpt2, bidirectional;
    const int32_t *seg_start; /* (B*T) document starts of packed rows, or NULL */
    double *rope_cs;  /* (T, HS/2, 2) */
} ctx;

static double *zalloc(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }

static const double *P(const ctx *x, int layer, vkt_param_role role) {
    const vkt_param *e = vkt_params_get(x->t, layer, role);
    return e ? x->p + e->offset : NULL;
}

static double *G(const ctx *x, int layer, vkt_param_role role) {
    const vkt_param *e = vkt_params_get(x->t, layer, role);
    return e && x->g ? x->g + e->offset : NULL;
}

static void norm_fwd(const ctx *x, const double *in, const double *w, const double *b, double *y, double *mean,
                     double *rstd) {
    if (x->gpt2) vkt_ref_layernorm_fwd(in, w, b, x->c->norm_eps, y, mean, rstd, x->BT, x->C);
    else vkt_ref_rmsnorm_fwd(in, w, x->c->norm_eps, y, rstd, x->BT, x->C);
}

/* dx += norm'(dy); dw, db accumulate. */
static void norm_bwd(const ctx *x, const double *in, const double *w, const double *mean, const double *rstd,
                     const double *dy, double *dx, double *dw, double *db) {
    double *tmp = zalloc(x->BT * x->C), *dwt = zalloc(x->C), *dbt = zalloc(x->C);
    if (x->gpt2) vkt_ref_layernorm_bwd(in, w, mean, rstd, dy, tmp, dwt, dbt, x->BT, x->C);
    else vkt_ref_rmsnorm_bwd(in, w, rstd, dy, tmp, dwt, x->BT, x->C);
    for (int64_t i = 0; i < x->BT * x->C; i++) dx[i] += tmp[i];
    for (int64_t i = 0; i < x->C; i++) {
        if (dw) dw[i] += dwt[i];
        if (db) db[i] += dbt[i];
    }
    free(tmp), free(dwt), free(dbt);
}

/* SwiGLU over fused rows [gate | up] (N, 2F) -> (N, F), and its backward into (N, 2F). */
static void swiglu_fused_fwd(const double *gu, double *out, int64_t N, int64_t F) {
    double *g = zalloc(F), *u = zalloc(F);
    for (int64_t r = 0; r < N; r++) {
        memcpy(g, gu + r * 2 * F, (size_t)F * sizeof *g);
        memcpy(u, gu + r * 2 * F + F, (size_t)F * sizeof *u);
        vkt_ref_swiglu_fwd(g, u, out + r * F, F);
    }
    free(g), free(u);
}

static void swiglu_fused_bwd(const double *gu, const double *dout, double *dgu, int64_t N, int64_t F) {
    double *g = zalloc(F), *u = zalloc(F);
    for (int64_t r = 0; r < N; r++) {
        memcpy(g, gu + r * 2 * F, (size_t)F * sizeof *g);
        memcpy(u, gu + r * 2 * F + F, (size_t)F * sizeof *u);
        vkt_ref_swiglu_bwd(g, u, dout + r * F, dgu + r * 2 * F, dgu + r * 2 * F + F, F);
    }
    free(g), free(u);
}

static vkt_ref_rope_shape rope_shape(const ctx *x, int64_t n_heads) {
    return (vkt_ref_rope_shape){.B = x->B, .T = x->T, .n_heads = n_heads, .head_size = x->HS, .rot_dim = x->HS,
                                .row_stride = x->QKV, .col0 = 0, .pos0 = 0, .seg_start = x->seg_start};
}

/* Copies q, k, v column blocks out of the fused (BT, QKV) rows, or back in (add). */
static void split_qkv(const ctx *x, const double *qkv, double *q, double *k, double *v) {
    for (int64_t r = 0; r < x->BT; r++) {
        const double *row = qkv + r * x->QKV;
        memcpy(q + r * x->ATT, row, (size_t)x->ATT * sizeof *q);
        memcpy(k + r * x->KVH * x->HS, row + x->ATT, (size_t)(x->KVH * x->HS) * sizeof *k);
        memcpy(v + r * x->KVH * x->HS, row + x->ATT + x->KVH * x->HS, (size_t)(x->KVH * x->HS) * sizeof *v);
    }
}

static vkt_ref_attention_shape att_shape(const ctx *x) {
    return (vkt_ref_attention_shape){.B = x->B, .T = x->T, .NH = x->NH, .KVH = x->KVH, .HS = x->HS,
                                     .scale = 1.0 / sqrt((double)x->HS), .causal = !x->bidirectional,
                                     .seg_start = x->seg_start};
}

static void block_fwd(const ctx *x, int l, const double *in, layer_acts *a) {
    norm_fwd(x, in, P(x, l, VKT_ROLE_NORM1_W), P(x, l, VKT_ROLE_NORM1_B), a->norm1, a->mean1, a->rstd1);
    vkt_ref_linear_fwd(a->norm1, P(x, l, x->gpt2 ? VKT_ROLE_QKV_W : VKT_ROLE_Q_W),
                       P(x, l, x->gpt2 ? VKT_ROLE_QKV_B : VKT_ROLE_Q_B), a->qkv, x->BT, x->C, x->QKV);
    if (!x->gpt2) {
        vkt_ref_rope_shape s = rope_shape(x, x->NH + x->KVH);
        vkt_ref_rope_fwd(a->qkv, &s, x->rope_cs);
    }
    split_qkv(x, a->qkv, a->q, a->k, a->v);
    vkt_ref_attention_shape as = att_shape(x);
    double *lse = zalloc(x->B * x->NH * x->T);
    vkt_ref_attention_fwd(&as, a->q, a->k, a->v, a->atty, lse);
    free(lse);
    vkt_ref_linear_fwd(a->atty, P(x, l, VKT_ROLE_O_W), P(x, l, VKT_ROLE_O_B), a->res_attn, x->BT, x->ATT, x->C);
    for (int64_t i = 0; i < x->BT * x->C; i++) a->res_attn[i] += in[i];
    norm_fwd(x, a->res_attn, P(x, l, VKT_ROLE_NORM2_W), P(x, l, VKT_ROLE_NORM2_B), a->norm2, a->mean2, a->rstd2);
    vkt_ref_linear_fwd(a->norm2, P(x, l, x->gpt2 ? VKT_ROLE_FC_W : VKT_ROLE_GATE_W),
                       P(x, l, x->gpt2 ? VKT_ROLE_FC_B : VKT_ROLE_GATE_B), a->fc, x->BT, x->C, x->FC);
    if (x->gpt2) vkt_ref_gelu_fwd(a->fc, a->act, x->BT * x->F);
    else swiglu_fused_fwd(a->fc, a->act, x->BT, x->F);
    vkt_ref_linear_fwd(a->act, P(x, l, VKT_ROLE_DOWN_W), P(x, l, VKT_ROLE_DOWN_B), a->res_mlp, x->BT, x->F, x->C);
    for (int64_t i = 0; i < x->BT * x->C; i++) a->res_mlp[i] += a->res_attn[i];
}

/* dres: on entry d(res_mlp), on exit d(in). */
static void block_bwd(const ctx *x, int l, const double *in, const layer_acts *a, double *dres) {
    double *dact = zalloc(x->BT * x->F), *dfc = zalloc(x->BT * x->FC), *dn = zalloc(x->BT * x->C);
    vkt_ref_linear_bwd(dres, a->act, P(x, l, VKT_ROLE_DOWN_W), dact, G(x, l, VKT_ROLE_DOWN_W),
                       G(x, l, VKT_ROLE_DOWN_B), x->BT, x->F, x->C);
    if (x->gpt2) vkt_ref_gelu_bwd(a->fc, dact, dfc, x->BT * x->F, false);
    else swiglu_fused_bwd(a->fc, dact, dfc, x->BT, x->F);
    vkt_ref_linear_bwd(dfc, a->norm2, P(x, l, x->gpt2 ? VKT_ROLE_FC_W : VKT_ROLE_GATE_W), dn,
                       G(x, l, x->gpt2 ? VKT_ROLE_FC_W : VKT_ROLE_GATE_W),
                       G(x, l, x->gpt2 ? VKT_ROLE_FC_B : VKT_ROLE_GATE_B), x->BT, x->C, x->FC);
    norm_bwd(x, a->res_attn, P(x, l, VKT_ROLE_NORM2_W), a->mean2, a->rstd2, dn, dres, G(x, l, VKT_ROLE_NORM2_W),
             G(x, l, VKT_ROLE_NORM2_B));

    double *datty = zalloc(x->BT * x->ATT), *dq = zalloc(x->BT * x->ATT), *dk = zalloc(x->BT * x->KVH * x->HS);
    double *dv = zalloc(x->BT * x->KVH * x->HS), *dqkv = zalloc(x->BT * x->QKV);
    vkt_ref_linear_bwd(dres, a->atty, P(x, l, VKT_ROLE_O_W), datty, G(x, l, VKT_ROLE_O_W), G(x, l, VKT_ROLE_O_B),
                       x->BT, x->ATT, x->C);
    vkt_ref_attention_shape as = att_shape(x);
    vkt_ref_attention_bwd(&as, datty, a->q, a->k, a->v, dq, dk, dv);
    for (int64_t r = 0; r < x->BT; r++) {
        double *row = dqkv + r * x->QKV;
        memcpy(row, dq + r * x->ATT, (size_t)x->ATT * sizeof *row);
        memcpy(row + x->ATT, dk + r * x->KVH * x->HS, (size_t)(x->KVH * x->HS) * sizeof *row);
        memcpy(row + x->ATT + x->KVH * x->HS, dv + r * x->KVH * x->HS, (size_t)(x->KVH * x->HS) * sizeof *row);
    }
    if (!x->gpt2) {
        vkt_ref_rope_shape s = rope_shape(x, x->NH + x->KVH);
        vkt_ref_rope_bwd(dqkv, &s, x->rope_cs);
    }
    memset(dn, 0, (size_t)(x->BT * x->C) * sizeof *dn);
    vkt_ref_linear_bwd(dqkv, a->norm1, P(x, l, x->gpt2 ? VKT_ROLE_QKV_W : VKT_ROLE_Q_W), dn,
                       G(x, l, x->gpt2 ? VKT_ROLE_QKV_W : VKT_ROLE_Q_W),
                       G(x, l, x->gpt2 ? VKT_ROLE_QKV_B : VKT_ROLE_Q_B), x->BT, x->C, x->QKV);
    norm_bwd(x, in, P(x, l, VKT_ROLE_NORM1_W), a->mean1, a->rstd1, dn, dres, G(x, l, VKT_ROLE_NORM1_W),
             G(x, l, VKT_ROLE_NORM1_B));
    free(dact), free(dfc), free(dn), free(datty), free(dq), free(dk), free(dv), free(dqkv);
}

static void alloc_layer(const ctx *x, layer_acts *a) {
    int64_t BT = x->BT;
    a->norm1 = zalloc(BT * x->C), a->mean1 = zalloc(BT), a->rstd1 = zalloc(BT), a->qkv = zalloc(BT * x->QKV);
    a->q = zalloc(BT * x->ATT), a->k = zalloc(BT * x->KVH * x->HS), a->v = zalloc(BT * x->KVH * x->HS);
    a->atty = zalloc(BT * x->ATT), a->res_attn = zalloc(BT * x->C), a->norm2 = zalloc(BT * x->C);
    a->mean2 = zalloc(BT), a->rstd2 = zalloc(BT), a->fc = zalloc(BT * x->FC), a->act = zalloc(BT * x->F);
    a->res_mlp = zalloc(BT * x->C);
}

static void free_layer(layer_acts *a) {
    free(a->norm1), free(a->mean1), free(a->rstd1), free(a->qkv), free(a->q), free(a->k), free(a->v);
    free(a->atty), free(a->res_attn), free(a->norm2), free(a->mean2), free(a->rstd2), free(a->fc), free(a->act);
    free(a->res_mlp);
}

double vkt_ref_model_loss(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                          const int32_t *tokens, const int32_t *targets, int64_t B, int64_t T, bool bidirectional,
                          double *logits_out, double *grads) {
    return vkt_ref_model_loss_packed(cfg, table, params, tokens, targets, NULL, B, T, bidirectional, logits_out,
                                     grads);
}

/* What a pass computes besides the loss: the final-norm output, and the backward from its gradient instead
 * of the LM head's. */
typedef struct {
    double *hidden_out;     /* (BT, C) or NULL */
    const double *dhidden;  /* (BT, C) or NULL: with grads, the backward starts here (targets unused) */
} hidden_io;

/* The forward, and the backward when grads is set: from the mean loss, with weights from
 * sum_r weights[r] loss_r, or from h->dhidden. losses_out (BT) gets the per-position losses when set. */
static double model_pass(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                         const int32_t *tokens, const int32_t *targets, const int32_t *seg_start, int64_t B, int64_t T,
                         bool bidirectional, const double *weights, double *losses_out, double *logits_out,
                         double *grads, const hidden_io *h) {
    ctx x = {.c = cfg, .t = table, .p = params, .g = grads, .B = B, .T = T, .BT = B * T, .C = cfg->n_embd,
             .NH = cfg->n_head, .KVH = cfg->n_kv_head, .HS = cfg->head_dim, .F = cfg->n_inner,
             .gpt2 = cfg->arch == VKT_ARCH_GPT2, .bidirectional = bidirectional, .seg_start = seg_start};
    x.QKV = (x.NH + 2 * x.KVH) * x.HS, x.ATT = x.NH * x.HS, x.FC = x.gpt2 ? x.F : 2 * x.F;
    int64_t V = cfg->vocab_size, L = cfg->n_layer;
    if (!x.gpt2) {
        /* cos/sin of p * theta^(-2i/HS), the rotate-half convention, angles in double. */
        x.rope_cs = zalloc(T * x.HS);
        for (int64_t p = 0; p < T; p++)
            for (int64_t i = 0; i < x.HS / 2; i++) {
                double ang = (double)p * pow(cfg->rope_theta, -2.0 * (double)i / (double)x.HS);
                x.rope_cs[(p * (x.HS / 2) + i) * 2] = cos(ang), x.rope_cs[(p * (x.HS / 2) + i) * 2 + 1] = sin(ang);
            }
    }
    if (grads) memset(grads, 0, (size_t)table->total * sizeof *grads);

    double *embed = zalloc(x.BT * x.C);
    vkt_ref_embed_fwd(tokens, P(&x, -1, VKT_ROLE_WTE), P(&x, -1, VKT_ROLE_WPE), B, T, x.C, V, 0, seg_start, embed);
    layer_acts *acts = calloc((size_t)L, sizeof *acts);
    const double *in = embed;
    for (int l = 0; l < L; l++) {
        alloc_layer(&x, &acts[l]);
        block_fwd(&x, l, in, &acts[l]);
        in = acts[l].res_mlp;
    }
    double *normf = zalloc(x.BT * x.C), *meanf = zalloc(x.BT), *rstdf = zalloc(x.BT);
    norm_fwd(&x, in, P(&x, -1, VKT_ROLE_NORM_F_W), P(&x, -1, VKT_ROLE_NORM_F_B), normf, meanf, rstdf);
    if (h && h->hidden_out) memcpy(h->hidden_out, normf, (size_t)(x.BT * x.C) * sizeof *normf);
    bool from_hidden = h && h->dhidden;
    vkt_param_role head = cfg->tie_word_embeddings ? VKT_ROLE_WTE : VKT_ROLE_LM_HEAD;
    double *logits = zalloc(x.BT * V), *losses = zalloc(x.BT);
    vkt_ref_linear_fwd(normf, P(&x, -1, head), NULL, logits, x.BT, x.C, V);
    int64_t n_valid = 0;
    double loss = targets ? vkt_ref_xent_fwd(logits, targets, losses, x.BT, V, -100, &n_valid) : 0;
    if (logits_out) memcpy(logits_out, logits, (size_t)(x.BT * V) * sizeof *logits);
    if (losses_out) memcpy(losses_out, losses, (size_t)x.BT * sizeof *losses);

    if (grads) {
        double *dlogits = zalloc(x.BT * V), *dn = zalloc(x.BT * x.C), *dres = zalloc(x.BT * x.C);
        if (from_hidden) memcpy(dn, h->dhidden, (size_t)(x.BT * x.C) * sizeof *dn);
        else if (weights) vkt_ref_xent_bwd_weighted(logits, targets, weights, dlogits, x.BT, V, -100, 1.0);
        else vkt_ref_xent_bwd(logits, targets, dlogits, x.BT, V, -100, 1.0);
        if (!from_hidden)
            vkt_ref_linear_bwd(dlogits, normf, P(&x, -1, head), dn, G(&x, -1, head), NULL, x.BT, x.C, V);
        norm_bwd(&x, in, P(&x, -1, VKT_ROLE_NORM_F_W), meanf, rstdf, dn, dres, G(&x, -1, VKT_ROLE_NORM_F_W),
                 G(&x, -1, VKT_ROLE_NORM_F_B));
        for (int64_t l = L - 1; l >= 0; l--)
            block_bwd(&x, (int)l, l ? acts[l - 1].res_mlp : embed, &acts[l], dres);
        vkt_ref_embed_bwd(dres, tokens, B, T, x.C, V, 0, seg_start, G(&x, -1, VKT_ROLE_WTE),
                          G(&x, -1, VKT_ROLE_WPE));
        free(dlogits), free(dn), free(dres);
    }
    for (int l = 0; l < L; l++) free_layer(&acts[l]);
    free(acts), free(embed), free(normf), free(meanf), free(rstdf), free(logits), free(losses), free(x.rope_cs);
    return loss;
}

double vkt_ref_model_loss_packed(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                                 const int32_t *tokens, const int32_t *targets, const int32_t *seg_start, int64_t B,
                                 int64_t T, bool bidirectional, double *logits_out, double *grads) {
    return model_pass(cfg, table, params, tokens, targets, seg_start, B, T, bidirectional, NULL, NULL, logits_out,
                      grads, NULL);
}

void vkt_ref_model_weighted(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                            const int32_t *tokens, const int32_t *targets, const int32_t *seg_start, int64_t B,
                            int64_t T, const double *weights, double *losses, double *grads) {
    model_pass(cfg, table, params, tokens, targets, seg_start, B, T, false, weights, losses, NULL, grads, NULL);
}

void vkt_ref_model_hidden(const vkt_model_config *cfg, const vkt_param_table *table, const double *params,
                          const int32_t *tokens, const int32_t *seg_start, int64_t B, int64_t T, double *hidden,
                          const double *dhidden, double *grads) {
    hidden_io h = {.hidden_out = hidden, .dhidden = dhidden};
    VKT_ASSERT((dhidden != NULL) == (grads != NULL));
    model_pass(cfg, table, params, tokens, NULL, seg_start, B, T, false, NULL, NULL, NULL, grads, &h);
}

double vkt_ref_model_adamw(const vkt_param_table *table, double *params, const double *grads, double *m, double *v,
                           int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
                           double max_norm) {
    double sq = 0;
    for (int i = 0; i < table->n; i++)
        for (int64_t k = 0; k < table->p[i].numel; k++) sq += grads[table->p[i].offset + k] * grads[table->p[i].offset + k];
    double norm = sqrt(sq), scale = max_norm > 0 ? fmin(1.0, max_norm / (norm + 1e-6)) : 1.0;
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    for (int i = 0; i < table->n; i++) {
        const vkt_param *e = &table->p[i];
        double wd = e->decay ? weight_decay : 0.0;
        for (int64_t k = e->offset; k < e->offset + e->numel; k++) {
            double g = grads[k] * scale;
            m[k] = beta1 * m[k] + (1 - beta1) * g;
            v[k] = beta2 * v[k] + (1 - beta2) * g * g;
            params[k] -= lr * ((m[k] / bc1) / (sqrt(v[k] / bc2) + eps) + wd * params[k]);
        }
    }
    return norm;
}
