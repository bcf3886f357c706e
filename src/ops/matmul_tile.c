/* Matmul tile configurations: defaults, per-device candidates, shape classes and their cache text. */
#include "ops/matmul_tile.h"

#include <stdio.h>
#include <string.h>

#include "vktrain/tensor.h"

const char *vkt_mm_kernel_name(vkt_mm_kernel k) {
    switch (k) {
    case VKT_MM_KERNEL_REG: return "reg";
    case VKT_MM_KERNEL_WIDE: return "wide";
    case VKT_MM_KERNEL_SMEM: return "smem";
    case VKT_MM_KERNEL_COOP: return "coopmat";
    case VKT_MM_KERNEL_NARROW: return "narrow";
    }
    return "?";
}

/* Defaults, measured on lavapipe before the tuner: the wide tile 16 x 8 per invocation (8 x 16 with
 * transposed A, which is read 8 rows per word) in workgroups of 8 (lavapipe's SIMD width), K chunks of at most
 * 1024 (consecutive workgroups share a K x 64 slab of B that then stays in L2); the general kernel 8 x 8; the
 * GPU kernel 64 x 64 per workgroup of 256, 4 x 4 per invocation, K slices of 16; coopmat 32 x 32 (fixed); the
 * narrow kernel 16 rows x 16 columns per invocation in workgroups of 8 (LoRA's r = 16 products at 0.3-0.8 of
 * the FMA peak, against 0.03-0.04 on matmul_wide; 8 x 16, 16 lanes and 32 x 16 measured within noise). */
vkt_matmul_tile vkt_matmul_tile_default(vkt_mm_kernel k, bool trans_a) {
    switch (k) {
    case VKT_MM_KERNEL_WIDE:
        return trans_a ? (vkt_matmul_tile){.wg = 8, .tm = 8, .tn = 16, .kmax = 1024}
                       : (vkt_matmul_tile){.wg = 8, .tm = 16, .tn = 8, .kmax = 1024};
    case VKT_MM_KERNEL_SMEM: return (vkt_matmul_tile){.wg = 256, .tm = 4, .tn = 4, .bm = 64, .bn = 64, .bk = 16};
    case VKT_MM_KERNEL_COOP: return (vkt_matmul_tile){0};
    case VKT_MM_KERNEL_NARROW: return (vkt_matmul_tile){.wg = 8, .tm = 16, .tn = 16, .kmax = 1024};
    case VKT_MM_KERNEL_REG: break;
    }
    return (vkt_matmul_tile){.wg = 8, .tm = 8, .tn = 8};
}

/* The wide kernel's tile for products of at least VKT_MATMUL_LARGE_FLOPS: 32 x 16 per invocation. Its 512
 * accumulators spill to the stack, but a stack access is far cheaper on lavapipe than the per-lane loop of a
 * buffer load, and every B word now feeds 32 rows: 0.50-0.62 of the FMA peak on 1024-sized products and
 * 0.64-0.87 on Shakespeare-char's, against 0.27-0.41 for 16 x 8 (bench, best of 3). It compiles several times
 * slower, which small products (tests, toy models) are spared. 32 x 32 measured no faster. */
vkt_matmul_tile vkt_matmul_tile_default_for(vkt_mm_kernel k, bool trans_a, int64_t m, int64_t n, int64_t kk) {
    vkt_matmul_tile t = vkt_matmul_tile_default(k, trans_a);
    if (k == VKT_MM_KERNEL_WIDE && 2.0 * (double)m * (double)n * (double)kk >= VKT_MATMUL_LARGE_FLOPS)
        t = (vkt_matmul_tile){.wg = 8, .tm = 32, .tn = 16, .kmax = 1024};
    /* Fewer rows than the tile (a LoRA weight gradient dA += du^T x has M = r): rows past M would be computed
     * and dropped, so the tile shrinks to M (rounded up to 8, as transposed A is read 8 rows per word). */
    if (k == VKT_MM_KERNEL_WIDE && m < (int64_t)t.tm) t.tm = m <= 8 ? 8 : (uint32_t)(m + 7) / 8 * 8;
    /* matmul_narrow: all of N = r <= 32 in one workgroup (fewer rows per invocation for r > 16 keeps the
     * accumulators at 256); wider N in tiles of 16 columns. */
    if (k == VKT_MM_KERNEL_NARROW && n <= 32 && n % 8 == 0) {
        t.tn = (uint32_t)n;
        t.tm = n > 16 ? 8 : 16;
    }
    return t;
}

vkt_matmul_tile vkt_matmul_tile_for_c16(vkt_matmul_tile t, bool c16) {
    if (c16 && t.tm * t.tn > 256) t.tm = 16, t.tn = 16;
    return t;
}

static bool fits(const vkt_device_info *info, const vkt_matmul_tile *t) {
    if (t->wg == 0 || t->wg > info->max_workgroup_invocations) return false;
    return 4ull * t->bk * (t->bm + t->bn) <= info->shared_memory_bytes;
}

static bool same(const vkt_matmul_tile *a, const vkt_matmul_tile *b) { return !memcmp(a, b, sizeof *a); }

int vkt_matmul_tile_candidates(const vkt_device_info *info, vkt_mm_kernel k, bool trans_a,
                               vkt_matmul_tile out[VKT_MATMUL_MAX_CANDIDATES]) {
    /* Beside the default: for CPU drivers the large products' tile, tiles of 128 columns, which give small
     * matrices fewer, fuller workgroups (nanoGPT's 768 x 128..512 products), and shorter K chunks for
     * the weight gradients' long K; for GPUs smaller workgroup tiles (more workgroups on small
     * matrices) and a larger one for big ones. */
    /* (wg 16 with 8 x 8 or 8 x 16 tiles measured slowest on lavapipe at every Shakespeare-char and GPT-2
     * shape, and each candidate costs a pipeline compile per layout the first time: left out.) */
    static const vkt_matmul_tile wide[] = {
        {.wg = 8, .tm = 32, .tn = 16, .kmax = 1024}, {.wg = 8, .tm = 16, .tn = 8, .kmax = 1024},
        {.wg = 8, .tm = 8, .tn = 16, .kmax = 1024},  {.wg = 8, .tm = 16, .tn = 16, .kmax = 1024},
        {.wg = 8, .tm = 8, .tn = 16, .kmax = 256},
    };
    static const vkt_matmul_tile reg[] = {
        {.wg = 8, .tm = 8, .tn = 8},
        {.wg = 16, .tm = 8, .tn = 4},
        {.wg = 8, .tm = 4, .tn = 8},
        {.wg = 16, .tm = 8, .tn = 8},
    };
    static const vkt_matmul_tile narrow[] = {
        {.wg = 8, .tm = 8, .tn = 16, .kmax = 1024},  {.wg = 16, .tm = 8, .tn = 16, .kmax = 1024},
        {.wg = 8, .tm = 32, .tn = 16, .kmax = 1024}, {.wg = 16, .tm = 16, .tn = 16, .kmax = 1024},
        {.wg = 8, .tm = 8, .tn = 32, .kmax = 1024},
    };
    static const vkt_matmul_tile smem[] = {
        {.wg = 256, .tm = 4, .tn = 4, .bm = 64, .bn = 64, .bk = 16},
        {.wg = 64, .tm = 4, .tn = 4, .bm = 32, .bn = 32, .bk = 16},
        {.wg = 128, .tm = 4, .tn = 4, .bm = 64, .bn = 32, .bk = 16},
        {.wg = 256, .tm = 8, .tn = 8, .bm = 128, .bn = 128, .bk = 16},
        {.wg = 256, .tm = 4, .tn = 4, .bm = 64, .bn = 64, .bk = 32},
    };
    const vkt_matmul_tile *list = NULL;
    size_t count = 0;
    if (k == VKT_MM_KERNEL_WIDE)
        list = wide, count = sizeof wide / sizeof wide[0];
    else if (k == VKT_MM_KERNEL_REG)
        list = reg, count = sizeof reg / sizeof reg[0];
    else if (k == VKT_MM_KERNEL_SMEM)
        list = smem, count = sizeof smem / sizeof smem[0];
    else if (k == VKT_MM_KERNEL_NARROW)
        list = narrow, count = sizeof narrow / sizeof narrow[0];
    int n = 0;
    out[n++] = vkt_matmul_tile_default(k, trans_a);
    for (size_t i = 0; i < count && n < VKT_MATMUL_MAX_CANDIDATES; i++)
        if (fits(info, &list[i]) && !same(&list[i], &out[0])) out[n++] = list[i];
    return n;
}

bool vkt_matmul_tile_valid(const vkt_device_info *info, vkt_mm_kernel k, bool trans_a, const vkt_matmul_tile *t) {
    vkt_matmul_tile c[VKT_MATMUL_MAX_CANDIDATES];
    int n = vkt_matmul_tile_candidates(info, k, trans_a, c);
    for (int i = 0; i < n; i++)
        if (same(&c[i], t)) return true;
    return false;
}

static uint32_t bucket(int64_t x) {
    for (uint32_t b = 32; b <= 8192; b *= 4)
        if (x <= b) return b;
    return 0;
}

vkt_matmul_class vkt_matmul_class_of(vkt_mm_kernel kernel, bool trans_a, bool trans_b, uint32_t dtype, int64_t m,
                                     int64_t n, int64_t k) {
    return (vkt_matmul_class){.kernel = kernel,
                              .trans_a = trans_a,
                              .trans_b = trans_b,
                              .dtype = dtype,
                              .bm = bucket(m),
                              .bn = bucket(n),
                              .bk = bucket(k)};
}

void vkt_matmul_class_key(const vkt_matmul_class *c, char *out, size_t n) {
    char dims[3][16];
    const uint32_t b[3] = {c->bm, c->bn, c->bk};
    for (int i = 0; i < 3; i++) {
        if (b[i])
            snprintf(dims[i], sizeof dims[i], "%u", b[i]);
        else
            snprintf(dims[i], sizeof dims[i], "large");
    }
    snprintf(out, n, "matmul/%s/%s/%c%c/m%s/n%s/k%s", vkt_mm_kernel_name(c->kernel),
             vkt_dtype_name((vkt_dtype)c->dtype), c->trans_a ? 'T' : 'N', c->trans_b ? 'T' : 'N', dims[0], dims[1],
             dims[2]);
}

void vkt_matmul_tile_format(const vkt_matmul_tile *t, char *out, size_t n) {
    snprintf(out, n, "wg=%u tm=%u tn=%u bm=%u bn=%u bk=%u kmax=%u", t->wg, t->tm, t->tn, t->bm, t->bn, t->bk, t->kmax);
}

bool vkt_matmul_tile_parse(const char *s, vkt_matmul_tile *t) {
    int used = -1;
    vkt_matmul_tile v;
    if (sscanf(s, "wg=%u tm=%u tn=%u bm=%u bn=%u bk=%u kmax=%u%n", &v.wg, &v.tm, &v.tn, &v.bm, &v.bn, &v.bk, &v.kmax,
               &used) != 7 ||
        used < 0)
        return false;
    /* Anything after the tile must be blank or a comment (" # 12.3 GFLOP/s"). */
    for (const char *p = s + used; *p; p++) {
        if (*p == '#') break;
        if (*p != ' ' && *p != '\t') return false;
    }
    *t = v;
    return true;
}
