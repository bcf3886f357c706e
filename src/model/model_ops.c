/* Architecture switches for the block pieces (see model_ops.h). */
#include "model/model_ops.h"


#include "ops/gelu.h"
#include "ops/layernorm.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

static const vkt_tensor *opt(const vkt_tensor *t) { return t->arena ? t : NULL; }

vkt_status vkt_model_linear_fwd(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                const vkt_tensor *x, const vkt_tensor *y, int64_t in, int64_t out) {
    return vkt_model_linear_fwd_rows(m, r, l, role, bias_role, x, y, m->B * m->T, in, out);
}

vkt_status vkt_model_linear_fwd_rows(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                     const vkt_tensor *x, const vkt_tensor *y, int64_t BT, int64_t in, int64_t out) {
    const vkt_param *e = vkt_params_get(&m->table, l, role);
    vkt_tensor b = vkt_model_p(m, l, bias_role);
    if (vkt_model_param_stored(m, e)) {
        const vkt_qweight *q = &m->base.q[e - m->table.p];
        VKT_ASSERT(q->layout.in == in && q->layout.out == out);
        VKT_TRY(vkt_op_qmatmul_fwd(r, x, q, opt(&b), y, BT, false, VKT_MATMUL_AUTO));
    } else {
        vkt_tensor w = vkt_model_p(m, l, role);
        VKT_TRY(vkt_op_matmul_fwd(r, x, &w, opt(&b), y, BT, in, out));
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
