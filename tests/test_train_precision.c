/* Mixed-precision training (optim.precision bf16 / f16) against f32: the same tiny GPT-2 and LLaMA models,
 * the same initial weights and the same batches, 200 AdamW steps each; the 16-bit loss curves must follow
 * the f32 one. Plus f16's dynamic loss scaling: an overflow injected at one step skips exactly that step,
 * halves the scale, and training recovers; with a short growth interval the scale doubles on schedule.
 * LoRA over a frozen base in bf16 and f16 against f32 LoRA too, and LoRA with modules_to_save (the embedding and
 * the LM head trained in full as the adapter's copies, with an f32 master and a 16-bit copy like the adapters);
 * the copies' 16-bit halves must be the master rounded after training (AdamW refreshed them), and a PEFT save and
 * load round trip must give back the same master bits and the same half copy.
 *
 * Data: a noisy affine "language" over V tokens (next = (5 t + 3) mod V with probability 0.8, else
 * uniform; V = 64), so the loss falls from ln 64 = 4.16 towards the data's entropy (about 1.3 nats): every
 * precision has the same floor and the curves are comparable step by step.
 *
 * Tolerances. The 16-bit runs differ from f32 by the rounding of the weights the passes read and of every
 * stored activation and activation gradient: unit roundoff u = 2^-8 for bf16, 2^-11 for f16 (plus, for f16,
 * the loss scale's changes of which gradient bits survive). The master weights, the optimizer and all
 * reductions stay f32, so those errors do not accumulate in the weights beyond what the perturbed gradients
 * do: a perturbed run stays about u of loss from f32 (measured on lavapipe: bf16 worst step 0.0024 = 0.6 u,
 * f16 0.0005 = 1 u). Bounds: every step within 5 u for bf16 (0.02) and 10 u for f16 (0.005, whose scale
 * changes add noise), the mean over the last 50 steps within half that (0.01, 0.0025). The run with an injected
 * overflow misses one update at step 60, which shifts its trajectory by about one step's progress (the f32 curve falls
 * by ~0.02 per step there; measured worst 0.024 at steps 73-77): bounds 0.06 per step and 0.01 for the last-50 mean.
 * Each 16-bit run must itself have learnt (last-50 mean at least 1 nat below step 0). A precision that used stale half
 * weights (AdamW not writing the copy: the loss stays near ln V), dropped the loss scale's multiplier (measured: f16
 * then lags f32 by 0.04-0.08, as AdamW's eps swamps gradients 65536 times too small) or its 1/S (updates
 * 65536 times too large) fails these. */
#include <math.h>
#include <string.h>

#include <stdlib.h>

#include "core/half.h"
#include "finetune/lora.h"
#include "finetune/lora_peft.h"
#include "harness.h"
#include "model/model.h"
#include "model_testutil.h"
#include "sched/step.h"

#define STEPS 200
#define B     4
#define T     16

typedef struct {
    int64_t V;
    vkt_rng rng;
} data_ctx;

static vkt_status fill(void *ctx, const vkt_batch *b) {
    data_ctx *d = ctx;
    for (int64_t r = 0; r < B; r++) {
        int32_t tok = (int32_t)(vkt_rng_u64(&d->rng) % (uint64_t)d->V);
        for (int64_t i = 0; i <= T; i++) {
            if (i < T) b->tokens[r * T + i] = tok;
            if (i > 0) b->targets[r * T + i - 1] = tok;
            tok = vkt_rng_uniform(&d->rng) < 0.8 ? (int32_t)((5 * tok + 3) % d->V)
                                                 : (int32_t)(vkt_rng_u64(&d->rng) % (uint64_t)d->V);
        }
    }
    return VKT_OK;
}

typedef struct {
    double loss[STEPS], scale[STEPS];
    bool skipped[STEPS];
    int64_t n_skipped;
} curve;

static void record(curve *c, const vkt_step_result *r) {
    if (r->step < 0 || r->step >= STEPS) return;
    c->loss[r->step] = r->loss, c->scale[r->step] = r->loss_scale, c->skipped[r->step] = r->skipped;
    c->n_skipped = r->n_skipped;
}

typedef enum { FULL, LORA, LORA_SAVED } train_kind; /* what trains: the model, adapters, adapters + saved copies */

/* The saved copies' 16-bit half equals their f32 master rounded to nearest even (AdamW wrote it); returns the
 * number of elements that differ. */
static int64_t stale_half(vkt_test *t, vkt_lora *ad) {
    size_t n = (size_t)ad->table.total;
    float *w = malloc(n * 4);
    uint16_t *h = malloc(n * 2);
    VKT_TEST_TRY(t, vkt_lora_download(ad, w));
    VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &ad->params_half, h, n * 2));
    int64_t bad = 0;
    for (int j = 0; j < ad->n_saved; j++) {
        const vkt_param *e = &ad->table.p[ad->saved_first + j];
        for (int64_t k = e->offset; k < e->offset + e->numel; k++) {
            float x = w[k];
            bad += h[k] != (ad->params_half.dtype == VKT_DTYPE_F16 ? vkt_f32_to_f16(x) : vkt_f32_to_bf16(x));
        }
    }
    free(w), free(h);
    return bad;
}

/* Saves the trained adapter as PEFT does and loads it into a fresh model of the same precision: the master
 * weights come back bit for bit, and so does the 16-bit copy the passes read (refreshed on load). */
static void check_roundtrip(vkt_test *t, const vkt_model_config *cfg, vkt_dtype precision, vkt_lora *ad) {
    char dir[] = "/tmp/vkt_train_prec_saved_XXXXXX";
    if (!mkdtemp(dir)) {
        vkt_test_fail(t, "mkdtemp %s", dir);
        return;
    }
    VKT_TEST_TRY(t, vkt_lora_save_peft(ad, dir));
    vkt_model_opts mo = {.mode = VKT_MODEL_FROZEN, .precision = precision};
    vkt_model *m = NULL;
    vkt_lora *back = NULL;
    VKT_TEST_TRY(t, vkt_model_create_opts(t->dev, cfg, B, T, &mo, &m));
    if (m) VKT_TEST_TRY(t, vkt_lora_load_peft(m, dir, false, &back));
    if (!back || back->table.total != ad->table.total || back->n_saved != ad->n_saved) {
        vkt_test_fail(t, "the saved adapter did not load with its %d saved modules", ad->n_saved);
    } else {
        size_t n = (size_t)ad->table.total;
        float *w0 = malloc(n * 4), *w1 = malloc(n * 4);
        uint16_t *h0 = malloc(n * 2), *h1 = malloc(n * 2);
        VKT_TEST_TRY(t, vkt_lora_download(ad, w0));
        VKT_TEST_TRY(t, vkt_lora_download(back, w1));
        VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &ad->params_half, h0, n * 2));
        VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &back->params_half, h1, n * 2));
        bool same_w = memcmp(w0, w1, n * 4) == 0, same_h = memcmp(h0, h1, n * 2) == 0;
        printf("   PEFT save + load in %s: master %s, 16-bit copy %s\n", vkt_dtype_name(precision),
               same_w ? "bit for bit" : "DIFFERS", same_h ? "bit for bit" : "DIFFERS");
        if (!same_w || !same_h) vkt_test_fail(t, "the saved modules' round trip through PEFT files changed them");
        free(w0), free(w1), free(h0), free(h1);
    }
    vkt_lora_destroy(back);
    vkt_model_destroy(m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("   (could not remove %s)\n", dir);
}

/* STEPS steps of cfg in `precision` from the weights of seed 7 on the batches of seed 11. inject_step >= 0
 * poisons that step's gradients (vkt_step_inject_overflow); growth: loss-scale growth interval (f16). With
 * LORA_SAVED in 16 bits, the saved copies' halves are checked and round-tripped through PEFT files. */
static void run(vkt_test *t, const vkt_model_config *cfg, vkt_dtype precision, int64_t inject_step, int64_t growth,
                train_kind kind, curve *out) {
    bool lora = kind != FULL;
    memset(out, 0, sizeof *out);
    vkt_model_opts mo = {.mode = lora ? VKT_MODEL_FROZEN : VKT_MODEL_TRAIN, .precision = precision};
    vkt_model *m = NULL;
    VKT_TEST_TRY(t, vkt_model_create_opts(t->dev, cfg, B, T, &mo, &m));
    if (!m) return;
    VKT_TEST_TRY(t, vkt_model_init_weights(m, 7));
    /* LoRA: rank-4 adapters with dropout on every linear of a frozen random base. */
    vkt_lora *ad = NULL;
    vkt_trainable tr = {0};
    if (lora) {
        vkt_lora_cfg lc = vkt_lora_cfg_default();
        lc.r = 4, lc.lora_alpha = 8, lc.lora_dropout = 0.1, lc.seed = 5;
        vkt_lora_cfg_add_target(&lc, "all-linear");
        if (kind == LORA_SAVED) {
            vkt_lora_cfg_add_save(&lc, "embed_tokens");
            vkt_lora_cfg_add_save(&lc, "lm_head");
        }
        VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &ad));
        if (!ad) {
            vkt_model_destroy(m);
            return;
        }
        vkt_lora_attach(ad);
        tr = (vkt_trainable){
            .table = &ad->table, .params = ad->params, .grads = ad->grads, .params_half = ad->params_half};
    }
    vkt_step_cfg sc = {.adamw = vkt_adamw_cfg_default(),
                       .max_grad_norm = 1.0f,
                       .accum = 1,
                       .total_steps = STEPS,
                       .schedule = {.lr_max = lora ? 8e-3 : 3e-3, .lr_min = 3e-4, .warmup = 10, .total = STEPS},
                       .train = lora ? &tr : NULL};
    if (precision == VKT_DTYPE_F16) {
        sc.loss_scale = vkt_loss_scale_default();
        if (growth > 0) sc.loss_scale.growth_interval = growth;
    }
    vkt_step *st = NULL;
    VKT_TEST_TRY(t, vkt_step_create(m, &sc, 0, &st));
    if (st && inject_step >= 0) vkt_step_inject_overflow(st, inject_step);
    data_ctx d;
    d.V = cfg->vocab_size;
    vkt_rng_init(&d.rng, 11);
    vkt_step_result r;
    for (int s = 0; st && s < STEPS; s++) {
        VKT_TEST_TRY(t, vkt_step_submit(st, fill, &d, &r));
        record(out, &r);
    }
    if (st) VKT_TEST_TRY(t, vkt_step_drain(st, &r));
    record(out, &r);
    if (st && kind == LORA_SAVED && precision != VKT_DTYPE_F32) {
        int64_t bad = stale_half(t, ad);
        printf("   saved copies' 16-bit half after %d steps: %lld elements differ from the rounded master\n", STEPS,
               (long long)bad);
        if (bad) vkt_test_fail(t, "AdamW did not refresh the saved modules' 16-bit copy");
        check_roundtrip(t, cfg, precision, ad);
    }
    vkt_step_destroy(st);
    vkt_lora_destroy(ad);
    vkt_model_destroy(m);
}

static double mean_last(const curve *c, int n) {
    double s = 0;
    for (int i = STEPS - n; i < STEPS; i++) s += c->loss[i];
    return s / n;
}

static void compare(vkt_test *t, const char *name, const char *prec, const curve *ref, const curve *c, double tol_mean,
                    double tol_step, double must_learn) {
    double worst = 0;
    int worst_at = 0;
    for (int i = 0; i < STEPS; i++) {
        double e = fabs(c->loss[i] - ref->loss[i]);
        if (!(e <= worst)) worst = e, worst_at = i;
    }
    double dm = fabs(mean_last(c, 50) - mean_last(ref, 50));
    printf("   %s %s: loss %.4f -> %.4f (f32 %.4f -> %.4f); last-50 mean differs by %.4f (bound %.4g), worst step "
           "%d by %.4f (bound %.4g)\n",
           name, prec, c->loss[0], mean_last(c, 50), ref->loss[0], mean_last(ref, 50), dm, tol_mean, worst_at, worst,
           tol_step);
    if (!(dm <= tol_mean)) vkt_test_fail(t, "%s %s: last-50 mean loss off f32 by %.4f", name, prec, dm);
    if (!(worst <= tol_step)) vkt_test_fail(t, "%s %s: step %d loss off f32 by %.4f", name, prec, worst_at, worst);
    if (!(mean_last(c, 50) < c->loss[0] - must_learn)) vkt_test_fail(t, "%s %s: did not learn", name, prec);
}

/* f16 with an overflow injected at step 60: exactly that step skipped, the scale halved there and the run
 * still following f32. */
static void check_injected(vkt_test *t, const char *name, const curve *ref, const curve *c) {
    const int at = 60;
    for (int i = 0; i < STEPS; i++)
        if (c->skipped[i] != (i == at)) vkt_test_fail(t, "%s f16 injected: step %d skipped=%d", name, i, c->skipped[i]);
    if (c->n_skipped != 1)
        vkt_test_fail(t, "%s f16 injected: %lld skipped steps counted", name, (long long)c->n_skipped);
    if (c->scale[at] != c->scale[at - 1] / 2 || c->scale[at + 1] != c->scale[at])
        vkt_test_fail(t, "%s f16 injected: scale %g -> %g -> %g around the overflow", name, c->scale[at - 1],
                      c->scale[at], c->scale[at + 1]);
    printf("   %s f16 overflow at step %d: skipped (only that step), scale %g -> %g\n", name, at, c->scale[at - 1],
           c->scale[at]);
    compare(t, name, "f16+overflow", ref, c, 0.01, 0.06, 1.0);
}

/* f16 with growth interval 16: the scale follows GradScaler's rule step by step (halved at each skipped step,
 * doubled after 16 finite ones in a row), whatever steps overflow naturally once it is large. */
static void check_growth(vkt_test *t, const char *name, const curve *c) {
    double s = 65536;
    int good = 0, grew = 0, skipped = 0;
    for (int i = 0; i < STEPS; i++) {
        if (c->skipped[i]) {
            s /= 2, good = 0, skipped++;
        } else if (++good == 16) {
            s *= 2, good = 0, grew++;
        }
        if (c->scale[i] != s) {
            vkt_test_fail(t, "%s f16 growth: step %d scale %g, expected %g", name, i, c->scale[i], s);
            return;
        }
    }
    if (grew < 3) vkt_test_fail(t, "%s f16 growth: the scale grew only %d times", name, grew);
    printf("   %s f16 growth interval 16: scale followed the rule over %d steps (%d growths, %d overflows skipped, "
           "final %g)\n",
           name, STEPS, grew, skipped, s);
}

static void model_case(vkt_test *t, const char *name, const vkt_model_config *cfg) {
    static curve f32, bf16, f16, inj, grow;
    run(t, cfg, VKT_DTYPE_F32, -1, 0, FULL, &f32);
    run(t, cfg, VKT_DTYPE_BF16, -1, 0, FULL, &bf16);
    compare(t, name, "bf16", &f32, &bf16, 0.01, 0.02, 1.0);
    run(t, cfg, VKT_DTYPE_F16, -1, 0, FULL, &f16);
    compare(t, name, "f16", &f32, &f16, 0.0025, 0.005, 1.0);
    run(t, cfg, VKT_DTYPE_F16, 60, 0, FULL, &inj);
    check_injected(t, name, &f32, &inj);
    run(t, cfg, VKT_DTYPE_F16, -1, 16, FULL, &grow);
    check_growth(t, name, &grow);
}

/* LoRA (rank-4 adapters with dropout over a frozen random base): the 16-bit base copy, adapter copy and
 * intermediates. Adapters on a random base of this size gain only ~0.3 nats in 200 steps (f32 alike; a
 * higher lr turns the curves chaotic), so "learnt" is 0.2 nats here; the bounds against f32 are the same. */
static void lora_case(vkt_test *t, const char *name, const vkt_model_config *cfg) {
    static curve f32, bf16, f16;
    run(t, cfg, VKT_DTYPE_F32, -1, 0, LORA, &f32);
    run(t, cfg, VKT_DTYPE_BF16, -1, 0, LORA, &bf16);
    compare(t, name, "bf16", &f32, &bf16, 0.01, 0.02, 0.2);
    run(t, cfg, VKT_DTYPE_F16, -1, 0, LORA, &f16);
    compare(t, name, "f16", &f32, &f16, 0.0025, 0.005, 0.2);
}

/* LoRA with modules_to_save ["embed_tokens", "lm_head"]: the saved embedding and head train in full, which
 * learns the data's bigram rule, so these runs must learn a full nat (adapters alone reach ~0.3): a 16-bit copy
 * of the saved modules that AdamW did not refresh would leave them at the base's random weights and fail that.
 * The same bounds against f32 as the other cases. */
static void saved_case(vkt_test *t, const char *name, const vkt_model_config *cfg) {
    static curve f32, bf16, f16;
    run(t, cfg, VKT_DTYPE_F32, -1, 0, LORA_SAVED, &f32);
    run(t, cfg, VKT_DTYPE_BF16, -1, 0, LORA_SAVED, &bf16);
    compare(t, name, "bf16", &f32, &bf16, 0.01, 0.02, 1.0);
    run(t, cfg, VKT_DTYPE_F16, -1, 0, LORA_SAVED, &f16);
    compare(t, name, "f16", &f32, &f16, 0.0025, 0.005, 1.0);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "train_precision");
    vkt_model_config g = vkt_test_tiny_gpt2(), l = vkt_test_tiny_llama();
    g.vocab_size = l.vocab_size = 64;
    model_case(&t, "gpt2", &g);
    model_case(&t, "llama", &l);
    lora_case(&t, "llama lora", &l);
    saved_case(&t, "llama lora + modules_to_save", &l);
    return vkt_test_finish(&t);
}
