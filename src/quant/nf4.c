/* NF4 codes, bitsandbytes' signed dynamic 8-bit map and blockwise quantization, and NF4 double
 * quantization. Written from bitsandbytes' documented algorithm (functional.py create_dynamic_map,
 * quantize_4bit, quantize_blockwise; csrc/kernels.cu kQuantizeBlockwise, dQuantizeNF4, dQuantize<0>),
 * reimplemented here, not copied; the values are checked against tests/data/quant/nf4_fixtures.txt.
 * Not here: the layout of the packed blob (quant.c), stochastic rounding, FP4, other block sizes. */
#include "quant/nf4.h"

#include <math.h>
#include <stdlib.h>

/* bitsandbytes' published NF4 table (get_4bit_type("nf4")), written as the f32 values it stores. */
const float vkt_nf4_levels[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

/* Decision thresholds: the midpoints of neighbouring levels, taken in double from the published decimal
 * values and rounded to f32 (the f32 literals of dQuantizeNF4's comparison tree). */
static const double nf4_levels_d[16] = {
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
};

uint8_t vkt_nf4_code(float s) {
    /* The comparison tree returns the count of thresholds below s (strict >); NaN fails every test. */
    uint8_t c = 0;
    for (int j = 0; j < 15; j++) {
        float t = (float)((nf4_levels_d[j] + nf4_levels_d[j + 1]) / 2.0);
        c += s > t;
    }
    return c;
}

/* create_dynamic_map(signed=True): for exponent i = 0..6, 2^i fraction values (the means of neighbouring
 * points of torch.linspace(0.1, 1, 2^i + 1, dtype=float32)) times 10^(i - 6), with both signs, then 0
 * and 1, sorted. The f32 values depend on torch's linspace kernel (vectorized lanes round differently
 * from the scalar tail), so they are written out here as torch 1.13 computes them (make_fixtures.py);
 * tests/test_quant.c checks them against the fixture and against the formula in double (<= 2 ulp). */
static const float dyn_map[256] = {
    -0x1.fc6666p-1f,  -0x1.f53332p-1f,  -0x1.eep-1f,      -0x1.e6ccccp-1f,
    -0x1.df9998p-1f,  -0x1.d86666p-1f,  -0x1.d13334p-1f,  -0x1.cap-1f,
    -0x1.c2ccccp-1f,  -0x1.bb9998p-1f,  -0x1.b46666p-1f,  -0x1.ad3332p-1f,
    -0x1.a6p-1f,      -0x1.9eccccp-1f,  -0x1.979998p-1f,  -0x1.906666p-1f,
    -0x1.893334p-1f,  -0x1.82p-1f,      -0x1.7acccep-1f,  -0x1.73999ap-1f,
    -0x1.6c6668p-1f,  -0x1.653334p-1f,  -0x1.5ep-1f,      -0x1.56cccep-1f,
    -0x1.4f999ap-1f,  -0x1.486666p-1f,  -0x1.413334p-1f,  -0x1.3ap-1f,
    -0x1.32ccccp-1f,  -0x1.2b999ap-1f,  -0x1.246668p-1f,  -0x1.1d3334p-1f,
    -0x1.16p-1f,      -0x1.0eccccp-1f,  -0x1.07999ap-1f,  -0x1.006666p-1f,
    -0x1.f26668p-2f,  -0x1.e4p-2f,      -0x1.d59998p-2f,  -0x1.c73334p-2f,
    -0x1.b8ccccp-2f,  -0x1.aa6664p-2f,  -0x1.9cp-2f,      -0x1.8d9998p-2f,
    -0x1.7f3334p-2f,  -0x1.70ccccp-2f,  -0x1.626664p-2f,  -0x1.54p-2f,
    -0x1.459998p-2f,  -0x1.373334p-2f,  -0x1.28ccccp-2f,  -0x1.1a6668p-2f,
    -0x1.0cp-2f,      -0x1.fb3334p-3f,  -0x1.de6668p-3f,  -0x1.c1999ap-3f,
    -0x1.a4ccccp-3f,  -0x1.88p-3f,      -0x1.6b3332p-3f,  -0x1.4e6666p-3f,
    -0x1.31999ap-3f,  -0x1.14ccccp-3f,  -0x1.fp-4f,       -0x1.b66668p-4f,
    -0x1.93d70ap-4f,  -0x1.8851eap-4f,  -0x1.7ccccep-4f,  -0x1.7147aep-4f,
    -0x1.65c29p-4f,   -0x1.5a3d7p-4f,   -0x1.4eb85p-4f,   -0x1.433334p-4f,
    -0x1.37ae14p-4f,  -0x1.2c28f6p-4f,  -0x1.20a3d6p-4f,  -0x1.151ebap-4f,
    -0x1.09999ap-4f,  -0x1.fc28f4p-5f,  -0x1.e51ebap-5f,  -0x1.ce147ap-5f,
    -0x1.b70a3ep-5f,  -0x1.ap-5f,       -0x1.88f5c2p-5f,  -0x1.71eb86p-5f,
    -0x1.5ae146p-5f,  -0x1.43d70ap-5f,  -0x1.2ccccep-5f,  -0x1.15c28ep-5f,
    -0x1.fd70a4p-6f,  -0x1.cf5c26p-6f,  -0x1.a147aep-6f,  -0x1.733334p-6f,
    -0x1.451eb8p-6f,  -0x1.170a3ep-6f,  -0x1.d1eb86p-7f,  -0x1.75c29p-7f,
    -0x1.3e76c8p-7f,  -0x1.2c083p-7f,   -0x1.19999ap-7f,  -0x1.072b02p-7f,
    -0x1.e978d4p-8f,  -0x1.c49ba6p-8f,  -0x1.9fbe76p-8f,  -0x1.7ae148p-8f,
    -0x1.56041ap-8f,  -0x1.3126e8p-8f,  -0x1.0c49bap-8f,  -0x1.ced914p-9f,
    -0x1.851eb8p-9f,  -0x1.3b645ap-9f,  -0x1.e353f8p-10f, -0x1.4fdf3ap-10f,
    -0x1.eecbfep-11f, -0x1.b3d07cp-11f, -0x1.78d5p-11f,   -0x1.3dd982p-11f,
    -0x1.02de02p-11f, -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
    -0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f, -0x1.64840cp-16f,
    -0x1.040bfep-17f, -0x1.b43528p-19f, -0x1.27476ep-21f, 0.0f,
    0x1.27476ep-21f,  0x1.b43528p-19f,  0x1.040bfep-17f,  0x1.64840cp-16f,
    0x1.6f0068p-15f,  0x1.15df66p-14f,  0x1.743e96p-14f,  0x1.47ae16p-13f,
    0x1.19ce0ap-12f,  0x1.8fc506p-12f,  0x1.02de02p-11f,  0x1.3dd982p-11f,
    0x1.78d5p-11f,    0x1.b3d07cp-11f,  0x1.eecbfep-11f,  0x1.4fdf3ap-10f,
    0x1.e353f8p-10f,  0x1.3b645ap-9f,   0x1.851eb8p-9f,   0x1.ced914p-9f,
    0x1.0c49bap-8f,   0x1.3126e8p-8f,   0x1.56041ap-8f,   0x1.7ae148p-8f,
    0x1.9fbe76p-8f,   0x1.c49ba6p-8f,   0x1.e978d4p-8f,   0x1.072b02p-7f,
    0x1.19999ap-7f,   0x1.2c083p-7f,    0x1.3e76c8p-7f,   0x1.75c29p-7f,
    0x1.d1eb86p-7f,   0x1.170a3ep-6f,   0x1.451eb8p-6f,   0x1.733334p-6f,
    0x1.a147aep-6f,   0x1.cf5c26p-6f,   0x1.fd70a4p-6f,   0x1.15c28ep-5f,
    0x1.2ccccep-5f,   0x1.43d70ap-5f,   0x1.5ae146p-5f,   0x1.71eb86p-5f,
    0x1.88f5c2p-5f,   0x1.ap-5f,        0x1.b70a3ep-5f,   0x1.ce147ap-5f,
    0x1.e51ebap-5f,   0x1.fc28f4p-5f,   0x1.09999ap-4f,   0x1.151ebap-4f,
    0x1.20a3d6p-4f,   0x1.2c28f6p-4f,   0x1.37ae14p-4f,   0x1.433334p-4f,
    0x1.4eb85p-4f,    0x1.5a3d7p-4f,    0x1.65c29p-4f,    0x1.7147aep-4f,
    0x1.7ccccep-4f,   0x1.8851eap-4f,   0x1.93d70ap-4f,   0x1.b66668p-4f,
    0x1.fp-4f,        0x1.14ccccp-3f,   0x1.31999ap-3f,   0x1.4e6666p-3f,
    0x1.6b3332p-3f,   0x1.88p-3f,       0x1.a4ccccp-3f,   0x1.c1999ap-3f,
    0x1.de6668p-3f,   0x1.fb3334p-3f,   0x1.0cp-2f,       0x1.1a6668p-2f,
    0x1.28ccccp-2f,   0x1.373334p-2f,   0x1.459998p-2f,   0x1.54p-2f,
    0x1.626664p-2f,   0x1.70ccccp-2f,   0x1.7f3334p-2f,   0x1.8d9998p-2f,
    0x1.9cp-2f,       0x1.aa6664p-2f,   0x1.b8ccccp-2f,   0x1.c73334p-2f,
    0x1.d59998p-2f,   0x1.e4p-2f,       0x1.f26668p-2f,   0x1.006666p-1f,
    0x1.07999ap-1f,   0x1.0eccccp-1f,   0x1.16p-1f,       0x1.1d3334p-1f,
    0x1.246668p-1f,   0x1.2b999ap-1f,   0x1.32ccccp-1f,   0x1.3ap-1f,
    0x1.413334p-1f,   0x1.486666p-1f,   0x1.4f999ap-1f,   0x1.56cccep-1f,
    0x1.5ep-1f,       0x1.653334p-1f,   0x1.6c6668p-1f,   0x1.73999ap-1f,
    0x1.7acccep-1f,   0x1.82p-1f,       0x1.893334p-1f,   0x1.906666p-1f,
    0x1.979998p-1f,   0x1.9eccccp-1f,   0x1.a6p-1f,       0x1.ad3332p-1f,
    0x1.b46666p-1f,   0x1.bb9998p-1f,   0x1.c2ccccp-1f,   0x1.cap-1f,
    0x1.d13334p-1f,   0x1.d86666p-1f,   0x1.df9998p-1f,   0x1.e6ccccp-1f,
    0x1.eep-1f,       0x1.f53332p-1f,   0x1.fc6666p-1f,   0x1.0p+0f,
};

const float *vkt_quant_dynamic_map(void) { return dyn_map; }

uint8_t vkt_quant_dq8_code(const float *code, float s) {
    /* Bisection: 7 halving steps from the middle; `lo`/`up` track the last values passed on each side,
     * the ends of the table standing in when a side was never passed. */
    int pivot = 127, lo_p = 0, up_p = 255;
    float lo = -1.0f, up = 1.0f, val = code[pivot];
    for (int step = 64; step > 0; step >>= 1) {
        if (s > val)
            lo_p = pivot, lo = val, pivot += step;
        else
            up_p = pivot, up = val, pivot -= step;
        val = code[pivot];
    }
    if (up_p == 255) up = code[255];
    if (lo_p == 0) lo = code[0];
    if (s > val) return (uint8_t)(s > (up + val) * 0.5f ? up_p : pivot);
    return (uint8_t)(s < (lo + val) * 0.5f ? lo_p : pivot);
}

/* max |x| over [x, x + n); the kernel's fmaxf ignores NaN, inputs here are finite. */
static float absmax_of(const float *x, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

void vkt_quant_blockwise8(const float *x, int64_t n, int64_t block, const float *code, uint8_t *q, float *absmax) {
    for (int64_t b0 = 0, b = 0; b0 < n; b0 += block, b++) {
        int64_t len = n - b0 < block ? n - b0 : block;
        absmax[b] = absmax_of(x + b0, len);
        float inv = 1.0f / absmax[b]; /* inf for an all-zero block: 0 * inf = NaN -> code 0 */
        for (int64_t i = 0; i < len; i++) q[b0 + i] = vkt_quant_dq8_code(code, x[b0 + i] * inv);
    }
}

void vkt_nf4_quantize(const float *x, int64_t n, uint8_t *packed, float *absmax) {
    for (int64_t b0 = 0, b = 0; b0 < n; b0 += 64, b++) {
        int64_t len = n - b0 < 64 ? n - b0 : 64;
        absmax[b] = absmax_of(x + b0, len);
        float inv = 1.0f / absmax[b];
        for (int64_t i = 0; i < len; i++) {
            int64_t e = b0 + i;
            uint8_t c = vkt_nf4_code(x[e] * inv);
            if (e % 2 == 0)
                packed[e / 2] = (uint8_t)(c << 4);
            else
                packed[e / 2] |= c;
        }
    }
    /* The kernel quantizes the 0.0 it loads past the end: code 7 (level 0) in the last low nibble. */
    if (n % 2) packed[n / 2] |= vkt_nf4_code(0.0f);
}

void vkt_nf4_double_quant(const float *absmax, int64_t nb, uint8_t *qabs, float *absmax2, float *offset) {
    double sum = 0;
    for (int64_t b = 0; b < nb; b++) sum += absmax[b];
    float off = (float)(sum / (double)nb), v[256];
    for (int64_t b0 = 0; b0 < nb; b0 += 256) {
        int64_t len = nb - b0 < 256 ? nb - b0 : 256;
        for (int64_t i = 0; i < len; i++) v[i] = absmax[b0 + i] - off;
        vkt_quant_blockwise8(v, len, 256, vkt_quant_dynamic_map(), qabs + b0, absmax2 + b0 / 256);
    }
    *offset = off;
}
