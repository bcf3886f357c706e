/* Bench cases for qmatmul (ops/qmatmul.h): the Linear forward y = x W^T ("NT_fwd") and input gradient
 * dx = dy W ("NN_dx", W read along its output dimension, across NF4 blocks) on a frozen weight stored as
 * f32, f16, bf16, int8 or NF4, at TinyLlama-1.1B's linear shapes (rows 512; in x out 2048 x 2048 (q, o),
 * 2048 x 5632 (gate, up), 5632 x 2048 (down); --quick: 64 x 128 x 72). Work is 2 * rows * in * out FLOPs;
 * bytes are the activation read, the weight blob read once and the output written once, so the weight's
 * share shows what each format saves. The shape text carries the stored bytes per weight (sections and
 * padding included). Validation: 256 sampled outputs (the last row and column included) against a double
 * dot product with the host-dequantized weight (vkt_quant_unpack). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/qmatmul.h"

typedef struct {
    int64_t rows, in, out;
    vkt_qformat f;
    bool dx;         /* the input gradient: a = dy (rows, out), c = dx (rows, in) */
    vkt_tensor a, c; /* x and y, or dy and dx */
    vkt_qweight w;
    float *ha, *hw; /* owned: a and the dequantized weight */
} qmm_ctx;

static vkt_status setup(vkt_bench *b, void *p) {
    qmm_ctx *c = p;
    size_t nw = (size_t)(c->out * c->in);
    int64_t ka = c->dx ? c->out : c->in, nc = c->dx ? c->in : c->out;
    c->ha = vkt_bench_rand(b, (size_t)(c->rows * ka), -1, 1);
    c->hw = vkt_bench_rand(b, nw, -0.05f, 0.05f);
    if (!c->ha || !c->hw) return VKT_ERR_OOM;
    VKT_TRY(vkt_qweight_upload(b->dev, b->arena, c->hw, c->out, c->in, c->f, &c->w));
    void *blob = malloc(c->w.layout.bytes);
    if (!blob) return VKT_ERR_OOM;
    vkt_status s = vkt_quant_pack(c->hw, c->out, c->in, c->f, blob);
    if (s == VKT_OK) vkt_quant_unpack(&c->w.layout, blob, c->hw);
    free(blob);
    VKT_TRY(s);
    VKT_TRY(vkt_bench_upload(b, c->ha, c->rows, ka, 1, 1, &c->a));
    return vkt_bench_upload(b, NULL, c->rows, nc, 1, 1, &c->c);
}

static vkt_status record(vkt_rec *r, void *p) {
    qmm_ctx *c = p;
    if (c->dx) return vkt_op_qmatmul_bwd_dx(r, &c->a, &c->w, &c->c, c->rows, false, VKT_MATMUL_AUTO);
    return vkt_op_qmatmul_fwd(r, &c->a, &c->w, NULL, &c->c, c->rows, false, VKT_MATMUL_AUTO);
}

static bool check(vkt_bench *b, void *p, char *why, size_t why_size) {
    qmm_ctx *c = p;
    float *y = vkt_bench_download(b, &c->c);
    enum { SAMPLES = 256 };
    float got[SAMPLES];
    double want[SAMPLES];
    bool ok = y != NULL;
    /* C (rows, n) over depth k: W(j, kk) in the forward, W(kk, j) in the input gradient. */
    const int64_t n = c->dx ? c->in : c->out, k = c->dx ? c->out : c->in;
    for (int s = 0; ok && s < SAMPLES; s++) {
        int64_t i = s == 0 ? c->rows - 1 : (int64_t)(vkt_rng_u64(&b->rng) % (uint64_t)c->rows);
        int64_t j = s == 1 ? n - 1 : (int64_t)(vkt_rng_u64(&b->rng) % (uint64_t)n);
        double acc = 0;
        for (int64_t kk = 0; kk < k; kk++)
            acc += (double)c->ha[i * k + kk] * c->hw[c->dx ? kk * c->in + j : j * c->in + kk];
        got[s] = y[i * n + j], want[s] = acc;
    }
    /* f32 accumulation over K terms: the bound of tests/test_op_matmul.c. */
    if (ok) ok = vkt_bench_compare(got, want, SAMPLES, 1.2e-4 * sqrt((double)k), why, why_size);
    free(y);
    return ok;
}

static void teardown(void *p) {
    qmm_ctx *c = p;
    free(c->ha), free(c->hw);
    c->ha = c->hw = NULL;
}

vkt_status vkt_bench_group_qmatmul(vkt_bench *b) {
    const int64_t rows = b->quick ? 64 : 512;
    const int64_t shapes[][2] = {{2048, 2048}, {2048, 5632}, {5632, 2048}}; /* in, out */
    const int n_shapes = b->quick ? 1 : 3;
    vkt_matmul_variant v = vkt_qmatmul_pick(b->rec, VKT_MATMUL_AUTO);
    for (int sh = 0; sh < n_shapes; sh++) {
        const int64_t in = b->quick ? 128 : shapes[sh][0], out = b->quick ? 72 : shapes[sh][1];
        for (int dx = 0; dx < 2; dx++) {
            for (int f = 0; f < VKT_QFORMAT_COUNT; f++) {
                qmm_ctx c = {.rows = rows, .in = in, .out = out, .f = (vkt_qformat)f, .dx = dx};
                double wbytes = (double)vkt_quant_bytes(c.f, out, in);
                char variant[48];
                snprintf(variant, sizeof variant, "%s_%s", vkt_matmul_variant_name(v), dx ? "NN_dx" : "NT_fwd");
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
                /* M x N over K as the kernel sees it: the input gradient's N is in, its K out. */
                snprintf(bc.shape, sizeof bc.shape, "M=%lld N=%lld K=%lld bytes_per_weight=%.4f", (long long)rows,
                         (long long)(dx ? in : out), (long long)(dx ? out : in), wbytes / ((double)out * (double)in));
                VKT_TRY(vkt_bench_run(b, &bc));
            }
        }
    }
    return VKT_OK;
}
