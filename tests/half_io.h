/* Test helpers for 16-bit (f16/bf16) storage: upload rounded inputs, and NaN-poisoned, guarded 16-bit
 * outputs (the 16-bit counterpart of vkt_test_output). Header-only so only the tests that need it pull it in. */
#ifndef VKT_HALF_IO_H
#define VKT_HALF_IO_H

#include <string.h>

#include "core/half.h"
#include "harness.h"

#define VKT_HALF_GUARD      128 /* elements on each side: 256 bytes keeps the inner view aligned */
#define VKT_HALF_GUARD_WORD 0x1234u

static inline uint16_t vkt_half_from(vkt_dtype dt, float f) {
    return dt == VKT_DTYPE_F16 ? vkt_f32_to_f16(f) : vkt_f32_to_bf16(f);
}
static inline float vkt_half_to(vkt_dtype dt, uint16_t h) {
    return dt == VKT_DTYPE_F16 ? vkt_f16_to_f32(h) : vkt_bf16_to_f32(h);
}

/* Rounds x (n values) to dt in place (so references see exactly the stored values) and uploads it. */
static inline vkt_tensor vkt_half_upload(vkt_test *t, vkt_dtype dt, float *x, int64_t d0, int64_t d1) {
    int64_t n = d0 * d1;
    uint16_t *h = malloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; i++) h[i] = vkt_half_from(dt, x[i]), x[i] = vkt_half_to(dt, h[i]);
    vkt_tensor v;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, dt, d0, d1, 1, 1, &v));
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &v, h, vkt_tensor_bytes(&v)));
    free(h);
    return v;
}

/* A (d0, d1) 16-bit output between guard words, pre-filled with init rounded to dt (init is rounded in place,
 * so references see the stored values), or poisoned with NaN when init is NULL; .outer is the whole allocation. */
static inline vkt_test_out vkt_half_output_init(vkt_test *t, vkt_dtype dt, float *init, int64_t d0, int64_t d1) {
    vkt_test_out o;
    int64_t n = d0 * d1, g = VKT_HALF_GUARD;
    o.guard = g;
    VKT_TEST_TRY(t, vkt_tensor_alloc(t->arena, dt, n + 2 * g, 1, 1, 1, &o.outer));
    o.view = o.outer;
    o.view.offset += (size_t)g * 2;
    o.view.shape[0] = d0, o.view.shape[1] = d1;
    uint16_t *h = malloc((size_t)(n + 2 * g) * sizeof *h);
    for (int64_t i = 0; i < n + 2 * g; i++) h[i] = VKT_HALF_GUARD_WORD;
    for (int64_t i = 0; i < n; i++) {
        h[g + i] = vkt_half_from(dt, init ? init[i] : NAN);
        if (init) init[i] = vkt_half_to(dt, h[g + i]);
    }
    VKT_TEST_TRY(t, vkt_tensor_upload(t->dev, &o.outer, h, vkt_tensor_bytes(&o.outer)));
    free(h);
    return o;
}

/* A (d0, d1) 16-bit output poisoned with NaN between guard words; .outer is the whole allocation. */
static inline vkt_test_out vkt_half_output(vkt_test *t, vkt_dtype dt, int64_t d0, int64_t d1) {
    return vkt_half_output_init(t, dt, NULL, d0, d1);
}

/* Unit roundoff of one stored value: the largest relative error of rounding to nearest into dt (f32 2^-24,
 * f16 2^-11, bf16 2^-8). Bounds on 16-bit outputs add it to the f32 arithmetic's bound. */
static inline double vkt_half_unit(vkt_dtype dt) {
    return dt == VKT_DTYPE_F16 ? ldexp(1, -11) : dt == VKT_DTYPE_BF16 ? ldexp(1, -8) : ldexp(1, -24);
}

/* A flat tensor of x as dtype dt (f32 uploads as is; 16-bit rounds x in place first). */
static inline vkt_tensor vkt_half_or_f32_upload(vkt_test *t, vkt_dtype dt, float *x, int64_t d0, int64_t d1) {
    return dt == VKT_DTYPE_F32 ? vkt_test_upload(t, x, d0, d1, 1, 1) : vkt_half_upload(t, dt, x, d0, d1);
}

/* An output of dtype dt: vkt_test_output(_init) for f32, vkt_half_output_init otherwise (init may be NULL). */
static inline vkt_test_out vkt_any_output(vkt_test *t, vkt_dtype dt, float *init, int64_t d0, int64_t d1) {
    if (dt != VKT_DTYPE_F32) return vkt_half_output_init(t, dt, init, d0, d1);
    return init ? vkt_test_output_init(t, init, d0, d1, 1, 1) : vkt_test_output(t, d0, d1, 1, 1);
}

/* Reads an output of either kind back as f32 (guards checked; caller frees). */
static inline float *vkt_any_read(vkt_test *t, const vkt_test_out *o, const char *what);

/* Checks the guards and returns the values widened to f32 (caller frees). */
static inline float *vkt_half_read(vkt_test *t, const vkt_test_out *o, const char *what) {
    int64_t n = vkt_tensor_numel(&o->view), g = o->guard;
    uint16_t *h = malloc(vkt_tensor_bytes(&o->outer));
    VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &o->outer, h, vkt_tensor_bytes(&o->outer)));
    for (int64_t i = 0; i < g; i++) {
        if (h[i] != VKT_HALF_GUARD_WORD || h[g + n + i] != VKT_HALF_GUARD_WORD) {
            vkt_test_fail(t, "%s: guard word %lld %s the output was overwritten", what, (long long)i,
                          h[i] != VKT_HALF_GUARD_WORD ? "before" : "after");
            break;
        }
    }
    float *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) y[i] = vkt_half_to(o->view.dtype, h[g + i]);
    free(h);
    return y;
}

static inline float *vkt_any_read(vkt_test *t, const vkt_test_out *o, const char *what) {
    return o->view.dtype == VKT_DTYPE_F32 ? vkt_test_read_output(t, o, what) : vkt_half_read(t, o, what);
}

static inline bool vkt_half_supported(vkt_test *t) { return vkt_device_get_info(t->dev)->storage16; }

/* The kernel variant an op with 8-wide CPU kernels notes in its profile detail: base[_f16|_bf16][_vec8], with
 * _vec8 when its bindings are aligned and the device is a CPU driver (ops/op_eltwise.h). Returns buf. */
static inline const char *vkt_test_vec8_variant(vkt_test *t, const char *base, vkt_dtype dt, bool aligned, char *buf,
                                                size_t n) {
    bool wide = aligned && vkt_device_get_info(t->dev)->type == VKT_DEVICE_CPU;
    snprintf(buf, n, "%s%s%s%s", base, dt == VKT_DTYPE_F32 ? "" : "_", dt == VKT_DTYPE_F32 ? "" : vkt_dtype_name(dt),
             wide ? "_vec8" : "");
    return buf;
}

/* x (n values, stored as dt; 16-bit rounds x in place) uploaded at the smallest legal binding offset past an
 * aligned start that is not on an 8-element boundary, so ops that move 8 elements per access on CPU drivers
 * (ops/op_eltwise.h) must take their one-element kernels. False (nothing uploaded) when the device's offset
 * alignment leaves no such offset for dt (e.g. 16-byte alignment and 2-byte elements). */
static inline bool vkt_test_upload_misaligned(vkt_test *t, vkt_dtype dt, float *x, int64_t n, vkt_tensor *out) {
    size_t es = vkt_dtype_size(dt), align = vkt_device_get_info(t->dev)->min_storage_offset_align;
    if (align == 0 || align % es || (align / es) % 8 == 0) return false;
    int64_t shift = (int64_t)(align / es);
    float *buf = calloc((size_t)(n + shift), sizeof *buf);
    memcpy(buf + shift, x, (size_t)n * sizeof *x);
    *out = vkt_half_or_f32_upload(t, dt, buf, n + shift, 1);
    memcpy(x, buf + shift, (size_t)n * sizeof *x);
    free(buf);
    out->offset += (size_t)shift * es, out->shape[0] = n;
    return true;
}

#endif
