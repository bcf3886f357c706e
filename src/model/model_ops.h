/* The per-architecture pieces of a block (norm, activation, rotary embedding) behind one interface, so
 * model_fwd.c and model_bwd.c read the same for GPT-2 and LLaMA. Internal to src/model. */
#ifndef VKT_MODEL_OPS_H
#define VKT_MODEL_OPS_H

#include "model/model.h"
#include "ops/attention.h"
#include "ops/embed.h"
#include "ops/matmul.h"
#include "ops/qmatmul.h"
#include "ops/xent.h"

/* Parameter view for (layer, role) as the passes read it, a whole fused group when role starts one; arena
 * NULL if absent. Mixed precision: a view of the half copy (params_half). */
vkt_tensor vkt_model_p(const vkt_model *m, int layer, vkt_param_role role);
/* The same view of the f32 master weights. */
vkt_tensor vkt_model_p_master(const vkt_model *m, int layer, vkt_param_role role);
/* Gradient view, likewise. */
vkt_tensor vkt_model_g(const vkt_model *m, int layer, vkt_param_role role);

/* The embedding tables (role WTE or WPE) and the LM head's weight as the forward reads them, and where
 * their gradients go: an adapter's saved copy (m->saved) when it has one, else the model's own (the head
 * being wte when tied). Gradient views are empty when nothing trains them. model_saved.c. */
vkt_tensor vkt_model_embed_w(const vkt_model *m, vkt_param_role role);
vkt_tensor vkt_model_embed_g(const vkt_model *m, vkt_param_role role);
vkt_tensor vkt_model_head_w(const vkt_model *m);
vkt_tensor vkt_model_head_g(const vkt_model *m);

/* A block's linear layer (layer l, role the first of a fused group): y = x W^T + b (+ residual, a tensor
 * like y, or NULL) over (BT, in) -> (BT, out), then the adapter hook. The one place that knows how the
 * weight is stored: matmul on an f32 weight, qmatmul on a quantized one (model_base.h). */
vkt_status vkt_model_linear_fwd(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                const vkt_tensor *x, const vkt_tensor *residual, const vkt_tensor *y, int64_t in,
                                int64_t out);
/* The same over the first BT rows (the KV-cache decode forward's Tq). */
vkt_status vkt_model_linear_fwd_rows(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                     const vkt_tensor *x, const vkt_tensor *residual, const vkt_tensor *y,
                                     int64_t BT, int64_t in, int64_t out);
/* Its backward: dx = dy W (overwritten); dW and db accumulate when the model has gradients (never for a
 * quantized weight, which belongs to a frozen model); then the hook's backward (adds to dx). */
vkt_status vkt_model_linear_bwd(vkt_model *m, vkt_rec *r, int l, vkt_param_role role, vkt_param_role bias_role,
                                const vkt_tensor *dy, const vkt_tensor *x, const vkt_tensor *dx, int64_t in,
                                int64_t out);

/* The MLP's up-projection and activation over the first BT rows: fc = x W^T + b (the hook's adapter added),
 * act = gelu(fc) (GPT-2) or silu(gate) * up (LLaMA, fc = gate | up). */
vkt_status vkt_model_mlp_up_fwd(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *x, const vkt_tensor *fc,
                                const vkt_tensor *act, int64_t BT);
/* Its counterpart in the backward, from d(down-projection output) dy: the down-projection's backward (dW, db
 * accumulate; its input gradient into dact) and the activation's (dfc overwritten). */
vkt_status vkt_model_mlp_down_bwd(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *dy, const vkt_tensor *fc,
                                  const vkt_tensor *act, const vkt_tensor *dact, const vkt_tensor *dfc);

/* The attention shape of m's blocks: causal unless bidirectional, within m->seg_start's documents. */
vkt_attention_cfg vkt_model_attention_cfg(const vkt_model *m);

/* Records block l's forward from its input x (B*T, C) into m->layers[l]. */
vkt_status vkt_model_block_forward(vkt_model *m, vkt_rec *r, int l, const vkt_tensor *x);

/* LayerNorm (GPT-2, with bias) or RMSNorm (LLaMA, b NULL, mean unused) of x (BT, C) into y. */
vkt_status vkt_model_norm_fwd(const vkt_model *m, vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w,
                              const vkt_tensor *b, const vkt_tensor *y, const vkt_tensor *mean,
                              const vkt_tensor *rstd);
/* dx += norm'(dy); dw, db accumulate (db NULL for RMSNorm, dw/db NULL when frozen). */
vkt_status vkt_model_norm_bwd(vkt_model *m, vkt_rec *r, const vkt_tensor *dy, const vkt_tensor *x,
                              const vkt_tensor *w, const vkt_tensor *mean, const vkt_tensor *rstd,
                              const vkt_tensor *dx, const vkt_tensor *dw, const vkt_tensor *db);
/* GPT-2: y = gelu(fc) over (BT, F). LLaMA: y = silu(gate) * up, fc = (BT, 2F) gate | up. */
vkt_status vkt_model_act_fwd(const vkt_model *m, vkt_rec *r, const vkt_tensor *fc, const vkt_tensor *y);
/* dfc = act'(fc) * dy (overwrite). */
vkt_status vkt_model_act_bwd(const vkt_model *m, vkt_rec *r, const vkt_tensor *fc, const vkt_tensor *dy,
                             const vkt_tensor *dfc);
/* Rotary embedding of the q and k columns of a fused (BT, (NH + 2 KVH) HS) tensor, in place; inverse
 * rotation for the backward. */
vkt_status vkt_model_rope(const vkt_model *m, vkt_rec *r, const vkt_tensor *qkv, bool inverse);

#endif
