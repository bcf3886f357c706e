/* RoPE known answers written out by hand, independent of vktrain's reference (src/ref/ref_rope.c), so a
 * convention changed in both the shader and the reference cannot pass.
 *
 * One head of 4 elements x = (1, 2, 3, 4), theta 1e4: inv_freq_i = theta^(-2i/4) = (1, 0.01). At position p
 * the angles are a_i = p inv_freq_i, and
 *   Hugging Face Llama / GPT-NeoX (rotate_half, pairs (i, i + 2)): y = x cos(a, a) + rotate_half(x) sin(a, a)
 *     y0 = x0 cos a0 - x2 sin a0   y1 = x1 cos a1 - x3 sin a1   y2 = x2 cos a0 + x0 sin a0   y3 = x3 cos a1 + x1 sin a1
 *   Meta / llama2.c (complex pairs (2i, 2i + 1)):
 *     y0 = x0 cos a0 - x1 sin a0   y1 = x1 cos a0 + x0 sin a0   y2 = x2 cos a1 - x3 sin a1   y3 = x3 cos a1 + x2 sin a1
 * The values below are those formulas evaluated in double (Python math.cos/sin) at p = 0, 1, 2 and 1000; p = 1000
 * is there because it makes the slow frequency's angle 10 rad, where a wrong base (theta x 1.0001) moves y by
 * ~2e-3. vktrain's model uses the first layout (model_ops.c) and its llama2.c importer permutes Meta's q/k
 * rows into it: vkt_rope_interleaved_to_half must send rows (0, 1, 2, 3) to (0, 2, 1, 3), the permutation
 * that makes the two conventions agree (Hugging Face's convert_llama_weights_to_hf.py permute()).
 *
 * Bound per element: (|x_a| + |x_b|) 2^-22. The table is exact to 2^-25 (half an f32 ulp of cos/sin of the
 * double angle), the kernel adds two f32 products and a sum (2 2^-24 relative to |x_a| + |x_b|); 2^-22 covers
 * both with margin and is ~1e-6 here, far below any convention change (>= 1e-3).
 *
 * Llama 3.1 frequency scaling (factor 8, low_freq_factor 1, high_freq_factor 4, original context 8192,
 * Hugging Face _compute_llama3_parameters): wavelength w = 2 pi / f; w < 8192/4 keeps f, w > 8192 gives f/8,
 * otherwise s = (8192 / w - 1) / (4 - 1) and f ((1 - s)/8 + s). Hand values: w = 2 pi (f = 1) keeps 1;
 * w = 10000 gives f/8; w = 4096 gives s = 1/3, f (2/3 / 8 + 1/3) = f 5/12; w = 2048 (s = 1) keeps f; w = 8192
 * (s = 0) gives f/8. */
#include <string.h>

#include "harness.h"
#include "io/llama2c.h"
#include "ops/rope.h"

static const double want_half[4][4] = {
    {1, 2, 3, 4},                                                                        /* p = 0 */
    {-1.9841106485555495, 1.9599006674966639, 2.4623779024123156, 4.0197996683349944},   /* p = 1 */
    {-3.1440391170241875, 1.9196053465598233, -0.33914308281574557, 4.0391973600529774}, /* p = 2 */
    {-1.9182595453053044, 0.49794138540457422, 2.5140167694041113, -4.4443283380845493}, /* p = 1000 */
};
static const double want_pairs[4][4] = {
    {1, 2, 3, 4},                                                                         /* p = 0 */
    {-1.1426396637476532, 1.922075596544176, 2.9598506679133294, 4.029799501669161},      /* p = 1 */
    {-2.234741690198506, 0.077003753731396896, 2.9194053532264008, 4.0591960267463101},   /* p = 2 */
    {-1.0913800047733022, 1.9516376931134083, -0.34113014367187811, -4.9883494489739189}, /* p = 1000 */
};
static const int64_t positions[4] = {0, 1, 2, 1000};

typedef struct {
    vkt_tensor x, table;
    vkt_rope_desc d;
} ctx_t;

static vkt_status run(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_op_rope_fwd(r, &x->x, &x->table, &x->d);
}

/* Rotates x = (1, 2, 3, 4) at position p on the device and compares with want. */
static void check_layout(vkt_test *t, bool interleaved, const float *table, int64_t n_pos) {
    const double(*want)[4] = interleaved ? want_pairs : want_half;
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        const float x[4] = {1, 2, 3, 4};
        ctx_t c = {
            .x = vkt_test_upload(t, x, 1, 4, 1, 1),
            .table = vkt_test_upload(t, table, n_pos, 2, 2, 1),
            .d = {.B = 1, .T = 1, .n_heads = 1, .head_size = 4, .pos0 = positions[k], .interleaved = interleaved}};
        vkt_test_run(t, run, &c);
        float *y = vkt_test_download(t, &c.x);
        for (int e = 0; e < 4; e++) {
            const int partner = interleaved ? e ^ 1 : (e + 2) % 4;
            const double bound = (fabs(x[e]) + fabs(x[partner])) * 0x1p-22, err = fabs(y[e] - want[k][e]);
            worst = fmax(worst, err / bound);
            if (!(err <= bound))
                vkt_test_fail(t, "rope %s p=%lld element %d: got %.9g, want %.17g (error %.3g > bound %.3g)",
                              interleaved ? "pairs" : "rotate_half", (long long)positions[k], e, y[e], want[k][e], err,
                              bound);
        }
        free(y);
    }
    printf("   rope x=(1,2,3,4) theta 1e4 p=0,1,2,1000 %-11s max err/bound = %.3f\n",
           interleaved ? "pairs" : "rotate_half", worst);
}

static void expect_close(vkt_test *t, const char *what, double got, double want, double rel) {
    const bool ok = fabs(got - want) <= rel * fabs(want);
    printf("   %-48s got %.17g want %.17g %s\n", what, got, want, ok ? "ok" : "FAIL");
    if (!ok) vkt_test_fail(t, "%s: got %.17g, want %.17g (relative bound %.0e)", what, got, want, rel);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "rope_kat");

    /* Frequencies: theta^(-2i/d), exact in double up to pow's rounding. */
    double inv[4];
    vkt_rope_inv_freq(inv, 4, 1e4);
    expect_close(&t, "inv_freq d=4 theta=1e4 i=0", inv[0], 1.0, 1e-15);
    expect_close(&t, "inv_freq d=4 theta=1e4 i=1", inv[1], 0.01, 1e-15);
    vkt_rope_inv_freq(inv, 8, 5e5);
    expect_close(&t, "inv_freq d=8 theta=5e5 i=1 (5e5^-1/4)", inv[1], 0.037606030930863933, 1e-15);
    expect_close(&t, "inv_freq d=8 theta=5e5 i=3 (5e5^-3/4)", inv[3], 5.3182958969449883e-05, 1e-15);

    /* The cos/sin table the device reads, then both layouts on the device. */
    const int64_t n_pos = 1001;
    vkt_rope_inv_freq(inv, 4, 1e4);
    float *table = malloc((size_t)(n_pos * 4) * sizeof *table);
    vkt_rope_table(table, n_pos, 2, inv, false);
    expect_close(&t, "table p=1000 i=1 cos(10)", table[(1000 * 2 + 1) * 2], -0.83907152907645244, 1e-7);
    expect_close(&t, "table p=1000 i=1 sin(10)", table[(1000 * 2 + 1) * 2 + 1], -0.54402111088936977, 1e-7);
    check_layout(&t, false, table, n_pos);
    check_layout(&t, true, table, n_pos);
    free(table);

    /* The llama2.c importer's row permutation: Meta's pair (2i, 2i+1) becomes (i, i + HS/2). */
    const float rows[4] = {1, 2, 3, 4};
    float perm[4];
    vkt_rope_interleaved_to_half(perm, rows, 1, 4, 1);
    const bool perm_ok = perm[0] == 1 && perm[1] == 3 && perm[2] == 2 && perm[3] == 4;
    printf("   interleaved_to_half rows (1,2,3,4) -> (%g,%g,%g,%g), want (1,3,2,4) %s\n", perm[0], perm[1], perm[2],
           perm[3], perm_ok ? "ok" : "FAIL");
    if (!perm_ok) vkt_test_fail(&t, "vkt_rope_interleaved_to_half does not send rows (0,1,2,3) to (0,2,1,3)");

    /* Llama 3.1 scaling on hand-picked wavelengths. */
    const double two_pi = 6.283185307179586476925;
    double f[5] = {1.0, two_pi / 10000, two_pi / 4096, two_pi / 2048, two_pi / 8192};
    const double want_f[5] = {1.0, two_pi / 10000 / 8, two_pi / 4096 * 5 / 12, two_pi / 2048, two_pi / 8192 / 8};
    vkt_rope_scale_llama3(f, 5, 8.0, 1.0, 4.0, 8192.0);
    const char *names[5] = {"llama3 scaling w=2pi: kept", "llama3 scaling w=10000: f/8",
                            "llama3 scaling w=4096: f 5/12", "llama3 scaling w=2048: kept (s=1)",
                            "llama3 scaling w=8192: f/8 (s=0)"};
    for (int i = 0; i < 5; i++) expect_close(&t, names[i], f[i], want_f[i], 1e-12);
    return vkt_test_finish(&t);
}
