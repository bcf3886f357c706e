/* Blob layouts of the frozen-weight formats, packing (quantization) and unpacking (dequantization).
 * Semantics and byte layout: src/quant/quant.h. NF4's element-level rules live in nf4.c.
 * Not here: anything on the device (ops/qmatmul.c uploads and reads these blobs). */
#include "quant/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"
#include "quant/nf4.h"

static const char *const names[VKT_QFORMAT_COUNT] = {"f32", "f16", "bf16", "int8", "nf4"};

const char *vkt_qformat_name(vkt_qformat f) { return f >= 0 && f < VKT_QFORMAT_COUNT ? names[f] : "?"; }

bool vkt_qformat_parse(const char *name, vkt_qformat *out) {
    for (int f = 0; f < VKT_QFORMAT_COUNT; f++)
        if (!strcmp(name, names[f])) return *out = (vkt_qformat)f, true;
    return false;
}

static size_t up(size_t x) { return (x + VKT_QUANT_ALIGN - 1) / VKT_QUANT_ALIGN * VKT_QUANT_ALIGN; }

vkt_qlayout vkt_quant_layout(vkt_qformat f, int64_t out, int64_t in) {
    VKT_ASSERT(out >= 1 && in >= 1 && f >= 0 && f < VKT_QFORMAT_COUNT);
    const int64_t n = out * in;
    vkt_qlayout l = {.format = f, .out = out, .in = in};
    static const size_t elem_bits[VKT_QFORMAT_COUNT] = {32, 16, 16, 8, 4};
    l.data_bytes = ((size_t)n * elem_bits[f] + 7) / 8;
    size_t at = up(l.data_bytes);
    if (f == VKT_QFORMAT_INT8) l.scale_bytes = (size_t)out * 4;
    if (f == VKT_QFORMAT_NF4) {
        l.n_blocks = (n + VKT_NF4_BLOCK - 1) / VKT_NF4_BLOCK;
        l.n_blocks2 = (l.n_blocks + VKT_NF4_BLOCK2 - 1) / VKT_NF4_BLOCK2;
        l.scale_bytes = (size_t)l.n_blocks;
        l.absmax2_bytes = (size_t)l.n_blocks2 * 4;
        l.code_bytes = VKT_QUANT_CODE_FLOATS * 4;
    }
    l.scale_off = at, at += up(l.scale_bytes);
    l.absmax2_off = at, at += up(l.absmax2_bytes);
    l.code_off = at, at += up(l.code_bytes);
    l.bytes = at;
    return l;
}

size_t vkt_quant_bytes(vkt_qformat f, int64_t out, int64_t in) { return vkt_quant_layout(f, out, in).bytes; }

double vkt_quant_bytes_per_weight(vkt_qformat f, int64_t out, int64_t in) {
    return (double)vkt_quant_bytes(f, out, in) / ((double)out * (double)in);
}

vkt_status vkt_quant_pack(const float *w, int64_t out, int64_t in, vkt_qformat f, void *blob) {
    const vkt_qlayout l = vkt_quant_layout(f, out, in);
    const int64_t n = out * in;
    uint8_t *base = blob;
    for (int64_t e = 0; e < n; e++) {
        if (!isfinite(w[e]) || (f == VKT_QFORMAT_F16 && fabsf(w[e]) > 65504.0f)) {
            vkt_log_error("quant: weight (%lld, %lld) of a %lldx%lld matrix is %g, which %s storage cannot hold; "
                          "check the checkpoint (or use bf16/f32 storage)",
                          (long long)(e / in), (long long)(e % in), (long long)out, (long long)in, (double)w[e],
                          names[f]);
            return VKT_ERR_ARG;
        }
    }
    memset(blob, 0, l.bytes);
    uint8_t *data = base + l.data_off;
    switch (f) {
    case VKT_QFORMAT_F32: memcpy(data, w, (size_t)n * 4); break;
    case VKT_QFORMAT_F16:
    case VKT_QFORMAT_BF16:
        for (int64_t e = 0; e < n; e++) {
            uint16_t h = f == VKT_QFORMAT_F16 ? vkt_f32_to_f16(w[e]) : vkt_f32_to_bf16(w[e]);
            memcpy(data + 2 * e, &h, 2);
        }
        break;
    case VKT_QFORMAT_INT8: {
        float *scale = (float *)(base + l.scale_off);
        for (int64_t o = 0; o < out; o++) {
            float m = 0.0f;
            for (int64_t i = 0; i < in; i++) m = fmaxf(m, fabsf(w[o * in + i]));
            scale[o] = m / 127.0f;
            for (int64_t i = 0; i < in; i++) {
                float q = m > 0 ? rintf(w[o * in + i] / scale[o]) : 0.0f; /* rintf: nearest, ties to even */
                q = fminf(fmaxf(q, -127.0f), 127.0f);
                data[o * in + i] = (uint8_t)(int8_t)q;
            }
        }
        break;
    }
    case VKT_QFORMAT_NF4: {
        float *absmax = malloc((size_t)l.n_blocks * sizeof *absmax);
        if (!absmax) {
            vkt_log_error("quant: out of host memory for %lld NF4 block maxima", (long long)l.n_blocks);
            return VKT_ERR_OOM;
        }
        vkt_nf4_quantize(w, n, data, absmax);
        float *code = (float *)(base + l.code_off);
        memcpy(code, vkt_quant_dynamic_map(), 256 * sizeof(float));
        vkt_nf4_double_quant(absmax, l.n_blocks, base + l.scale_off, (float *)(base + l.absmax2_off), &code[256]);
        free(absmax);
        break;
    }
    default: VKT_ASSERT(!"unknown format");
    }
    return VKT_OK;
}

void vkt_quant_unpack(const vkt_qlayout *l, const void *blob, float *w) {
    const int64_t n = l->out * l->in;
    const uint8_t *base = blob, *data = base + l->data_off;
    switch (l->format) {
    case VKT_QFORMAT_F32: memcpy(w, data, (size_t)n * 4); break;
    case VKT_QFORMAT_F16:
    case VKT_QFORMAT_BF16:
        for (int64_t e = 0; e < n; e++) {
            uint16_t h;
            memcpy(&h, data + 2 * e, 2);
            w[e] = l->format == VKT_QFORMAT_F16 ? vkt_f16_to_f32(h) : vkt_bf16_to_f32(h);
        }
        break;
    case VKT_QFORMAT_INT8: {
        const float *scale = (const float *)(base + l->scale_off);
        for (int64_t e = 0; e < n; e++) w[e] = (float)(int8_t)data[e] * scale[e / l->in];
        break;
    }
    case VKT_QFORMAT_NF4: {
        const float *code = (const float *)(base + l->code_off), *absmax2 = (const float *)(base + l->absmax2_off);
        const uint8_t *qabs = base + l->scale_off;
        for (int64_t b0 = 0; b0 < n; b0 += VKT_NF4_BLOCK) {
            float am = vkt_nf4_block_absmax(qabs, absmax2, code, code[256], b0 / VKT_NF4_BLOCK);
            for (int64_t e = b0; e < n && e < b0 + VKT_NF4_BLOCK; e++) {
                uint8_t c = e % 2 == 0 ? data[e / 2] >> 4 : data[e / 2] & 15;
                w[e] = vkt_nf4_levels[c] * am;
            }
        }
        break;
    }
    default: VKT_ASSERT(!"unknown format");
    }
}
