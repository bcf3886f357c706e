/* Host quantizers (src/quant): known values and round-trip bounds. Pure CPU.
 *
 * Known values come from tests/data/quant/nf4_fixtures.txt, written once by make_fixtures.py beside it:
 * an independent Python/torch implementation of bitsandbytes' documented NF4 + double-quantization
 * algorithm (bitsandbytes itself is not installable here; see the script's notes). Checked exactly: the
 * NF4 level table, the signed dynamic map (torch.linspace in f32), and for a 7x99 tensor (blocks straddle
 * rows, odd element count, one all-zero block) and a 260x131 one (533 blocks, 3 double-quant blocks):
 * the packed bytes, the block maxima, the 8-bit codes of the maxima, absmax2, the offset (within 1 ulp:
 * torch's f32 mean against our double sum), and for the small tensor every dequantized value.
 * Round trips on N(0, 1) weights are bounded per element:
 *   f16   |w' - w| <= 2^-11 |w|          bf16  |w' - w| <= 2^-8 |w|
 *   int8  |w' - w| <= scale / 2 (1 + 1e-6)
 *   nf4   |w' - w| <= 0.15191 absmax_b + 0.00704 absmax2 + 1e-6 |w|: half the widest gap between NF4 levels
 *         (levels 0 and 1) times the block maximum, plus the error of the double-quantized maximum
 *         (half the widest gap of the dynamic map, (0.99297 - 0.97891) / 2, times absmax2).
 * Also: NF4 thresholds (each one and the next float above it), NaN -> code 0, the nibble order, and
 * every dynamic-map value mapping back to its own code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "expect.h"
#include "quant/nf4.h"
#include "quant/quant.h"

#ifndef VKT_TEST_FIXTURES
#define VKT_TEST_FIXTURES "tests/data"
#endif

static char *fixture;

/* The values on the line starting with `name `: returns the count and fills vals (doubles, hex or
 * decimal) or, for a single hex string, bytes. */
static int64_t fx_values(const char *name, double **vals) {
    size_t ln = strlen(name);
    for (char *p = fixture; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, ln) || p[ln] != ' ') continue;
        char *q = p + ln;
        int64_t n = strtoll(q, &q, 10);
        *vals = malloc((size_t)n * sizeof **vals);
        for (int64_t i = 0; i < n; i++) (*vals)[i] = strtod(q, &q);
        return n;
    }
    printf("FAIL fixture line %s missing\n", name);
    exit(1);
}

static uint8_t *fx_bytes(const char *name, int64_t *n) {
    size_t ln = strlen(name);
    for (char *p = fixture; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, ln) || p[ln] != ' ') continue;
        char *q = p + ln;
        *n = strtoll(q, &q, 10);
        while (*q == ' ') q++;
        uint8_t *b = malloc((size_t)*n);
        for (int64_t i = 0; i < *n; i++) {
            char hex[3] = {q[2 * i], q[2 * i + 1], 0};
            b[i] = (uint8_t)strtoul(hex, NULL, 16);
        }
        return b;
    }
    printf("FAIL fixture line %s missing\n", name);
    exit(1);
}

/* make_fixtures.py inputs(): k / 256 for a hashed k in [-2000, 2000], times 2^(block % 5 - 2). */
static float *fixture_input(bool small, int64_t n) {
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = ((uint64_t)i * 2654435761u) % 4294967296u;
        double v = (double)((int64_t)((h >> 7) % 4001) - 2000) / 256.0;
        int64_t blk = i / 64;
        w[i] = (float)ldexp(v, (int)(blk % 5) - 2);
        if (small && blk == 3) w[i] = 0.0f;
    }
    return w;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_tables(void) {
    double *lv, *dm;
    EXPECT(fx_values("nf4_levels", &lv) == 16);
    for (int i = 0; i < 16; i++) EXPECT(vkt_nf4_levels[i] == (float)lv[i]);
    EXPECT(fx_values("dynamic_map", &dm) == 256);
    const float *code = vkt_quant_dynamic_map();
    int bad = 0;
    for (int i = 0; i < 256; i++) bad += code[i] != (float)dm[i];
    if (bad) printf("   dynamic map: %d of 256 values differ from torch's\n", bad);
    EXPECT(bad == 0);
    EXPECT(code[127] == 0.0f && code[255] == 1.0f);
    /* The table against the formula in double: within 2 ulp (torch's f32 linspace rounds on the way). */
    double formula[256];
    int nf = 0;
    for (int i = 0; i < 7; i++)
        for (int k = 0; k < (1 << i); k++) {
            double steps = (1 << i) + 1, m = (0.1 + 0.9 * k / (steps - 1) + 0.1 + 0.9 * (k + 1) / (steps - 1)) / 2;
            formula[nf++] = pow(10.0, i - 6) * m, formula[nf++] = -pow(10.0, i - 6) * m;
        }
    formula[nf++] = 0, formula[nf++] = 1;
    qsort(formula, 256, sizeof formula[0], cmp_double);
    double worst_ulp = 0;
    for (int i = 0; i < 256; i++)
        if (formula[i] != 0) {
            double ulp = ldexp(1.0, ilogb(formula[i]) - 23), d = fabs(code[i] - formula[i]) / ulp;
            worst_ulp = d > worst_ulp ? d : worst_ulp;
        }
    printf("   dynamic map vs the formula in double: worst %.2f ulp\n", worst_ulp);
    EXPECT(worst_ulp <= 2.0);
    /* Every value of the map is its own nearest code. */
    for (int i = 0; i < 256; i++) EXPECT(vkt_quant_dq8_code(code, code[i]) == i);
    /* NF4 thresholds: a threshold itself stays below (strict >), the next float above goes up. */
    for (int j = 0; j < 15; j++) {
        float t = (vkt_nf4_levels[j] + vkt_nf4_levels[j + 1]) * 0.5f, lo = t, hi = t;
        while (vkt_nf4_code(lo) != j) lo = nextafterf(lo, -2.0f);
        while (vkt_nf4_code(hi) != j + 1) hi = nextafterf(hi, 2.0f);
        EXPECT(nextafterf(lo, 2.0f) == hi); /* one boundary between codes j and j+1 */
        EXPECT(fabsf(hi - t) < 1e-7f);
    }
    EXPECT(vkt_nf4_code(NAN) == 0 && vkt_nf4_code(-1.0f) == 0 && vkt_nf4_code(1.0f) == 15);
    EXPECT(vkt_nf4_code(0.0f) == 7 && vkt_nf4_code(-0.0f) == 7);
    /* The first element goes to the high nibble. */
    float w[4] = {1.0f, -1.0f, 0.0f, 0.5f};
    uint8_t packed[2];
    float am;
    vkt_nf4_quantize(w, 4, packed, &am);
    EXPECT(packed[0] == 0xF0 && packed[1] == ((7 << 4) | vkt_nf4_code(0.5f)) && am == 1.0f);
    free(lv), free(dm);
}

static void test_fixture_tensor(const char *kind, int64_t out, int64_t in) {
    char name[64];
    int64_t n = out * in, nb_bytes;
    float *w = fixture_input(!strcmp(kind, "small"), n);
    vkt_qlayout l = vkt_quant_layout(VKT_QFORMAT_NF4, out, in);
    uint8_t *blob = malloc(l.bytes);
    EXPECT(vkt_quant_pack(w, out, in, VKT_QFORMAT_NF4, blob) == VKT_OK);

    snprintf(name, sizeof name, "%s_packed", kind);
    uint8_t *packed = fx_bytes(name, &nb_bytes);
    EXPECT(nb_bytes == (n + 1) / 2 && (size_t)nb_bytes == l.data_bytes);
    int64_t first = -1, diffs = 0;
    for (int64_t i = 0; i < nb_bytes; i++)
        if (blob[l.data_off + i] != packed[i]) diffs++, first = first < 0 ? i : first;
    printf("   %s %lldx%lld: packed bytes differing from the fixture: %lld (first %lld)\n", kind, (long long)out,
           (long long)in, (long long)diffs, (long long)first);
    EXPECT(diffs == 0);

    double *absmax, *offset, *qabs, *absmax2;
    snprintf(name, sizeof name, "%s_absmax", kind);
    int64_t nb = fx_values(name, &absmax);
    EXPECT(nb == l.n_blocks);
    float *am = malloc((size_t)nb * sizeof *am);
    uint8_t *tmp = malloc((size_t)nb_bytes);
    vkt_nf4_quantize(w, n, tmp, am);
    for (int64_t b = 0; b < nb; b++) EXPECT(am[b] == (float)absmax[b]);
    snprintf(name, sizeof name, "%s_offset", kind);
    fx_values(name, &offset);
    const float *code = (const float *)(blob + l.code_off);
    float off = code[256];
    printf("   %s: offset %.9g, fixture %.9g\n", kind, (double)off, offset[0]);
    EXPECT(off == (float)offset[0] || nextafterf(off, INFINITY) == (float)offset[0] ||
           nextafterf(off, -INFINITY) == (float)offset[0]);
    snprintf(name, sizeof name, "%s_qabsmax", kind);
    EXPECT(fx_values(name, &qabs) == nb);
    int64_t qd = 0;
    for (int64_t b = 0; b < nb; b++) qd += blob[l.scale_off + b] != (uint8_t)qabs[b];
    printf("   %s: 8-bit block-max codes differing: %lld of %lld\n", kind, (long long)qd, (long long)nb);
    EXPECT(qd == 0);
    snprintf(name, sizeof name, "%s_absmax2", kind);
    EXPECT(fx_values(name, &absmax2) == l.n_blocks2);
    for (int64_t b = 0; b < l.n_blocks2; b++) EXPECT(((const float *)(blob + l.absmax2_off))[b] == (float)absmax2[b]);
    EXPECT(!memcmp(code, vkt_quant_dynamic_map(), 256 * sizeof(float)));

    float *deq = malloc((size_t)n * sizeof *deq);
    vkt_quant_unpack(&l, blob, deq);
    if (!strcmp(kind, "small")) {
        double *want;
        snprintf(name, sizeof name, "%s_dequant", kind);
        EXPECT(fx_values(name, &want) == n);
        int64_t dd = 0;
        for (int64_t e = 0; e < n; e++) dd += deq[e] != (float)want[e];
        printf("   %s: dequantized values differing: %lld of %lld\n", kind, (long long)dd, (long long)n);
        EXPECT(dd == 0);
        /* The all-zero block 3 comes back as -absmax' (code 0, level -1), as bitsandbytes gives it. */
        EXPECT(deq[3 * 64] < 0 && deq[3 * 64] == deq[3 * 64 + 63]);
        free(want);
    }
    free(w), free(blob), free(packed), free(absmax), free(offset), free(qabs), free(absmax2), free(am), free(tmp);
    free(deq);
}

static void test_round_trip(vkt_qformat f, int64_t out, int64_t in, uint64_t seed) {
    vkt_rng rng;
    vkt_rng_init(&rng, seed);
    int64_t n = out * in;
    float *w = malloc((size_t)n * sizeof *w), *back = malloc((size_t)n * sizeof *back);
    for (int64_t e = 0; e < n; e++) w[e] = (float)vkt_rng_normal(&rng);
    for (int64_t i = 0; i < in; i++) w[i] = 0.0f; /* an all-zero row */
    vkt_qlayout l = vkt_quant_layout(f, out, in);
    EXPECT(l.bytes == vkt_quant_bytes(f, out, in) && l.bytes % VKT_QUANT_ALIGN == 0);
    uint8_t *blob = malloc(l.bytes);
    EXPECT(vkt_quant_pack(w, out, in, f, blob) == VKT_OK);
    vkt_quant_unpack(&l, blob, back);
    double worst = 0, se = 0, sw = 0;
    int64_t bad = -1;
    for (int64_t e = 0; e < n; e++) {
        double err = fabs((double)back[e] - w[e]), bound = 0;
        switch (f) {
        case VKT_QFORMAT_F32: bound = 0; break;
        case VKT_QFORMAT_F16: bound = ldexp(fabs(w[e]), -11) + 6e-8; break;
        case VKT_QFORMAT_BF16: bound = ldexp(fabs(w[e]), -8); break;
        case VKT_QFORMAT_INT8: bound = 0.5 * ((const float *)(blob + l.scale_off))[e / in] * (1 + 1e-6); break;
        case VKT_QFORMAT_NF4: {
            float am = 0;
            for (int64_t i = e / 64 * 64; i < n && i < e / 64 * 64 + 64; i++) am = fmaxf(am, fabsf(w[i]));
            float a2 = ((const float *)(blob + l.absmax2_off))[e / 64 / 256];
            bound = 0.15191 * am + 0.00704 * a2 + 1e-6 * fabs(w[e]);
            break;
        }
        default: break;
        }
        if (err > bound && bad < 0) bad = e;
        if (bound > 0 && err / bound > worst) worst = err / bound;
        se += err * err, sw += (double)w[e] * w[e];
    }
    printf("   %-4s %lldx%lld: %.4f bytes/weight, rms error / rms w %.3e, worst error / bound %.3f%s\n",
           vkt_qformat_name(f), (long long)out, (long long)in, vkt_quant_bytes_per_weight(f, out, in),
           sw > 0 ? sqrt(se / sw) : 0.0, worst, bad >= 0 ? "  OVER" : "");
    if (bad >= 0)
        printf("FAIL %s seed %llu: element %lld w %g back %g\n", vkt_qformat_name(f), (unsigned long long)seed,
               (long long)bad, (double)w[bad], (double)back[bad]);
    EXPECT(bad < 0);
    free(w), free(back), free(blob);
}

static void test_refusals(void) {
    float w[4] = {1, 2, NAN, 4}, big[2] = {1e5f, 0};
    uint8_t blob[4096];
    EXPECT(vkt_quant_pack(w, 2, 2, VKT_QFORMAT_NF4, blob) == VKT_ERR_ARG);
    EXPECT(vkt_quant_pack(big, 1, 2, VKT_QFORMAT_F16, blob) == VKT_ERR_ARG);
    EXPECT(vkt_quant_pack(big, 1, 2, VKT_QFORMAT_BF16, blob) == VKT_OK);
    vkt_qformat f;
    EXPECT(vkt_qformat_parse("nf4", &f) && f == VKT_QFORMAT_NF4 && !vkt_qformat_parse("q4", &f));
    vkt_qlayout l = vkt_quant_layout(VKT_QFORMAT_NF4, 5632, 2048);
    printf("   nf4 5632x2048: %zu bytes (%.4f per weight); blocks %lld, double-quant blocks %lld\n", l.bytes,
           (double)l.bytes / (5632.0 * 2048), (long long)l.n_blocks, (long long)l.n_blocks2);
    EXPECT(l.data_bytes == 5632 * 1024 && l.n_blocks == 5632 * 32 && l.n_blocks2 == 5632 * 32 / 256);
}

int main(void) {
    const char *path = VKT_TEST_FIXTURES "/quant/nf4_fixtures.txt";
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("FAIL cannot open %s\n", path);
        return 1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    fixture = calloc((size_t)size + 1, 1);
    if (fread(fixture, 1, (size_t)size, fp) != (size_t)size) return 1;
    fclose(fp);

    test_tables();
    test_fixture_tensor("small", 7, 99);
    test_fixture_tensor("large", 260, 131);
    const int64_t shapes[][2] = {{1, 1}, {3, 64}, {37, 99}, {129, 256}, {5, 1000}};
    for (int f = 0; f < VKT_QFORMAT_COUNT; f++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            test_round_trip((vkt_qformat)f, shapes[s][0], shapes[s][1], 100 + s);
    test_refusals();
    free(fixture);
    return expect_finish("quant");
}
