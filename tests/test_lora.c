/* LoRA adapters on a frozen model (finetune/lora.h) against the whole-model reference: for tiny GPT-2
 * (fused c_attn, Conv1D names) and LLaMA (fused q|k|v and gate|up, windows of them targeted) models,
 *  - logits of the adapted model equal the reference model's with W + s B A merged on the host in double
 *    (bound 1e-5 relative, in norm);
 *  - lora_A / lora_B gradients equal s B^T dW and s dW A^T from the reference's gradient dW of the merged
 *    weight (bound 1e-4 in norm per tensor, as test_model.c);
 *  - activation recomputation gives the same adapter gradients bit for bit;
 *  - after AdamW steps over the adapter the loss has fallen and every base weight is bit-identical;
 *  - lora_dropout: evaluation passes are untouched (bit for bit), each training pass advances the mask
 *    counter once and draws fresh masks, recomputation reuses the pass's masks (bit for bit);
 *  - bad input: r = 0, lora_dropout 1, a target that matches nothing, a bad regex. */
#include <string.h>

#include "finetune/lora.h"
#include "harness.h"
#include "lora_testutil.h"
#include "model_testutil.h"
#include "ref/ref_model.h"
#include "sched/step.h"

typedef struct {
    vkt_rng rng;
    int64_t n, V;
} batch_ctx;

/* The same batch every step: the loss must fall as the adapter fits it. */
static vkt_status fill_fixed(void *ctx, const vkt_batch *batch) {
    batch_ctx *b = ctx;
    vkt_rng r = b->rng;
    vkt_test_random_batch(&r, b->n, b->V, batch->tokens, batch->targets);
    return VKT_OK;
}

/* A frozen model with random weights (norms and biases perturbed) and an adapter started non-zero. */
static void build(vkt_test *t, const vkt_model_config *cfg, int64_t B, int64_t T, bool recompute,
                  const vkt_lora_cfg *lc, vkt_model **m, vkt_lora **l, float **base) {
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, cfg, B, T, VKT_MODEL_FROZEN, recompute, m));
    VKT_TEST_TRY(t, vkt_model_init_weights(*m, t->seed));
    *base = malloc((size_t)(*m)->table.total * sizeof **base);
    VKT_TEST_TRY(t, vkt_model_download_params(*m, *base));
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 7);
    for (int i = 0; i < (*m)->table.n; i++) {
        const vkt_param *e = &(*m)->table.p[i];
        if (e->rows == 1)
            for (int64_t k = 0; k < e->numel; k++) (*base)[e->offset + k] += (float)(0.1 * vkt_rng_normal(&rng));
    }
    VKT_TEST_TRY(t, vkt_model_upload_params(*m, *base));
    VKT_TEST_TRY(t, vkt_lora_create(*m, lc, l));
    vkt_lora_attach(*l);
}

static void check(vkt_test *t, const char *name, const vkt_model_config *cfg, int64_t B, int64_t T,
                  const vkt_lora_cfg *lc) {
    vkt_model *m;
    vkt_lora *l;
    float *base;
    build(t, cfg, B, T, false, lc, &m, &l, &base);
    printf("-- %s: %d adapted modules, r %lld, scale %g, %lld adapter parameters\n", name, l->n_mods, (long long)lc->r,
           l->scale, (long long)l->table.total);
    int64_t BT = B * T, V = cfg->vocab_size, total = m->table.total;
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 1);
    batch_ctx bc = {rng, BT, V};
    VKT_TEST_TRY(t, vkt_step_fill_batch(m, 0, fill_fixed, &bc));
    vkt_model_use_slot(m, 0);

    /* Host merge in double: W + s B A. */
    float *ad = malloc((size_t)l->table.total * sizeof *ad);
    VKT_TEST_TRY(t, vkt_lora_download(l, ad));
    double *merged = lora_test_merge(t, m, l, base);
    double *ref_logits = malloc((size_t)(BT * V) * sizeof *ref_logits), *ref_g = malloc((size_t)total * 8);
    vkt_ref_model_loss(cfg, &m->table, merged, vkt_model_slot_tokens(m, 0), vkt_model_slot_targets(m, 0), B, T, false,
                       ref_logits, ref_g);
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOGITS));
    float *logits = vkt_test_download(t, &m->logits);
    double le = vkt_rel_norm_err(logits, ref_logits, BT * V);
    printf("   %s logits vs host-merged reference: relative error in norm %.2e (bound 1e-5)\n", name, le);
    if (!(le <= 1e-5)) vkt_test_fail(t, "%s: adapted logits differ from the merged reference by %.3e", name, le);

    /* Adapter gradients from the reference's dW of the merged weight. */
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOSS_GRAD));
    float *g = vkt_test_download(t, &l->grads);
    double worst = 0;
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        const vkt_param *ea = &l->table.p[md->a], *eb = &l->table.p[md->b];
        const float *a = ad + ea->offset, *b = ad + eb->offset;
        const double *dw = ref_g + vkt_params_get(&m->table, md->layer, md->role)->offset;
        double *da = calloc((size_t)ea->numel, 8), *db = calloc((size_t)eb->numel, 8);
        for (int64_t o = 0; o < md->out; o++)
            for (int64_t c = 0; c < md->in; c++)
                for (int64_t k = 0; k < lc->r; k++) {
                    da[k * md->in + c] += l->scale * b[o * lc->r + k] * dw[o * md->in + c];
                    db[o * lc->r + k] += l->scale * dw[o * md->in + c] * a[k * md->in + c];
                }
        double ea_ = vkt_rel_norm_err(g + ea->offset, da, ea->numel),
               eb_ = vkt_rel_norm_err(g + eb->offset, db, eb->numel);
        if (!(ea_ <= 1e-4)) vkt_test_fail(t, "%s: gradient of %s off by %.3e in norm", name, ea->name, ea_);
        if (!(eb_ <= 1e-4)) vkt_test_fail(t, "%s: gradient of %s off by %.3e in norm", name, eb->name, eb_);
        worst = fmax(worst, fmax(ea_, eb_));
        free(da), free(db);
    }
    printf("   %s adapter gradients: %d tensors, worst relative error in norm %.2e (bound 1e-4)\n", name, l->table.n,
           worst);

    /* Recomputation: the same adapter gradients, bit for bit. */
    vkt_model *mr;
    vkt_lora *lr;
    float *base_r;
    build(t, cfg, B, T, true, lc, &mr, &lr, &base_r);
    memcpy(vkt_model_slot_tokens(mr, 0), vkt_model_slot_tokens(m, 0), (size_t)BT * 4);
    memcpy(vkt_model_slot_targets(mr, 0), vkt_model_slot_targets(m, 0), (size_t)BT * 4);
    vkt_model_use_slot(mr, 0);
    VKT_TEST_TRY(t, vkt_test_model_pass(mr, t->rec, VKT_FWD_LOSS_GRAD));
    float *gr = vkt_test_download(t, &lr->grads);
    bool same = memcmp(g, gr, (size_t)l->table.total * 4) == 0;
    printf("   %s recompute: adapter gradients %s\n", name, same ? "identical" : "DIFFER");
    if (!same) vkt_test_fail(t, "%s: adapter gradients with activation recomputation differ", name);
    free(gr), free(base_r);
    vkt_lora_destroy(lr);
    vkt_model_destroy(mr);

    /* AdamW over the adapter only: the loss falls, the base stays bit for bit. */
    vkt_rec *z;
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 0, &z));
    VKT_TEST_TRY(t, vkt_rec_begin(z));
    VKT_TEST_TRY(t, vkt_lora_record_zero_grads(l, z));
    VKT_TEST_TRY(t, vkt_rec_end(z));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(z));
    vkt_rec_destroy(z);
    vkt_trainable tr = {.table = &l->table, .params = l->params, .grads = l->grads};
    vkt_step_cfg sc = {.adamw = vkt_adamw_cfg_default(),
                       .max_grad_norm = 1.0f,
                       .accum = 1,
                       .total_steps = 20,
                       .schedule = {.lr_max = 1e-2, .lr_min = 1e-2, .total = 20},
                       .train = &tr};
    sc.adamw.weight_decay = 0.1f;
    vkt_step *st;
    VKT_TEST_TRY(t, vkt_step_create(m, &sc, 0, &st));
    double first = NAN, last = NAN;
    for (int s = 0; s <= 20; s++) {
        vkt_step_result res;
        if (s < 20)
            VKT_TEST_TRY(t, vkt_step_submit(st, fill_fixed, &bc, &res));
        else
            VKT_TEST_TRY(t, vkt_step_drain(st, &res));
        if (res.step == 0) first = res.loss;
        if (res.step == 19) last = res.loss;
    }
    vkt_step_destroy(st);
    float *after = malloc((size_t)total * sizeof *after), *ad2 = malloc((size_t)l->table.total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, after));
    VKT_TEST_TRY(t, vkt_lora_download(l, ad2));
    bool base_same = memcmp(after, base, (size_t)total * 4) == 0;
    bool moved = memcmp(ad, ad2, (size_t)l->table.total * 4) != 0;
    printf("   %s 20 adapter steps: loss %.5f -> %.5f, base weights %s, adapter %s\n", name, first, last,
           base_same ? "bit-identical" : "CHANGED", moved ? "updated" : "UNCHANGED");
    if (!base_same) vkt_test_fail(t, "%s: a frozen base weight changed during LoRA training", name);
    if (!moved) vkt_test_fail(t, "%s: the adapter did not change", name);
    if (!(last < first - 0.05)) vkt_test_fail(t, "%s: loss did not fall (%.5f -> %.5f)", name, first, last);
    size_t pb, gb, ab;
    vkt_model_memory(m, &pb, &gb, &ab);
    if (gb != 0 || m->grads_arena) vkt_test_fail(t, "%s: the frozen base has a gradient arena", name);

    free(after), free(ad2), free(ad), free(merged), free(ref_logits), free(ref_g), free(logits), free(g), free(base);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

/* One training pass (forward with the loss gradient, backward) into zeroed adapter gradients; returns them. */
static float *train_pass(vkt_test *t, vkt_model *m, vkt_lora *l) {
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, vkt_lora_record_zero_grads(l, t->rec));
    VKT_TEST_TRY(t, vkt_model_record_forward(m, t->rec, VKT_FWD_LOSS_GRAD));
    VKT_TEST_TRY(t, vkt_model_record_backward(m, t->rec));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
    return vkt_test_download(t, &l->grads);
}

static void check_dropout(vkt_test *t, const vkt_model_config *cfg) {
    int64_t B = 2, T = 9;
    vkt_lora_cfg c = vkt_lora_cfg_default();
    c.r = 4, c.init = VKT_LORA_INIT_NONE, c.seed = 21, c.all_linear = true;
    vkt_model *m0, *m1, *mr;
    vkt_lora *l0, *l1, *lr;
    float *b0, *b1, *br;
    build(t, cfg, B, T, false, &c, &m0, &l0, &b0);
    c.lora_dropout = 0.3;
    build(t, cfg, B, T, false, &c, &m1, &l1, &b1);
    build(t, cfg, B, T, true, &c, &mr, &lr, &br);
    vkt_model *ms[3] = {m0, m1, mr};
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 2);
    vkt_test_random_batch(&rng, B * T, cfg->vocab_size, vkt_model_slot_tokens(m0, 0), vkt_model_slot_targets(m0, 0));
    for (int k = 0; k < 3; k++) {
        memcpy(vkt_model_slot_tokens(ms[k], 0), vkt_model_slot_tokens(m0, 0), (size_t)(B * T) * 4);
        memcpy(vkt_model_slot_targets(ms[k], 0), vkt_model_slot_targets(m0, 0), (size_t)(B * T) * 4);
        vkt_model_use_slot(ms[k], 0);
    }
    size_t nl = (size_t)vkt_tensor_numel(&m0->logits), na = (size_t)l0->table.total;
    VKT_TEST_TRY(t, vkt_test_model_pass(m0, t->rec, VKT_FWD_LOGITS));
    float *y0 = vkt_test_download(t, &m0->logits);
    VKT_TEST_TRY(t, vkt_test_model_pass(m1, t->rec, VKT_FWD_LOGITS));
    float *y1 = vkt_test_download(t, &m1->logits);
    bool eval_same = memcmp(y0, y1, nl * 4) == 0;
    float *g0 = train_pass(t, m0, l0), *g1 = train_pass(t, m1, l1), *g2 = train_pass(t, m1, l1);
    float *gr = train_pass(t, mr, lr);
    int32_t ctr = -1;
    VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &l1->counter, &ctr, 4));
    bool differs = memcmp(g0, g1, na * 4) != 0, fresh = memcmp(g1, g2, na * 4) != 0;
    bool recompute_same = memcmp(g1, gr, na * 4) == 0;
    printf("   dropout 0.3: evaluation logits %s; training gradients %s from no dropout, %s on the next pass "
           "(counter %d after 2 passes); recomputation %s\n",
           eval_same ? "identical to no dropout" : "DIFFER", differs ? "differ" : "EQUAL",
           fresh ? "fresh masks" : "SAME MASKS", ctr, recompute_same ? "identical" : "DIFFERS");
    if (!eval_same || !differs || !fresh || ctr != 2 || !recompute_same)
        vkt_test_fail(t, "lora_dropout: eval %d, train differs %d, fresh %d, counter %d, recompute %d", eval_same,
                      differs, fresh, ctr, recompute_same);
    free(y0), free(y1), free(g0), free(g1), free(g2), free(gr), free(b0), free(b1), free(br);
    vkt_lora_destroy(l0), vkt_lora_destroy(l1), vkt_lora_destroy(lr);
    vkt_model_destroy(m0), vkt_model_destroy(m1), vkt_model_destroy(mr);
}

/* vkt_lora_create must refuse cfg with `want` and leave nothing behind. */
static void expect_error(vkt_test *t, vkt_model *m, const vkt_lora_cfg *c, vkt_status want, const char *what) {
    vkt_lora *l = NULL;
    vkt_status s = vkt_lora_create(m, c, &l);
    printf("   bad input (%s): %s\n", what, vkt_status_name(s));
    if (s != want) vkt_test_fail(t, "%s: got %s, expected %s", what, vkt_status_name(s), vkt_status_name(want));
    if (s == VKT_OK) vkt_lora_destroy(l);
}

static void check_errors(vkt_test *t, const vkt_model_config *cfg) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, cfg, 1, 4, VKT_MODEL_FROZEN, false, &m));
    vkt_lora_cfg c = vkt_lora_cfg_default();
    vkt_lora_cfg_add_target(&c, "q_proj");
    c.r = 0;
    expect_error(t, m, &c, VKT_ERR_ARG, "r = 0");
    c.r = 4, c.lora_dropout = 1;
    expect_error(t, m, &c, VKT_ERR_ARG, "lora_dropout 1");
    c.lora_dropout = 0;
    vkt_lora_cfg_add_target(&c, "qproj");
    expect_error(t, m, &c, VKT_ERR_ARG, "target qproj");
    c = vkt_lora_cfg_default();
    expect_error(t, m, &c, VKT_ERR_ARG, "no targets");
    snprintf(c.target_regex, sizeof c.target_regex, "layers\\.(");
    expect_error(t, m, &c, VKT_ERR_ARG, "bad regex");
    snprintf(c.target_regex, sizeof c.target_regex, "q_proj");
    expect_error(t, m, &c, VKT_ERR_ARG, "regex matching no whole name");
    snprintf(c.target_regex, sizeof c.target_regex, ".*\\.1\\.self_attn\\.(q|v)_proj");
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &c, &l));
    if (l->n_mods != 2 || strcmp(l->mods[0].module, "model.layers.1.self_attn.q_proj") != 0)
        vkt_test_fail(t, "regex target: %d modules, first %s", l->n_mods, l->n_mods ? l->mods[0].module : "-");
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "lora");
    vkt_model_config gpt2 = vkt_test_tiny_gpt2();
    vkt_lora_cfg c = vkt_lora_cfg_default();
    c.r = 4, c.lora_alpha = 8, c.init = VKT_LORA_INIT_NONE, c.seed = 5, c.all_linear = true;
    check(&t, "gpt2 all-linear", &gpt2, 2, 13, &c);

    vkt_model_config llama = vkt_test_tiny_llama();
    c = vkt_lora_cfg_default();
    c.r = 3, c.lora_alpha = 5, c.use_rslora = true, c.init = VKT_LORA_INIT_NONE, c.seed = 9;
    /* k and v are windows of the fused q|k|v output, up the second half of gate|up. */
    vkt_lora_cfg_add_target(&c, "k_proj");
    vkt_lora_cfg_add_target(&c, "v_proj");
    vkt_lora_cfg_add_target(&c, "up_proj");
    vkt_lora_cfg_add_target(&c, "o_proj");
    check(&t, "llama k,v,up,o rslora", &llama, 2, 11, &c);
    c = vkt_lora_cfg_default();
    c.r = 2, c.init = VKT_LORA_INIT_NONE, c.all_linear = true;
    check(&t, "llama all-linear", &llama, 1, 16, &c);
    check_dropout(&t, &llama);
    check_errors(&t, &llama);
    return vkt_test_finish(&t);
}
