/* Parameter tables for GPT-2 and LLaMA (see params.h for the layout rules). */
#include "model/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

typedef struct {
    vkt_param *p;
    int n, cap;
} builder;

static vkt_status add(builder *b, int layer, vkt_param_role role, int64_t rows, int64_t cols, bool decay,
                      bool transposed, const char *fmt) {
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        vkt_param *grown = realloc(b->p, (size_t)cap * sizeof *grown);
        if (!grown) return VKT_ERR_OOM;
        b->p = grown, b->cap = cap;
    }
    vkt_param *e = &b->p[b->n++];
    memset(e, 0, sizeof *e);
    if (layer >= 0) snprintf(e->name, sizeof e->name, fmt, layer);
    else snprintf(e->name, sizeof e->name, "%s", fmt);
    e->rows = rows, e->cols = cols, e->numel = rows * cols;
    e->layer = layer, e->role = role, e->decay = decay, e->hf_transposed = transposed;
    return VKT_OK;
}

/* Marks the last n entries as one fused group. */
static void fuse_last(builder *b, int n) {
    for (int i = b->n - n; i < b->n - 1; i++) b->p[i].fused_next = true;
}

/* A sequence-classification head, last so that a causal LM's table is a prefix of a reward model's
 * (import.c reads a causal LM's weights into one). */
static vkt_status add_score(const vkt_model_config *c, builder *b) {
    return c->num_labels > 0 ? add(b, -1, VKT_ROLE_SCORE_W, c->num_labels, c->n_embd, true, false, "score.weight")
                             : VKT_OK;
}

static vkt_status build_gpt2(const vkt_model_config *c, builder *b) {
    int64_t C = c->n_embd, F = c->n_inner;
    VKT_TRY(add(b, -1, VKT_ROLE_WTE, c->vocab_size, C, true, false, "transformer.wte.weight"));
    VKT_TRY(add(b, -1, VKT_ROLE_WPE, c->max_seq_len, C, true, false, "transformer.wpe.weight"));
    for (int l = 0; l < c->n_layer; l++) {
        VKT_TRY(add(b, l, VKT_ROLE_NORM1_W, 1, C, false, false, "transformer.h.%d.ln_1.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_NORM1_B, 1, C, false, false, "transformer.h.%d.ln_1.bias"));
        VKT_TRY(add(b, l, VKT_ROLE_QKV_W, 3 * C, C, true, true, "transformer.h.%d.attn.c_attn.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_QKV_B, 1, 3 * C, false, false, "transformer.h.%d.attn.c_attn.bias"));
        VKT_TRY(add(b, l, VKT_ROLE_O_W, C, C, true, true, "transformer.h.%d.attn.c_proj.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_O_B, 1, C, false, false, "transformer.h.%d.attn.c_proj.bias"));
        VKT_TRY(add(b, l, VKT_ROLE_NORM2_W, 1, C, false, false, "transformer.h.%d.ln_2.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_NORM2_B, 1, C, false, false, "transformer.h.%d.ln_2.bias"));
        VKT_TRY(add(b, l, VKT_ROLE_FC_W, F, C, true, true, "transformer.h.%d.mlp.c_fc.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_FC_B, 1, F, false, false, "transformer.h.%d.mlp.c_fc.bias"));
        VKT_TRY(add(b, l, VKT_ROLE_DOWN_W, C, F, true, true, "transformer.h.%d.mlp.c_proj.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_DOWN_B, 1, C, false, false, "transformer.h.%d.mlp.c_proj.bias"));
    }
    VKT_TRY(add(b, -1, VKT_ROLE_NORM_F_W, 1, C, false, false, "transformer.ln_f.weight"));
    VKT_TRY(add(b, -1, VKT_ROLE_NORM_F_B, 1, C, false, false, "transformer.ln_f.bias"));
    if (!c->tie_word_embeddings) VKT_TRY(add(b, -1, VKT_ROLE_LM_HEAD, c->vocab_size, C, true, false, "lm_head.weight"));
    return add_score(c, b);
}

static vkt_status build_llama(const vkt_model_config *c, builder *b) {
    int64_t C = c->n_embd, F = c->n_inner, q = c->n_head * c->head_dim, kv = c->n_kv_head * c->head_dim;
    VKT_TRY(add(b, -1, VKT_ROLE_WTE, c->vocab_size, C, true, false, "model.embed_tokens.weight"));
    for (int l = 0; l < c->n_layer; l++) {
        VKT_TRY(add(b, l, VKT_ROLE_NORM1_W, 1, C, false, false, "model.layers.%d.input_layernorm.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_Q_W, q, C, true, false, "model.layers.%d.self_attn.q_proj.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_K_W, kv, C, true, false, "model.layers.%d.self_attn.k_proj.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_V_W, kv, C, true, false, "model.layers.%d.self_attn.v_proj.weight"));
        fuse_last(b, 3);
        if (c->qkv_bias) {
            VKT_TRY(add(b, l, VKT_ROLE_Q_B, 1, q, false, false, "model.layers.%d.self_attn.q_proj.bias"));
            VKT_TRY(add(b, l, VKT_ROLE_K_B, 1, kv, false, false, "model.layers.%d.self_attn.k_proj.bias"));
            VKT_TRY(add(b, l, VKT_ROLE_V_B, 1, kv, false, false, "model.layers.%d.self_attn.v_proj.bias"));
            fuse_last(b, 3);
        }
        VKT_TRY(add(b, l, VKT_ROLE_O_W, C, q, true, false, "model.layers.%d.self_attn.o_proj.weight"));
        if (c->o_bias) VKT_TRY(add(b, l, VKT_ROLE_O_B, 1, C, false, false, "model.layers.%d.self_attn.o_proj.bias"));
        VKT_TRY(add(b, l, VKT_ROLE_NORM2_W, 1, C, false, false, "model.layers.%d.post_attention_layernorm.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_GATE_W, F, C, true, false, "model.layers.%d.mlp.gate_proj.weight"));
        VKT_TRY(add(b, l, VKT_ROLE_UP_W, F, C, true, false, "model.layers.%d.mlp.up_proj.weight"));
        fuse_last(b, 2);
        if (c->mlp_bias) {
            VKT_TRY(add(b, l, VKT_ROLE_GATE_B, 1, F, false, false, "model.layers.%d.mlp.gate_proj.bias"));
            VKT_TRY(add(b, l, VKT_ROLE_UP_B, 1, F, false, false, "model.layers.%d.mlp.up_proj.bias"));
            fuse_last(b, 2);
        }
        VKT_TRY(add(b, l, VKT_ROLE_DOWN_W, C, F, true, false, "model.layers.%d.mlp.down_proj.weight"));
        if (c->mlp_bias) VKT_TRY(add(b, l, VKT_ROLE_DOWN_B, 1, C, false, false, "model.layers.%d.mlp.down_proj.bias"));
    }
    VKT_TRY(add(b, -1, VKT_ROLE_NORM_F_W, 1, C, false, false, "model.norm.weight"));
    if (!c->tie_word_embeddings) VKT_TRY(add(b, -1, VKT_ROLE_LM_HEAD, c->vocab_size, C, true, false, "lm_head.weight"));
    return add_score(c, b);
}

vkt_status vkt_params_build(const vkt_model_config *c, int64_t align_elems, vkt_param_table *t) {
    memset(t, 0, sizeof *t);
    builder b = {0};
    vkt_status s = c->arch == VKT_ARCH_GPT2 ? build_gpt2(c, &b) : build_llama(c, &b);
    if (s != VKT_OK) {
        free(b.p);
        return s;
    }
    t->p = b.p, t->n = b.n, t->n_layer = (int)c->n_layer;
    t->index = malloc((size_t)(t->n_layer + 1) * VKT_ROLE_COUNT * sizeof *t->index);
    if (!t->index) {
        vkt_params_free(t);
        return VKT_ERR_OOM;
    }
    for (int i = 0; i < (t->n_layer + 1) * VKT_ROLE_COUNT; i++) t->index[i] = -1;
    int64_t off = 0;
    bool in_group = false;
    for (int i = 0; i < t->n; i++) {
        if (!in_group) off = (off + align_elems - 1) / align_elems * align_elems;
        t->p[i].offset = off;
        off += t->p[i].numel;
        in_group = t->p[i].fused_next;
        t->index[(t->p[i].layer + 1) * VKT_ROLE_COUNT + t->p[i].role] = i;
    }
    t->total = (off + align_elems - 1) / align_elems * align_elems;
    return VKT_OK;
}

void vkt_params_free(vkt_param_table *t) {
    free(t->p);
    free(t->index);
    memset(t, 0, sizeof *t);
}

const vkt_param *vkt_params_get(const vkt_param_table *t, int layer, vkt_param_role role) {
    VKT_ASSERT(layer >= -1 && layer < t->n_layer);
    int i = t->index[(layer + 1) * VKT_ROLE_COUNT + role];
    return i < 0 ? NULL : &t->p[i];
}

const vkt_param *vkt_params_find(const vkt_param_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->p[i].name, name) == 0) return &t->p[i];
    return NULL;
}

int64_t vkt_params_group_rows(const vkt_param_table *t, const vkt_param *first) {
    int64_t rows = first->rows;
    for (const vkt_param *e = first; e->fused_next && e + 1 < t->p + t->n; e++) rows += e[1].rows;
    return rows;
}

int64_t vkt_params_count(const vkt_param_table *t) {
    int64_t n = 0;
    for (int i = 0; i < t->n; i++) n += t->p[i].numel;
    return n;
}
