/* The preference micro-batch (sched/pref_step.h) on tiny models against the whole-model double reference:
 * a packed batch of pairs (sft/pref_pack.h over synthetic tokenized pairs), the step program recorded as the
 * trainer records it, and in double: the reference model's per-position losses -> sequence log-probs ->
 * the pair loss (ref/ref_pref.h) -> per-position weights -> the model's weighted backward
 * (vkt_ref_model_weighted).
 *  - full fine-tuning (precomputed reference: the reference pass runs over other weights first, its
 *    log-probs checked), DPO sigmoid, DPO robust with label smoothing, IPO and ORPO on LLaMA (GQA) and DPO on
 *    GPT-2: loss, TRL metrics and every parameter gradient; the double chain against central differences;
 *  - LoRA (reference = the base with the adapters detached, on the device): the reference pass gives the
 *    base model's logits and log-probs bit for bit with a non-zero adapter attached; the adapter gradients
 *    against s B^T dW and s dW A^T of the reference's dW of the merged weights;
 *  - policy == reference (LoRA's B = 0 start, f32 and NF4 bases): DPO gives ln 2 and zero rewards, margins
 *    and accuracy, exactly.
 * Bounds: loss and metrics 1e-5 relative (atol 1e-3 for the loss; 1e-2 for the metrics: a margin is the
 * difference of two rewards of O(1) that each carry ~1e-7 of f32 rounding, measured 1.1e-5 relative to a
 * 0.01 ORPO margin with atol 1e-3), gradients 1e-4 relative in norm per
 * tensor (as test_model.c; measured ~1e-6), the double chain against finite differences 1e-4 (as
 * test_op_pref_chain.c). */
#include <string.h>

#include "finetune/lora.h"
#include "harness.h"
#include "lora_testutil.h"
#include "model_testutil.h"
#include "pref_testutil.h"
#include "ref/ref_model.h"
#include "ref/ref_pref.h"
#include "ref/ref_seq.h"
#include "sched/pref_step.h"
#include "sft/pref_pack.h"

enum { B = 2, T = 16, N_PAIRS = 3 };

/* N_PAIRS pairs of random sequences (a shared prompt of 1-3 tokens, completions of 1-5) below V. */
static void make_pairs(vkt_rng *rng, int64_t V, vkt_pref_tokenized *d) {
    memset(d, 0, sizeof *d);
    d->n_pairs = N_PAIRS;
    d->ids = malloc(2 * N_PAIRS * 9 * sizeof *d->ids), d->loss = malloc(2 * N_PAIRS * 9);
    d->start = malloc((2 * N_PAIRS + 1) * sizeof *d->start), d->n_prompt = malloc(2 * N_PAIRS * sizeof *d->n_prompt);
    d->source = malloc(N_PAIRS * sizeof *d->source);
    int64_t n = 0;
    for (int64_t i = 0; i < N_PAIRS; i++) {
        int64_t np = 1 + vkt_rng_below(rng, 3);
        int32_t prompt[3];
        for (int64_t k = 0; k < np; k++) prompt[k] = (int32_t)vkt_rng_below(rng, (uint32_t)V);
        for (int side = 0; side < 2; side++) {
            int64_t s = 2 * i + side, nc = 1 + vkt_rng_below(rng, 5);
            d->start[s] = n, d->n_prompt[s] = np;
            for (int64_t k = 0; k < np; k++) d->ids[n] = prompt[k], d->loss[n++] = 0;
            for (int64_t k = 0; k < nc; k++) d->ids[n] = (int32_t)vkt_rng_below(rng, (uint32_t)V), d->loss[n++] = 1;
            if (side == 1) d->ids[n - 1] = (d->ids[d->start[s - 1] + np] + 1) % (int32_t)V; /* differ from chosen */
        }
        d->source[i] = i;
    }
    d->start[2 * N_PAIRS] = n, d->n_tokens = n;
}

/* Fills every batch with the packer's first batch (the same pairs each time) and, in HOST mode, the given
 * reference log-probs. */
typedef struct {
    vkt_pref_pack pack;
    const float *ref; /* (S) or NULL */
    int64_t S;
} filler;

static vkt_status fill(void *ctx, const vkt_batch *b) {
    filler *f = ctx;
    vkt_pref_slot *s = b->aux;
    vkt_pref_pack_state st = vkt_pref_pack_get_state(&f->pack);
    st.epoch = 0, st.batch = 0;
    VKT_TRY(vkt_pref_pack_set_state(&f->pack, &st));
    vkt_pref_batch pb = {b->tokens, b->targets, b->seg_start, s->seq_id, s->pairs, s->pair_index, NULL, 0};
    VKT_TRY(vkt_pref_pack_next(&f->pack, &pb));
    s->n_pairs = pb.n_pairs;
    if (s->ref && f->ref) memcpy(s->ref, f->ref, (size_t)f->S * sizeof *s->ref);
    return VKT_OK;
}

/* The batch as the model's slot 0 and the step's slot hold it, for the double reference. */
typedef struct {
    const vkt_model_config *cfg;
    const vkt_param_table *table;
    const int32_t *tokens, *targets, *seg, *seq_id, *pairs;
    int64_t P, S;
    vkt_ref_pref_params o;
    const double *ref; /* (S) reference log-probs or NULL */
} chain;

/* Per-sequence (log p, count) of params over the batch. */
static void seq_logps(const chain *c, const double *params, double *out) {
    double *losses = malloc((size_t)(B * T) * sizeof *losses);
    vkt_ref_model_weighted(c->cfg, c->table, params, c->tokens, c->targets, c->seg, B, T, NULL, losses, NULL);
    vkt_ref_seq_sum(losses, 1, c->seq_id, B * T, -1.0, out, c->S);
    free(losses);
}

/* The objective in double; with grads, its gradient through the chain the device runs. */
static double chain_loss(const chain *c, const double *params, double *grads, vkt_ref_pref_stats *st) {
    double *pol = malloc((size_t)(2 * c->S) * sizeof *pol), *dseq = malloc((size_t)c->S * sizeof *dseq);
    seq_logps(c, params, pol);
    double loss = vkt_ref_pref_loss(&c->o, pol, 2, c->ref, 1, c->pairs, NULL, c->P, c->S, NULL, dseq, st);
    if (grads) {
        double *w = malloc((size_t)(B * T) * sizeof *w), *losses = malloc((size_t)(B * T) * sizeof *losses);
        vkt_ref_seq_scatter(dseq, c->S, c->seq_id, NULL, B * T, w);
        vkt_ref_model_weighted(c->cfg, c->table, params, c->tokens, c->targets, c->seg, B, T, w, losses, grads);
        free(w), free(losses);
    }
    free(pol), free(dseq);
    return loss;
}

static double chain_f(const double *x, void *ctx) { return chain_loss(ctx, x, NULL, NULL); }

static chain chain_of(const vkt_model *m, vkt_pref_step *ps, const vkt_pref_opts *o, const double *ref) {
    const vkt_pref_slot *s = vkt_pref_step_program(ps)->slot_aux(vkt_pref_step_program(ps)->ctx, 0);
    int64_t P = vkt_pref_step_cfg_of(ps)->max_pairs;
    return (chain){.cfg = &m->cfg,
                   .table = &m->table,
                   .tokens = vkt_model_slot_tokens(m, 0),
                   .targets = vkt_model_slot_targets(m, 0),
                   .seg = vkt_model_slot_seg_start(m, 0),
                   .seq_id = s->seq_id,
                   .pairs = s->pairs,
                   .P = P,
                   .S = 2 * P,
                   .o = {(int)o->type, o->beta, o->label_smoothing, o->orpo_lambda, 0, 1.0},
                   .ref = ref};
}

/* One training micro-batch of the program into slot 0 (gradients zeroed first, dloss 1); *out its metrics. */
static void run_micro(vkt_test *t, vkt_model *m, vkt_lora *l, vkt_pref_step *ps, filler *f, vkt_step_micro *out) {
    const vkt_step_program *p = vkt_pref_step_program(ps);
    m->dloss = 1.0f;
    VKT_TEST_TRY(t, vkt_step_fill_batch_aux(m, 0, p->slot_aux(p->ctx, 0), fill, f));
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, vkt_model_record_zero_grads(m, t->rec));
    if (l) VKT_TEST_TRY(t, vkt_lora_record_zero_grads(l, t->rec));
    VKT_TEST_TRY(t, p->record(p->ctx, m, t->rec, 0, true));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
    p->read(p->ctx, m, 0, out);
}

/* Loss and TRL metrics of the device against the double reference. */
static void check_metrics(vkt_test *t, const char *name, const vkt_step_micro *got, double loss,
                          const vkt_ref_pref_stats *st, bool orpo) {
    char what[128];
    const double want[9] = {st->rewards_chosen,     st->rewards_rejected, st->rewards_margins,
                            st->rewards_accuracies, st->logps_chosen,     st->logps_rejected,
                            st->nll_loss,           st->log_odds_ratio,   st->log_odds_chosen};
    static const char *const names[9] = {"rewards/chosen",     "rewards/rejected", "rewards/margins",
                                         "rewards/accuracies", "logps/chosen",     "logps/rejected",
                                         "nll_loss",           "log_odds_ratio",   "log_odds_chosen"};
    snprintf(what, sizeof what, "%s loss", name);
    pt_check_scalar(t, what, got->loss, loss, 1e-3, 1e-5);
    for (int i = 0; i < (orpo ? 9 : 6); i++) {
        snprintf(what, sizeof what, "%s %s", name, names[i]);
        pt_check_scalar(t, what, got->metrics[i], want[i], 1e-2, 1e-5);
    }
    if (got->weight != (double)st->n_pairs)
        vkt_test_fail(t, "%s: %g pairs, want %lld", name, got->weight, (long long)st->n_pairs);
}

/* Worst per-tensor relative error in norm of g against r over a table; fails above 1e-4. */
static void check_grads(vkt_test *t, const char *name, const vkt_param_table *tab, const float *g, const double *r) {
    double worst = 0;
    int at = 0;
    for (int i = 0; i < tab->n; i++) {
        double e = vkt_rel_norm_err(g + tab->p[i].offset, r + tab->p[i].offset, tab->p[i].numel);
        if (!(e <= worst)) worst = e, at = i;
    }
    printf("   %s gradients: %d tensors, worst relative error in norm %.2e (%s; bound 1e-4)\n", name, tab->n, worst,
           tab->p[at].name);
    if (!(worst <= 1e-4)) vkt_test_fail(t, "%s: gradient of %s off by %.3e in norm", name, tab->p[at].name, worst);
}

static void init_pack(vkt_test *t, const vkt_model_config *cfg, vkt_pref_tokenized *d, filler *f) {
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 3);
    make_pairs(&rng, cfg->vocab_size, d);
    vkt_pref_pack_opts po = {.data = d, .B = B, .T = T, .pack = true, .seed = t->seed};
    VKT_TEST_TRY(t, vkt_pref_pack_init(&f->pack, &po));
}

/* Full fine-tuning: the reference log-probs come from other weights through the reference pass (HOST). */
static void check_full(vkt_test *t, const char *name, const vkt_model_config *cfg, vkt_pref_loss_type type) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, B, T, true, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    int64_t total = m->table.total;
    float *policy = malloc((size_t)total * 4), *refw = malloc((size_t)total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, policy));
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 11);
    for (int64_t i = 0; i < total; i++) refw[i] = policy[i] + (float)(0.02 * vkt_rng_normal(&rng));
    vkt_pref_tokenized d;
    filler f = {0};
    init_pack(t, cfg, &d, &f);
    vkt_pref_opts o = vkt_pref_opts_default(type);
    if (type == VKT_PREF_DPO_ROBUST) o.label_smoothing = 0.1f;
    o.beta = 0.5f, o.orpo_lambda = 0.3f;
    bool orpo = type == VKT_PREF_ORPO;
    vkt_pref_step_cfg pc = {
        .loss = o, .ref = orpo ? VKT_PREF_REF_NONE : VKT_PREF_REF_HOST, .max_pairs = vkt_pref_pack_max_pairs(&f.pack)};
    vkt_pref_step *ps;
    VKT_TEST_TRY(t, vkt_pref_step_create(m, &pc, &ps));
    int64_t S = 2 * pc.max_pairs;
    float *ref = calloc((size_t)S, sizeof *ref);
    double *ref_d = calloc((size_t)S, sizeof *ref_d), *refw_d = vkt_test_to_double(refw, (size_t)total);
    printf("-- %s: %lld pairs in the batch rows, S %lld\n", name, (long long)N_PAIRS, (long long)S);
    if (!orpo) { /* the reference pass with the reference weights, checked against the double model */
        VKT_TEST_TRY(t, vkt_model_upload_params(m, refw));
        const vkt_pref_slot *slot;
        VKT_TEST_TRY(t, vkt_pref_step_reference(ps, fill, &f, ref, &slot));
        chain c = chain_of(m, ps, &o, NULL);
        double *seq = malloc((size_t)(2 * S) * sizeof *seq);
        seq_logps(&c, refw_d, seq);
        for (int64_t s = 0; s < S; s++) ref_d[s] = seq[2 * s];
        double e = vkt_rel_norm_err(ref, ref_d, S);
        printf("   %s reference pass: %d pairs, log-probs relative error in norm %.2e (bound 1e-5)\n", name,
               slot->n_pairs, e);
        if (!(e <= 1e-5)) vkt_test_fail(t, "%s: reference log-probs off by %.3e", name, e);
        free(seq);
        VKT_TEST_TRY(t, vkt_model_upload_params(m, policy));
    }
    f.ref = ref, f.S = S;
    vkt_step_micro got;
    run_micro(t, m, NULL, ps, &f, &got);
    chain c = chain_of(m, ps, &o, orpo ? NULL : ref_d);
    double *pol_d = vkt_test_to_double(policy, (size_t)total), *g_ref = malloc((size_t)total * 8);
    vkt_ref_pref_stats st;
    double loss = chain_loss(&c, pol_d, g_ref, &st);
    check_metrics(t, name, &got, loss, &st, orpo);
    float *g = vkt_test_download(t, &m->grads);
    check_grads(t, name, &m->table, g, g_ref);
    char what[96];
    snprintf(what, sizeof what, "%s double chain", name);
    vkt_check_fd(t, what, chain_f, pol_d, g_ref, (size_t)total, &c, 1e-4);
    free(g), free(pol_d), free(g_ref), free(ref), free(ref_d), free(refw_d), free(policy), free(refw);
    vkt_pref_step_destroy(ps);
    vkt_pref_pack_free(&f.pack);
    vkt_pref_tokenized_free(&d);
    vkt_model_destroy(m);
}

/* LoRA: the reference is the base with the adapters detached, on the device (MODEL). */
static void check_lora(vkt_test *t, const vkt_model_config *cfg) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, cfg, B, T, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    float *base = malloc((size_t)m->table.total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, base));
    vkt_pref_tokenized d;
    filler f = {0};
    init_pack(t, cfg, &d, &f);
    vkt_pref_opts o = vkt_pref_opts_default(VKT_PREF_DPO_SIGMOID);
    o.beta = 0.5f;
    vkt_pref_step_cfg pc = {.loss = o, .ref = VKT_PREF_REF_MODEL, .max_pairs = vkt_pref_pack_max_pairs(&f.pack)};
    vkt_pref_step *ps;
    VKT_TEST_TRY(t, vkt_pref_step_create(m, &pc, &ps));
    int64_t S = 2 * pc.max_pairs, BTV = B * T * cfg->vocab_size;
    printf("-- LoRA (llama, DPO, reference on the device)\n");

    /* The reference pass of the bare base, then with a non-zero adapter attached: bit for bit. */
    float *ref0 = calloc((size_t)S, 4), *ref1 = calloc((size_t)S, 4);
    const vkt_pref_slot *slot;
    VKT_TEST_TRY(t, vkt_pref_step_reference(ps, fill, &f, ref0, &slot));
    float *logits0 = vkt_test_download(t, &m->logits);
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.lora_alpha = 8, lc.all_linear = true, lc.init = VKT_LORA_INIT_NONE, lc.seed = t->seed;
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    VKT_TEST_TRY(t, vkt_pref_step_reference(ps, fill, &f, ref1, &slot));
    float *logits1 = vkt_test_download(t, &m->logits);
    bool same = !memcmp(ref0, ref1, (size_t)S * 4) && !memcmp(logits0, logits1, (size_t)BTV * 4);
    printf("   reference pass with the adapter attached vs the bare base: logits and log-probs %s\n",
           same ? "identical" : "DIFFER");
    if (!same) vkt_test_fail(t, "the reference pass with adapters attached differs from the base model");

    /* A training micro-batch: the policy is the merged model, the reference the base. */
    vkt_step_micro got;
    run_micro(t, m, l, ps, &f, &got);
    double *base_d = vkt_test_to_double(base, (size_t)m->table.total), *merged = lora_test_merge(t, m, l, base);
    double *seq = malloc((size_t)(2 * S) * 8), *ref_d = malloc((size_t)S * 8);
    chain c = chain_of(m, ps, &o, NULL);
    seq_logps(&c, base_d, seq);
    for (int64_t s = 0; s < S; s++) ref_d[s] = seq[2 * s];
    c.ref = ref_d;
    double *dw = malloc((size_t)m->table.total * 8);
    vkt_ref_pref_stats st;
    double loss = chain_loss(&c, merged, dw, &st);
    check_metrics(t, "lora dpo", &got, loss, &st, false);
    float *ad = malloc((size_t)l->table.total * 4), *g = vkt_test_download(t, &l->grads);
    VKT_TEST_TRY(t, vkt_lora_download(l, ad));
    double *g_ref = calloc((size_t)l->table.total, 8);
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        const float *a = ad + l->table.p[md->a].offset, *b = ad + l->table.p[md->b].offset;
        const double *w = dw + vkt_params_get(&m->table, md->layer, md->role)->offset;
        double *da = g_ref + l->table.p[md->a].offset, *db = g_ref + l->table.p[md->b].offset;
        for (int64_t oo = 0; oo < md->out; oo++)
            for (int64_t ci = 0; ci < md->in; ci++)
                for (int64_t k = 0; k < lc.r; k++) {
                    da[k * md->in + ci] += l->scale * b[oo * lc.r + k] * w[oo * md->in + ci];
                    db[oo * lc.r + k] += l->scale * w[oo * md->in + ci] * a[k * md->in + ci];
                }
    }
    check_grads(t, "lora dpo adapter", &l->table, g, g_ref);
    free(ad), free(g), free(g_ref), free(dw), free(seq), free(ref_d), free(base_d), free(merged);
    free(ref0), free(ref1), free(logits0), free(logits1), free(base);
    vkt_lora_destroy(l);
    vkt_pref_step_destroy(ps);
    vkt_pref_pack_free(&f.pack);
    vkt_pref_tokenized_free(&d);
    vkt_model_destroy(m);
}

/* Policy == reference: a fresh adapter (B = 0) on an f32 or NF4 base gives ln 2 and zero rewards. */
static void check_ln2(vkt_test *t, vkt_qformat fmt) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model_opts mo = {.mode = VKT_MODEL_FROZEN, .base_format = fmt};
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_opts(t->dev, &cfg, B, T, &mo, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    vkt_pref_tokenized d;
    filler f = {0};
    init_pack(t, &cfg, &d, &f);
    vkt_pref_step_cfg pc = {.loss = vkt_pref_opts_default(VKT_PREF_DPO_SIGMOID),
                            .ref = VKT_PREF_REF_MODEL,
                            .max_pairs = vkt_pref_pack_max_pairs(&f.pack)};
    vkt_pref_step *ps;
    VKT_TEST_TRY(t, vkt_pref_step_create(m, &pc, &ps));
    vkt_lora_cfg lc = vkt_lora_cfg_default();
    lc.r = 4, lc.all_linear = true, lc.seed = t->seed;
    vkt_lora *l;
    VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
    vkt_lora_attach(l);
    vkt_step_micro got;
    run_micro(t, m, l, ps, &f, &got);
    const float ln2 = (float)M_LN2;
    printf("-- policy == reference (LoRA B = 0, %s base): loss %.9g (ln 2 = %.9g), rewards %g %g, margins %g, "
           "accuracy %g, %g pairs\n",
           vkt_qformat_name(fmt), got.loss, (double)ln2, got.metrics[0], got.metrics[1], got.metrics[2], got.metrics[3],
           got.weight);
    if (fabs(got.loss - ln2) > 1.2e-7 || got.metrics[0] != 0 || got.metrics[1] != 0 || got.metrics[2] != 0 ||
        got.metrics[3] != 0 || got.weight < 1)
        vkt_test_fail(t, "policy == reference (%s base): loss %.9g, want ln 2 with zero rewards and margins",
                      vkt_qformat_name(fmt), got.loss);
    vkt_lora_destroy(l);
    vkt_pref_step_destroy(ps);
    vkt_pref_pack_free(&f.pack);
    vkt_pref_tokenized_free(&d);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "pref_train");
    vkt_model_config llama = vkt_test_tiny_llama(), gpt2 = vkt_test_tiny_gpt2();
    check_full(&t, "llama dpo", &llama, VKT_PREF_DPO_SIGMOID);
    check_full(&t, "llama dpo robust", &llama, VKT_PREF_DPO_ROBUST);
    check_full(&t, "llama ipo", &llama, VKT_PREF_IPO);
    check_full(&t, "llama orpo", &llama, VKT_PREF_ORPO);
    check_full(&t, "gpt2 dpo", &gpt2, VKT_PREF_DPO_SIGMOID);
    check_lora(&t, &llama);
    check_ln2(&t, VKT_QFORMAT_F32);
    check_ln2(&t, VKT_QFORMAT_NF4);
    return vkt_test_finish(&t);
}
