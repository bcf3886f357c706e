/* Linear forward and input gradient on a stored frozen weight: variant choice, pipelines, and the split
 * into dispatches whose windows fit one binding. Kernels: shaders/qmatmul_reg.comp (CPU drivers) and
 * shaders/qmatmul_smem.comp (GPUs); the weight formats: src/quant/quant.h and shaders/common/qweight.glsl.
 *
 * Every dispatch covers a (rows, columns, k) box. Each f32 operand's window starts at the aligned byte at
 * or below its first element (the rest travels in push constants, as in matmul.c); the weight's sections
 * (data, scale, absmax2, code) get one window each over the element range the box touches, and the
 * shader is told which global index each window starts at. Boxes shrink (rows first for x and y, then W
 * rows, then k) until every window fits; boxes after the first along k accumulate. */
#include "ops/qmatmul.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t m, n, k;
    uint32_t lda, ldc;
    uint32_t off_a, off_c, off_bias;
    uint32_t w_in, w_row0, w_col0;
    uint32_t base_data, base_scale, base_abs2;
    uint32_t flags;
} vkt_pc_qmatmul;
_Static_assert(sizeof(vkt_pc_qmatmul) == 60, "keep in sync with shaders/common/qmatmul_io.glsl");

#define QM_ACCUMULATE 1u
#define QM_BIAS       2u
#define MAX_GROUPS    65535
/* reg: 8 invocations (lavapipe's SIMD width) x 8 columns, 16 rows; the same tile as matmul_wide, which
 * measured best there. smem: as matmul_smem (64 x 64 tiles, 4 x 4 per invocation, k slices of 16). */
#define REG_WG    8
#define REG_TM    16
#define REG_TN    8
#define REG_TN_DX 16 /* input gradient: two weight groups of a row share a scale (qmatmul_reg.comp) */
#define SMEM_B    64
#define SMEM_BK   16
#define SMEM_T    4

static const uint32_t elem_bits[VKT_QFORMAT_COUNT] = {32, 16, 16, 8, 4};

vkt_matmul_variant vkt_qmatmul_pick(const vkt_rec *r, vkt_matmul_variant requested) {
    if (requested == VKT_MATMUL_AUTO) {
        const char *envs[] = {getenv("VKT_QMATMUL_VARIANT"), getenv("VKT_MATMUL_VARIANT")};
        for (int i = 0; i < 2 && requested == VKT_MATMUL_AUTO; i++) {
            if (!envs[i] || !*envs[i]) continue;
            if (!strcmp(envs[i], "reg"))
                requested = VKT_MATMUL_REG;
            else if (!strcmp(envs[i], "smem"))
                requested = VKT_MATMUL_SMEM;
            else if (i == 0 && strcmp(envs[i], "auto"))
                vkt_log_warn("VKT_QMATMUL_VARIANT=%s is not reg, smem or auto; choosing automatically", envs[i]);
        }
    }
    if (requested != VKT_MATMUL_AUTO) return requested;
    return vkt_device_get_info(vkt_rec_device(r))->type == VKT_DEVICE_CPU ? VKT_MATMUL_REG : VKT_MATMUL_SMEM;
}

uint32_t vkt_qmatmul_wg(vkt_matmul_variant v) {
    return v == VKT_MATMUL_SMEM ? (SMEM_B / SMEM_T) * (SMEM_B / SMEM_T) : REG_WG;
}

vkt_status vkt_qweight_upload(vkt_device *dev, vkt_arena *arena, const float *w, int64_t out, int64_t in, vkt_qformat f,
                              vkt_qweight *q) {
    memset(q, 0, sizeof *q);
    q->layout = vkt_quant_layout(f, out, in);
    void *blob = malloc(q->layout.bytes);
    if (!blob) {
        vkt_log_error("qweight: out of host memory for a %zu-byte %s blob", q->layout.bytes, vkt_qformat_name(f));
        return VKT_ERR_OOM;
    }
    vkt_status s = vkt_quant_pack(w, out, in, f, blob);
    if (s == VKT_OK) s = vkt_tensor_alloc(arena, VKT_DTYPE_U8, (int64_t)q->layout.bytes, 1, 1, 1, &q->blob);
    if (s == VKT_OK) s = vkt_tensor_upload(dev, &q->blob, blob, q->layout.bytes);
    free(blob);
    return s;
}

static size_t window_align(const vkt_rec *r) {
    size_t align = vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
    return align > 32 ? align : 32;
}

/* The window over elements [lo, hi) of an activation t (f32 or 16-bit); *off gets lo's index inside it. */
static vkt_tensor act_window(const vkt_rec *r, const vkt_tensor *t, int64_t lo, int64_t hi, uint32_t *off) {
    size_t es = vkt_dtype_size(t->dtype);
    size_t align = window_align(r), byte_lo = t->offset + (size_t)lo * es, start = byte_lo / align * align;
    vkt_tensor w = *t;
    *off = (uint32_t)((byte_lo - start) / es);
    w.offset = start;
    w.shape[0] = *off + (hi - lo), w.shape[1] = w.shape[2] = w.shape[3] = 1;
    return w;
}

/* The window over bytes [blo, bhi) of the blob section at sec_off (end rounded up to 16 bytes for the
 * kernels' vector loads; sections are padded to 256). *base gets the window start minus the section
 * start in units of `unit` bytes, as the global index the shader subtracts (mod 2^32). */
static vkt_tensor sec_window(const vkt_rec *r, const vkt_qweight *w, size_t sec_off, size_t blo, size_t bhi,
                             uint32_t unit_bits, uint32_t *base) {
    size_t align = window_align(r), sec = w->blob.offset + sec_off, start = (sec + blo) / align * align;
    size_t end = (sec + bhi + 15) / 16 * 16;
    vkt_tensor v = w->blob;
    v.offset = start;
    v.shape[0] = (int64_t)(end - start), v.shape[1] = v.shape[2] = v.shape[3] = 1;
    int64_t delta_bits = ((int64_t)start - (int64_t)sec) * 8;
    *base = (uint32_t)(int64_t)(delta_bits / (int64_t)unit_bits);
    return v;
}

typedef struct {
    bool fwd; /* y = x W^T (else dx = dy W) */
    const vkt_qweight *w;
    const vkt_tensor *a, *bias, *c;
    int64_t m, n, k; /* C (m, n), depth k */
    bool accumulate;
} qproblem;

/* W's flat element range [lo, hi) for rows/cols of the box: (n0, nn) output columns, (k0, kn) depth. */
static void w_span(const qproblem *p, int64_t n0, int64_t nn, int64_t k0, int64_t kn, int64_t *lo, int64_t *hi) {
    int64_t in = p->w->layout.in;
    if (p->fwd)
        *lo = n0 * in + k0, *hi = (n0 + nn - 1) * in + k0 + kn;
    else
        *lo = k0 * in + n0, *hi = (k0 + kn - 1) * in + n0 + nn;
}

static size_t data_bytes(const qproblem *p, int64_t nn, int64_t kn, size_t align) {
    int64_t lo, hi;
    w_span(p, 0, nn, 0, kn, &lo, &hi);
    return (size_t)((hi - lo) * elem_bits[p->w->layout.format] / 8) + align + 32;
}

static int64_t shrink(int64_t x, int64_t tile) {
    int64_t h = (x + 1) / 2;
    if (h > tile) h = (h + tile - 1) / tile * tile;
    return h < x ? h : x - 1;
}

/* act: the activations' dtype (x, y, bias or dy, dx): f32, or the *_act_f16 / *_act_bf16 kernels. */
static vkt_status get_pipeline(vkt_rec *r, vkt_matmul_variant v, vkt_qformat f, vkt_dtype act, bool fwd, bool a_vec,
                               bool w_group, vkt_pipeline **out) {
    char shader[48];
    const char *asuf = act == VKT_DTYPE_F16 ? "_act_f16" : act == VKT_DTYPE_BF16 ? "_act_bf16" : "";
    vkt_pipeline_desc d = {.pc_size = sizeof(vkt_pc_qmatmul), .n_bindings = 7};
    if (v == VKT_MATMUL_SMEM) {
        snprintf(shader, sizeof shader, "qmatmul_smem_%s%s", vkt_qformat_name(f), asuf);
        const uint32_t spec[] = {vkt_qmatmul_wg(v), SMEM_B, SMEM_B, SMEM_BK, fwd, SMEM_T, SMEM_T};
        d.n_spec = 7;
        memcpy(d.spec, spec, sizeof spec);
    } else {
        snprintf(shader, sizeof shader, "qmatmul_reg_%s%s", vkt_qformat_name(f), asuf);
        const uint32_t spec[] = {REG_WG, REG_TM, fwd ? REG_TN : REG_TN_DX, fwd, a_vec, w_group, true};
        d.n_spec = 7;
        memcpy(d.spec, spec, sizeof spec);
    }
    d.shader = shader;
    return vkt_pipeline_get(vkt_rec_device(r), &d, out);
}

static vkt_status qmatmul(vkt_rec *r, const qproblem *p, vkt_matmul_variant requested) {
    const vkt_qlayout *l = &p->w->layout;
    const int64_t M = p->m, N = p->n, K = p->k, in = l->in;
    vkt_matmul_variant v = vkt_qmatmul_pick(r, requested);
    if (v != VKT_MATMUL_REG && v != VKT_MATMUL_SMEM) {
        vkt_log_error("qmatmul: variant %s is not available (reg or smem); unset VKT_MATMUL_VARIANT",
                      vkt_matmul_variant_name(v));
        return VKT_ERR_UNSUPPORTED;
    }
    VKT_ASSERT(M > 0 && N > 0 && K > 0 && p->w->blob.offset % 16 == 0);
    VKT_ASSERT((uint64_t)l->out * (uint64_t)in < ((uint64_t)1 << 32)); /* flat indices are 32-bit */
    const int64_t bm = v == VKT_MATMUL_SMEM ? SMEM_B : REG_TM;
    const int64_t bn = v == VKT_MATMUL_SMEM ? SMEM_B : REG_WG * (p->fwd ? REG_TN : REG_TN_DX);
    const size_t align = window_align(r), limit = vkt_rec_max_binding_bytes(r);
    /* Box: (mc rows, nc columns, kc depth); W_GROUP wants column (dx) and depth (forward) chunks in 8s. */
    int64_t mc = M < (int64_t)MAX_GROUPS * bm ? M : (int64_t)MAX_GROUPS * bm;
    int64_t nc = N < (int64_t)MAX_GROUPS * bn ? N : (int64_t)MAX_GROUPS * bn, kc = K;
    for (;;) {
        size_t es = vkt_dtype_size(p->a->dtype);
        size_t wa = (size_t)((mc - 1) * K + kc) * es + align, wc = (size_t)((mc - 1) * N + nc) * es + align;
        size_t wd = data_bytes(p, nc, kc, align);
        if (wa > limit) {
            if (mc > 1)
                mc = shrink(mc, bm);
            else
                kc = shrink(kc, 8);
        } else if (wc > limit) {
            if (mc > 1)
                mc = shrink(mc, bm);
            else
                nc = shrink(nc, 8);
        } else if (wd > limit) {
            /* Shrink W's outer (row) extent first: columns in the forward, depth in the input gradient. */
            int64_t *outer = p->fwd ? &nc : &kc, *inner = p->fwd ? &kc : &nc;
            if (*outer > 1)
                *outer = shrink(*outer, p->fwd ? bn : 8);
            else
                *inner = shrink(*inner, 8);
        } else {
            break;
        }
    }

    for (int64_t m0 = 0; m0 < M; m0 += mc) {
        int64_t mn = M - m0 < mc ? M - m0 : mc;
        for (int64_t n0 = 0; n0 < N; n0 += nc) {
            int64_t nn = N - n0 < nc ? N - n0 : nc;
            for (int64_t k0 = 0; k0 < K; k0 += kc) {
                int64_t kn = K - k0 < kc ? K - k0 : kc;
                bool acc = p->accumulate || k0 > 0, add_bias = p->bias && k0 == 0;
                vkt_pc_qmatmul pc = {.m = (uint32_t)mn,
                                     .n = (uint32_t)nn,
                                     .k = (uint32_t)kn,
                                     .lda = (uint32_t)K,
                                     .ldc = (uint32_t)N,
                                     .w_in = (uint32_t)in,
                                     .flags = (acc ? QM_ACCUMULATE : 0) | (add_bias ? QM_BIAS : 0)};
                pc.w_row0 = (uint32_t)(p->fwd ? n0 : k0), pc.w_col0 = (uint32_t)(p->fwd ? k0 : n0);
                vkt_binding bind[7];
                bind[0] =
                    (vkt_binding){act_window(r, p->a, m0 * K + k0, (m0 + mn - 1) * K + k0 + kn, &pc.off_a), VKT_READ};
                int64_t lo, hi;
                w_span(p, n0, nn, k0, kn, &lo, &hi);
                uint32_t bits = elem_bits[l->format];
                bind[1] = (vkt_binding){sec_window(r, p->w, l->data_off, (size_t)(lo * bits / 8),
                                                   (size_t)((hi * bits + 7) / 8), bits, &pc.base_data),
                                        VKT_READ};
                bind[2] = bind[3] = bind[4] = bind[0];
                if (l->format == VKT_QFORMAT_INT8) {
                    bind[2] = (vkt_binding){sec_window(r, p->w, l->scale_off, (size_t)(lo / in) * 4,
                                                       (size_t)((hi - 1) / in + 1) * 4, 32, &pc.base_scale),
                                            VKT_READ};
                } else if (l->format == VKT_QFORMAT_NF4) {
                    int64_t b_lo = lo / VKT_NF4_BLOCK, b_hi = (hi - 1) / VKT_NF4_BLOCK + 1;
                    bind[2] = (vkt_binding){
                        sec_window(r, p->w, l->scale_off, (size_t)b_lo, (size_t)b_hi, 8, &pc.base_scale), VKT_READ};
                    bind[3] =
                        (vkt_binding){sec_window(r, p->w, l->absmax2_off, (size_t)(b_lo / VKT_NF4_BLOCK2) * 4,
                                                 (size_t)((b_hi - 1) / VKT_NF4_BLOCK2 + 1) * 4, 32, &pc.base_abs2),
                                      VKT_READ};
                    uint32_t base_code;
                    bind[4] =
                        (vkt_binding){sec_window(r, p->w, l->code_off, 0, l->code_bytes, 32, &base_code), VKT_READ};
                    VKT_ASSERT(base_code == 0);
                }
                /* Without a bias the kernel never reads binding 5; A's window stands in for it. */
                bind[5] = bind[0];
                if (add_bias) bind[5] = (vkt_binding){act_window(r, p->bias, n0, n0 + nn, &pc.off_bias), VKT_READ};
                bind[6] = (vkt_binding){act_window(r, p->c, m0 * N + n0, (m0 + mn - 1) * N + n0 + nn, &pc.off_c),
                                        acc ? VKT_RW : VKT_WRITE};
                /* Fast paths: A read 8 floats per load; W read in groups of 8 within a row. */
                bool a_vec = K % 8 == 0 && pc.off_a % 8 == 0;
                bool w_group = in % 8 == 0 && pc.w_col0 % 8 == 0 && (p->fwd ? kn : nn) % 8 == 0 &&
                               (uint32_t)(pc.base_data % 8) == 0;
                vkt_pipeline *pipe;
                VKT_TRY(get_pipeline(r, v, l->format, p->a->dtype, p->fwd, a_vec, w_group, &pipe));
                uint32_t gm = vkt_ceil_div((uint64_t)mn, (uint64_t)bm), gn = vkt_ceil_div((uint64_t)nn, (uint64_t)bn);
                uint32_t gx = v == VKT_MATMUL_SMEM ? gn : gm, gy = v == VKT_MATMUL_SMEM ? gm : gn;
                VKT_TRY(vkt_rec_dispatch(r, p->fwd ? "qmatmul_fwd" : "qmatmul_bwd_dx", pipe, bind, 7, &pc, sizeof pc,
                                         gx, gy, 1));
            }
        }
    }
    return VKT_OK;
}

vkt_status vkt_op_qmatmul_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_qweight *w, const vkt_tensor *bias,
                              const vkt_tensor *y, int64_t rows, bool accumulate, vkt_matmul_variant variant) {
    const int64_t in = w->layout.in, out = w->layout.out;
    const vkt_tensor *act[] = {x, y, bias};
    const char *names[] = {"x", "y", "bias"};
    VKT_TRY(vkt_ops_check_storage("qmatmul_fwd", 3, act, names));
    VKT_ASSERT(w->blob.dtype == VKT_DTYPE_U8);
    VKT_ASSERT(vkt_tensor_numel(x) >= rows * in && vkt_tensor_numel(y) >= rows * out);
    VKT_ASSERT(vkt_tensor_bytes(&w->blob) >= w->layout.bytes);
    VKT_ASSERT(!bias || vkt_tensor_numel(bias) >= out);
    qproblem p = {
        .fwd = true, .w = w, .a = x, .bias = bias, .c = y, .m = rows, .n = out, .k = in, .accumulate = accumulate};
    return qmatmul(r, &p, variant);
}

vkt_status vkt_op_qmatmul_bwd_dx(vkt_rec *r, const vkt_tensor *dy, const vkt_qweight *w, const vkt_tensor *dx,
                                 int64_t rows, bool accumulate, vkt_matmul_variant variant) {
    const int64_t in = w->layout.in, out = w->layout.out;
    const vkt_tensor *act[] = {dy, dx};
    const char *names[] = {"dy", "dx"};
    VKT_TRY(vkt_ops_check_storage("qmatmul_bwd_dx", 2, act, names));
    VKT_ASSERT(w->blob.dtype == VKT_DTYPE_U8);
    VKT_ASSERT(vkt_tensor_numel(dy) >= rows * out && vkt_tensor_numel(dx) >= rows * in);
    VKT_ASSERT(vkt_tensor_bytes(&w->blob) >= w->layout.bytes);
    qproblem p = {.fwd = false, .w = w, .a = dy, .c = dx, .m = rows, .n = in, .k = out, .accumulate = accumulate};
    return qmatmul(r, &p, variant);
}
