/* The weights the embedding and the LM head read: the model's own or an adapter's saved copies (see
 * vkt_model_saved in model.h and model_ops.h). */
#include "model/model_ops.h"

static const vkt_tensor *saved_w(const vkt_model *m, vkt_param_role role) {
    if (!m->saved) return NULL;
    const vkt_tensor *t = role == VKT_ROLE_WTE   ? &m->saved->wte
                          : role == VKT_ROLE_WPE ? &m->saved->wpe
                                                 : &m->saved->head;
    return t->arena ? t : NULL;
}

static const vkt_tensor *saved_g(const vkt_model *m, vkt_param_role role) {
    if (!m->saved) return NULL;
    const vkt_tensor *t = role == VKT_ROLE_WTE   ? &m->saved->dwte
                          : role == VKT_ROLE_WPE ? &m->saved->dwpe
                                                 : &m->saved->dhead;
    return t->arena ? t : NULL;
}

vkt_tensor vkt_model_embed_w(const vkt_model *m, vkt_param_role role) {
    const vkt_tensor *t = saved_w(m, role);
    return t ? *t : vkt_model_p(m, -1, role);
}

/* A saved table gets the gradient instead of the model's own, which then stays as it is. */
vkt_tensor vkt_model_embed_g(const vkt_model *m, vkt_param_role role) {
    if (saved_w(m, role)) {
        const vkt_tensor *g = saved_g(m, role);
        return g ? *g : (vkt_tensor){0};
    }
    return vkt_model_g(m, -1, role);
}

vkt_tensor vkt_model_head_w(const vkt_model *m) {
    const vkt_tensor *t = saved_w(m, VKT_ROLE_LM_HEAD);
    return t ? *t : vkt_model_p(m, -1, m->cfg.tie_word_embeddings ? VKT_ROLE_WTE : VKT_ROLE_LM_HEAD);
}

vkt_tensor vkt_model_head_g(const vkt_model *m) {
    if (saved_w(m, VKT_ROLE_LM_HEAD)) {
        const vkt_tensor *g = saved_g(m, VKT_ROLE_LM_HEAD);
        return g ? *g : (vkt_tensor){0};
    }
    return vkt_model_g(m, -1, m->cfg.tie_word_embeddings ? VKT_ROLE_WTE : VKT_ROLE_LM_HEAD);
}
