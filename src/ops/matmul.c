/* Matmul recording: variant choice, pipelines, and the split into dispatches whose windows fit one binding.
 *
 * Every dispatch covers a (batch, M, N, K) box of the problem. Each operand's bound window is the element
 * range that box touches, started at the nearest byte below it aligned to minStorageBufferOffsetAlignment
 * and to 32 bytes; the remainder travels in push constants. Boxes shrink (batch first, then the operand's outer stored
 * dimension) until every window fits; boxes after the first along K accumulate into C.
 *
 * The CPU variant has two kernels: matmul_wide (8 elements per load: 32 bytes of f32 or 16 of f16 / bf16) where every
 * operand's contiguous dimension, stride and window start is a multiple of 8 elements and K is too, and matmul_reg
 * otherwise. matmul_wide_ua is matmul_wide reading an f32 A through uniform-buffer windows of whole row blocks
 * (a_window_blocks), which lavapipe loads without per-lane branches. */
#include "ops/matmul.h"

#include <stdlib.h>
#include <string.h>

#include "ops/gelu.h"
#include "ops/matmul_tune.h"
#include "ops/op_eltwise.h"
#include "ops/op_rows.h"
#include "ops/op_util.h"
#include "vk/shaders.h"

typedef struct {
    uint32_t m, n, k;
    uint32_t lda, ldb, ldc;
    uint32_t off_a, off_b, off_c, off_bias;
    uint32_t stride_a, stride_b, stride_c;
    float alpha;
    uint32_t flags;
    uint32_t off_aux;
    uint32_t a_win_blocks; /* matmul_wide_ua: row blocks per uniform-buffer window of A */
} vkt_pc_matmul;
_Static_assert(sizeof(vkt_pc_matmul) == 68, "keep in sync with shaders/common/matmul_io.glsl");

typedef struct { uint32_t rows, n, off_dy, _pad; } vkt_pc_colsum;
_Static_assert(sizeof(vkt_pc_colsum) == 16, "keep in sync with matmul_colsum.comp");

#define MM_ACCUMULATE 1u
#define MM_BIAS 2u
#define MM_ROW_SUMS 4u
#define EPI_ROW_SUMS 3u /* matmul_wide's ACT value for a_row_sums */
#define MAX_GROUPS 65535

/* Tile sizes (specialization constants) come from ops/matmul_tile.c: defaults, or the tuned choice of the
 * problem's class (ops/matmul_tune.c). K blocks of matmul_wide are 8 deep (one 32-byte word). */
#define WIDE_K 8
#define COOP_T 32

const char *vkt_matmul_variant_name(vkt_matmul_variant v) {
    switch (v) {
    case VKT_MATMUL_REG: return "reg";
    case VKT_MATMUL_SMEM: return "smem";
    case VKT_MATMUL_COOPMAT: return "coopmat";
    default: return "auto";
    }
}

static bool coopmat_usable(const vkt_device_info *info) {
    if (!info->coopmat_nv || !vkt_shader_find("matmul_coopmat_nv_f16")) return false;
    for (uint32_t i = 0; i < info->n_coopmat_shapes; i++) {
        const vkt_coopmat_shape *s = &info->coopmat_shapes[i];
        if (s->m == 16 && s->n == 16 && s->k == 16 && !strcmp(s->a_type, "f16") && !strcmp(s->c_type, "f32"))
            return true;
    }
    return false;
}

vkt_matmul_variant vkt_matmul_pick(const vkt_rec *r, vkt_dtype dt, vkt_matmul_variant requested) {
    if (requested == VKT_MATMUL_AUTO) {
        const char *env = getenv("VKT_MATMUL_VARIANT");
        if (env && *env) {
            for (int v = VKT_MATMUL_REG; v <= VKT_MATMUL_COOPMAT; v++)
                if (!strcmp(env, vkt_matmul_variant_name((vkt_matmul_variant)v))) requested = (vkt_matmul_variant)v;
            if (requested == VKT_MATMUL_AUTO && strcmp(env, "auto"))
                vkt_log_warn("VKT_MATMUL_VARIANT=%s is not reg, smem, coopmat or auto; choosing automatically", env);
        }
    }
    if (requested != VKT_MATMUL_AUTO) return requested;
    const vkt_device_info *info = vkt_device_get_info(vkt_rec_device(r));
    if (dt == VKT_DTYPE_F16 && coopmat_usable(info)) return VKT_MATMUL_COOPMAT;
    return info->type == VKT_DEVICE_CPU ? VKT_MATMUL_REG : VKT_MATMUL_SMEM;
}

/* One operand as the kernel sees it: stored (rows, cols) with row stride ld, batches stride apart, its
 * element (0, 0) `off` elements into the tensor. */
typedef struct {
    const vkt_tensor *t;
    int64_t ld, stride, off;
} operand;

/* Elements [lo, hi) that rows [r0, r0+rc) x cols [c0, c0+cc) of batches [b0, b0+bc) touch. */
static void span(const operand *o, int64_t b0, int64_t bc, int64_t r0, int64_t rc, int64_t c0, int64_t cc,
                 int64_t *lo, int64_t *hi) {
    *lo = o->off + b0 * o->stride + r0 * o->ld + c0;
    *hi = o->off + (b0 + bc - 1) * o->stride + (r0 + rc - 1) * o->ld + c0 + cc;
}

/* An operand's start element is a multiple of 8 elements into its buffer (so 8-element words align). */
static bool starts_on_8(const operand *o) {
    size_t es = vkt_dtype_size(o->t->dtype);
    return o->t->offset % es == 0 && (o->t->offset / es + (size_t)o->off) % 8 == 0;
}

/* matmul_wide's conditions on the operands as bound: A and B f32 (or both f16, or both bf16), K and each
 * contiguous dimension, row stride, batch stride and start element multiples of 8. k_tail: K may be any
 * length (the kernel's scalar tail loop; used for a 16-bit C, see matmul_core). */
static bool wide_operands(const vkt_matmul_desc *d, const operand *oa, const operand *ob, int64_t nb, bool k_tail) {
    vkt_dtype dt = oa->t->dtype;
    return (dt == VKT_DTYPE_F32 || dt == VKT_DTYPE_F16 || dt == VKT_DTYPE_BF16) && ob->t->dtype == dt &&
           (d->k % 8 == 0 || k_tail) && (!d->trans_a || d->m % 8 == 0) && (d->trans_b || d->n % 8 == 0) &&
           oa->ld % 8 == 0 && ob->ld % 8 == 0 && starts_on_8(oa) && starts_on_8(ob) &&
           (nb == 1 || (oa->stride % 8 == 0 && ob->stride % 8 == 0));
}

/* Window starts are aligned to the device's minimum and to 32 bytes, so that a 32-byte aligned element
 * stays 32-byte aligned inside its window (matmul_wide reads 8-float words). Both are powers of two. */
static size_t window_align(const vkt_rec *r) {
    size_t align = vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
    return align > 32 ? align : 32;
}

/* The bound window for elements [lo, hi) of o: starts on an aligned byte, *off is where lo falls in it. */
static vkt_tensor window(const vkt_rec *r, const operand *o, int64_t lo, int64_t hi, uint32_t *off) {
    size_t es = vkt_dtype_size(o->t->dtype);
    size_t align = window_align(r);
    size_t byte_lo = o->t->offset + (size_t)lo * es, start = byte_lo / align * align;
    vkt_tensor w = *o->t;
    *off = (uint32_t)((byte_lo - start) / es);
    w.offset = start;
    w.shape[0] = *off + (hi - lo), w.shape[1] = w.shape[2] = w.shape[3] = 1;
    return w;
}

static size_t window_bytes(const operand *o, int64_t lo, int64_t hi, size_t align) {
    return (size_t)(hi - lo) * vkt_dtype_size(o->t->dtype) + align;
}

static int64_t shrink(int64_t x, int64_t tile) {
    int64_t h = (x + 1) / 2;
    if (h > tile) h = (h + tile - 1) / tile * tile;
    return h < x ? h : x - 1;
}

typedef struct {
    vkt_pipeline *p;
    const char *name;
    int64_t bm, bn;   /* C tile per workgroup */
    int64_t bk;       /* K chunks must be multiples of this (wide kernel: 8) */
    int64_t kmax;     /* longest K chunk per dispatch (0: no limit), the tile's kmax */
    bool m_fast;      /* grid x walks M tiles (workgroups in a row share the same B columns) */
    int n_bindings;   /* 4, or 5 for matmul_wide (binding 4: the activation's aux tensor) */
    int a_windows;    /* matmul_wide_ua: A's rows also in this many uniform buffers (an array at binding 5), */
    int64_t a_win_blocks; /* each holding this many row blocks */
} kernel;

/* matmul_wide_ua's uniform-buffer windows of A (shaders/common/matmul_words.glsl): one per row block of a
 * dispatch, each the 64 KiB a uniform buffer may span on lavapipe. */
#define A_WINDOWS 6
#define A_WINDOW_BYTES 65536

/* Shape and alignment conditions of matmul_wide.comp (window starts are checked per box, see plan). */
/* The row strides of d's operands as stored: given, else the stored row length. */
static int64_t ld_a(const vkt_matmul_desc *d) { return d->lda > 0 ? d->lda : d->trans_a ? d->m : d->k; }
static int64_t ld_b(const vkt_matmul_desc *d) { return d->ldb > 0 ? d->ldb : d->trans_b ? d->k : d->n; }
static int64_t ld_c(const vkt_matmul_desc *d) { return d->ldc > 0 ? d->ldc : d->n; }

bool vkt_matmul_wide_ok(const vkt_tensor *a, const vkt_tensor *b, const vkt_matmul_desc *d) {
    int64_t nb = d->batch > 1 ? d->batch : 1;
    operand oa = {a, ld_a(d), nb > 1 ? d->stride_a : 0, 0};
    operand ob = {b, ld_b(d), nb > 1 ? d->stride_b : 0, 0};
    return wide_operands(d, &oa, &ob, nb, false);
}

static vkt_mm_kernel kernel_kind(vkt_matmul_variant v, bool wide) {
    return v == VKT_MATMUL_COOPMAT ? VKT_MM_KERNEL_COOP
           : v == VKT_MATMUL_SMEM  ? VKT_MM_KERNEL_SMEM
           : wide                  ? VKT_MM_KERNEL_WIDE
                                   : VKT_MM_KERNEL_REG;
}

/* The tile of kernel `kind` for d: forced (when d forces this kernel), else tuned or default. */
static vkt_status pick_tile(vkt_rec *r, vkt_mm_kernel kind, vkt_dtype dt, const vkt_matmul_desc *d,
                            vkt_matmul_tile *t) {
    if (d->force && d->force->kernel == kind) {
        VKT_ASSERT(vkt_matmul_tile_valid(vkt_device_get_info(vkt_rec_device(r)), kind, d->trans_a, &d->force->tile));
        *t = d->force->tile;
        return VKT_OK;
    }
    return vkt_matmul_tile_for(vkt_rec_device(r), kind, d->trans_a, d->trans_b, dt, d->m, d->n, d->k, t);
}

/* How many row blocks of matmul_wide's tile t fit one uniform-buffer window of A (f32, not transposed, one
 * batch), from the first block's first row at k = 0 to the last one's last row at the longest K chunk; 0
 * where none does or the windows do not apply: matmul_wide_ua runs on CPU drivers, whose buffers carry the
 * uniform-buffer usage (vk/memory.c). Windows start on rows, 32-byte aligned by the wide kernel's
 * conditions. VKT_MATMUL_A_UBO=0 turns them off (to compare: the same sums in the same order). */
static int64_t a_window_blocks(const vkt_device_info *info, const vkt_matmul_tile *t, const operand *oa, int64_t k) {
    const char *env = getenv("VKT_MATMUL_A_UBO");
    if ((env && !strcmp(env, "0")) || !vkt_shader_find("matmul_wide_ua")) return 0;
    if (info->type != VKT_DEVICE_CPU || !info->ubo_array_indexing || info->max_uniform_buffer_range < A_WINDOW_BYTES ||
        32 % info->min_uniform_offset_align != 0)
        return 0;
    int64_t kc = t->kmax && k > t->kmax ? t->kmax : k, words = A_WINDOW_BYTES / 4;
    if (kc > words) return 0;
    return ((words - kc) / oa->ld + 1) / t->tm; /* rows r .. r + b tm - 1 of a window end by (b tm - 1) ld + kc */
}

/* c16: C and bias in the inputs' 16-bit dtype (the *_c16 shader variants) instead of f32. a_rows: A where
 * matmul_wide_ua may read it (f32, not transposed, one batch), else NULL. */
static vkt_status get_kernel(vkt_rec *r, vkt_matmul_variant v, const vkt_matmul_desc *dm, vkt_dtype dt, bool c16,
                             bool wide, bool c_words, uint32_t epi, const operand *a_rows, kernel *k) {
    const bool ta = dm->trans_a, tb = dm->trans_b;
    const vkt_device_info *info = vkt_device_get_info(vkt_rec_device(r));
    static const char *suffix[] = {[VKT_DTYPE_F32] = "f32", [VKT_DTYPE_F16] = "f16", [VKT_DTYPE_BF16] = "bf16"};
    if (dt != VKT_DTYPE_F32 && !info->storage16) {
        vkt_log_error("matmul: %s inputs need storageBuffer16BitAccess, which %s lacks", vkt_dtype_name(dt),
                      info->name);
        return VKT_ERR_UNSUPPORTED;
    }
    char shader[64];
    const char *csuf = c16 ? "_c16" : "";
    *k = (kernel){0};
    vkt_matmul_tile t;
    VKT_TRY(pick_tile(r, kernel_kind(v, wide), dt, dm, &t));
    if (wide) t = vkt_matmul_tile_for_c16(t, c16);
    vkt_pipeline_desc d = {.pc_size = sizeof(vkt_pc_matmul), .n_bindings = 4};
    if (v == VKT_MATMUL_COOPMAT) {
        if (dt != VKT_DTYPE_F16 || !coopmat_usable(info)) {
            vkt_log_error("matmul: the coopmat variant needs f16 inputs, a glslang with GL_NV_cooperative_matrix "
                          "and a device reporting 16x16x16 f16->f32 (%s: coopmat_nv=%d); unset VKT_MATMUL_VARIANT",
                          info->name, info->coopmat_nv);
            return VKT_ERR_UNSUPPORTED;
        }
        snprintf(shader, sizeof shader, "matmul_coopmat_nv_f16%s", csuf);
        d.n_spec = 3;
        d.spec[0] = info->subgroup_size, d.spec[1] = ta, d.spec[2] = tb;
        if (info->subgroup_size_control) d.subgroup_size = info->subgroup_size;
        k->name = "matmul_coopmat", k->bm = k->bn = COOP_T, k->bk = 1, k->m_fast = false;
    } else if (v == VKT_MATMUL_SMEM) {
        snprintf(shader, sizeof shader, "matmul_smem_%s%s", suffix[dt], csuf);
        const uint32_t spec[] = {t.wg, t.bm, t.bn, t.bk, ta, tb, t.tm, t.tn};
        VKT_ASSERT(t.wg == (t.bm / t.tm) * (t.bn / t.tn));
        d.n_spec = 8;
        memcpy(d.spec, spec, sizeof spec);
        k->name = "matmul_smem", k->bm = t.bm, k->bn = t.bn, k->bk = 1, k->m_fast = false;
    } else {
        snprintf(shader, sizeof shader, "matmul_reg_%s%s", suffix[dt], csuf);
        const uint32_t spec[] = {t.wg, t.tm, t.tn, ta, tb};
        d.n_spec = 5;
        memcpy(d.spec, spec, sizeof spec);
        k->name = "matmul_reg", k->bm = t.tm, k->bn = t.wg * t.tn, k->bk = 1, k->m_fast = false;
        if (wide) {
            int64_t blocks = a_rows && dt == VKT_DTYPE_F32 && !c16 ? a_window_blocks(info, &t, a_rows, dm->k) : 0;
            bool a_ubo = blocks > 0;
            if (dt == VKT_DTYPE_F32)
                snprintf(shader, sizeof shader, a_ubo ? "matmul_wide_ua" : "matmul_wide");
            else
                snprintf(shader, sizeof shader, "matmul_wide_%s%s", suffix[dt], csuf);
            const uint32_t wspec[] = {t.wg, t.tm, t.tn, ta, tb, true, c_words, epi};
            d.n_spec = 8, d.n_bindings = 5; /* binding 4: the activation's aux tensor */
            memcpy(d.spec, wspec, sizeof wspec);
            k->name = a_ubo ? "matmul_wide_ua" : "matmul_wide";
            k->bm = t.tm, k->bn = t.wg * t.tn, k->bk = WIDE_K, k->m_fast = true;
            /* K chunks accumulate into C: a 16-bit C would round once per chunk, so it takes K whole. */
            k->kmax = c16 ? 0 : t.kmax;
            if (a_ubo) {
                d.n_uniforms = A_WINDOWS;
                k->a_windows = A_WINDOWS, k->a_win_blocks = blocks;
            }
        }
    }
    d.shader = shader;
    k->n_bindings = (int)(d.n_bindings + d.n_uniforms);
    return vkt_pipeline_get(vkt_rec_device(r), &d, &k->p);
}

/* The largest (batch, m, n, k) box whose windows all fit one binding: shrink batch first, then the outer
 * stored dimension of whichever window is too big. box = {batches, m, n, k}. */
static void plan(const vkt_rec *r, const kernel *kern, const vkt_matmul_desc *d, const operand *oa,
                 const operand *ob, const operand *oc, int64_t nb, int64_t box[4]) {
    const size_t align = window_align(r), limit = vkt_rec_max_binding_bytes(r);
    int64_t bc = nb < MAX_GROUPS ? nb : MAX_GROUPS, mc = d->m, nc = d->n, kc = d->k, lo, hi;
    if (mc > (int64_t)MAX_GROUPS * kern->bm) mc = (int64_t)MAX_GROUPS * kern->bm;
    if (kern->a_windows && mc > kern->a_windows * kern->a_win_blocks * kern->bm)
        mc = kern->a_windows * kern->a_win_blocks * kern->bm;
    if (nc > (int64_t)MAX_GROUPS * kern->bn) nc = (int64_t)MAX_GROUPS * kern->bn;
    if (kern->kmax && kc > kern->kmax) {
        int64_t parts = (kc + kern->kmax - 1) / kern->kmax;
        kc = (kc + parts - 1) / parts;
        kc = (kc + kern->bk - 1) / kern->bk * kern->bk;
    }
    for (;;) {
        int64_t *ra_c = d->trans_a ? &kc : &mc, *ca_c = d->trans_a ? &mc : &kc;
        int64_t *rb_c = d->trans_b ? &nc : &kc, *cb_c = d->trans_b ? &kc : &nc;
        span(oa, 0, bc, 0, *ra_c, 0, *ca_c, &lo, &hi);
        size_t wa = window_bytes(oa, lo, hi, align);
        span(ob, 0, bc, 0, *rb_c, 0, *cb_c, &lo, &hi);
        size_t wb = window_bytes(ob, lo, hi, align);
        span(oc, 0, bc, 0, mc, 0, nc, &lo, &hi);
        size_t wc = window_bytes(oc, lo, hi, align);
        const operand *big = wa > limit ? oa : wb > limit ? ob : wc > limit ? oc : NULL;
        if (!big) break;
        int64_t *outer = big == oa ? ra_c : big == ob ? rb_c : &mc;
        int64_t *inner = big == oa ? ca_c : big == ob ? cb_c : &nc;
        int64_t tile_outer = outer == &mc ? kern->bm : outer == &nc ? kern->bn : kern->bk;
        int64_t tile_inner = inner == &mc ? kern->bm : inner == &nc ? kern->bn : kern->bk;
        if (bc > 1 && big->stride > 0) bc = shrink(bc, 1);
        else if (*outer > 1) *outer = shrink(*outer, tile_outer);
        else {
            VKT_ASSERT(*inner > 1);
            *inner = shrink(*inner, tile_inner);
        }
    }
    box[0] = bc, box[1] = mc, box[2] = nc, box[3] = kc;
}

/* matmul_narrow (issue 7): the wide kernel's operands with lanes along M and C moved 8 elements per access,
 * for the products of a LoRA branch whose N is its rank r (u = x A^T, du = dy B, dB += dy^T u), where
 * matmul_wide's lanes along N mostly sit past the edge (see shaders/matmul_narrow.comp). Also needs C's row
 * stride, window start, batch stride and N on multiples of 8. The K = r products (y += s u B^T, dx += s du A)
 * measured the same on both kernels now that matmul_wide moves C in words too: they stay there. */
#define NARROW_MAX_N 64 /* N up to this: lanes along M keep every lane busy (r = 64: 0.5-0.7 of the FMA peak
                           against 0.3-0.4 on matmul_wide) */
#define NARROW_MIN_M 64 /* one full workgroup of rows (8 lanes x 8) */

/* C and the bias as mm_words_store (common/matmul_words.glsl) moves them: C's row stride, start, batch
 * stride and N (so every box's), and the bias's start, on multiples of 8. */
static bool c_words_ok(const vkt_matmul_desc *d, const operand *oc, const operand *obias, int64_t nb) {
    return d->n % 8 == 0 && oc->ld % 8 == 0 && starts_on_8(oc) && (nb == 1 || oc->stride % 8 == 0) &&
           (!obias->t || starts_on_8(obias));
}

static bool narrow_wanted(const vkt_matmul_desc *d, const operand *oc, const operand *obias, int64_t nb) {
    bool c_words = c_words_ok(d, oc, obias, nb);
    if (d->force) return c_words && d->force->kernel == VKT_MM_KERNEL_NARROW;
    return c_words && d->m >= NARROW_MIN_M && d->n <= NARROW_MAX_N;
}

bool vkt_matmul_narrow_ok(const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *c, const vkt_matmul_desc *d) {
    int64_t nb = d->batch > 1 ? d->batch : 1;
    operand oc = {c, ld_c(d), nb > 1 ? d->stride_c : 0, 0}, obias = {NULL, 0, 0, 0};
    return vkt_matmul_wide_ok(a, b, d) && narrow_wanted(d, &oc, &obias, nb);
}

static vkt_status get_narrow_kernel(vkt_rec *r, const vkt_matmul_desc *d, vkt_dtype dt, bool c16, kernel *k) {
    static const char *suffix[] = {[VKT_DTYPE_F32] = "", [VKT_DTYPE_F16] = "_f16", [VKT_DTYPE_BF16] = "_bf16"};
    vkt_matmul_tile t;
    VKT_TRY(pick_tile(r, VKT_MM_KERNEL_NARROW, dt, d, &t));
    char shader[48];
    snprintf(shader, sizeof shader, "matmul_narrow%s%s", suffix[dt], c16 ? "_c16" : "");
    vkt_pipeline_desc pd = {.shader = shader, .pc_size = sizeof(vkt_pc_matmul), .n_bindings = 4, .n_spec = 5};
    const uint32_t spec[] = {t.wg, t.tm, t.tn, d->trans_a, d->trans_b};
    memcpy(pd.spec, spec, sizeof spec);
    *k = (kernel){.name = "matmul_narrow", .bm = (int64_t)t.wg * t.tm, .bn = t.tn, .bk = WIDE_K, .m_fast = true,
                  .n_bindings = 4};
    k->kmax = c16 ? 0 : t.kmax; /* as matmul_wide: a 16-bit C takes K whole */
    return vkt_pipeline_get(vkt_rec_device(r), &pd, &k->p);
}

/* The uniform-buffer window of A from element (row, k): A_WINDOW_BYTES, or to the end of A's buffer. */
static vkt_tensor a_window(const operand *oa, int64_t row, int64_t k) {
    vkt_tensor w = *oa->t;
    w.offset = oa->t->offset + (size_t)(oa->off + row * oa->ld + k) * 4;
    size_t room = vkt_arena_capacity(oa->t->arena) - w.offset;
    size_t bytes = room < A_WINDOW_BYTES ? room : A_WINDOW_BYTES;
    w.shape[0] = (int64_t)(bytes / 4), w.shape[1] = w.shape[2] = w.shape[3] = 1;
    return w;
}

/* Records d on operands as given (any row strides and start elements); see vkt_op_matmul. d->act runs in the
 * store where fused is given and the wide kernel's word store takes all of K in one dispatch (*fused then true);
 * otherwise it is left to the caller. */
static vkt_status matmul_core(vkt_rec *r, const vkt_matmul_desc *d, operand oa, operand ob, const vkt_tensor *bias,
                              operand oc, bool *fused) {
    const int64_t M = d->m, N = d->n, K = d->k, nb = d->batch > 1 ? d->batch : 1;
    const vkt_tensor *a = oa.t;
    operand obias = {bias, 0, 0, 0};
    int64_t lo, hi;
    vkt_matmul_variant v = vkt_matmul_pick(r, a->dtype, d->variant);
    /* A K % 8 tail goes to a second dispatch that accumulates (tail split), except into a 16-bit C, which
     * that would round twice: there the fast kernel runs its own scalar tail. */
    bool c16 = oc.t->dtype != VKT_DTYPE_F32;
    bool wide = v == VKT_MATMUL_REG && wide_operands(d, &oa, &ob, nb, c16);
    kernel kern;
    int64_t box[4];
    /* A forced general kernel (tests, the tuner) keeps aligned operands off the wide one. */
    if (d->force && d->force->kernel == VKT_MM_KERNEL_REG) wide = false;
    bool c_words = wide && c_words_ok(d, &oc, &obias, nb); /* the wide kernel's word store */
    /* Binding 4 of the fast kernel: the activation's aux, laid out as C, or the row sums of op(A). */
    bool sums = fused && d->a_row_sums && c_words && d->trans_a;
    operand ox = sums ? (operand){d->a_row_sums, 0, 0, 0} : (operand){d->aux, oc.ld, oc.stride, oc.off};
    /* Not gelu' into a 16-bit C: lavapipe ran that epilogue at 0.03 of the FMA peak (53 ms for a Shakespeare-char
     * product that takes 3 plus a 1 ms gelu_bwd pass), so the separate pass runs there. */
    bool act = sums || (fused && d->act != VKT_MM_ACT_NONE && c_words && !d->accumulate && starts_on_8(&ox) &&
                        !(c16 && d->act == VKT_MM_ACT_GELU_GRAD));
    uint32_t epi = sums ? EPI_ROW_SUMS : (uint32_t)d->act;
    bool narrow = wide && !act && narrow_wanted(d, &oc, &obias, nb);
    const operand *a_rows = !d->trans_a && nb == 1 ? &oa : NULL; /* see get_kernel */
    for (;;) {
        vkt_status st = narrow ? get_narrow_kernel(r, d, a->dtype, c16, &kern)
                               : get_kernel(r, v, d, a->dtype, c16, wide, wide && c_words, act && wide ? epi : 0,
                                            a_rows, &kern);
        VKT_TRY(st);
        plan(r, &kern, d, &oa, &ob, &oc, nb, box);
        /* The fast kernels need every box edge on a multiple of 8 (window starts stay 32-byte aligned); else
         * the next kernel down (narrow, wide, general) plans again. */
        bool on_8 =
            (box[1] == M || box[1] % 8 == 0) && (box[2] == N || box[2] % 8 == 0) && (box[3] == K || box[3] % 8 == 0);
        if (!wide || on_8) break;
        wide = narrow, narrow = false; /* narrow implies wide */
    }
    const int64_t bc = box[0], mc = box[1], nc = box[2], kc = box[3];
    if (act && !(wide && (sums || kc == K))) { /* K in chunks: the activation needs the whole sum */
        act = false;
        VKT_TRY(get_kernel(r, v, d, a->dtype, c16, wide, wide && c_words, 0, a_rows, &kern));
    }
    if (fused) *fused = act;

    for (int64_t b0 = 0; b0 < nb; b0 += bc) {
        int64_t bn_ = nb - b0 < bc ? nb - b0 : bc;
        for (int64_t m0 = 0; m0 < M; m0 += mc) {
            int64_t mn = M - m0 < mc ? M - m0 : mc;
            for (int64_t n0 = 0; n0 < N; n0 += nc) {
                int64_t nn = N - n0 < nc ? N - n0 : nc;
                for (int64_t k0 = 0; k0 < K; k0 += kc) {
                    int64_t kn = K - k0 < kc ? K - k0 : kc;
                    vkt_pc_matmul pc = {.m = (uint32_t)mn, .n = (uint32_t)nn, .k = (uint32_t)kn,
                                        .lda = (uint32_t)oa.ld, .ldb = (uint32_t)ob.ld, .ldc = (uint32_t)oc.ld,
                                        .stride_a = (uint32_t)oa.stride, .stride_b = (uint32_t)ob.stride,
                                        .stride_c = (uint32_t)oc.stride, .alpha = d->alpha != 0 ? d->alpha : 1.0f};
                    bool acc = d->accumulate || k0 > 0, add_bias = bias && k0 == 0;
                    pc.flags = (acc ? MM_ACCUMULATE : 0) | (add_bias ? MM_BIAS : 0) |
                               (act && sums && n0 == 0 ? MM_ROW_SUMS : 0); /* one column box adds them */
                    vkt_binding bind[5 + A_WINDOWS];
                    if (d->trans_a) span(&oa, b0, bn_, k0, kn, m0, mn, &lo, &hi);
                    else span(&oa, b0, bn_, m0, mn, k0, kn, &lo, &hi);
                    bind[0] = (vkt_binding){window(r, &oa, lo, hi, &pc.off_a), VKT_READ};
                    if (d->trans_b) span(&ob, b0, bn_, n0, nn, k0, kn, &lo, &hi);
                    else span(&ob, b0, bn_, k0, kn, n0, nn, &lo, &hi);
                    bind[1] = (vkt_binding){window(r, &ob, lo, hi, &pc.off_b), VKT_READ};
                    /* Without a bias the kernel never reads binding 2; A's window stands in for it. */
                    if (add_bias) {
                        span(&obias, 0, 1, 0, 1, n0, nn, &lo, &hi);
                        bind[2] = (vkt_binding){window(r, &obias, lo, hi, &pc.off_bias), VKT_READ};
                    } else {
                        bind[2] = bind[0];
                    }
                    span(&oc, b0, bn_, m0, mn, n0, nn, &lo, &hi);
                    bind[3] = (vkt_binding){window(r, &oc, lo, hi, &pc.off_c), acc ? VKT_RW : VKT_WRITE};
                    /* Without an activation the kernel never touches binding 4, but the shader may write it:
                     * C's window, as read and written, stands in for it (the access the validation layer sees). */
                    if (act && sums) {
                        span(&ox, 0, 1, 0, 1, m0, mn, &lo, &hi);
                        bind[4] = (vkt_binding){window(r, &ox, lo, hi, &pc.off_aux), VKT_RW};
                    } else if (act) {
                        span(&ox, b0, bn_, m0, mn, n0, nn, &lo, &hi);
                        bool out = d->act == VKT_MM_ACT_GELU;
                        bind[4] = (vkt_binding){window(r, &ox, lo, hi, &pc.off_aux), out ? VKT_WRITE : VKT_READ};
                    } else {
                        bind[4] = (vkt_binding){bind[3].t, VKT_RW};
                    }
                    /* window u from this dispatch's row block u * a_win_blocks at k0 (unused ones repeat window 0) */
                    pc.a_win_blocks = (uint32_t)kern.a_win_blocks;
                    for (int u = 0; u < kern.a_windows; u++) {
                        int64_t row = u * kern.a_win_blocks * kern.bm;
                        bind[5 + u] = (vkt_binding){a_window(&oa, m0 + (row < mn ? row : 0), k0), VKT_READ};
                    }
                    uint32_t gn = vkt_ceil_div((uint64_t)nn, (uint64_t)kern.bn);
                    uint32_t gm = vkt_ceil_div((uint64_t)mn, (uint64_t)kern.bm);
                    uint32_t gx = kern.m_fast ? gm : gn, gy = kern.m_fast ? gn : gm;
                    VKT_TRY(vkt_rec_dispatch(r, kern.name, kern.p, bind, (uint32_t)kern.n_bindings, &pc, sizeof pc, gx, gy,
                                             (uint32_t)bn_));
                    vkt_rec_profile_note(r, 2.0 * (double)(bn_ * mn * nn * kn), "%c%c m%lld n%lld k%lld%s%s",
                                         d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N', (long long)mn,
                                         (long long)nn, (long long)kn, bn_ > 1 ? " batched" : "",
                                         !act                          ? ""
                                         : sums                        ? " +rowsums"
                                         : d->act == VKT_MM_ACT_GELU ? " +gelu"
                                                                       : " *gelu'");
                }
            }
        }
    }
    return VKT_OK;
}

/* lavapipe's fast kernel needs 8-aligned rows. When only A's row stride breaks that (NN with K % 8 != 0, or
 * TN with M % 8 != 0: GPT-2's LM head backward with V = 50257), every 8th row of A starts at the same
 * misalignment. So the product is split into 8 row classes (row stride 8 * ld), and in each class the few
 * elements before the first aligned one and after the last aligned word go to the general kernel, the
 * aligned middle to the fast one. NN classes own disjoint rows of C; TN classes (rows of A are k) each add
 * a partial sum over their k into C, in a fixed order. */
static bool residue_split_applies(vkt_matmul_variant v, const vkt_tensor *a, const vkt_tensor *b,
                                  const vkt_matmul_desc *d) {
    /* The classes assume contiguous rows; strided operands (LoRA windows, small) take the general path. */
    if (d->lda || d->ldb || d->ldc) return false;
    if (v != VKT_MATMUL_REG || d->batch > 1 || a->dtype != VKT_DTYPE_F32 || d->trans_b || d->n % 8 != 0 ||
        a->offset % 32 != 0 || b->offset % 32 != 0)
        return false;
    return d->trans_a ? d->m % 8 != 0 && d->m >= 16 && d->k >= 64 : d->k % 8 != 0 && d->k >= 16;
}

static vkt_status matmul_residue_split(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *bias,
                                       const vkt_tensor *c, const vkt_matmul_desc *d) {
    const int64_t M = d->m, N = d->n, K = d->k;
    bool first = true;
    for (int64_t cls = 0; cls < 8; cls++) {
        if (!d->trans_a) {
            /* Rows cls, cls + 8, ... of A and C; K in [0, k1) [k1, kb) [kb, K), [k1, kb) 8-aligned. */
            int64_t rows = (M - cls + 7) / 8;
            if (rows <= 0) continue;
            int64_t k1 = (8 - cls * K % 8) % 8, kb = k1 + (K - k1) / 8 * 8, cut[4] = {0, k1, kb, K};
            for (int p = 0; p < 3; p++) {
                if (cut[p + 1] == cut[p]) continue;
                vkt_matmul_desc dd = *d;
                dd.m = rows, dd.k = cut[p + 1] - cut[p], dd.accumulate = cut[p] == 0 ? d->accumulate : true;
                operand oa = {a, 8 * K, 0, cls * K + cut[p]}, ob = {b, N, 0, cut[p] * N}, oc = {c, 8 * N, 0, cls * N};
                VKT_TRY(matmul_core(r, &dd, oa, ob, cut[p] == 0 ? bias : NULL, oc, NULL));
            }
        } else {
            /* Rows cls, cls + 8, ... of A (k) and B; M in [0, m1) [m1, mb) [mb, M), [m1, mb) 8-aligned; the
             * class's rows in [0, k8) [k8, kr), the first a multiple of 8 for the fast kernel. */
            int64_t kr = (K - cls + 7) / 8;
            if (kr <= 0) continue;
            int64_t m1 = (8 - cls * M % 8) % 8, mb = m1 + (M - m1) / 8 * 8, k8 = kr / 8 * 8;
            int64_t mcut[4] = {0, m1, mb, M}, kcut[3] = {0, k8, kr};
            for (int q = 0; q < 2; q++) {
                if (kcut[q + 1] == kcut[q]) continue;
                for (int p = 0; p < 3; p++) {
                    if (mcut[p + 1] == mcut[p]) continue;
                    vkt_matmul_desc dd = *d;
                    dd.m = mcut[p + 1] - mcut[p], dd.k = kcut[q + 1] - kcut[q];
                    dd.accumulate = first ? d->accumulate : true;
                    int64_t row0 = cls + 8 * kcut[q];
                    operand oa = {a, 8 * M, 0, row0 * M + mcut[p]}, ob = {b, 8 * N, 0, row0 * N};
                    operand oc = {c, N, 0, mcut[p] * N};
                    VKT_TRY(matmul_core(r, &dd, oa, ob, first ? bias : NULL, oc, NULL));
                }
                first = false;
            }
        }
    }
    return VKT_OK;
}

/* K, and M when A is transposed, rounded down to multiples of 8 when that is all that keeps the fast
 * kernel from the operands (row strides padded to a multiple of 8, as the LM head's logits are: model.c).
 * The aligned bulk then runs on the fast kernel and the last < 8 rows or k on the general one. */
static bool tail_split_plan(vkt_matmul_variant v, const operand *oa, const operand *ob, const operand *oc,
                            const vkt_matmul_desc *d, int64_t *m8, int64_t *k8) {
    if (v != VKT_MATMUL_REG || d->batch > 1) return false;
    vkt_matmul_desc body = *d;
    body.m = *m8 = d->trans_a ? d->m / 8 * 8 : d->m;
    body.k = *k8 = d->k / 8 * 8;
    /* A K tail accumulates into C: not into a 16-bit C (a second rounding). */
    if (*k8 != d->k && oc->t->dtype != VKT_DTYPE_F32) return false;
    return (*m8 != d->m || *k8 != d->k) && *m8 > 0 && *k8 > 0 && wide_operands(&body, oa, ob, 1, false);
}

/* The product as up to 4 boxes, M in [0, m8) [m8, M) and K in [0, k8) [k8, K). The second K box
 * accumulates into C; the bias goes with the first. */
static vkt_status matmul_tail_split(vkt_rec *r, const vkt_matmul_desc *d, const operand *oa, const operand *ob,
                                    const vkt_tensor *bias, const operand *oc, int64_t m8, int64_t k8) {
    const int64_t mcut[3] = {0, m8, d->m}, kcut[3] = {0, k8, d->k};
    for (int im = 0; im < 2; im++)
        for (int ik = 0; ik < 2; ik++) {
            int64_t m0 = mcut[im], k0 = kcut[ik];
            if (mcut[im + 1] == m0 || kcut[ik + 1] == k0) continue;
            vkt_matmul_desc dd = *d;
            dd.m = mcut[im + 1] - m0, dd.k = kcut[ik + 1] - k0, dd.accumulate = d->accumulate || ik;
            operand a = *oa, b = *ob, c = *oc;
            a.off += d->trans_a ? k0 * a.ld + m0 : m0 * a.ld + k0;
            b.off += d->trans_b ? k0 : k0 * b.ld;
            c.off += m0 * c.ld;
            VKT_TRY(matmul_core(r, &dd, a, b, ik ? NULL : bias, c, NULL));
        }
    return VKT_OK;
}

/* The storage convention (see matmul.h): A and B share f32, f16 or bf16; C is f32 or their dtype; the bias
 * has C's dtype. */
static vkt_status check_dtypes(const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *bias, const vkt_tensor *c) {
    vkt_dtype dt = a->dtype;
    bool known = dt == VKT_DTYPE_F32 || dt == VKT_DTYPE_F16 || dt == VKT_DTYPE_BF16;
    if (!known || b->dtype != dt || (c->dtype != VKT_DTYPE_F32 && c->dtype != dt) ||
        (bias && bias->dtype != c->dtype)) {
        vkt_log_error("matmul: dtypes A %s, B %s, C %s, bias %s: A and B must share f32, f16 or bf16, C must be "
                      "f32 or A's dtype, and the bias C's dtype (src/ops/matmul.h)",
                      vkt_dtype_name(a->dtype), vkt_dtype_name(b->dtype), vkt_dtype_name(c->dtype),
                      bias ? vkt_dtype_name(bias->dtype) : "none");
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

/* The epilogues' contracts (matmul.h): row sums of a transposed, contiguous A into an f32 vector; an activation's
 * aux laid out as C, C contiguous (for the separate pass), no accumulate. */
static vkt_status check_act(const vkt_tensor *c, const vkt_matmul_desc *d) {
    if (d->a_row_sums) {
        const vkt_tensor *s = d->a_row_sums;
        bool ok = d->act == VKT_MM_ACT_NONE && d->trans_a && d->batch <= 1 && ld_a(d) == d->m &&
                  s->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(s) >= d->m;
        if (!ok) {
            vkt_log_error("matmul: a_row_sums needs A transposed and contiguous, no batch, no activation and an f32 "
                          "vector of m elements (src/ops/matmul.h)");
            return VKT_ERR_ARG;
        }
        return VKT_OK;
    }
    if (d->act == VKT_MM_ACT_NONE) return VKT_OK;
    bool ok = d->aux && d->aux->dtype == c->dtype && !d->accumulate && (d->batch <= 1) && ld_c(d) == d->n &&
              vkt_tensor_numel(d->aux) >= d->m * d->n;
    if (!ok) {
        vkt_log_error("matmul: an activation epilogue needs aux of C's dtype (%s) covering C, one contiguous "
                      "product and no accumulate (src/ops/matmul.h)", vkt_dtype_name(c->dtype));
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

vkt_status vkt_op_matmul(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *bias,
                         const vkt_tensor *c, const vkt_matmul_desc *d) {
    const int64_t M = d->m, N = d->n, K = d->k, nb = d->batch > 1 ? d->batch : 1;
    VKT_ASSERT(M > 0 && N > 0 && K > 0);
    VKT_TRY(check_dtypes(a, b, bias, c));
    VKT_ASSERT(!bias || vkt_tensor_numel(bias) >= N);
    /* Stored extents: A (ra, ca), B (rb, cb). */
    const int64_t ra = d->trans_a ? K : M, ca = d->trans_a ? M : K;
    const int64_t rb = d->trans_b ? N : K, cb = d->trans_b ? K : N;
    operand oa = {a, ld_a(d), nb > 1 ? d->stride_a : 0, 0};
    operand ob = {b, ld_b(d), nb > 1 ? d->stride_b : 0, 0};
    operand oc = {c, ld_c(d), nb > 1 ? d->stride_c : 0, 0};
    VKT_ASSERT(oa.ld >= ca && ob.ld >= cb && oc.ld >= N);
    VKT_ASSERT(oa.ld < (1ll << 32) && ob.ld < (1ll << 32) && oc.ld < (1ll << 32));
    VKT_ASSERT(nb == 1 || oc.stride >= (M - 1) * oc.ld + N);
    int64_t lo, hi;
    span(&oa, 0, nb, 0, ra, 0, ca, &lo, &hi);
    VKT_ASSERT(hi <= vkt_tensor_numel(a));
    span(&ob, 0, nb, 0, rb, 0, cb, &lo, &hi);
    VKT_ASSERT(hi <= vkt_tensor_numel(b));
    span(&oc, 0, nb, 0, M, 0, N, &lo, &hi);
    VKT_ASSERT(hi <= vkt_tensor_numel(c));
    VKT_TRY(check_act(c, d));
    vkt_matmul_variant v = vkt_matmul_pick(r, a->dtype, d->variant);
    int64_t m8, k8;
    bool fused = false;
    if (!vkt_matmul_wide_ok(a, b, d) && tail_split_plan(v, &oa, &ob, &oc, d, &m8, &k8))
        VKT_TRY(matmul_tail_split(r, d, &oa, &ob, bias, &oc, m8, k8));
    else if (!vkt_matmul_wide_ok(a, b, d) && residue_split_applies(v, a, b, d))
        VKT_TRY(matmul_residue_split(r, a, b, bias, c, d));
    else
        VKT_TRY(matmul_core(r, d, oa, ob, bias, oc, &fused));
    if (d->a_row_sums && !fused) VKT_TRY(vkt_op_matmul_colsum(r, a, d->a_row_sums, K, M));
    if (fused || d->act == VKT_MM_ACT_NONE) return VKT_OK;
    /* The activation as its own pass over C (contiguous: check_act). */
    vkt_tensor cv = vkt_ops_flat_slice(c, 0, M * N), xv = vkt_ops_flat_slice(d->aux, 0, M * N);
    return d->act == VKT_MM_ACT_GELU ? vkt_op_gelu_fwd(r, &cv, &xv) : vkt_op_gelu_bwd(r, &xv, &cv, &cv, false);
}

#define COLSUM_WG 64

vkt_status vkt_op_matmul_colsum(vkt_rec *r, const vkt_tensor *dy, const vkt_tensor *db, int64_t rows, int64_t n) {
    VKT_ASSERT(rows > 0 && n > 0);
    VKT_ASSERT(vkt_tensor_numel(dy) >= rows * n && vkt_tensor_numel(db) >= n);
    if (db->dtype != VKT_DTYPE_F32 ||
        (dy->dtype != VKT_DTYPE_F32 && dy->dtype != VKT_DTYPE_F16 && dy->dtype != VKT_DTYPE_BF16)) {
        vkt_log_error("matmul_colsum: dy is %s and db %s; dy must be f32, f16 or bf16 and db (a parameter "
                      "gradient) f32",
                      vkt_dtype_name(dy->dtype), vkt_dtype_name(db->dtype));
        return VKT_ERR_ARG;
    }
    const uint32_t spec[] = {COLSUM_WG};
    const size_t align = window_align(r);
    int64_t chunk = (int64_t)((vkt_rec_max_binding_bytes(r) - align) / vkt_dtype_size(dy->dtype)) / n;
    VKT_ASSERT(chunk > 0);
    operand od = {dy, n, 0, 0}, ob = {db, 0, 0, 0};
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        int64_t rc = rows - r0 < chunk ? rows - r0 : chunk;
        vkt_pc_colsum pc = {.rows = (uint32_t)rc, .n = (uint32_t)n};
        uint32_t off_db;
        vkt_binding bind[2] = {{window(r, &od, r0 * n, (r0 + rc) * n, &pc.off_dy), VKT_READ},
                               {window(r, &ob, 0, n, &off_db), VKT_RW}};
        VKT_ASSERT(off_db == 0);
        /* 8 columns per invocation where every row of the window starts on a word. */
        bool vec8 = n % 8 == 0 && pc.off_dy % 8 == 0 && vkt_ops_wide8(r, bind, 1);
        char shader[48];
        vkt_ops_dtype_variant("matmul_colsum", dy->dtype, shader, sizeof shader);
        if (vec8) strncat(shader, "_vec8", sizeof shader - strlen(shader) - 1);
        vkt_pipeline *p;
        VKT_TRY(vkt_ops_pipeline(r, shader, 2, sizeof(vkt_pc_colsum), spec, 1, &p));
        uint32_t gx, gy;
        vkt_ops_grid_1d(vkt_ceil_div((uint64_t)(vec8 ? n / 8 : n), COLSUM_WG), &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "matmul_colsum", p, bind, 2, &pc, sizeof pc, gx, gy, 1));
        vkt_rec_profile_note(r, 0, "%s", shader); /* which variant ran (tests check the 8-wide one is taken) */
    }
    return VKT_OK;
}

vkt_status vkt_op_matmul_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *bias,
                             const vkt_tensor *y, int64_t rows, int64_t in, int64_t out) {
    vkt_matmul_desc d = {.m = rows, .n = out, .k = in, .trans_b = true};
    return vkt_op_matmul(r, x, w, bias, y, &d);
}

vkt_status vkt_op_matmul_bwd(vkt_rec *r, const vkt_tensor *dy, const vkt_tensor *x, const vkt_tensor *w,
                             const vkt_tensor *dx, const vkt_tensor *dw, const vkt_tensor *db, int64_t rows,
                             int64_t in, int64_t out) {
    if (dx) {
        vkt_matmul_desc d = {.m = rows, .n = in, .k = out};
        VKT_TRY(vkt_op_matmul(r, dy, w, NULL, dx, &d));
    }
    if (dw) { /* db beside dW: the fast kernel sums dy's columns as it reads them */
        vkt_matmul_desc d = {.m = out, .n = in, .k = rows, .trans_a = true, .accumulate = true, .a_row_sums = db};
        return vkt_op_matmul(r, dy, x, NULL, dw, &d);
    }
    if (db) VKT_TRY(vkt_op_matmul_colsum(r, dy, db, rows, out));
    return VKT_OK;
}
