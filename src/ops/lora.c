/* LoRA branch recording (see lora.h): four small matmuls, the window carried by ldy. */
#include "ops/lora.h"

#include "ops/matmul.h"
#include "ops/op_rows.h"
#include "ops/op_util.h"

static int64_t ldy_of(const vkt_lora_desc *d) { return d->ldy > 0 ? d->ldy : d->out; }

static const vkt_lora_dropout *active(const vkt_lora_desc *d) {
    return d->dropout && d->dropout->p > 0 ? d->dropout : NULL;
}

typedef struct {
    uint32_t n, base, seed, stream, threshold;
    float inv_keep;
} vkt_pc_lora_dropout;
_Static_assert(sizeof(vkt_pc_lora_dropout) == 24, "keep in sync with shaders/lora_dropout.comp");

/* y = mask * x (forward) or y += mask * x (backward) over rows * in elements, in aligned chunks. Element e
 * draws the mask of element row0 * in + e of the whole batch (wrapping at 2^32, as the shader's index does). */
static vkt_status dropout(vkt_rec *r, const vkt_lora_dropout *dp, const vkt_tensor *x, const vkt_tensor *y,
                          const vkt_lora_desc *d, bool bwd) {
    int64_t n = d->rows * d->in;
    const char *name = bwd ? "lora_dropout_bwd" : "lora_dropout_fwd";
    const vkt_tensor *ts[] = {x, y};
    const char *names[] = {bwd ? "s g A" : "x", bwd ? "dx" : "dropout.xd"};
    VKT_TRY(vkt_ops_check_storage(name, 2, ts, names));
    char shader[48];
    vkt_ops_dtype_variant(name, x->dtype, shader, sizeof shader);
    vkt_pipeline *p;
    const uint32_t spec[] = {256};
    VKT_TRY(vkt_ops_pipeline(r, shader, 3, sizeof(vkt_pc_lora_dropout), spec, 1, &p));
    VKT_ASSERT(n < (1ll << 32) && vkt_tensor_numel(x) >= n && vkt_tensor_numel(y) >= n);
    /* Chunks sized for 4-byte elements start on 4 KiB boundaries for 2-byte ones too. */
    int64_t chunk = vkt_ops_max_binding_elems(r, 4);
    double thr = (double)dp->p * 4294967296.0;
    for (int64_t e0 = 0; e0 < n; e0 += chunk) {
        int64_t m = n - e0 < chunk ? n - e0 : chunk;
        vkt_pc_lora_dropout pc = {.n = (uint32_t)m,
                                  .base = (uint32_t)((uint64_t)(dp->row0 * d->in + e0) & 0xffffffffu),
                                  .seed = dp->seed,
                                  .stream = dp->stream,
                                  .threshold = thr >= 4294967295.0 ? 0xffffffffu : (uint32_t)thr,
                                  .inv_keep = 1.0f / (1.0f - dp->p)};
        vkt_binding b[3] = {{vkt_ops_flat_slice(x, e0, m), VKT_READ},
                            {*dp->counter, VKT_READ},
                            {vkt_ops_flat_slice(y, e0, m), bwd ? VKT_RW : VKT_WRITE}};
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div((uint64_t)m, 256), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, name, p, b, 3, &pc, sizeof pc, gx, gy, 1));
    }
    return VKT_OK;
}

vkt_status vkt_op_lora_dropout_tick(vkt_rec *r, const vkt_tensor *counter) {
    vkt_pipeline *p;
    const uint32_t spec[] = {1};
    VKT_TRY(vkt_ops_pipeline(r, "lora_dropout_tick", 1, 0, spec, 1, &p));
    vkt_binding b = {*counter, VKT_RW};
    return vkt_rec_dispatch(r, "lora_dropout_tick", p, &b, 1, NULL, 0, 1, 1, 1);
}

vkt_status vkt_op_lora_fwd(vkt_rec *r, const vkt_lora_desc *d, const vkt_tensor *x, const vkt_tensor *a,
                           const vkt_tensor *b, const vkt_tensor *u, const vkt_tensor *y) {
    VKT_ASSERT(d->rows > 0 && d->in > 0 && d->out > 0 && d->rank > 0 && ldy_of(d) >= d->out);
    const vkt_lora_dropout *dp = active(d);
    if (dp) VKT_TRY(dropout(r, dp, x, dp->xd, d, false));
    vkt_matmul_desc xa = {.m = d->rows, .n = d->rank, .k = d->in, .trans_b = true};
    VKT_TRY(vkt_op_matmul(r, dp ? dp->xd : x, a, NULL, u, &xa));
    vkt_matmul_desc ub = {.m = d->rows,
                          .n = d->out,
                          .k = d->rank,
                          .trans_b = true,
                          .alpha = d->scale,
                          .accumulate = true,
                          .ldc = ldy_of(d)};
    return vkt_op_matmul(r, u, b, NULL, y, &ub);
}

vkt_status vkt_op_lora_bwd(vkt_rec *r, const vkt_lora_desc *d, const vkt_tensor *dy, const vkt_tensor *x,
                           const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *u, const vkt_tensor *g,
                           const vkt_tensor *dx, const vkt_tensor *da, const vkt_tensor *db) {
    VKT_ASSERT(d->rows > 0 && d->in > 0 && d->out > 0 && d->rank > 0 && ldy_of(d) >= d->out);
    /* g = dy_window B: (rows, out) x (out, rank), dy rows ldy apart. */
    vkt_matmul_desc gb = {.m = d->rows, .n = d->rank, .k = d->out, .lda = ldy_of(d)};
    VKT_TRY(vkt_op_matmul(r, dy, b, NULL, g, &gb));
    /* dB += s dy_window^T u: (out, rows) x (rows, rank). */
    vkt_matmul_desc dbd = {.m = d->out,
                           .n = d->rank,
                           .k = d->rows,
                           .trans_a = true,
                           .lda = ldy_of(d),
                           .alpha = d->scale,
                           .accumulate = true};
    VKT_TRY(vkt_op_matmul(r, dy, u, NULL, db, &dbd));
    /* dA += s g^T xd: (rank, rows) x (rows, in); the mask is drawn again rather than kept. */
    const vkt_lora_dropout *dp = active(d);
    if (dp) VKT_TRY(dropout(r, dp, x, dp->xd, d, false));
    vkt_matmul_desc dad = {
        .m = d->rank, .n = d->in, .k = d->rows, .trans_a = true, .alpha = d->scale, .accumulate = true};
    VKT_TRY(vkt_op_matmul(r, g, dp ? dp->xd : x, NULL, da, &dad));
    if (!dx) return VKT_OK;
    /* dx += s g A: (rows, rank) x (rank, in); through the mask with dropout. */
    vkt_matmul_desc dxd = {.m = d->rows, .n = d->in, .k = d->rank, .alpha = d->scale, .accumulate = !dp};
    if (!dp) return vkt_op_matmul(r, g, a, NULL, dx, &dxd);
    VKT_TRY(vkt_op_matmul(r, g, a, NULL, dp->tmp, &dxd));
    return dropout(r, dp, dp->tmp, dx, d, true);
}
