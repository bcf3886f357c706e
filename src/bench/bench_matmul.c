/* Bench cases for matmul: 1024^3 and the GPT-2 small training shapes (B*T = 4096 rows, C = 768, 4C = 3072)
 * in the layouts a Linear layer uses: forward NT (y = x W^T), input gradient NN (dx = dy W) and weight
 * gradient TN (dW += dy^T x). The weight-gradient cases accumulate, so each replay first zero-fills C
 * (recorded in the case; its bytes are counted). Validation compares 256 sampled outputs (including the
 * last row and column) with a double-precision dot product; work is 2*M*N*K FLOPs.
 * The Linear shapes also run with f16 and bf16 inputs (C f32; the inputs' bytes counted at 2 each), the
 * mixed precision training case (issue 10: 16-bit inputs should reach the f32 kernel's share of peak). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench_groups.h"
#include "ops/matmul.h"
#include "ops/matmul_tune.h"
#include "ref/ref_gelu.h"

typedef struct {
    int64_t m, n, k;
    bool ta, tb, acc;
    vkt_dtype dt;        /* storage of A and B */
    vkt_matmul_act act;  /* GPT-2's MLP: gelu beside the up-projection, gelu' on the down-projection's dx */
    vkt_tensor a, b, c;  /* stored A, stored B, C (m, n) f32 */
    vkt_tensor aux;      /* (m, n) f32 with act: the activation written, or the pre-activation read */
    float *ha, *hb, *hx; /* owned: host copies of A, B and (GELU_GRAD) the pre-activation */
} matmul_ctx;

static vkt_status setup(vkt_bench *b, void *p) {
    matmul_ctx *x = p;
    x->ha = vkt_bench_rand(b, (size_t)(x->m * x->k), -1, 1);
    x->hb = vkt_bench_rand(b, (size_t)(x->k * x->n), -1, 1);
    if (!x->ha || !x->hb) return VKT_ERR_OOM;
    VKT_TRY(vkt_bench_upload_as(b, x->ha, x->m * x->k, x->dt, &x->a));
    VKT_TRY(vkt_bench_upload_as(b, x->hb, x->k * x->n, x->dt, &x->b));
    if (x->act == VKT_MM_ACT_GELU) VKT_TRY(vkt_bench_upload(b, NULL, x->m * x->n, 1, 1, 1, &x->aux));
    if (x->act == VKT_MM_ACT_GELU_GRAD) {
        if (!(x->hx = vkt_bench_rand(b, (size_t)(x->m * x->n), -3, 3))) return VKT_ERR_OOM;
        VKT_TRY(vkt_bench_upload(b, x->hx, x->m * x->n, 1, 1, 1, &x->aux));
    }
    return vkt_bench_upload(b, NULL, x->m * x->n, 1, 1, 1, &x->c);
}

static vkt_matmul_desc desc_of(const matmul_ctx *x) {
    return (vkt_matmul_desc){.m = x->m,
                             .n = x->n,
                             .k = x->k,
                             .trans_a = x->ta,
                             .trans_b = x->tb,
                             .accumulate = x->acc,
                             .act = x->act,
                             .aux = x->act ? &x->aux : NULL};
}

static vkt_status record(vkt_rec *r, void *p) {
    matmul_ctx *x = p;
    vkt_matmul_desc d = desc_of(x);
    if (x->acc) VKT_TRY(vkt_rec_fill(r, &x->c, 0));
    return vkt_op_matmul(r, &x->a, &x->b, NULL, &x->c, &d);
}

static bool check(vkt_bench *b, void *p, char *why, size_t why_size) {
    matmul_ctx *x = p;
    float *y = vkt_bench_download(b, &x->c);
    float *ya = x->act == VKT_MM_ACT_GELU ? vkt_bench_download(b, &x->aux) : NULL;
    enum { SAMPLES = 256 };
    float got[SAMPLES], got_act[SAMPLES];
    double want[SAMPLES], want_act[SAMPLES];
    bool ok = y != NULL && (x->act != VKT_MM_ACT_GELU || ya);
    for (int s = 0; ok && s < SAMPLES; s++) {
        int64_t i = s == 0 ? x->m - 1 : (int64_t)(vkt_rng_u64(&b->rng) % (uint64_t)x->m);
        int64_t j = s == 1 ? x->n - 1 : (int64_t)(vkt_rng_u64(&b->rng) % (uint64_t)x->n);
        double acc = 0;
        for (int64_t p_ = 0; p_ < x->k; p_++) {
            double av = x->ta ? x->ha[p_ * x->m + i] : x->ha[i * x->k + p_];
            double bv = x->tb ? x->hb[j * x->k + p_] : x->hb[p_ * x->n + j];
            acc += av * bv;
        }
        if (x->act == VKT_MM_ACT_GELU_GRAD) acc *= vkt_ref_gelu_grad(x->hx[i * x->n + j]);
        got[s] = y[i * x->n + j], want[s] = acc;
        /* The activation of the stored pre-activation (the product's own error is checked above). */
        if (ya) got_act[s] = ya[i * x->n + j], want_act[s] = vkt_ref_gelu(y[i * x->n + j]);
    }
    /* f32 accumulation over K terms: see the bound derivation in tests/test_op_matmul.c (gelu' <= 1.13). */
    if (ok) ok = vkt_bench_compare(got, want, SAMPLES, 1.2e-4 * sqrt((double)x->k) * 1.13, why, why_size);
    if (ok && ya) ok = vkt_bench_compare(got_act, want_act, SAMPLES, 1e-5, why, why_size);
    free(y), free(ya);
    return ok;
}

static void teardown(void *p) {
    matmul_ctx *x = p;
    free(x->ha), free(x->hb), free(x->hx);
    x->ha = x->hb = x->hx = NULL;
}

typedef struct {
    int64_t m, n, k;
    bool ta, tb, acc;
    const char *role;
    vkt_dtype dt;
} shape;

static vkt_status bench_shape(vkt_bench *b, const shape *s, vkt_matmul_act act);

vkt_status vkt_bench_group_matmul(vkt_bench *b) {
    const vkt_dtype F16 = VKT_DTYPE_F16, BF16 = VKT_DTYPE_BF16;
    static const shape full[] = {
        {1024, 1024, 1024, false, false, false, "square", VKT_DTYPE_F32},
        {2048, 2048, 2048, false, false, false, "square", VKT_DTYPE_F32},
        {4096, 768, 768, false, true, false, "fwd_attn_proj", VKT_DTYPE_F32}, /* x (4096, 768) W^T, W (768, 768) */
        {4096, 3072, 768, false, true, false, "fwd_mlp_fc", VKT_DTYPE_F32},   /* W (3072, 768) */
        {4096, 768, 3072, false, true, false, "fwd_mlp_proj", VKT_DTYPE_F32}, /* W (768, 3072) */
        {4096, 768, 768, false, false, false, "dx_attn_proj", VKT_DTYPE_F32}, /* dy (4096, 768) W (768, 768) */
        {4096, 768, 3072, false, false, false, "dx_mlp_fc", VKT_DTYPE_F32},   /* dy (4096, 3072) W (3072, 768) */
        {4096, 3072, 768, false, false, false, "dx_mlp_proj", VKT_DTYPE_F32}, /* dy (4096, 768) W (768, 3072) */
        {768, 768, 4096, true, false, true, "dw_attn_proj", VKT_DTYPE_F32},   /* dy^T x: (768, 4096) (4096, 768) */
        {3072, 768, 4096, true, false, true, "dw_mlp_fc", VKT_DTYPE_F32},
        {768, 3072, 4096, true, false, true, "dw_mlp_proj", VKT_DTYPE_F32},
        /* Mixed precision: 16-bit activations and weights, f32 C */
        {4096, 3072, 768, false, true, false, "fwd_mlp_fc", F16},
        {4096, 3072, 768, false, true, false, "fwd_mlp_fc", BF16},
        {4096, 768, 3072, false, false, false, "dx_mlp_fc", BF16},
        {3072, 768, 4096, true, false, true, "dw_mlp_fc", BF16},
        /* nanoGPT Shakespeare-char (C = 128, 4C = 512, B*T = 768 rows): small shapes where per-workgroup
         * overhead and tile choice matter more than the inner loop. */
        {768, 512, 128, false, true, false, "char_fwd_mlp_fc", VKT_DTYPE_F32},
        {768, 128, 512, false, false, false, "char_dx_mlp_proj", VKT_DTYPE_F32},
        {768, 512, 128, false, false, false, "char_dx_mlp_fc", VKT_DTYPE_F32},
        {512, 128, 768, true, false, true, "char_dw_mlp_fc", VKT_DTYPE_F32},
        {128, 512, 768, true, false, true, "char_dw_mlp_proj", VKT_DTYPE_F32},
        {128, 128, 768, true, false, true, "char_dw_attn_proj", VKT_DTYPE_F32},
        /* A LoRA branch of r = 16 on TinyLlama's MLP (512 rows, in 2048, out 5632): the rank-r products
         * (issue 7), on matmul_narrow except dA (M = r). */
        {512, 16, 2048, false, true, false, "lora_u", VKT_DTYPE_F32},   /* u = x A^T */
        {512, 5632, 16, false, true, true, "lora_y", VKT_DTYPE_F32},    /* y += s u B^T */
        {512, 16, 5632, false, false, false, "lora_du", VKT_DTYPE_F32}, /* du = dy B */
        {512, 2048, 16, false, false, true, "lora_dx", VKT_DTYPE_F32},  /* dx += s du A */
        {16, 2048, 512, true, false, true, "lora_dA", VKT_DTYPE_F32},   /* dA += du^T x */
        {5632, 16, 512, true, false, true, "lora_dB", VKT_DTYPE_F32},   /* dB += dy^T u */
        /* r = 64 */
        {512, 64, 2048, false, true, false, "lora64_u", VKT_DTYPE_F32},
        {512, 64, 5632, false, false, false, "lora64_du", VKT_DTYPE_F32},
        {512, 2048, 64, false, false, true, "lora64_dx", VKT_DTYPE_F32},
        {5632, 64, 512, true, false, true, "lora64_dB", VKT_DTYPE_F32},
    };
    static const shape quick[] = {
        {64, 72, 40, false, false, false, "square", VKT_DTYPE_F32},
        {64, 72, 40, false, true, false, "fwd", VKT_DTYPE_F32},
        {72, 40, 64, true, false, true, "dw", VKT_DTYPE_F32},
        {64, 72, 40, false, true, false, "fwd", BF16},
    };
    /* GPT-2's MLP activation in the store: gelu beside the up-projection, gelu' on its input gradient. */
    static const struct {
        shape s;
        vkt_matmul_act act;
    } act[] = {
        {{768, 512, 128, false, true, false, "char_fwd_mlp_fc+gelu", VKT_DTYPE_F32}, VKT_MM_ACT_GELU},
        {{768, 512, 128, false, false, false, "char_dx_mlp_fc*gelu'", VKT_DTYPE_F32}, VKT_MM_ACT_GELU_GRAD},
    };
    const shape *list = b->quick ? quick : full;
    size_t count = b->quick ? sizeof quick / sizeof quick[0] : sizeof full / sizeof full[0];
    for (size_t i = 0; i < count; i++) VKT_TRY(bench_shape(b, &list[i], VKT_MM_ACT_NONE));
    for (size_t i = 0; i < (b->quick ? 0 : sizeof act / sizeof act[0]); i++)
        VKT_TRY(bench_shape(b, &act[i].s, act[i].act));
    return VKT_OK;
}

static vkt_status bench_shape(vkt_bench *b, const shape *s, vkt_matmul_act act) {
    matmul_ctx x = {.m = s->m, .n = s->n, .k = s->k, .ta = s->ta, .tb = s->tb, .acc = s->acc, .dt = s->dt, .act = act};
    /* Which kernel will run: the variant picked for this device, and the reg variant's fast path. */
    vkt_matmul_variant v = vkt_matmul_pick(b->rec, s->dt, VKT_MATMUL_AUTO);
    vkt_tensor probe = {.dtype = s->dt};
    vkt_matmul_desc d = desc_of(&x);
    vkt_tensor probe_c = {.dtype = VKT_DTYPE_F32};
    bool wide = v == VKT_MATMUL_REG && vkt_matmul_wide_ok(&probe, &probe, &d);
    bool narrow = wide && vkt_matmul_narrow_ok(&probe, &probe, &probe_c, &d);
    const char *kernel = narrow ? "/narrow" : wide ? "/wide" : "";
    char variant[48];
    snprintf(variant, sizeof variant, "%s%s_%c%c%s_%s", vkt_matmul_variant_name(v), kernel, s->ta ? 'T' : 'N',
             s->tb ? 'T' : 'N', s->acc ? "+fill" : "", s->role);
    /* The tile the op will record with (tuned now when tuning is on and the class is new). */
    vkt_mm_kernel kind = v == VKT_MATMUL_SMEM      ? VKT_MM_KERNEL_SMEM
                         : v == VKT_MATMUL_COOPMAT ? VKT_MM_KERNEL_COOP
                         : narrow                  ? VKT_MM_KERNEL_NARROW
                         : wide                    ? VKT_MM_KERNEL_WIDE
                                                   : VKT_MM_KERNEL_REG;
    vkt_matmul_tile tile;
    VKT_TRY(vkt_matmul_tile_for(b->dev, kind, s->ta, s->tb, s->dt, s->m, s->n, s->k, &tile));
    double mnk = (double)s->m * (double)s->n * (double)s->k;
    double es = (double)vkt_dtype_size(s->dt);
    double bytes = es * (double)(s->m * s->k + s->k * s->n) +
                   4.0 * (s->m * s->n + (s->acc ? 2.0 * s->m * s->n : 0) + (act ? s->m * s->n : 0));
    vkt_bench_case c = {.op = "matmul",
                        .dtype = vkt_dtype_name(s->dt),
                        .variant = variant,
                        .wg = kind == VKT_MM_KERNEL_COOP ? vkt_device_get_info(b->dev)->subgroup_size : tile.wg,
                        .flops = 2.0 * mnk,
                        .bytes = bytes,
                        .setup = setup,
                        .record = record,
                        .check = check,
                        .teardown = teardown,
                        .ctx = &x};
    snprintf(c.shape, sizeof c.shape, "M=%lld N=%lld K=%lld", (long long)s->m, (long long)s->n, (long long)s->k);
    return vkt_bench_run(b, &c);
}
