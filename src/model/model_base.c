/* Base-weight storage: planning, allocation and host transfers (see model_base.h). */
#include "model/model_base.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

bool vkt_model_base_role_stored(vkt_param_role role) {
    switch (role) {
    case VKT_ROLE_QKV_W: case VKT_ROLE_Q_W: case VKT_ROLE_K_W: case VKT_ROLE_V_W: case VKT_ROLE_O_W:
    case VKT_ROLE_FC_W: case VKT_ROLE_GATE_W: case VKT_ROLE_UP_W: case VKT_ROLE_DOWN_W:
        return true;
    default:
        return false;
    }
}

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

vkt_status vkt_model_base_plan(const vkt_param_table *t, vkt_qformat f, int64_t align_elems, vkt_model_base *b) {
    memset(b, 0, sizeof *b);
    b->format = f, b->n = t->n;
    b->offset = malloc((size_t)t->n * sizeof *b->offset);
    b->q = calloc((size_t)t->n, sizeof *b->q);
    if (!b->offset || !b->q) {
        vkt_model_base_free(b);
        return VKT_ERR_OOM;
    }
    if (f == VKT_QFORMAT_F32) {
        for (int i = 0; i < t->n; i++) b->offset[i] = t->p[i].offset;
        b->params_total = t->total;
        return VKT_OK;
    }
    /* The same rules as vkt_params_build (aligned starts, fused groups contiguous), over the f32 tensors. */
    int64_t off = 0;
    bool in_group = false;
    for (int i = 0; i < t->n; i++) {
        const vkt_param *e = &t->p[i];
        bool first = !in_group;
        in_group = e->fused_next;
        if (vkt_model_base_role_stored(e->role)) {
            b->offset[i] = -1;
            if (first) {
                b->q[i].layout = vkt_quant_layout(f, vkt_params_group_rows(t, e), e->cols);
                b->blob_bytes += round_up(b->q[i].layout.bytes, VKT_QUANT_ALIGN);
            }
            continue;
        }
        if (first) off = (off + align_elems - 1) / align_elems * align_elems;
        b->offset[i] = off;
        off += e->numel;
    }
    b->params_total = (off + align_elems - 1) / align_elems * align_elems;
    if (b->params_total == 0) b->params_total = align_elems;
    return VKT_OK;
}

vkt_status vkt_model_base_alloc(vkt_device *dev, vkt_model_base *b) {
    if (b->format == VKT_QFORMAT_F32 || b->blob_bytes == 0) return VKT_OK;
    char name[48];
    snprintf(name, sizeof name, "base weights (%s)", vkt_qformat_name(b->format));
    VKT_TRY(vkt_arena_create(dev, name, b->blob_bytes + VKT_QUANT_ALIGN, &b->arena));
    for (int i = 0; i < b->n; i++)
        if (b->q[i].layout.bytes)
            VKT_TRY(vkt_tensor_alloc(b->arena, VKT_DTYPE_U8, (int64_t)b->q[i].layout.bytes, 1, 1, 1, &b->q[i].blob));
    return VKT_OK;
}

void vkt_model_base_free(vkt_model_base *b) {
    vkt_arena_destroy(b->arena);
    free(b->offset);
    free(b->q);
    memset(b, 0, sizeof *b);
}

vkt_status vkt_model_base_upload(vkt_device *dev, const vkt_param_table *t, const vkt_model_base *b,
                                 const vkt_tensor *params, const float *host) {
    if (b->format == VKT_QFORMAT_F32) return vkt_tensor_upload(dev, params, host, (size_t)t->total * 4);
    float *flat = calloc((size_t)b->params_total, sizeof *flat);
    if (!flat) return VKT_ERR_OOM;
    vkt_status s = VKT_OK;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        if (b->offset[i] >= 0) {
            memcpy(flat + b->offset[i], host + e->offset, (size_t)e->numel * sizeof *flat);
            continue;
        }
        const vkt_qweight *q = &b->q[i];
        if (!q->blob.arena) continue;
        void *blob = malloc(q->layout.bytes);
        s = blob ? vkt_quant_pack(host + e->offset, q->layout.out, q->layout.in, b->format, blob) : VKT_ERR_OOM;
        if (s == VKT_ERR_ARG)
            vkt_log_error("%s (and its fused group): cannot be stored as %s; choose finetune.base_format f32 or bf16",
                          e->name, vkt_qformat_name(b->format));
        if (s == VKT_OK) s = vkt_tensor_upload(dev, &q->blob, blob, q->layout.bytes);
        free(blob);
    }
    if (s == VKT_OK) s = vkt_tensor_upload(dev, params, flat, (size_t)b->params_total * 4);
    free(flat);
    return s;
}

vkt_status vkt_model_base_download(vkt_device *dev, const vkt_param_table *t, const vkt_model_base *b,
                                   const vkt_tensor *params, float *host) {
    if (b->format == VKT_QFORMAT_F32) return vkt_tensor_download(dev, params, host, (size_t)t->total * 4);
    float *flat = malloc((size_t)b->params_total * sizeof *flat);
    if (!flat) return VKT_ERR_OOM;
    memset(host, 0, (size_t)t->total * sizeof *host);
    vkt_status s = vkt_tensor_download(dev, params, flat, (size_t)b->params_total * 4);
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        if (b->offset[i] >= 0) {
            memcpy(host + e->offset, flat + b->offset[i], (size_t)e->numel * sizeof *flat);
            continue;
        }
        const vkt_qweight *q = &b->q[i];
        if (!q->blob.arena) continue;
        void *blob = malloc(q->layout.bytes);
        s = blob ? vkt_tensor_download(dev, &q->blob, blob, q->layout.bytes) : VKT_ERR_OOM;
        if (s == VKT_OK) vkt_quant_unpack(&q->layout, blob, host + e->offset);
        free(blob);
    }
    free(flat);
    return s;
}
