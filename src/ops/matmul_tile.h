/* Tile configurations of the matmul kernels: the defaults, the candidates a device may run, the coarse shape
 * classes the tuner measures once each, and their text form in the tune cache.
 *
 * A tile is a set of specialization constants plus the host's K chunking: for matmul_wide and matmul_reg
 * (CPU drivers) WG invocations per workgroup, TM rows per workgroup and TN columns per invocation; for
 * matmul_narrow (CPU drivers, lanes along M) WG invocations, TM rows per invocation and TN columns per
 * workgroup; for matmul_smem (GPUs) a BM x BN workgroup tile of WG invocations, each TM x TN, BK-deep shared
 * slices; coopmat has only its default. kmax (wide and narrow) is the longest K chunk one dispatch covers (0:
 * no limit); longer K runs as consecutive dispatches accumulating into C in order. Every candidate computes the same
 * sums in the same k order per output element, so results do not depend on the choice beyond the chunking
 * of K (which only changes where partial sums are rounded to f32 in C). */
#ifndef VKT_OP_MATMUL_TILE_H
#define VKT_OP_MATMUL_TILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/device.h"

/* The kernels a tile belongs to (each has its own candidates). */
typedef enum {
    VKT_MM_KERNEL_REG = 0,    /* matmul_reg: any shape and dtype (CPU drivers) */
    VKT_MM_KERNEL_WIDE = 1,   /* matmul_wide: f32 operands aligned to 8 (CPU drivers) */
    VKT_MM_KERNEL_SMEM = 2,   /* matmul_smem (GPUs) */
    VKT_MM_KERNEL_COOP = 3,   /* matmul_coopmat (its one configuration) */
    VKT_MM_KERNEL_NARROW = 4, /* matmul_narrow: matmul_wide's operands with N small, lanes along M (CPU) */
} vkt_mm_kernel;

typedef struct {
    uint32_t wg, tm, tn; /* see above */
    uint32_t bm, bn, bk; /* smem only (0 elsewhere) */
    uint32_t kmax;       /* wide and narrow only (0 elsewhere or no limit) */
} vkt_matmul_tile;

/* A kernel and tile forced on a matmul (vkt_matmul_desc.force): tests run every candidate, the tuner
 * measures them. */
typedef struct {
    vkt_mm_kernel kernel;
    vkt_matmul_tile tile;
} vkt_matmul_force;

/* A coarse class of problems that share one tuned tile: kernel, layout, input dtype and power-of-4
 * buckets of M, N and K (upper bounds 32, 128, 512, 2048, 8192, then "large"). */
typedef struct {
    vkt_mm_kernel kernel;
    bool trans_a, trans_b;
    uint32_t dtype;      /* vkt_dtype of A and B */
    uint32_t bm, bn, bk; /* bucket upper bounds of M, N, K (0: above 8192) */
} vkt_matmul_class;

#define VKT_MATMUL_MAX_CANDIDATES 8

const char *vkt_mm_kernel_name(vkt_mm_kernel k);
/* The configuration used when tuning is off or has no answer (the values measured best before tuning). */
vkt_matmul_tile vkt_matmul_tile_default(vkt_mm_kernel k, bool trans_a);
/* The untuned tile for an (m, n, kk) product: the default, or for large products a larger register tile. */
#define VKT_MATMUL_LARGE_FLOPS 1.0e7
vkt_matmul_tile vkt_matmul_tile_default_for(vkt_mm_kernel k, bool trans_a, int64_t m, int64_t n, int64_t kk);
/* The tile matmul_wide may compile with a 16-bit C (c16): at most 16 x 16, whatever was forced, tuned or
 * defaulted. Its unrolled epilogue rounds every element of the tile to 16 bits; with gelu' on the way out
 * lavapipe's LLVM 15 took over 400 s to compile the 32 x 16 tile, against 2-6 s at 16 x 8 and 16 x 16, and a
 * Shakespeare-char bf16 run's first steps took 6.7 minutes with 32 x 16 for its other 16-bit products
 * against under a minute with 16 x 8: the first bf16 or f16 step of a model stalled for minutes. */
vkt_matmul_tile vkt_matmul_tile_for_c16(vkt_matmul_tile t, bool c16);

/* Candidates valid on this device (workgroup size within maxComputeWorkGroupInvocations, shared memory
 * within maxComputeSharedMemorySize; nothing assumed about the subgroup size). The default is always
 * the first. Returns the count (>= 1). */
int vkt_matmul_tile_candidates(const vkt_device_info *info, vkt_mm_kernel k, bool trans_a,
                               vkt_matmul_tile out[VKT_MATMUL_MAX_CANDIDATES]);
/* True when t is one of the candidates for (info, k, trans_a): what a cache file may hold. */
bool vkt_matmul_tile_valid(const vkt_device_info *info, vkt_mm_kernel k, bool trans_a, const vkt_matmul_tile *t);

/* The class of an (m, n, k) problem. */
vkt_matmul_class vkt_matmul_class_of(vkt_mm_kernel kernel, bool trans_a, bool trans_b, uint32_t dtype, int64_t m,
                                     int64_t n, int64_t k);
/* The cache key of a class, e.g. "matmul/wide/f32/TN/m512/n128/k2048". */
void vkt_matmul_class_key(const vkt_matmul_class *c, char *out, size_t n);
/* Text form of a tile, "wg=8 tm=8 tn=16 bm=0 bn=0 bk=0 kmax=1024", and its parser (false on any
 * malformed or missing field). */
void vkt_matmul_tile_format(const vkt_matmul_tile *t, char *out, size_t n);
bool vkt_matmul_tile_parse(const char *s, vkt_matmul_tile *t);

#endif
