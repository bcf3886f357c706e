/* KV-cache attention recorders (see attention_decode.h): validate shapes, bind every operand from an
 * aligned offset at or below its first element (the shader adds the remainder), split the batch when an
 * operand would exceed one binding, and dispatch attention_decode_append / attention_decode_fwd. */
#include "ops/attention_decode.h"

#include <math.h>

#include "core/log.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t Tq, Tmax, NH, KVH;
    uint32_t n_batch, q_stride, q_off, k_off;
    uint32_t v_off, o_off, pos_off;
    float scale_log2;
} vkt_pc_attention_decode;
_Static_assert(sizeof(vkt_pc_attention_decode) == 48, "keep in sync with attention_decode_fwd.comp");

typedef struct {
    uint32_t n, Tq, Tmax, row;
    uint32_t k_stride, k_off, v_stride, v_off;
    uint32_t kc_off, vc_off, pos_off, _pad;
} vkt_pc_attention_append;
_Static_assert(sizeof(vkt_pc_attention_append) == 48, "keep in sync with attention_decode_append.comp");

/* Workgroup of the decode kernel: lanes split the keys of one row. 32 keeps the shared partial states
 * (WG * HS floats: 16 KiB at HS 128) within every device's limit (lavapipe: 32 KiB). */
#define WG_DECODE 32
#define WG_APPEND 256

static void check_cfg(const vkt_attention_decode_cfg *c) {
    VKT_ASSERT(c->B > 0 && c->Tq > 0 && c->Tmax >= c->Tq && c->NH > 0 && c->KVH > 0 && c->HS > 0);
    VKT_ASSERT(c->NH % c->KVH == 0 && c->HS <= VKT_ATTENTION_DECODE_MAX_HS);
}

static void check_view(const vkt_attention_decode_cfg *c, const vkt_attention_view *x, int64_t heads) {
    VKT_ASSERT(x->t.dtype == VKT_DTYPE_F32);
    VKT_ASSERT(x->col >= 0 && x->col + heads * c->HS <= x->row_stride);
    VKT_ASSERT(vkt_tensor_numel(&x->t) >= c->B * c->Tq * x->row_stride);
}

static void check_cache(const vkt_attention_decode_cfg *c, const vkt_tensor *x) {
    VKT_ASSERT(x->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(x) == c->B * c->Tmax * c->KVH * c->HS);
}

static size_t binding_align(const vkt_rec *r) {
    return vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
}

/* Elements [b0 * per_batch, (b0 + nb) * per_batch) of t, bound from the aligned offset at or below their
 * start; *lead gets the elements in front of them. */
static vkt_binding chunk(const vkt_tensor *t, size_t align, int64_t per_batch, int64_t b0, int64_t nb,
                         vkt_access access, uint32_t *lead) {
    size_t start = t->offset + (size_t)(b0 * per_batch) * 4, base = start / align * align;
    vkt_binding b = {*t, access};
    b.t.offset = base;
    b.t.shape[0] = (int64_t)(start - base) / 4 + nb * per_batch;
    b.t.shape[1] = b.t.shape[2] = b.t.shape[3] = 1;
    *lead = (uint32_t)((start - base) / 4);
    return b;
}

/* Batches per dispatch so that each operand (per_batch[i] elements per batch) fits one binding. */
static int64_t batches_per_chunk(const vkt_rec *r, int64_t B, size_t align, const int64_t *per_batch, int n) {
    int64_t worst = 1;
    for (int i = 0; i < n; i++) worst = per_batch[i] > worst ? per_batch[i] : worst;
    int64_t nb = (int64_t)((vkt_rec_max_binding_bytes(r) - align) / ((size_t)worst * 4));
    if (nb < 1)
        vkt_log_error("attention_decode: one sequence's cache (%lld elements) is over the binding limit",
                      (long long)worst);
    VKT_ASSERT(nb >= 1 && (uint64_t)worst * (uint64_t)nb < (1ull << 32));
    return nb < B ? nb : B;
}

static vkt_binding pos_binding(const vkt_rec *r, const vkt_tensor *pos, uint32_t *off) {
    VKT_ASSERT(pos->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(pos) >= 1);
    vkt_binding b = {vkt_ops_aligned_slice(r, pos, 0, 1, off), VKT_READ};
    return b;
}

vkt_status vkt_op_attention_decode_append(vkt_rec *r, const vkt_attention_decode_cfg *c, const vkt_attention_view *k,
                                          const vkt_attention_view *v, const vkt_tensor *pos, const vkt_tensor *kc,
                                          const vkt_tensor *vc) {
    check_cfg(c);
    check_view(c, k, c->KVH), check_view(c, v, c->KVH), check_cache(c, kc), check_cache(c, vc);
    vkt_pipeline *p;
    const uint32_t spec[] = {WG_APPEND};
    VKT_TRY(vkt_ops_pipeline(r, "attention_decode_append", 5, sizeof(vkt_pc_attention_append), spec, 1, &p));
    const size_t align = binding_align(r);
    const int64_t row = c->KVH * c->HS;
    const int64_t per[4] = {c->Tq * k->row_stride, c->Tq * v->row_stride, c->Tmax * row, c->Tmax * row};
    const int64_t nb_max = batches_per_chunk(r, c->B, align, per, 4);
    for (int64_t b0 = 0; b0 < c->B; b0 += nb_max) {
        const int64_t nb = c->B - b0 < nb_max ? c->B - b0 : nb_max;
        vkt_pc_attention_append pc = {.n = (uint32_t)(nb * c->Tq * row),
                                      .Tq = (uint32_t)c->Tq,
                                      .Tmax = (uint32_t)c->Tmax,
                                      .row = (uint32_t)row,
                                      .k_stride = (uint32_t)k->row_stride,
                                      .v_stride = (uint32_t)v->row_stride};
        vkt_binding bind[5] = {chunk(&k->t, align, per[0], b0, nb, VKT_READ, &pc.k_off),
                               chunk(&v->t, align, per[1], b0, nb, VKT_READ, &pc.v_off),
                               pos_binding(r, pos, &pc.pos_off),
                               chunk(kc, align, per[2], b0, nb, VKT_WRITE, &pc.kc_off),
                               chunk(vc, align, per[3], b0, nb, VKT_WRITE, &pc.vc_off)};
        pc.k_off += (uint32_t)k->col, pc.v_off += (uint32_t)v->col;
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div(pc.n, WG_APPEND), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "attention_decode_append", p, bind, 5, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}

vkt_status vkt_op_attention_decode_fwd(vkt_rec *r, const vkt_attention_decode_cfg *c, const vkt_attention_view *q,
                                       const vkt_tensor *kc, const vkt_tensor *vc, const vkt_tensor *pos,
                                       const vkt_tensor *o) {
    check_cfg(c);
    check_view(c, q, c->NH), check_cache(c, kc), check_cache(c, vc);
    VKT_ASSERT(o->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(o) == c->B * c->Tq * c->NH * c->HS);
    vkt_pipeline *p;
    const uint32_t spec[] = {WG_DECODE, (uint32_t)c->HS};
    VKT_TRY(vkt_ops_pipeline(r, "attention_decode_fwd", 5, sizeof(vkt_pc_attention_decode), spec, 2, &p));
    const size_t align = binding_align(r);
    const double scale = c->scale != 0 ? c->scale : 1.0 / sqrt((double)c->HS);
    const int64_t per[4] = {c->Tq * q->row_stride, c->Tmax * c->KVH * c->HS, c->Tmax * c->KVH * c->HS,
                            c->Tq * c->NH * c->HS};
    const int64_t nb_max = batches_per_chunk(r, c->B, align, per, 4);
    for (int64_t b0 = 0; b0 < c->B; b0 += nb_max) {
        const int64_t nb = c->B - b0 < nb_max ? c->B - b0 : nb_max;
        vkt_pc_attention_decode pc = {.Tq = (uint32_t)c->Tq,
                                      .Tmax = (uint32_t)c->Tmax,
                                      .NH = (uint32_t)c->NH,
                                      .KVH = (uint32_t)c->KVH,
                                      .n_batch = (uint32_t)nb,
                                      .q_stride = (uint32_t)q->row_stride,
                                      .scale_log2 = (float)(scale * 1.4426950408889634)};
        vkt_binding bind[5] = {chunk(&q->t, align, per[0], b0, nb, VKT_READ, &pc.q_off),
                               chunk(kc, align, per[1], b0, nb, VKT_READ, &pc.k_off),
                               chunk(vc, align, per[2], b0, nb, VKT_READ, &pc.v_off), pos_binding(r, pos, &pc.pos_off),
                               chunk(o, align, per[3], b0, nb, VKT_WRITE, &pc.o_off)};
        pc.q_off += (uint32_t)q->col;
        uint32_t gx, gy;
        vkt_ops_grid_1d((uint64_t)(nb * c->Tq * c->NH), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "attention_decode_fwd", p, bind, 5, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}
