/* Global gradient norm and clip scale: segments with gaps (poisoned with NaN, so reading them fails),
 * merged contiguous segments, chunks over a lowered binding limit, both kernel layouts, clipping active,
 * inactive and off, bit-identical replays.
 *
 * Bounds: norm 1e-6 relative (fp32 squares summed in blocks of <= 4096 then a tree: a few ulp; measured
 * ~1e-7), clip scale 1e-6 (one division of the norm). */
#include <string.h>

#include "harness.h"
#include "optim/gradnorm.h"
#include "ref/ref_gradnorm.h"

typedef struct {
    vkt_tensor grads, partials, scalars;
    const vkt_optim_segment *segs;
    int n_segs;
    vkt_gradnorm_opts o;
} ctx_t;

static vkt_status run(vkt_rec *r, void *c) {
    ctx_t *x = c;
    return vkt_gradnorm_record(r, &x->grads, x->segs, x->n_segs, &x->o, &x->partials, &x->scalars);
}

static void check(vkt_test *t, const vkt_optim_segment *segs, int n_segs, int64_t total, float gscale) {
    float *g = vkt_test_randn(t, (size_t)total, gscale);
    /* Elements outside every segment are NaN: a kernel that reads past its segment poisons the norm. */
    bool *inside = calloc((size_t)total, 1);
    int64_t off[16], n[16];
    for (int k = 0; k < n_segs; k++) {
        off[k] = segs[k].offset, n[k] = segs[k].n;
        for (int64_t i = 0; i < segs[k].n; i++) inside[segs[k].offset + i] = true;
    }
    for (int64_t i = 0; i < total; i++)
        if (!inside[i]) g[i] = NAN;
    double *gd = vkt_test_to_double(g, (size_t)total);
    double norm = vkt_ref_gradnorm(gd, off, n, n_segs);
    const double max_norms[] = {0, 0.5 * norm, 2 * norm}; /* off, active, inactive */
    float *serial_parts = NULL; /* SERIAL's partials (words where aligned), to compare with SERIAL_SCALAR's bits */
    for (int variant = VKT_GRADNORM_GROUP; variant <= VKT_GRADNORM_SERIAL_SCALAR; variant++) {
        for (int mi = 0; mi < 3; mi++) {
            ctx_t c = {.grads = vkt_test_upload(t, g, total, 1, 1, 1), .segs = segs, .n_segs = n_segs};
            c.o = (vkt_gradnorm_opts){.max_norm = (float)max_norms[mi], .variant = (vkt_gradnorm_variant)variant};
            int64_t np = vkt_gradnorm_partials(t->rec, segs, n_segs, &c.o);
            vkt_test_out part = vkt_test_output(t, np, 1, 1, 1); /* NaN-poisoned: every slot must be written */
            vkt_step_scalars init = vkt_step_scalars_init();
            init.step = 7, init.lr = 0.25f, init.bc1 = 0.5f, init.bc2 = 0.125f, init._reserved[3] = 9.0f;
            vkt_test_out sc = vkt_test_output_init(t, (const float *)&init, VKT_STEP_SCALARS_ELEMS, 1, 1, 1);
            c.partials = part.view, c.scalars = sc.view;
            vkt_test_run(t, run, &c);
            float *raw = vkt_test_read_output(t, &sc, "scalars");
            vkt_step_scalars s;
            memcpy(&s, raw, sizeof s);
            double want_clip = vkt_ref_clip_scale(norm, max_norms[mi]);
            double en = fabs(s.grad_norm - norm) / norm, ec = fabs(s.clip_scale - want_clip) / want_clip;
            bool kept = s.step == 7 && s.lr == 0.25f && s.bc1 == 0.5f && s.bc2 == 0.125f && s._reserved[3] == 9.0f;
            printf("   gradnorm %-6s segs=%d total=%lld max_norm=%-10.4g partials=%-5lld norm %.9g (ref %.9g) "
                   "rel %.2e, clip %.7f rel %.2e %s\n",
                   variant == VKT_GRADNORM_GROUP    ? "group"
                   : variant == VKT_GRADNORM_SERIAL ? "serial"
                                                    : "scalar",
                   n_segs, (long long)total, max_norms[mi], (long long)np, s.grad_norm, norm, en, s.clip_scale, ec,
                   en <= 1e-6 && ec <= 1e-6 ? "ok" : "FAIL");
            if (!(en <= 1e-6 && ec <= 1e-6))
                vkt_test_fail(t, "gradnorm total=%lld: norm %.9g want %.9g, clip %.9g want %.9g", (long long)total,
                              s.grad_norm, norm, s.clip_scale, want_clip);
            if (!kept) vkt_test_fail(t, "gradnorm changed step scalars fields it does not own");
            /* Replay: bit-identical norm. */
            VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
            float *raw2 = vkt_test_read_output(t, &sc, "scalars");
            if (memcmp(raw, raw2, sizeof s) != 0) vkt_test_fail(t, "gradnorm replay changed the result");
            free(raw), free(raw2);
            if (mi == 0 && variant >= VKT_GRADNORM_SERIAL) {
                float *parts = vkt_test_read_output(t, &part, "partials");
                if (variant == VKT_GRADNORM_SERIAL) {
                    serial_parts = parts;
                } else {
                    if (memcmp(parts, serial_parts, (size_t)np * sizeof *parts) != 0)
                        vkt_test_fail(t,
                                      "gradnorm total=%lld: the serial kernel's partials differ between words "
                                      "and elements",
                                      (long long)total);
                    free(parts);
                }
            }
            vkt_arena_reset(t->arena);
        }
    }
    free(g), free(gd), free(inside), free(serial_parts);
}

int main(void) {
    /* 64 KiB bindings (16384 floats): the large segment takes several chunks, each from an unaligned start. */
    setenv("VKT_MAX_BINDING_BYTES", "65536", 1);
    vkt_test t;
    vkt_test_init(&t, "gradnorm");
    const vkt_optim_segment one[] = {{0, 1, true}};
    check(&t, one, 1, 1, 1);
    /* Gaps between segments, odd offsets, two adjacent segments (13..20, 20..277) that merge. */
    const vkt_optim_segment many[] = {{3, 10, true},    {13, 7, false},      {20, 257, true},   {300, 4099, true},
                                      {4405, 1, false}, {4500, 70001, true}, {74509, 33, false}};
    check(&t, many, 7, 74600, 1e-2f);
    /* Large gradients: squares near 1e8, the sum must neither overflow nor lose the small ones' share. */
    const vkt_optim_segment big[] = {{0, 5000, true}, {5003, 2, true}};
    check(&t, big, 2, 5008, 1e4f);
    return vkt_test_finish(&t);
}
