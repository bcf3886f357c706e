/* Architecture switches for the block pieces (see model_ops.h). */
#include "model/model_ops.h"


#include "ops/gelu.h"
#include "ops/layernorm.h"
#include "ops/matmul.h"
#include "ops/op_util.h"
#include "ops/qmatmul.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

static const vkt_tensor *opt(const vkt_tensor *t) { return t->arena ? t : NULL; }

vkt_status vkt_model_linear_fwd(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                const vkt_tensor *x, const vkt_tensor *residual, const vkt_tensor *y, int64_t in,
                                int64_t out) {
    return vkt_model_linear_fwd_rows(m, r, l, role, bias_role, x, residual, y, m->B * m->T, in, out);
}

vkt_status vkt_model_linear_fwd_rows(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                     const vkt_tensor *x, const vkt_tensor *residual, const vkt_tensor *y,
                                     int64_t BT, int64_t in, int64_t out) {
    const vkt_param *e = vkt_params_get(&m->table, l, role);
    vkt_tensor b = vkt_model_p(m, l, bias_role);
    /* y = x W^T + b + residual: the residual is copied into y (a transfer, no shader pass) and the product
     * added onto it in the matmul's store, instead of a separate residual pass over three tensors. */
    bool acc = residual != NULL;
    if (acc) {
        vkt_tensor src = vkt_ops_flat_slice(residual, 0, BT * out), dst = vkt_ops_flat_slice(y, 0, BT * out);
        VKT_TRY(vkt_rec_copy(r, &src, &dst));
    }
    if (vkt_model_param_stored(m, e)) {
        const vkt_qweight *q = &m->base.q[e - m->table.p];
        VKT_ASSERT(q->layout.in == in && q->layout.out == out);
        VKT_TRY(vkt_op_qmatmul_fwd(r, x, q, opt(&b), y, BT, acc, VKT_MATMUL_AUTO));
    } else {
        vkt_tensor w = vkt_model_p(m, l, role);
        vkt_matmul_desc d = {.m = BT, .n = out, .k = in, .trans_b = true, .accumulate = acc};
        VKT_TRY(vkt_op_matmul(r, x, &w, opt(&b), y, &d));
    }
    return m->hook ? m->hook->fwd(m->hook->ctx, r, l, role, x, y) : VKT_OK;
}

vkt_status vkt_model_linear_bwd(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                const vkt_tensor *dy, const vkt_tensor *x, const vkt_tensor *dx, int64_t in,
                                int64_t out) {
    const vkt_param *e = vkt_params_get(&m->table, l, role);
    int64_t BT = m->B * m->T;
    if (vkt_model_param_stored(m, e)) {
        VKT_ASSERT(!m->grads_arena); /* quantized weights only in frozen models */
        VKT_TRY(vkt_op_qmatmul_bwd_dx(r, dy, &m->base.q[e - m->table.p], dx, BT, false, VKT_MATMUL_AUTO));
    } else {
        vkt_tensor w = vkt_model_p(m, l, role), gw = vkt_model_g(m, l, role), gb = vkt_model_g(m, l, bias_role);
        VKT_TRY(vkt_op_matmul_bwd(r, dy, x, &w, dx, opt(&gw), opt(&gb), BT, in, out));
    }
    return m->hook ? m->hook->bwd(m->hook->ctx, r, l, role, x, dy, dx) : VKT_OK;
}

/* GPT-2's GELU can run in the store of the matmul next to it (ops/matmul.h) when the layer is one plain matmul:
 * an f32/f16/bf16 weight and no adapter hook (which adds to the product after the matmul). */
static bool gelu_fusable(const vkt_model *m, int l, vkt_param_role role) {
    return m->cfg.arch == VKT_ARCH_GPT2 && !m->hook && !vkt_model_param_stored(m, vkt_params_get(&m->table, l, role));
}

vkt_status vkt_model_mlp_up_fwd(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *x, const vkt_tensor *fc,
                                const vkt_tensor *act, int64_t BT) {
    const vkt_model_config *c = &m->cfg;
    bool gpt2 = c->arch == VKT_ARCH_GPT2;
    vkt_param_role role = gpt2 ? VKT_ROLE_FC_W : VKT_ROLE_GATE_W, bias_role = gpt2 ? VKT_ROLE_FC_B : VKT_ROLE_GATE_B;
    int64_t C = c->n_embd, FC = gpt2 ? c->n_inner : 2 * c->n_inner;
    if (gelu_fusable(m, l, role)) {
        vkt_tensor w = vkt_model_p(m, l, role), b = vkt_model_p(m, l, bias_role);
        vkt_matmul_desc d = {.m = BT, .n = FC, .k = C, .trans_b = true, .act = VKT_MM_ACT_GELU, .aux = act};
        return vkt_op_matmul(r, x, &w, opt(&b), fc, &d);
    }
    VKT_TRY(vkt_model_linear_fwd_rows(m, r, l, role, bias_role, x, NULL, fc, BT, C, FC));
    return vkt_model_act_fwd(m, r, fc, act);
}

vkt_status vkt_model_mlp_down_bwd(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *dy, const vkt_tensor *fc,
                                  const vkt_tensor *act, const vkt_tensor *dact, const vkt_tensor *dfc) {
    int64_t C = m->cfg.n_embd, F = m->cfg.n_inner, BT = m->B * m->T;
    if (gelu_fusable(m, l, VKT_ROLE_DOWN_W)) { /* dfc = (dy W) * gelu'(fc) in one pass; dact is not written */
        vkt_tensor w = vkt_model_p(m, l, VKT_ROLE_DOWN_W), gw = vkt_model_g(m, l, VKT_ROLE_DOWN_W);
        vkt_tensor gb = vkt_model_g(m, l, VKT_ROLE_DOWN_B);
        vkt_matmul_desc d = {.m = BT, .n = F, .k = C, .act = VKT_MM_ACT_GELU_GRAD, .aux = fc};
        VKT_TRY(vkt_op_matmul(r, dy, &w, NULL, dfc, &d));
        return vkt_op_matmul_bwd(r, dy, act, &w, NULL, opt(&gw), opt(&gb), BT, F, C);
    }
    VKT_TRY(vkt_model_linear_bwd(m, r, l, VKT_ROLE_DOWN_W, VKT_ROLE_DOWN_B, dy, act, dact, F, C));
    return vkt_model_act_bwd(m, r, fc, dact, dfc);
}

vkt_status vkt_model_norm_fwd(const vkt_model *m, vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w,
                              const vkt_tensor *b, const vkt_tensor *y, const vkt_tensor *mean,
                              const vkt_tensor *rstd) {
    float eps = (float)m->cfg.norm_eps;
    if (m->cfg.arch == VKT_ARCH_GPT2) return vkt_op_layernorm_fwd(r, x, w, b, eps, y, mean, rstd);
    return vkt_op_rmsnorm_fwd(r, x, w, eps, y, rstd);
}

vkt_status vkt_model_norm_bwd(vkt_model *m, vkt_rec *r, const vkt_tensor *dy, const vkt_tensor *x,
                              const vkt_tensor *w, const vkt_tensor *mean, const vkt_tensor *rstd,
                              const vkt_tensor *dx, const vkt_tensor *dw, const vkt_tensor *db) {
    /* A frozen model's norm weights get no gradient; the ops still want somewhere to put it. */
    if (!dw) dw = &m->dnorm_sink[0];
    if (!db && m->cfg.arch == VKT_ARCH_GPT2) db = &m->dnorm_sink[1];
    /* dx is the residual stream's gradient: the norm's contribution is added to it. */
    if (m->cfg.arch == VKT_ARCH_GPT2)
        return vkt_op_layernorm_bwd(r, x, w, mean, rstd, dy, dx, true, dw, db, &m->norm_scratch);
    return vkt_op_rmsnorm_bwd(r, x, w, rstd, dy, dx, true, dw, &m->norm_scratch);
}

vkt_status vkt_model_act_fwd(const vkt_model *m, vkt_rec *r, const vkt_tensor *fc, const vkt_tensor *y) {
    if (m->cfg.arch == VKT_ARCH_GPT2) return vkt_op_gelu_fwd(r, fc, y);
    return vkt_op_swiglu_fused_fwd(r, fc, y);
}

vkt_status vkt_model_act_bwd(const vkt_model *m, vkt_rec *r, const vkt_tensor *fc, const vkt_tensor *dy,
                             const vkt_tensor *dfc) {
    if (m->cfg.arch == VKT_ARCH_GPT2) return vkt_op_gelu_bwd(r, fc, dy, dfc, false);
    return vkt_op_swiglu_fused_bwd(r, fc, dy, dfc);
}

vkt_status vkt_model_rope(const vkt_model *m, vkt_rec *r, const vkt_tensor *qkv, bool inverse) {
    const vkt_model_config *c = &m->cfg;
    vkt_rope_desc d = {.B = m->B, .T = m->T, .n_heads = c->n_head + c->n_kv_head, .head_size = c->head_dim,
                       .row_stride = (c->n_head + 2 * c->n_kv_head) * c->head_dim, .pos0 = m->pos0,
                       .seg_start = &m->seg_start};
    /* q and k heads are adjacent in the fused row ([q heads | k heads | v heads]): one pass rotates both. */
    return inverse ? vkt_op_rope_bwd(r, qkv, &m->rope_table, &d) : vkt_op_rope_fwd(r, qkv, &m->rope_table, &d);
}
