/* `vktrain bench --tune`: re-measure the matmul tile choices and print them (bench_tune.h). */
#include "bench/bench_tune.h"

#include <string.h>

#include "ops/matmul_tune.h"
#include "vk/tune_cache.h"

typedef struct { int64_t rows, c, hidden; } model_shape;

/* The products of one Linear layer (rows x in -> out): forward NT, dx NN, dW TN. */
static void linear_products(int64_t rows, int64_t in, int64_t out, int64_t p[3][5]) {
    const int64_t v[3][5] = {{rows, out, in, 0, 1}, {rows, in, out, 0, 0}, {out, in, rows, 1, 0}};
    memcpy(p, v, sizeof v);
}

static vkt_status tune_one(vkt_device *dev, vkt_mm_kernel kern, const int64_t p[5], char seen[][96], int *n_seen,
                           FILE *out) {
    vkt_matmul_class cls = vkt_matmul_class_of(kern, p[3], p[4], VKT_DTYPE_F32, p[0], p[1], p[2]);
    char key[96];
    vkt_matmul_class_key(&cls, key, sizeof key);
    for (int i = 0; i < *n_seen; i++)
        if (!strcmp(seen[i], key)) return VKT_OK;
    snprintf(seen[(*n_seen)++], 96, "%s", key);
    vkt_matmul_tune_report rep;
    VKT_TRY(vkt_matmul_tune(dev, kern, p[3], p[4], VKT_DTYPE_F32, p[0], p[1], p[2], &rep));
    char chosen[160];
    vkt_matmul_tile_format(&rep.rows[rep.best].tile, chosen, sizeof chosen);
    fprintf(out, "tune class=%s from M=%lld N=%lld K=%lld measured at M=%lld N=%lld K=%lld chosen=\"%s\"\n", key,
            (long long)p[0], (long long)p[1], (long long)p[2], (long long)rep.m, (long long)rep.n, (long long)rep.k,
            chosen);
    for (int i = 0; i < rep.n_rows; i++) {
        char tile[160];
        vkt_matmul_tile_format(&rep.rows[i].tile, tile, sizeof tile);
        fprintf(out, "  %c %-48s ms=%.4f gflops=%.2f%s\n", i == rep.best ? '*' : ' ', tile, rep.rows[i].ms,
                rep.rows[i].gflops, i == 0 ? " (default)" : "");
    }
    return VKT_OK;
}

vkt_status vkt_bench_tune(vkt_device *dev, int64_t rows, int64_t width, int64_t hidden, FILE *out) {
    const vkt_device_info *info = vkt_device_get_info(dev);
    /* f32 operands: CPU drivers run the aligned register kernel, GPUs the shared-memory one (coopmat takes
     * f16 inputs and has a single configuration). */
    vkt_mm_kernel kern = info->type == VKT_DEVICE_CPU ? VKT_MM_KERNEL_WIDE : VKT_MM_KERNEL_SMEM;
    model_shape models[3] = {{4096, 768, 3072}, {768, 128, 512}, {rows, width, hidden}};
    int n_models = rows > 0 && width > 0 && hidden > 0 ? 3 : 2;
    char seen[64][96];
    int n_seen = 0;
    fprintf(out, "device=\"%s\" driver=\"%s\" kernel=%s tune cache: %s\n", info->name, info->driver_info,
            vkt_mm_kernel_name(kern), vkt_tune_cache_path(vkt_device_tune_cache(dev))[0]
                                          ? vkt_tune_cache_path(vkt_device_tune_cache(dev))
                                          : "(memory only)");
    for (int mi = 0; mi < n_models; mi++) {
        const model_shape *m = &models[mi];
        /* attention q|k|v and output, MLP in and out */
        const int64_t layers[4][2] = {{m->c, 3 * m->c}, {m->c, m->c}, {m->c, m->hidden}, {m->hidden, m->c}};
        for (int l = 0; l < 4; l++) {
            int64_t p[3][5];
            linear_products(m->rows, layers[l][0], layers[l][1], p);
            for (int i = 0; i < 3 && n_seen < 64; i++) VKT_TRY(tune_one(dev, kern, p[i], seen, &n_seen, out));
        }
    }
    return VKT_OK;
}
