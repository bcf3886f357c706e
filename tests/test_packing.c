/* Packing end to end: one row holding examples e1, e2, e3 (odd lengths 13, 7, 3, then 9 padding positions
 * with target -100) must train exactly as the three examples each alone in its own row, for a tiny GPT-2
 * (learned positions) and a tiny LLaMA (RoPE, GQA), causal and bidirectional, full training and LoRA.
 *
 * "Alone" is the purest oracle: one model per example whose T is the example's length, so no padding and
 * no mask is involved there. Each device pass gives the mean loss over its own targets, so the sums are
 * compared: per-position losses position by position, the summed loss, and every gradient as
 * sum_k n_k g_k (n_k: example k's targets) against N g_packed. The packed pass is also checked against
 * the double reference (vkt_ref_model_loss_packed), and a pass over the same row with the document starts
 * zeroed (no masking, positions not restarted) must differ: the test can fail.
 *
 * Tolerances (f32 on both sides, different reduction orders: row counts and tiles differ between a 32-row
 * pass and 13-, 7- and 3-row passes): per-position loss |a - b| <= 1e-5 (1 + |b|); summed loss 1e-5
 * relative; gradients 1e-5 relative in norm per tensor; against the double reference 1e-5 (loss) and 1e-4
 * (gradients, the bound of test_model). Measured (default seed): position gaps <= 6e-8, summed loss 1e-7,
 * gradients <= 1.7e-6 (LoRA) and 8e-7 (full). Ignoring seg_start must move e2's losses by more than 1e-4,
 * ten times the tolerance (measured >= 2.6e-3 over seeds 1-10: these tiny random models predict nearly
 * uniformly, so context changes a loss by little; the adapters' larger scale gives ~8e-2).
 * Also: the step's batch interface (vkt_step_fill_batch) zeroes seg_start before every fill and refuses a
 * malformed table. */
#include <string.h>

#include "finetune/lora.h"
#include "harness.h"
#include "model_testutil.h"
#include "ops/seg_start.h"
#include "ops/xent.h"
#include "ref/ref_model.h"
#include "sched/step.h"

#define T_PACKED 32
#define N_EX     3
static const int64_t LEN[N_EX] = {13, 7, 3};

/* One example: its tokens and targets (prompt positions -100, as in SFT). */
typedef struct {
    int32_t tok[T_PACKED], tgt[T_PACKED];
    int64_t len;
} example;

/* What one device pass gives. */
typedef struct {
    float *losses;   /* (B*T) per-position losses (0 where the target is -100) */
    double loss_sum; /* sum over the targets that count */
    int64_t n_valid;
    float *grads; /* the trained set's gradients: the model's, or the adapter's (LoRA) */
    int64_t n_grads;
} pass_out;

typedef struct {
    const vkt_model_config *cfg;
    const float *params;    /* base parameters (table layout) */
    const vkt_lora_cfg *lc; /* NULL: full training */
    const float *adapter;   /* LoRA: the adapter's parameters, the same in every pass (NULL: its own init) */
    bool bidirectional;
} setup;

static void free_out(pass_out *o) { free(o->losses), free(o->grads); }

/* Forward and backward of one batch (B, T) on a fresh model. */
static pass_out run_pass(vkt_test *t, const setup *su, int64_t B, int64_t T, const int32_t *tok, const int32_t *tgt,
                         const int32_t *seg) {
    vkt_model *m;
    vkt_lora *l = NULL;
    VKT_TEST_TRY(t,
                 vkt_model_create_mode(t->dev, su->cfg, B, T, su->lc ? VKT_MODEL_FROZEN : VKT_MODEL_TRAIN, false, &m));
    VKT_TEST_TRY(t, vkt_model_upload_params(m, su->params));
    if (su->lc) {
        VKT_TEST_TRY(t, vkt_lora_create(m, su->lc, &l));
        if (su->adapter) VKT_TEST_TRY(t, vkt_lora_upload(l, su->adapter));
        vkt_lora_attach(l);
    }
    const size_t bytes = (size_t)(B * T) * sizeof(int32_t);
    memcpy(vkt_model_slot_tokens(m, 0), tok, bytes);
    memcpy(vkt_model_slot_targets(m, 0), tgt, bytes);
    memcpy(vkt_model_slot_seg_start(m, 0), seg, bytes);
    vkt_model_use_slot(m, 0);
    m->bidirectional = su->bidirectional;
    VKT_TEST_TRY(t, vkt_test_model_pass(m, t->rec, VKT_FWD_LOSS_GRAD));
    const vkt_xent_stats *st = (const vkt_xent_stats *)vkt_model_slot_stats(m, 0);
    pass_out o = {.losses = vkt_test_download(t, &m->losses), .loss_sum = st->loss_sum, .n_valid = st->n_valid};
    o.grads = vkt_test_download(t, l ? &l->grads : &m->grads);
    o.n_grads = l ? l->table.total : m->table.total;
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
    return o;
}

static void make_examples(vkt_test *t, int64_t V, example ex[N_EX]) {
    for (int k = 0; k < N_EX; k++) {
        ex[k].len = LEN[k];
        for (int64_t i = 0; i < LEN[k]; i++) {
            ex[k].tok[i] = (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
            /* The first two positions of e1 are a prompt (no loss); e3's single middle one too. */
            bool prompt = (k == 0 && i < 2) || (k == 2 && i == 1);
            ex[k].tgt[i] = prompt ? -100 : (int32_t)vkt_rng_below(&t->rng, (uint32_t)V);
        }
    }
}

/* The packed row [e1 | e2 | e3 | padding] and its document starts (the padding is a document of its own). */
static void pack(const example ex[N_EX], int32_t *tok, int32_t *tgt, int32_t *seg) {
    int64_t t = 0;
    for (int k = 0; k < N_EX; k++, t += ex[k - 1].len) {
        memcpy(tok + t, ex[k].tok, (size_t)ex[k].len * sizeof *tok);
        memcpy(tgt + t, ex[k].tgt, (size_t)ex[k].len * sizeof *tgt);
    }
    for (int64_t i = t; i < T_PACKED; i++) tok[i] = (int32_t)(i % 5), tgt[i] = -100;
    int64_t lengths[N_EX] = {LEN[0], LEN[1], LEN[2]};
    if (vkt_seg_start_from_lengths(seg, T_PACKED, lengths, N_EX) != VKT_OK) abort();
}

/* Largest |a - b| / (1 + |b|) over the positions of example k inside the packed row. */
static double loss_gap(const float *packed, const float *alone, int64_t start, int64_t len) {
    double worst = 0;
    for (int64_t i = 0; i < len; i++)
        worst = fmax(worst, fabs((double)packed[start + i] - alone[i]) / (1 + fabs((double)alone[i])));
    return worst;
}

static void check_case(vkt_test *t, const char *name, const setup *su, const vkt_param_table *table) {
    example ex[N_EX];
    make_examples(t, su->cfg->vocab_size, ex);
    int32_t tok[T_PACKED], tgt[T_PACKED], seg[T_PACKED], zeros[T_PACKED] = {0};
    pack(ex, tok, tgt, seg);

    pass_out packed = run_pass(t, su, 1, T_PACKED, tok, tgt, seg), alone[N_EX];
    for (int k = 0; k < N_EX; k++) alone[k] = run_pass(t, su, 1, ex[k].len, ex[k].tok, ex[k].tgt, zeros);

    /* Per-position and summed losses. */
    double worst_pos = 0, sum_alone = 0;
    int64_t n_alone = 0, start = 0;
    for (int k = 0; k < N_EX; start += ex[k].len, k++) {
        worst_pos = fmax(worst_pos, loss_gap(packed.losses, alone[k].losses, start, ex[k].len));
        sum_alone += alone[k].loss_sum, n_alone += alone[k].n_valid;
    }
    for (int64_t i = start; i < T_PACKED; i++)
        if (packed.losses[i] != 0) worst_pos = INFINITY; /* padding carries no loss */
    double sum_err = fabs(packed.loss_sum - sum_alone) / fabs(sum_alone);
    printf("   %-28s per-position loss gap %.2e (bound 1e-5), summed loss %.6f vs %.6f alone (rel %.2e), "
           "targets %lld vs %lld\n",
           name, worst_pos, packed.loss_sum, sum_alone, sum_err, (long long)packed.n_valid, (long long)n_alone);
    if (!(worst_pos <= 1e-5))
        vkt_test_fail(t, "%s: per-position losses differ from the examples alone by %.3e", name, worst_pos);
    if (!(sum_err <= 1e-5) || packed.n_valid != n_alone)
        vkt_test_fail(t, "%s: summed loss %.9g over %lld targets, alone %.9g over %lld", name, packed.loss_sum,
                      (long long)packed.n_valid, sum_alone, (long long)n_alone);

    /* Gradients of the summed loss: N g_packed against sum_k n_k g_k, tensor by tensor. */
    double *g_sum = calloc((size_t)packed.n_grads, sizeof *g_sum);
    float *g_packed = malloc((size_t)packed.n_grads * sizeof *g_packed);
    for (int k = 0; k < N_EX; k++)
        for (int64_t i = 0; i < packed.n_grads; i++) g_sum[i] += (double)alone[k].n_valid * alone[k].grads[i];
    for (int64_t i = 0; i < packed.n_grads; i++) g_packed[i] = (float)((double)packed.n_valid * packed.grads[i]);
    double worst_g = 0;
    const char *worst_name = "";
    for (int i = 0; i < table->n; i++) {
        const vkt_param *e = &table->p[i];
        double err = vkt_rel_norm_err(g_packed + e->offset, g_sum + e->offset, e->numel);
        if (!(err <= worst_g)) worst_g = err, worst_name = e->name;
    }
    printf("   %-28s gradients: %d tensors, worst relative error in norm %.2e (%s; bound 1e-5)\n", name, table->n,
           worst_g, worst_name);
    if (!(worst_g <= 1e-5))
        vkt_test_fail(t, "%s: gradient of %s differs from the examples alone by %.3e in norm", name, worst_name,
                      worst_g);

    /* The same row with its document starts ignored: the later examples must see different losses. */
    pass_out mixed = run_pass(t, su, 1, T_PACKED, tok, tgt, zeros);
    double gap_ignored = loss_gap(mixed.losses, alone[1].losses, LEN[0], LEN[1]);
    printf("   %-28s with seg_start ignored: e2's loss gap %.2e (must be > 1e-4)\n", name, gap_ignored);
    if (!(gap_ignored > 1e-4)) vkt_test_fail(t, "%s: ignoring seg_start changes nothing (gap %.3e)", name, gap_ignored);
    free_out(&mixed);

    free(g_sum), free(g_packed);
    free_out(&packed);
    for (int k = 0; k < N_EX; k++) free_out(&alone[k]);
}

/* The packed pass against the double reference over the same packed row (full training only). */
static void check_reference(vkt_test *t, const char *name, const setup *su, const vkt_param_table *table) {
    example ex[N_EX];
    make_examples(t, su->cfg->vocab_size, ex);
    int32_t tok[T_PACKED], tgt[T_PACKED], seg[T_PACKED];
    pack(ex, tok, tgt, seg);
    pass_out o = run_pass(t, su, 1, T_PACKED, tok, tgt, seg);
    double *p = vkt_test_to_double(su->params, (size_t)table->total), *g = malloc((size_t)table->total * sizeof *g);
    double ref = vkt_ref_model_loss_packed(su->cfg, table, p, tok, tgt, seg, 1, T_PACKED, su->bidirectional, NULL, g);
    double lerr = fabs(o.loss_sum / (double)o.n_valid - ref) / fabs(ref), worst = 0;
    for (int i = 0; i < table->n; i++)
        worst = fmax(worst, vkt_rel_norm_err(o.grads + table->p[i].offset, g + table->p[i].offset, table->p[i].numel));
    printf("   %-28s vs double reference: loss rel %.2e (bound 1e-5), gradients worst %.2e (bound 1e-4)\n", name, lerr,
           worst);
    if (!(lerr <= 1e-5) || !(worst <= 1e-4))
        vkt_test_fail(t, "%s: packed pass vs reference: loss %.3e, gradients %.3e", name, lerr, worst);
    free(p), free(g);
    free_out(&o);
}

/* Random weights with perturbed norms and biases (so every term counts), as test_model does, in the
 * layout of *holder's table (a 1 x 1 model kept for it). */
static float *random_params(vkt_test *t, const vkt_model_config *cfg, vkt_model **holder) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, 1, 1, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    float *p = malloc((size_t)m->table.total * sizeof *p);
    VKT_TEST_TRY(t, vkt_model_download_params(m, p));
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        if (e->rows == 1)
            for (int64_t k = 0; k < e->numel; k++) p[e->offset + k] += (float)(0.1 * vkt_rng_normal(&t->rng));
    }
    *holder = m;
    return p;
}

static void check_arch(vkt_test *t, const char *arch, const vkt_model_config *cfg) {
    vkt_model *holder;
    float *params = random_params(t, cfg, &holder);
    char name[64];
    for (int bidir = 0; bidir < 2; bidir++) {
        setup su = {.cfg = cfg, .params = params, .bidirectional = bidir};
        snprintf(name, sizeof name, "%s %s", arch, bidir ? "bidirectional" : "causal");
        check_case(t, name, &su, &holder->table);
        check_reference(t, name, &su, &holder->table);
    }
    /* LoRA over the frozen base, adapters on every linear layer, started non-zero (B = 0 would leave A's
     * gradient 0). Every pass gets the first pass's adapter values. */
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 3, lc.lora_alpha = 6, lc.init = VKT_LORA_INIT_NONE, lc.seed = 11, lc.all_linear = true;
    vkt_model *m;
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, cfg, 1, 1, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    float *adapter = malloc((size_t)l->table.total * sizeof *adapter);
    VKT_TEST_TRY(t, vkt_lora_download(l, adapter));
    setup su = {.cfg = cfg, .params = params, .lc = &lc, .adapter = adapter};
    snprintf(name, sizeof name, "%s LoRA causal", arch);
    check_case(t, name, &su, &l->table);
    vkt_lora_destroy(l);
    vkt_model_destroy(m);
    free(adapter), free(params);
    vkt_model_destroy(holder);
}

/* The step's batch interface: seg_start arrives zeroed, a packing filler's table is kept, a bad one is
 * refused with VKT_ERR_ARG. */
typedef struct {
    int mode; /* 0: leave seg_start alone, 1: pack two documents, 2: write a malformed table */
    int32_t seen_first;
} filler;

static vkt_status fill(void *ctx, const vkt_batch *b) {
    filler *f = ctx;
    for (int i = 0; i < 8; i++) b->tokens[i] = i, b->targets[i] = i + 1;
    f->seen_first = b->seg_start[5];
    if (f->mode == 1)
        for (int i = 3; i < 8; i++) b->seg_start[i] = 3;
    if (f->mode == 2) b->seg_start[4] = 2; /* neither 4 nor the previous entry */
    return VKT_OK;
}

static void check_interface(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, &cfg, 1, 8, false, &m));
    filler f = {.mode = 1};
    VKT_TEST_TRY(t, vkt_step_fill_batch(m, 0, fill, &f));
    const int32_t *seg = vkt_model_slot_seg_start(m, 0);
    bool kept = seg[2] == 0 && seg[3] == 3 && seg[7] == 3;
    f.mode = 0;
    VKT_TEST_TRY(t, vkt_step_fill_batch(m, 0, fill, &f));
    bool zeroed = f.seen_first == 0 && seg[7] == 0;
    f.mode = 2;
    printf("   expected error next:\n");
    vkt_status bad = vkt_step_fill_batch(m, 0, fill, &f);
    printf("   batch interface: packing filler's table kept %s, zeroed before the next fill %s, malformed table "
           "refused %s\n",
           kept ? "yes" : "NO", zeroed ? "yes" : "NO", bad == VKT_ERR_ARG ? "yes" : "NO");
    if (!kept || !zeroed || bad != VKT_ERR_ARG)
        vkt_test_fail(t, "vkt_step_fill_batch: kept %d zeroed %d bad table -> %s", kept, zeroed, vkt_status_name(bad));
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "packing");
    vkt_model_config gpt2 = vkt_test_tiny_gpt2(), llama = vkt_test_tiny_llama();
    check_arch(&t, "gpt2", &gpt2);
    check_arch(&t, "llama", &llama);
    check_interface(&t);
    return vkt_test_finish(&t);
}
