/* LoRA over a quantized frozen base (model/model_base.h): tiny LLaMA (fused q|k|v and gate|up, GQA) and
 * GPT-2 models whose block linear weights are stored as f16, bf16, int8 or NF4:
 *  - the parameter arena holds no f32 copy of a quantized matrix (its size is the f32 tensors' alone);
 *  - download returns exactly the host dequantization (vkt_quant_pack then vkt_quant_unpack) of what
 *    was uploaded, bit for bit;
 *  - logits equal the double whole-model reference run on that host-dequantized base plus s B A merged
 *    in double. Bound 1e-5 relative in norm, as for the f32 base in test_lora.c: the qmatmul kernels
 *    dequantize with the same f32 operations as vkt_quant_unpack (quant.h), so both sides use the same
 *    weights and differ only by f32 against double accumulation;
 *  - adapter gradients equal those from the reference's dW of the merged weight (1e-4, as test_lora.c);
 *  - 20 AdamW steps over the adapter lower the loss, and every blob and f32 tensor of the base is
 *    bit-identical afterwards;
 *  - the model's planned base bytes (vkt_model_plan_bytes, the fine-tuning memory plan) equal the sum of
 *    vkt_quant_layout sizes of the fused groups (each rounded to VKT_QUANT_ALIGN) and the allocated arena;
 *  - refusals: a quantized base for a model with gradients, bad finetune.base_format, nf4 with method
 *    full, a plan larger than the heap. */
#include <string.h>

#include "finetune/finetune.h"
#include "finetune/ft_plan.h"
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

static vkt_status fill_fixed(void *ctx, const vkt_batch *batch) {
    batch_ctx *b = ctx;
    vkt_rng r = b->rng;
    vkt_test_random_batch(&r, b->n, b->V, batch->tokens, batch->targets);
    return VKT_OK;
}

/* Host image of m's parameters dequantized as the format stores them: each stored group packed and
 * unpacked on the host. */
static float *host_dequant(const vkt_model *m, const float *w) {
    float *d = malloc((size_t)m->table.total * sizeof *d);
    memcpy(d, w, (size_t)m->table.total * sizeof *d);
    for (int i = 0; i < m->table.n; i++) {
        const vkt_qlayout *l = &m->base.q[i].layout;
        if (!l->bytes) continue;
        void *blob = malloc(l->bytes);
        const vkt_param *e = &m->table.p[i];
        if (vkt_quant_pack(w + e->offset, l->out, l->in, l->format, blob) == VKT_OK)
            vkt_quant_unpack(l, blob, d + e->offset);
        free(blob);
    }
    return d;
}

/* All blobs, concatenated, as on the device. */
static unsigned char *download_blobs(vkt_test *t, const vkt_model *m, size_t *n) {
    *n = 0;
    for (int i = 0; i < m->table.n; i++) *n += m->base.q[i].layout.bytes;
    unsigned char *all = malloc(*n ? *n : 1), *p = all;
    for (int i = 0; i < m->table.n; i++) {
        const vkt_qweight *q = &m->base.q[i];
        if (!q->layout.bytes) continue;
        VKT_TEST_TRY(t, vkt_tensor_download(t->dev, &q->blob, p, q->layout.bytes));
        p += q->layout.bytes;
    }
    return all;
}

static void check(vkt_test *t, const char *arch, const vkt_model_config *cfg, vkt_qformat f) {
    const int64_t B = 2, T = 8, BT = B * T, V = cfg->vocab_size;
    char name[64];
    snprintf(name, sizeof name, "%s/%s", arch, vkt_qformat_name(f));
    vkt_model_opts mo = {.mode = VKT_MODEL_FROZEN, .base_format = f};
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_opts(t->dev, cfg, B, T, &mo, &m));
    int64_t total = m->table.total;

    /* Random base (norms and biases perturbed so they matter), quantized at upload. */
    float *w = calloc((size_t)total, sizeof *w); /* padding zero, as download leaves it */
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 3);
    size_t linear = 0, expect_blob = 0;
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        bool norm = e->role == VKT_ROLE_NORM1_W || e->role == VKT_ROLE_NORM2_W || e->role == VKT_ROLE_NORM_F_W;
        for (int64_t k = 0; k < e->numel; k++)
            w[e->offset + k] = (float)((norm ? 1.0 : 0.0) + (e->rows == 1 ? 0.1 : 0.05) * vkt_rng_normal(&rng));
        if (vkt_model_base_role_stored(e->role)) linear += (size_t)e->numel * 4;
        bool first = i == 0 || !m->table.p[i - 1].fused_next;
        if (vkt_model_base_role_stored(e->role) && first) {
            size_t b = vkt_quant_bytes(f, vkt_params_group_rows(&m->table, e), e->cols);
            expect_blob += (b + VKT_QUANT_ALIGN - 1) / VKT_QUANT_ALIGN * VKT_QUANT_ALIGN;
        }
    }
    VKT_TEST_TRY(t, vkt_model_upload_params(m, w));

    /* No f32 copy of the stored matrices: the parameter arena is the other tensors only. */
    size_t pcap = vkt_arena_capacity(m->params_arena), f32_others = (size_t)total * 4 - linear;
    printf("-- %s: parameter arena %zu bytes (all f32: %lld), blobs %zu bytes (linear f32: %zu)\n", name, pcap,
           (long long)total * 4, m->base.blob_bytes, linear);
    if (pcap > f32_others + 64 * 1024) vkt_test_fail(t, "%s: parameter arena %zu bytes holds more than the f32 "
                                                        "tensors (%zu)", name, pcap, f32_others);
    for (int i = 0; i < m->table.n; i++)
        if (vkt_model_base_role_stored(m->table.p[i].role) != vkt_model_param_stored(m, &m->table.p[i]))
            vkt_test_fail(t, "%s: %s stored %s", name, m->table.p[i].name,
                          vkt_model_param_stored(m, &m->table.p[i]) ? "quantized" : "f32");

    /* Planned base bytes = layout sizes = allocated blobs. */
    vkt_model_bytes mb;
    VKT_TEST_TRY(t, vkt_model_plan_bytes(t->dev, cfg, B, T, &mo, &mb));
    printf("   %s plan: linear %zu bytes (layouts %zu, allocated %zu), other %zu\n", name, mb.linear, expect_blob,
           m->base.blob_bytes, mb.other);
    if (mb.linear != expect_blob || m->base.blob_bytes != expect_blob)
        vkt_test_fail(t, "%s: planned base bytes %zu, layouts %zu, allocated %zu", name, mb.linear, expect_blob,
                      m->base.blob_bytes);
    if (mb.other != pcap) vkt_test_fail(t, "%s: planned f32 bytes %zu, arena %zu", name, mb.other, pcap);

    /* Download = host dequantization, bit for bit. */
    float *deq = host_dequant(m, w), *down = malloc((size_t)total * sizeof *down);
    VKT_TEST_TRY(t, vkt_model_download_params(m, down));
    if (memcmp(deq, down, (size_t)total * 4) != 0) vkt_test_fail(t, "%s: downloaded base differs from the host "
                                                                     "dequantization", name);

    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.lora_alpha = 8, lc.all_linear = true, lc.init = VKT_LORA_INIT_NONE, lc.seed = t->seed;
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    vkt_rng_init(&rng, t->seed + 1);
    batch_ctx bc = {rng, BT, V};
    VKT_TEST_TRY(t, vkt_step_fill_batch(m, 0, fill_fixed, &bc));
    vkt_model_use_slot(m, 0);

    float *ad = malloc((size_t)l->table.total * sizeof *ad);
    VKT_TEST_TRY(t, vkt_lora_download(l, ad));
    double *merged = lora_test_merge(t, m, l, deq);
    double *ref_logits = malloc((size_t)(BT * V) * sizeof *ref_logits), *ref_g = malloc((size_t)total * 8);
    vkt_ref_model_loss(cfg, &m->table, merged, vkt_model_slot_tokens(m, 0), vkt_model_slot_targets(m, 0), B, T, false,
                       ref_logits, ref_g);
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOGITS));
    float *logits = vkt_test_download(t, &m->logits);
    double le = vkt_rel_norm_err(logits, ref_logits, BT * V);
    printf("   %s logits vs host-dequantized base + merged adapter: relative error in norm %.2e (bound 1e-5)\n", name,
           le);
    if (!(le <= 1e-5)) vkt_test_fail(t, "%s: logits differ from the reference by %.3e", name, le);

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
                for (int64_t k = 0; k < lc.r; k++) {
                    da[k * md->in + c] += l->scale * b[o * lc.r + k] * dw[o * md->in + c];
                    db[o * lc.r + k] += l->scale * dw[o * md->in + c] * a[k * md->in + c];
                }
        worst = fmax(worst, fmax(vkt_rel_norm_err(g + ea->offset, da, ea->numel),
                                 vkt_rel_norm_err(g + eb->offset, db, eb->numel)));
        free(da), free(db);
    }
    printf("   %s adapter gradients: worst relative error in norm %.2e (bound 1e-4)\n", name, worst);
    if (!(worst <= 1e-4)) vkt_test_fail(t, "%s: adapter gradients off by %.3e", name, worst);

    /* Training: the loss falls, the stored base does not move. */
    size_t nb;
    unsigned char *blobs = download_blobs(t, m, &nb);
    vkt_rec *z;
    VKT_TEST_TRY(t, vkt_rec_create(t->dev, 0, &z));
    VKT_TEST_TRY(t, vkt_rec_begin(z));
    VKT_TEST_TRY(t, vkt_lora_record_zero_grads(l, z));
    VKT_TEST_TRY(t, vkt_rec_end(z));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(z));
    vkt_rec_destroy(z);
    vkt_trainable tr = {.table = &l->table, .params = l->params, .grads = l->grads};
    vkt_step_cfg sc = {.adamw = vkt_adamw_cfg_default(), .max_grad_norm = 1.0f, .accum = 1, .total_steps = 20,
                       .schedule = {.lr_max = 1e-2, .lr_min = 1e-2, .total = 20}, .train = &tr};
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
    size_t nb2;
    unsigned char *blobs2 = download_blobs(t, m, &nb2);
    float *after = malloc((size_t)total * sizeof *after);
    VKT_TEST_TRY(t, vkt_model_download_params(m, after));
    bool same = nb == nb2 && memcmp(blobs, blobs2, nb) == 0 && memcmp(after, down, (size_t)total * 4) == 0;
    printf("   %s 20 adapter steps: loss %.5f -> %.5f, %zu blob bytes and the f32 tensors %s\n", name, first, last, nb,
           same ? "bit-identical" : "CHANGED");
    if (!same) vkt_test_fail(t, "%s: the stored base changed during training", name);
    if (!(last < first - 0.05)) vkt_test_fail(t, "%s: loss did not fall (%.5f -> %.5f)", name, first, last);

    free(blobs), free(blobs2), free(after), free(g), free(logits), free(ref_logits), free(ref_g), free(merged);
    free(ad), free(deq), free(down), free(w);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
}

static void expect_arg(vkt_test *t, const char *what, const char *method, const char *fmt, vkt_status want) {
    vkt_run_config c;
    vkt_run_config_defaults(&c);
    const char *sets[] = {"finetune.target_modules=all-linear", "model.n_layer=2"};
    for (size_t i = 0; i < 2; i++) vkt_run_config_set(&c, sets[i]);
    snprintf(c.ft_method, sizeof c.ft_method, "%s", method);
    snprintf(c.ft_base_format, sizeof c.ft_base_format, "%s", fmt);
    vkt_status s = vkt_finetune_check(&c);
    printf("-- finetune.method %s, base_format \"%s\" (%s): %s\n", method, fmt, what, vkt_status_name(s));
    if (s != want) vkt_test_fail(t, "%s: got %s, expected %s", what, vkt_status_name(s), vkt_status_name(want));
    vkt_run_config_free(&c);
}

static void check_refusals(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model_opts mo = {.mode = VKT_MODEL_TRAIN, .base_format = VKT_QFORMAT_NF4};
    vkt_model *m = NULL;
    vkt_status s = vkt_model_create_opts(t->dev, &cfg, 1, 4, &mo, &m);
    printf("-- a trainable model over an nf4 base: %s\n", vkt_status_name(s));
    if (s != VKT_ERR_ARG) vkt_test_fail(t, "TRAIN + nf4: got %s, expected VKT_ERR_ARG", vkt_status_name(s));
    vkt_model_destroy(m);
    expect_arg(t, "unknown format", "lora", "nf5", VKT_ERR_ARG);
    expect_arg(t, "case matters", "qlora", "NF4", VKT_ERR_ARG);
    expect_arg(t, "full over nf4", "full", "nf4", VKT_ERR_ARG);
    expect_arg(t, "qlora default", "qlora", "", VKT_OK);
    expect_arg(t, "lora over int8", "lora", "int8", VKT_OK);
    vkt_run_config c;
    vkt_run_config_defaults(&c);
    vkt_run_config_set(&c, "finetune.target_modules=all-linear");
    snprintf(c.ft_method, sizeof c.ft_method, "qlora");
    vkt_qformat f;
    VKT_TEST_TRY(t, vkt_finetune_base_format(&c, &f));
    if (f != VKT_QFORMAT_NF4) vkt_test_fail(t, "qlora's default base is %s, not nf4", vkt_qformat_name(f));
    /* The plan's base bytes and its refusal before allocation. */
    c.batch_size = 1, c.seq_len = 8;
    vkt_ft_plan p;
    VKT_TEST_TRY(t, vkt_ft_plan_make(t->dev, &c, &cfg, f, &p));
    vkt_ft_plan_print(&p);
    vkt_model_bytes mb;
    vkt_model_opts fo = {.mode = VKT_MODEL_FROZEN, .base_format = f};
    VKT_TEST_TRY(t, vkt_model_plan_bytes(t->dev, &cfg, 1, 8, &fo, &mb));
    if (p.base_linear != mb.linear || p.trainable <= 0 || p.total <= p.base_linear)
        vkt_test_fail(t, "plan: base %zu (model %zu), trainable %lld, total %zu", p.base_linear, mb.linear,
                      (long long)p.trainable, p.total);
    if (vkt_ft_plan_check(&p, &c) != VKT_OK) vkt_test_fail(t, "a tiny plan does not fit the device");
    p.heap = p.total - 1;
    s = vkt_ft_plan_check(&p, &c);
    printf("-- a plan one byte over the heap: %s\n", vkt_status_name(s));
    if (s != VKT_ERR_OOM) vkt_test_fail(t, "over-heap plan: got %s, expected VKT_ERR_OOM", vkt_status_name(s));
    vkt_run_config_free(&c);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "qlora");
    vkt_model_config llama = vkt_test_tiny_llama(), gpt2 = vkt_test_tiny_gpt2();
    const vkt_qformat fmts[] = {VKT_QFORMAT_F16, VKT_QFORMAT_BF16, VKT_QFORMAT_INT8, VKT_QFORMAT_NF4};
    for (int i = 0; i < 4; i++) check(&t, "llama", &llama, fmts[i]);
    check(&t, "gpt2", &gpt2, VKT_QFORMAT_NF4);
    check(&t, "gpt2", &gpt2, VKT_QFORMAT_INT8);
    check_refusals(&t);
    return vkt_test_finish(&t);
}
