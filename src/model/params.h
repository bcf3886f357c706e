/* The parameter table: every trainable tensor of a model, with its Hugging Face name, shape, role and
 * place in the parameter arena. The same table drives allocation, initialisation, checkpoints, the
 * optimizer's decay mask and the startup printout.
 *
 * Layout rules:
 *  - Every weight matrix is stored (out, in) row-major, as torch.nn.Linear does; GPT-2's Conv1D weights,
 *    stored (in, out) by Hugging Face, are transposed on import/export (hf_transposed).
 *  - Tensors that one matmul consumes together are adjacent with no padding (a fused group): q, k, v
 *    projections form one (q + 2 kv, C) matrix, and LLaMA's gate and up projections one (2F, C) matrix.
 *    GPT-2's c_attn is already fused. */
#ifndef VKT_PARAMS_H
#define VKT_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model_config.h"

typedef enum {
    /* global */
    VKT_ROLE_WTE, VKT_ROLE_WPE, VKT_ROLE_NORM_F_W, VKT_ROLE_NORM_F_B, VKT_ROLE_LM_HEAD,
    /* per layer */
    VKT_ROLE_NORM1_W, VKT_ROLE_NORM1_B, VKT_ROLE_QKV_W, VKT_ROLE_QKV_B, VKT_ROLE_Q_W, VKT_ROLE_K_W, VKT_ROLE_V_W,
    VKT_ROLE_Q_B, VKT_ROLE_K_B, VKT_ROLE_V_B, VKT_ROLE_O_W, VKT_ROLE_O_B, VKT_ROLE_NORM2_W, VKT_ROLE_NORM2_B,
    VKT_ROLE_FC_W, VKT_ROLE_FC_B, VKT_ROLE_GATE_W, VKT_ROLE_UP_W, VKT_ROLE_GATE_B, VKT_ROLE_UP_B,
    VKT_ROLE_DOWN_W, VKT_ROLE_DOWN_B,
    /* global, last in the table: a sequence-classification head (model_config.num_labels) */
    VKT_ROLE_SCORE_W,
    VKT_ROLE_COUNT
} vkt_param_role;

typedef struct {
    char name[96];        /* Hugging Face tensor name */
    int64_t rows, cols;   /* (out, in) for matrices; (1, n) for vectors */
    int64_t numel;
    int64_t offset;       /* elements from the start of the parameter arena */
    int layer;            /* -1 for global tensors */
    vkt_param_role role;
    bool decay;           /* AdamW weight decay applies (matrices and embeddings, not norms or biases) */
    bool hf_transposed;   /* Hugging Face stores it (in, out) */
    bool fused_next;      /* the next entry follows with no padding (same fused group) */
} vkt_param;

typedef struct {
    vkt_param *p;         /* owned */
    int n;
    int64_t total;        /* elements, padding included */
    int n_layer;
    int *index;           /* owned: (n_layer + 1) * VKT_ROLE_COUNT entries, -1 when absent; row 0 is global */
} vkt_param_table;

/* Builds the table for c; offsets are aligned to align_elems (except inside fused groups). */
vkt_status vkt_params_build(const vkt_model_config *c, int64_t align_elems, vkt_param_table *t);
void vkt_params_free(vkt_param_table *t);
/* The entry for (layer, role), or NULL when the model has none (layer -1 for global roles). */
const vkt_param *vkt_params_get(const vkt_param_table *t, int layer, vkt_param_role role);
const vkt_param *vkt_params_find(const vkt_param_table *t, const char *name);
/* Rows of a fused group starting at (layer, role): q+k+v or gate+up rows. */
int64_t vkt_params_group_rows(const vkt_param_table *t, const vkt_param *first);
/* Trainable element count (padding excluded). */
int64_t vkt_params_count(const vkt_param_table *t);

#endif
