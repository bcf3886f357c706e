/* Architecture switches for the block pieces (see model_ops.h). */
#include "model/model_ops.h"

#include "ops/gelu.h"
#include "ops/layernorm.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

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
    /* The norm ops overwrite dx; the residual stream needs dx += ..., so go through a temporary. */
    const vkt_tensor *tmp = &m->dtmp_c2;
    /* A frozen model's norm weights get no gradient; the ops still want somewhere to put it. */
    if (!dw) dw = &m->dnorm_sink[0];
    if (!db && m->cfg.arch == VKT_ARCH_GPT2) db = &m->dnorm_sink[1];
    if (m->cfg.arch == VKT_ARCH_GPT2)
        VKT_TRY(vkt_op_layernorm_bwd(r, x, w, mean, rstd, dy, tmp, dw, db, &m->norm_scratch));
    else
        VKT_TRY(vkt_op_rmsnorm_bwd(r, x, w, rstd, dy, tmp, dw, &m->norm_scratch));
    return vkt_op_residual_fwd(r, dx, tmp, dx);
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
                       .row_stride = (c->n_head + 2 * c->n_kv_head) * c->head_dim, .pos0 = m->pos0};
    /* q and k heads are adjacent in the fused row ([q heads | k heads | v heads]): one pass rotates both. */
    return inverse ? vkt_op_rope_bwd(r, qkv, &m->rope_table, &d) : vkt_op_rope_fwd(r, qkv, &m->rope_table, &d);
}
