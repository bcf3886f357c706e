/* LoRA branch recording (see lora.h): four small matmuls, the window carried by ldy. */
#include "ops/lora.h"

#include "ops/matmul.h"

static int64_t ldy_of(const vkt_lora_desc *d) { return d->ldy > 0 ? d->ldy : d->out; }

vkt_status vkt_op_lora_fwd(vkt_rec *r, const vkt_lora_desc *d, const vkt_tensor *x, const vkt_tensor *a,
                           const vkt_tensor *b, const vkt_tensor *u, const vkt_tensor *y) {
    VKT_ASSERT(d->rows > 0 && d->in > 0 && d->out > 0 && d->rank > 0 && ldy_of(d) >= d->out);
    vkt_matmul_desc xa = {.m = d->rows, .n = d->rank, .k = d->in, .trans_b = true};
    VKT_TRY(vkt_op_matmul(r, x, a, NULL, u, &xa));
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
    /* dA += s g^T x: (rank, rows) x (rows, in). */
    vkt_matmul_desc dad = {
        .m = d->rank, .n = d->in, .k = d->rows, .trans_a = true, .alpha = d->scale, .accumulate = true};
    VKT_TRY(vkt_op_matmul(r, g, x, NULL, da, &dad));
    if (!dx) return VKT_OK;
    /* dx += s g A: (rows, rank) x (rank, in). */
    vkt_matmul_desc dxd = {.m = d->rows, .n = d->in, .k = d->rank, .alpha = d->scale, .accumulate = true};
    return vkt_op_matmul(r, g, a, NULL, dx, &dxd);
}
