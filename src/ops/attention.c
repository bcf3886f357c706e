/* Attention recorders: validate shapes, pick the variant, split the batch so every binding fits the
 * device's maxStorageBufferRange, and dispatch attention_fwd / attention_bwd_dq / attention_bwd_dkv.
 * The math and the variants are described in the shaders and in attention.h. */
#include "ops/attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t T, NH, KVH, n_batch;
    uint32_t flags; /* FLAG_CAUSAL | FLAG_PACKED */
    float scale_log2, scale;
    uint32_t seg_off;
    uint32_t q_stride, q_off, k_stride, k_off;
    uint32_t v_stride, v_off, o_off, lse_off;
    uint32_t dq_stride, dq_off, dk_stride, dk_off;
    uint32_t dv_stride, dv_off, do_off, d_off;
} vkt_pc_attention;
_Static_assert(sizeof(vkt_pc_attention) == 96, "keep in sync with shaders/common/attention.glsl");

/* Row variant (CPU drivers): a workgroup of one SIMD width (lavapipe: 8 lanes) with R_ROW rows per
 * invocation, 64 rows per workgroup: small enough that causal masking wastes little of the workgroup's
 * shared key range, and R_ROW high enough that arithmetic, not per-lane loads, dominates (every loaded
 * 8-element word feeds 8 R_ROW FMAs). Blocks of BC_ROW keys (queries): each block's scores live in
 * R_ROW x BC_ROW private floats, fully unrolled; 4 measured faster than 8 (less spilling) on lavapipe.
 * Tiled variant (GPUs): 64 rows per workgroup, one per invocation, sharing each staged tile. */
#define WG_ROW 8
#define R_ROW 8
#define WG_TILED 64
#define BC_ROW 4

#define FLAG_CAUSAL 1u /* ATT_CAUSAL in attention.glsl */
#define FLAG_PACKED 2u /* ATT_PACKED */

void vkt_attention_views_packed(const vkt_attention_cfg *c, const vkt_tensor *q, const vkt_tensor *k,
                                const vkt_tensor *v, vkt_attention_view out[3]) {
    out[0] = (vkt_attention_view){*q, c->NH * c->HS, 0};
    out[1] = (vkt_attention_view){*k, c->KVH * c->HS, 0};
    out[2] = (vkt_attention_view){*v, c->KVH * c->HS, 0};
}

void vkt_attention_views_fused(const vkt_attention_cfg *c, const vkt_tensor *qkv, vkt_attention_view out[3]) {
    int64_t stride = (c->NH + 2 * c->KVH) * c->HS;
    out[0] = (vkt_attention_view){*qkv, stride, 0};
    out[1] = (vkt_attention_view){*qkv, stride, c->NH * c->HS};
    out[2] = (vkt_attention_view){*qkv, stride, (c->NH + c->KVH) * c->HS};
}

vkt_attention_variant vkt_attention_variant_for(const vkt_rec *r, const vkt_attention_cfg *c) {
    if (c->variant != VKT_ATTENTION_AUTO) return c->variant;
    const char *env = getenv("VKT_ATTENTION_VARIANT");
    if (env && strcmp(env, "row") == 0) return VKT_ATTENTION_ROW;
    if (env && strcmp(env, "tiled") == 0) return VKT_ATTENTION_TILED;
    if (env && *env) vkt_log_warn("VKT_ATTENTION_VARIANT=%s is not row or tiled; choosing by device", env);
    return vkt_device_get_info(vkt_rec_device(r))->type == VKT_DEVICE_CPU ? VKT_ATTENTION_ROW
                                                                          : VKT_ATTENTION_TILED;
}

const char *vkt_attention_variant_name(vkt_attention_variant v) {
    return v == VKT_ATTENTION_ROW ? "row" : v == VKT_ATTENTION_TILED ? "tiled" : "auto";
}

uint32_t vkt_attention_workgroup(vkt_attention_variant v) { return v == VKT_ATTENTION_ROW ? WG_ROW : WG_TILED; }

static void check_cfg(const vkt_attention_cfg *c) {
    VKT_ASSERT(c->B > 0 && c->T > 0 && c->NH > 0 && c->KVH > 0 && c->HS > 0);
    VKT_ASSERT(c->NH % c->KVH == 0);
    VKT_ASSERT(c->HS <= VKT_ATTENTION_MAX_HS);
    VKT_ASSERT(!c->seg_start ||
               (c->seg_start->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(c->seg_start) == c->B * c->T));
}

static void check_view(const vkt_attention_cfg *c, const vkt_attention_view *x, int64_t heads, vkt_dtype dt) {
    VKT_ASSERT(x->t.dtype == dt);
    VKT_ASSERT(x->col >= 0 && x->col + heads * c->HS <= x->row_stride);
    VKT_ASSERT(vkt_tensor_numel(&x->t) >= c->B * c->T * x->row_stride);
}

static void check_packed(const vkt_tensor *x, int64_t n, vkt_dtype dt) {
    VKT_ASSERT(x->dtype == dt && vkt_tensor_numel(x) == n);
}

/* The spec constants and shader name of one kernel. */
typedef struct {
    char name[48];
    uint32_t spec[4]; /* WG, HS, BC, R (rows per invocation) */
} kernel;

/* Wide access needs every row start at a multiple of `w` elements (4: 16 bytes for vec4, 8: 32 bytes for
 * the row kernels' 8-element words): HS, strides, columns and tensor offsets all multiples of w (binding
 * starts are aligned to at least 32 bytes, see binding_align). Anything else takes the element-wise
 * (generic) path. */
static bool wide_ok(const vkt_attention_cfg *c, int64_t w, const vkt_attention_view *views, int n_views,
                    const vkt_tensor *const *packed, int n_packed) {
    size_t bytes = (size_t)w * 4;
    bool ok = c->HS % w == 0 && views[0].t.dtype == VKT_DTYPE_F32;
    for (int i = 0; i < n_views; i++)
        ok = ok && views[i].row_stride % w == 0 && views[i].col % w == 0 && views[i].t.offset % bytes == 0;
    for (int i = 0; i < n_packed; i++) ok = ok && packed[i]->offset % bytes == 0;
    return ok;
}

/* Widest f32 access (8, 4, or 0: element-wise) that every operand allows. */
static int access_width(const vkt_attention_cfg *c, const vkt_attention_view *views, int n_views,
                        const vkt_tensor *const *packed, int n_packed) {
    if (wide_ok(c, 8, views, n_views, packed, n_packed)) return 8;
    return wide_ok(c, 4, views, n_views, packed, n_packed) ? 4 : 0;
}

static kernel pick(const vkt_rec *r, const vkt_attention_cfg *c, const char *base, int width, vkt_dtype dt) {
    kernel k;
    bool row = vkt_attention_variant_for(r, c) == VKT_ATTENTION_ROW;
    /* The tiled kernels read vec4 at most; the row kernels' 8-element words are u64vec4 (shaderInt64, which
     * CPU drivers have), so a GPU forced onto the row variant reads vec4 (tested on lavapipe by HS 20). */
    bool cpu = vkt_device_get_info(vkt_rec_device(r))->type == VKT_DEVICE_CPU;
    if (width == 8 && !(row && cpu)) width = 4;
    const char *suffix = dt == VKT_DTYPE_F16    ? "_f16"
                         : dt == VKT_DTYPE_BF16 ? "_bf16"
                         : width == 8           ? "_vec8"
                         : width == 4           ? "_vec4"
                                                : "";
    snprintf(k.name, sizeof k.name, "%s_%s%s", base, row ? "row" : "tiled", suffix);
    /* Tiled: two BC x HS f32 tiles = 16 KiB of shared memory, half of the smallest limit seen
     * (lavapipe 32 KiB), leaving room for occupancy on GPUs. */
    int64_t bc = 2048 / c->HS;
    bc = bc < 8 ? 8 : bc > 64 ? 64 : bc;
    k.spec[0] = vkt_attention_workgroup(row ? VKT_ATTENTION_ROW : VKT_ATTENTION_TILED);
    k.spec[1] = (uint32_t)c->HS;
    k.spec[2] = row ? BC_ROW : (uint32_t)bc;
    /* HS 128 halves R: the same registers and unrolled code size (compile time) as HS 64. */
    k.spec[3] = row ? (c->HS > 64 ? R_ROW / 2 : R_ROW) : 1;
    return k;
}

/* One operand of a batch chunk: its elements for batches [b0, b0 + nb) are bound from an aligned offset
 * at or before them; `lead` is how many elements precede them in the binding. */
static vkt_binding chunk(const vkt_tensor *t, size_t align, int64_t per_batch, int64_t b0, int64_t nb,
                         vkt_access access, uint32_t *lead) {
    size_t es = vkt_dtype_size(t->dtype), start = t->offset + (size_t)(b0 * per_batch) * es;
    size_t base = start / align * align;
    vkt_binding b = {*t, access};
    b.t.offset = base;
    b.t.shape[0] = (int64_t)((start - base) / es) + nb * per_batch;
    b.t.shape[1] = b.t.shape[2] = b.t.shape[3] = 1;
    *lead = (uint32_t)((start - base) / es);
    return b;
}

/* The document-start table's binding for batches [b0, b0 + nb) (pc->seg_off set), or, without a table,
 * `dummy` (the shader reads nothing from it when FLAG_PACKED is clear). */
static vkt_binding seg_binding(const vkt_attention_cfg *c, size_t align, int64_t b0, int64_t nb,
                               const vkt_binding *dummy, vkt_pc_attention *pc) {
    if (!c->seg_start) return (vkt_binding){dummy->t, VKT_READ};
    return chunk(c->seg_start, align, c->T, b0, nb, VKT_READ, &pc->seg_off);
}

/* Largest batch count per dispatch such that each of the n operands (per_batch elements each) fits,
 * counting 4 bytes per element (conservative for 16-bit storage). */
static int64_t batches_per_chunk(const vkt_rec *r, const vkt_attention_cfg *c, size_t align,
                                 const int64_t *per_batch, int n) {
    int64_t worst = 1;
    for (int i = 0; i < n; i++) worst = per_batch[i] > worst ? per_batch[i] : worst;
    size_t room = vkt_rec_max_binding_bytes(r) - align;
    int64_t nb = (int64_t)(room / ((size_t)worst * 4));
    if (nb < 1) {
        vkt_log_error("attention: one sequence (%lld elements of one operand) is over the binding limit",
                      (long long)worst);
        VKT_ASSERT(nb >= 1);
    }
    VKT_ASSERT((uint64_t)worst * (uint64_t)nb < (1ull << 32)); /* uint indexing in the shaders */
    return nb < c->B ? nb : c->B;
}

static vkt_pc_attention base_pc(const vkt_attention_cfg *c) {
    double scale = c->scale != 0 ? c->scale : 1.0 / sqrt((double)c->HS);
    vkt_pc_attention pc = {0};
    pc.T = (uint32_t)c->T, pc.NH = (uint32_t)c->NH, pc.KVH = (uint32_t)c->KVH;
    pc.flags = (c->causal ? FLAG_CAUSAL : 0u) | (c->seg_start ? FLAG_PACKED : 0u);
    pc.scale = (float)scale;
    pc.scale_log2 = (float)(scale * 1.4426950408889634);
    return pc;
}

static size_t binding_align(const vkt_rec *r) {
    /* At least 32 bytes, so that chunk offsets keep the vec4 and vec8 variants' alignment. */
    size_t a = vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
    return a < 32 ? 32 : a;
}

static void dispatch_grid(const vkt_attention_cfg *c, int64_t nb, int64_t heads, uint32_t wg, uint32_t *gx,
                          uint32_t *gy) {
    vkt_ops_grid_1d((uint64_t)nb * (uint64_t)heads * vkt_ceil_div((uint64_t)c->T, wg), gx, gy);
}

/* For the profiler: `per_pair` flops per HS per (query, key) pair, over the pairs a causal mask keeps
 * (T (T + 1) / 2 per head) or all T^2; packed documents are counted as one. */
static void note_flops(vkt_rec *r, const vkt_attention_cfg *c, int64_t nb, double per_pair) {
    double T = (double)c->T, pairs = c->causal ? T * (T + 1) / 2 : T * T;
    vkt_rec_profile_note(r, per_pair * pairs * (double)(c->HS * c->NH * nb), "T%lld NH%lld HS%lld",
                         (long long)c->T, (long long)c->NH, (long long)c->HS);
}

vkt_status vkt_op_attention_fwd(vkt_rec *r, const vkt_attention_cfg *c, const vkt_attention_view qkv[3],
                                const vkt_tensor *o, const vkt_tensor *lse) {
    check_cfg(c);
    vkt_dtype dt = qkv[0].t.dtype;
    VKT_ASSERT(dt == VKT_DTYPE_F32 || dt == VKT_DTYPE_F16 || dt == VKT_DTYPE_BF16);
    check_view(c, &qkv[0], c->NH, dt), check_view(c, &qkv[1], c->KVH, dt), check_view(c, &qkv[2], c->KVH, dt);
    check_packed(o, c->B * c->T * c->NH * c->HS, dt), check_packed(lse, c->B * c->NH * c->T, VKT_DTYPE_F32);
    const vkt_tensor *packed[1] = {o};
    kernel k = pick(r, c, "attention_fwd", access_width(c, qkv, 3, packed, 1), dt);
    vkt_pipeline *p;
    VKT_TRY(vkt_ops_pipeline(r, k.name, 6, sizeof(vkt_pc_attention), k.spec, 4, &p));
    size_t align = binding_align(r);
    const int64_t per[5] = {c->T * qkv[0].row_stride, c->T * qkv[1].row_stride, c->T * qkv[2].row_stride,
                            c->T * c->NH * c->HS, c->NH * c->T};
    int64_t nb_max = batches_per_chunk(r, c, align, per, 5);
    for (int64_t b0 = 0; b0 < c->B; b0 += nb_max) {
        int64_t nb = c->B - b0 < nb_max ? c->B - b0 : nb_max;
        vkt_pc_attention pc = base_pc(c);
        pc.n_batch = (uint32_t)nb;
        pc.q_stride = (uint32_t)qkv[0].row_stride, pc.k_stride = (uint32_t)qkv[1].row_stride;
        pc.v_stride = (uint32_t)qkv[2].row_stride;
        vkt_binding q = chunk(&qkv[0].t, align, per[0], b0, nb, VKT_READ, &pc.q_off);
        vkt_binding bind[6] = {q,
                               chunk(&qkv[1].t, align, per[1], b0, nb, VKT_READ, &pc.k_off),
                               chunk(&qkv[2].t, align, per[2], b0, nb, VKT_READ, &pc.v_off),
                               seg_binding(c, align, b0, nb, &q, &pc),
                               chunk(o, align, per[3], b0, nb, VKT_WRITE, &pc.o_off),
                               chunk(lse, align, per[4], b0, nb, VKT_WRITE, &pc.lse_off)};
        pc.q_off += (uint32_t)qkv[0].col, pc.k_off += (uint32_t)qkv[1].col, pc.v_off += (uint32_t)qkv[2].col;
        uint32_t gx, gy;
        dispatch_grid(c, nb, c->NH, k.spec[0] * k.spec[3], &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "attention_fwd", p, bind, 6, &pc, sizeof pc, gx, gy, 1));
        note_flops(r, c, nb, 4.0); /* q.k and p v */
    }
    return VKT_OK;
}

vkt_status vkt_op_attention_bwd(vkt_rec *r, const vkt_attention_cfg *c, const vkt_tensor *dout,
                                const vkt_attention_view qkv[3], const vkt_tensor *o, const vkt_tensor *lse,
                                const vkt_attention_view dqkv[3], const vkt_tensor *delta) {
    check_cfg(c);
    vkt_dtype dt = qkv[0].t.dtype;
    VKT_ASSERT(dt == VKT_DTYPE_F32 || dt == VKT_DTYPE_F16 || dt == VKT_DTYPE_BF16);
    check_view(c, &qkv[0], c->NH, dt), check_view(c, &qkv[1], c->KVH, dt), check_view(c, &qkv[2], c->KVH, dt);
    check_view(c, &dqkv[0], c->NH, dt), check_view(c, &dqkv[1], c->KVH, dt), check_view(c, &dqkv[2], c->KVH, dt);
    int64_t n_o = c->B * c->T * c->NH * c->HS, n_lse = c->B * c->NH * c->T;
    check_packed(dout, n_o, dt), check_packed(o, n_o, dt);
    check_packed(lse, n_lse, VKT_DTYPE_F32), check_packed(delta, n_lse, VKT_DTYPE_F32);
    const vkt_tensor *packed[2] = {o, dout};
    int wi = access_width(c, qkv, 3, packed, 2), wo = access_width(c, dqkv, 3, NULL, 0);
    int width = wi < wo ? wi : wo;
    kernel kq = pick(r, c, "attention_bwd_dq", width, dt), kkv = pick(r, c, "attention_bwd_dkv", width, dt);
    vkt_pipeline *pq, *pkv;
    VKT_TRY(vkt_ops_pipeline(r, kq.name, 9, sizeof(vkt_pc_attention), kq.spec, 4, &pq));
    VKT_TRY(vkt_ops_pipeline(r, kkv.name, 9, sizeof(vkt_pc_attention), kkv.spec, 4, &pkv));
    size_t align = binding_align(r);
    const int64_t per[9] = {c->T * qkv[0].row_stride,  c->T * qkv[1].row_stride,  c->T * qkv[2].row_stride,
                            c->T * dqkv[0].row_stride, c->T * dqkv[1].row_stride, c->T * dqkv[2].row_stride,
                            c->T * c->NH * c->HS,      c->NH * c->T};
    int64_t nb_max = batches_per_chunk(r, c, align, per, 8);
    for (int64_t b0 = 0; b0 < c->B; b0 += nb_max) {
        int64_t nb = c->B - b0 < nb_max ? c->B - b0 : nb_max;
        vkt_pc_attention pc = base_pc(c);
        pc.n_batch = (uint32_t)nb;
        pc.q_stride = (uint32_t)qkv[0].row_stride, pc.k_stride = (uint32_t)qkv[1].row_stride;
        pc.v_stride = (uint32_t)qkv[2].row_stride, pc.dq_stride = (uint32_t)dqkv[0].row_stride;
        pc.dk_stride = (uint32_t)dqkv[1].row_stride, pc.dv_stride = (uint32_t)dqkv[2].row_stride;
        vkt_binding q = chunk(&qkv[0].t, align, per[0], b0, nb, VKT_READ, &pc.q_off);
        vkt_binding k = chunk(&qkv[1].t, align, per[1], b0, nb, VKT_READ, &pc.k_off);
        vkt_binding v = chunk(&qkv[2].t, align, per[2], b0, nb, VKT_READ, &pc.v_off);
        vkt_binding dq = chunk(&dqkv[0].t, align, per[3], b0, nb, VKT_WRITE, &pc.dq_off);
        vkt_binding dk = chunk(&dqkv[1].t, align, per[4], b0, nb, VKT_WRITE, &pc.dk_off);
        vkt_binding dv = chunk(&dqkv[2].t, align, per[5], b0, nb, VKT_WRITE, &pc.dv_off);
        vkt_binding ob = chunk(o, align, per[6], b0, nb, VKT_READ, &pc.o_off);
        vkt_binding dob = chunk(dout, align, per[6], b0, nb, VKT_READ, &pc.do_off);
        vkt_binding l = chunk(lse, align, per[7], b0, nb, VKT_READ, &pc.lse_off);
        vkt_binding dw = chunk(delta, align, per[7], b0, nb, VKT_WRITE, &pc.d_off);
        vkt_binding sg = seg_binding(c, align, b0, nb, &q, &pc);
        pc.q_off += (uint32_t)qkv[0].col, pc.k_off += (uint32_t)qkv[1].col, pc.v_off += (uint32_t)qkv[2].col;
        pc.dq_off += (uint32_t)dqkv[0].col, pc.dk_off += (uint32_t)dqkv[1].col;
        pc.dv_off += (uint32_t)dqkv[2].col;
        uint32_t gx, gy;
        vkt_binding bq[9] = {q, k, v, ob, dob, l, sg, dq, dw};
        dispatch_grid(c, nb, c->NH, kq.spec[0] * kq.spec[3], &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "attention_bwd_dq", pq, bq, 9, &pc, sizeof pc, gx, gy, 1));
        note_flops(r, c, nb, 6.0); /* q.k, do.v, ds k */
        vkt_binding dr = dw;
        dr.access = VKT_READ;
        vkt_binding bkv[9] = {q, k, v, dob, l, dr, sg, dk, dv};
        dispatch_grid(c, nb, c->KVH, kkv.spec[0] * kkv.spec[3], &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "attention_bwd_dkv", pkv, bkv, 9, &pc, sizeof pc, gx, gy, 1));
        note_flops(r, c, nb, 8.0); /* q.k, do.v, p do, ds q */
    }
    return VKT_OK;
}
