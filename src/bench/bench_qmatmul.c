/* Bench cases for qmatmul (ops/qmatmul.h): the Linear forward y = x W^T on a frozen weight stored as f32,
 * f16, bf16, int8 or NF4, at a TinyLlama-like MLP shape (rows 512, in 2048, out 5632; --quick: 64 x 128 x
 * 72). Work is 2 * rows * in * out FLOPs; bytes are x and the weight blob read once and y written once,
 * so the weight's share shows what each format saves. The shape text carries the stored bytes per
 * weight (sections and padding included). Validation: 256 sampled outputs (the last row and column
 * included) against a double dot product with the host-dequantized weight (vkt_quant_unpack). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/qmatmul.h"

typedef struct {
    int64_t rows, in, out;
    vkt_qformat f;
    vkt_tensor x, y;
    vkt_qweight w;
    float *hx, *hw; /* owned: x and the dequantized weight */
} qmm_ctx;

static vkt_status setup(vkt_bench *b, void *p) {
    qmm_ctx *c = p;
    size_t nw = (size_t)(c->out * c->in);
    c->hx = vkt_bench_rand(b, (size_t)(c->rows * c->in), -1, 1);
    c->hw = vkt_bench_rand(b, nw, -0.05f, 0.05f);
    if (!c->hx || !c->hw) return VKT_ERR_OOM;
    VKT_TRY(vkt_qweight_upload(b->dev, b->arena, c->hw, c->out, c->in, c->f, &c->w));
    void *blob = malloc(c->w.layout.bytes);
    if (!blob) return VKT_ERR_OOM;
    vkt_status s = vkt_quant_pack(c->hw, c->out, c->in, c->f, blob);
    if (s == VKT_OK) vkt_quant_unpack(&c->w.layout, blob, c->hw);
    free(blob);
    VKT_TRY(s);
    VKT_TRY(vkt_bench_upload(b, c->hx, c->rows, c->in, 1, 1, &c->x));
    return vkt_bench_upload(b, NULL, c->rows, c->out, 1, 1, &c->y);
}

static vkt_status record(vkt_rec *r, void *p) {
    qmm_ctx *c = p;
    return vkt_op_qmatmul_fwd(r, &c->x, &c->w, NULL, &c->y, c->rows, false, VKT_MATMUL_AUTO);
}

static bool check(vkt_bench *b, void *p, char *why, size_t why_size) {
    qmm_ctx *c = p;
    float *y = vkt_bench_download(b, &c->y);
    enum { SAMPLES = 256 };
    float got[SAMPLES];
    double want[SAMPLES];
    bool ok = y != NULL;
    for (int s = 0; ok && s < SAMPLES; s++) {
        int64_t i = s == 0 ? c->rows - 1 : (int64_t)(vkt_rng_u64(&b->rng) % (uint64_t)c->rows);
        int64_t j = s == 1 ? c->out - 1 : (int64_t)(vkt_rng_u64(&b->rng) % (uint64_t)c->out);
        double acc = 0;
        for (int64_t k = 0; k < c->in; k++) acc += (double)c->hx[i * c->in + k] * c->hw[j * c->in + k];
        got[s] = y[i * c->out + j], want[s] = acc;
    }
    /* f32 accumulation over K terms: the bound of tests/test_op_matmul.c. */
    if (ok) ok = vkt_bench_compare(got, want, SAMPLES, 1.2e-4 * sqrt((double)c->in), why, why_size);
    free(y);
    return ok;
}

static void teardown(void *p) {
    qmm_ctx *c = p;
    free(c->hx), free(c->hw);
    c->hx = c->hw = NULL;
}

vkt_status vkt_bench_group_qmatmul(vkt_bench *b) {
    const int64_t rows = b->quick ? 64 : 512, in = b->quick ? 128 : 2048, out = b->quick ? 72 : 5632;
    vkt_matmul_variant v = vkt_qmatmul_pick(b->rec, VKT_MATMUL_AUTO);
    for (int f = 0; f < VKT_QFORMAT_COUNT; f++) {
        qmm_ctx c = {.rows = rows, .in = in, .out = out, .f = (vkt_qformat)f};
        double wbytes = (double)vkt_quant_bytes(c.f, out, in);
        char variant[48];
        snprintf(variant, sizeof variant, "%s_NT_fwd", vkt_matmul_variant_name(v));
        vkt_bench_case bc = {.op = "qmatmul",
                             .dtype = vkt_qformat_name(c.f),
                             .variant = variant,
                             .wg = vkt_qmatmul_wg(v),
                             .flops = 2.0 * (double)rows * (double)in * (double)out,
                             .bytes = 4.0 * (double)(rows * in + rows * out) + wbytes,
                             .setup = setup,
                             .record = record,
                             .check = check,
                             .teardown = teardown,
                             .ctx = &c};
        snprintf(bc.shape, sizeof bc.shape, "M=%lld N=%lld K=%lld bytes_per_weight=%.4f", (long long)rows,
                 (long long)out, (long long)in, wbytes / ((double)out * (double)in));
        VKT_TRY(vkt_bench_run(b, &bc));
    }
    return VKT_OK;
}
