/* The GRPO micro-batch (sched/grpo_step.h) on a tiny model against the whole-model double reference: a
 * synthetic rollout set (2 prompts x G 3 completions of random ids, random rewards) laid out by
 * rl/grpo_batch.h one completion per row, the step program recorded as the trainer records it, and in double:
 * the model's per-position losses -> ref_grpo token values -> sequence sums -> reduction -> per-position
 * weights -> the model's weighted backward (vkt_ref_model_weighted).
 *  - full fine-tuning, dapo with the accumulated step's token count as norm (more tokens than this
 *    micro-batch: gradient accumulation), grpo with dloss 1/2, bnpo, dr_grpo (LLaMA, GQA) and dapo on GPT-2:
 *    loss, TRL metrics and every parameter gradient; the double chain against central differences (old
 *    log-probs held at the current ones, as num_iterations 1 detaches them);
 *  - a constant reward: advantages exactly 0 and, with beta 0, every gradient exactly 0 and loss 0;
 *  - beta > 0 with LoRA (reference = the base with the adapters detached): a fresh adapter (B = 0, policy ==
 *    reference) gives KL exactly 0; a non-zero adapter gives the double chain's KL and loss.
 * Bounds as test_pref_train.c: loss and metrics 1e-5 relative (atol 1e-2 for the loss, 1e-3 for metrics), gradients
 * 1e-4 relative in norm per tensor, the double chain against finite differences 1e-4. */
#include <string.h>

#include "finetune/lora.h"
#include "harness.h"
#include "lora_testutil.h"
#include "model_testutil.h"
#include "pref_testutil.h"
#include "ref/ref_grpo.h"
#include "ref/ref_model.h"
#include "ref/ref_seq.h"
#include "rl/grpo_batch.h"
#include "sched/grpo_step.h"

enum { B = 6, T = 12, N_PROMPTS = 2, G = 3, EXTRA_TOKENS = 7 };

/* N_PROMPTS prompts of 1-4 random ids, G completions of 1-7 each; *rewards random (or constant). */
static void make_set(vkt_rng *rng, int64_t V, vkt_rollout_set *set, float *rewards, bool constant) {
    memset(set, 0, sizeof *set);
    set->n_prompts = N_PROMPTS, set->group_size = G;
    set->prompt_ids = calloc(N_PROMPTS, sizeof *set->prompt_ids);
    set->c = calloc(N_PROMPTS * G, sizeof *set->c);
    for (int64_t p = 0; p < N_PROMPTS; p++) {
        int64_t np = 1 + vkt_rng_below(rng, 4);
        for (int64_t k = 0; k < np; k++)
            vkt_tok_ids_push(&set->prompt_ids[p], (int32_t)vkt_rng_below(rng, (uint32_t)V));
        for (int64_t g = 0; g < G; g++) {
            vkt_completion *c = &set->c[p * G + g];
            c->n = 1 + vkt_rng_below(rng, 7), c->prompt = p, c->text = calloc(1, 1);
            c->ids = malloc((size_t)c->n * sizeof *c->ids);
            for (int64_t k = 0; k < c->n; k++) c->ids[k] = (int32_t)vkt_rng_below(rng, (uint32_t)V);
            rewards[p * G + g] = constant ? 0.5f : (float)vkt_rng_below(rng, 3) * 0.5f;
        }
    }
}

typedef struct {
    vkt_rollout_set set;
    float rewards[N_PROMPTS * G], adv[N_PROMPTS * G], stats[3];
    float norm;
} filler;

static vkt_status fill(void *ctx, const vkt_batch *b) {
    filler *f = ctx;
    vkt_grpo_slot *s = b->aux;
    vkt_grpo_batch gb = {b->tokens, b->targets, b->seg_start,  s->seq_id, s->completion,
                         s->group,  s->rewards, s->advantages, 0,         0};
    vkt_grpo_batch_opts o = {.B = B, .T = T, .max_seqs = B, .pad_id = 0};
    int64_t next;
    VKT_TRY(vkt_grpo_batch_fill(&f->set, f->rewards, f->adv, 0, &o, &gb, &next));
    s->n_seqs = gb.n_seqs, s->norm[0] = f->norm;
    memcpy(s->metrics, f->stats, sizeof f->stats);
    s->metrics[3] = 0.25f; /* an extra host metric passes through */
    return VKT_OK;
}

/* The batch as the model's slot 0 and the step's slot hold it, for the double reference. */
typedef struct {
    const vkt_model_config *cfg;
    const vkt_param_table *table;
    const int32_t *tokens, *targets, *seg, *seq_id;
    vkt_ref_grpo_params o;
    const double *adv, *old, *ref; /* (S), (BT), (BT) or NULL */
    double norm;
} chain;

/* The objective in double; with grads, its gradient through the chain the device runs. */
static double chain_loss(const chain *c, const double *params, double *grads, double stats[7]) {
    const int64_t N = B * T, S = B;
    double *losses = malloc(N * 8), *tokvals = malloc(4 * N * 8), *tokgrad = malloc(N * 8),
           *seqvals = malloc(5 * S * 8);
    double coef[B], st[7];
    vkt_ref_model_weighted(c->cfg, c->table, params, c->tokens, c->targets, c->seg, B, T, NULL, losses, NULL);
    vkt_ref_grpo_token(&c->o, losses, c->seq_id, c->old ? c->old : losses, c->ref, c->adv, N, S, tokvals, tokgrad);
    vkt_ref_seq_sum(tokvals, 4, c->seq_id, N, 1.0, seqvals, S);
    vkt_ref_grpo_reduce(&c->o, seqvals, S, c->o.agg == VKT_GRPO_AGG_DAPO ? &c->norm : NULL, coef, st);
    if (grads) {
        double *w = malloc(N * 8);
        vkt_ref_seq_scatter(coef, S, c->seq_id, tokgrad, N, w);
        vkt_ref_model_weighted(c->cfg, c->table, params, c->tokens, c->targets, c->seg, B, T, w, losses, grads);
        free(w);
    }
    if (stats) memcpy(stats, st, sizeof st);
    free(losses), free(tokvals), free(tokgrad), free(seqvals);
    return st[0];
}

/* The loss the gradient is of: the reported loss excludes dloss (1 / accumulation steps) but for dapo, whose
 * accumulation is in its norm. */
static double chain_f(const double *x, void *ctx) {
    const chain *c = ctx;
    return chain_loss(c, x, NULL, NULL) * (c->o.agg == VKT_GRPO_AGG_DAPO ? 1.0 : c->o.dloss);
}

static chain chain_of(const vkt_model *m, vkt_grpo_step *gs, const vkt_grpo_opts *o, const double *adv, double norm) {
    const vkt_grpo_slot *s = vkt_grpo_step_slot(gs, 0);
    return (chain){.cfg = &m->cfg,
                   .table = &m->table,
                   .tokens = vkt_model_slot_tokens(m, 0),
                   .targets = vkt_model_slot_targets(m, 0),
                   .seg = vkt_model_slot_seg_start(m, 0),
                   .seq_id = s->seq_id,
                   .o = {o->group_size, (int)o->scale, o->epsilon_low, o->epsilon_high, o->beta, (int)o->agg,
                         o->max_completion_length, o->dloss},
                   .adv = adv,
                   .norm = norm};
}

/* One training micro-batch of the program into slot 0 (gradients zeroed first); *out its metrics. */
static void run_micro(vkt_test *t, vkt_model *m, vkt_lora *l, vkt_grpo_step *gs, filler *f, float dloss,
                      vkt_step_micro *out) {
    const vkt_step_program *p = vkt_grpo_step_program(gs);
    m->dloss = dloss;
    VKT_TEST_TRY(t, vkt_step_fill_batch_aux(m, 0, p->slot_aux(p->ctx, 0), fill, f));
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, vkt_model_record_zero_grads(m, t->rec));
    if (l) VKT_TEST_TRY(t, vkt_lora_record_zero_grads(l, t->rec));
    VKT_TEST_TRY(t, p->record(p->ctx, m, t->rec, 0, true));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
    p->read(p->ctx, m, 0, out);
}

static void init_filler(vkt_test *t, const vkt_model_config *cfg, filler *f, bool constant) {
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 5);
    make_set(&rng, cfg->vocab_size, &f->set, f->rewards, constant);
    vkt_grpo_group_advantages(f->rewards, N_PROMPTS * G, G, VKT_GRPO_SCALE_GROUP, f->adv, f->stats);
    int64_t tokens = 0;
    for (int64_t i = 0; i < N_PROMPTS * G; i++) tokens += f->set.c[i].n;
    f->norm = (float)(tokens + EXTRA_TOKENS); /* the step's other micro-batches hold more */
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

static void check_metrics(vkt_test *t, const char *name, const vkt_step_micro *got, double loss, const double st[7],
                          const float host[3], const vkt_grpo_opts *o, float dloss) {
    char what[128];
    /* dapo reports its micro-batch's share scaled to the step (read() divides by dloss) */
    double want_loss = o->agg == VKT_GRPO_AGG_DAPO ? loss / dloss : loss;
    snprintf(what, sizeof what, "%s loss", name);
    /* atol 1e-2: grpo's loss is the mean of -A over completions, exactly 0 in double (advantages sum to 0 per
     * group), ~2e-8 in f32 */
    pt_check_scalar(t, what, got->loss, want_loss, 1e-2, 1e-5);
    static const char *const names[8] = {
        "reward", "reward_std",          "frac_reward_zero_std", "completions/mean_length",
        "kl",     "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"};
    const double want[8] = {host[0], host[1], host[2], st[6], st[1], st[2], st[3], st[4]};
    for (int i = 0; i < 8; i++) {
        snprintf(what, sizeof what, "%s %s", name, names[i]);
        pt_check_scalar(t, what, got->metrics[i], want[i], 1e-3, 1e-5);
    }
    if (got->metrics[8] != 0.25 || got->tokens != (int64_t)st[5] || got->weight != N_PROMPTS * G)
        vkt_test_fail(t, "%s: extra metric %g, tokens %lld (want %g), weight %g", name, got->metrics[8],
                      (long long)got->tokens, st[5], got->weight);
}

static vkt_grpo_step *make_step(vkt_test *t, vkt_model *m, const vkt_grpo_opts *o) {
    static const char *const extra[] = {"rewards/accuracy/mean"};
    vkt_grpo_step_cfg sc = {.loss = *o, .max_seqs = B, .n_extra = 1, .extra_names = extra};
    vkt_grpo_step *gs;
    VKT_TEST_TRY(t, vkt_grpo_step_create(m, &sc, &gs));
    return gs;
}

/* Full fine-tuning against the double chain, and the chain against central differences. */
static void check_full(vkt_test *t, const char *name, const vkt_model_config *cfg, vkt_grpo_agg agg, float dloss) {
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, B, T, true, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    filler f;
    init_filler(t, cfg, &f, false);
    vkt_grpo_opts o = vkt_grpo_opts_default(G);
    o.agg = agg, o.max_completion_length = 8, o.dloss = agg == VKT_GRPO_AGG_DAPO ? 1.0f : dloss;
    vkt_grpo_step *gs = make_step(t, m, &o);
    vkt_step_micro got;
    run_micro(t, m, NULL, gs, &f, dloss, &got);
    int64_t total = m->table.total;
    float *pf = malloc((size_t)total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, pf));
    double *p = vkt_test_to_double(pf, (size_t)total), *g_ref = malloc((size_t)total * 8), adv[B] = {0};
    const vkt_grpo_slot *s = vkt_grpo_step_slot(gs, 0);
    for (int i = 0; i < B; i++) adv[i] = s->advantages[i];
    chain c = chain_of(m, gs, &o, adv, f.norm);
    double st[7], *old = malloc(B * T * 8);
    double loss = chain_loss(&c, p, g_ref, st);
    printf("-- %s: loss %.6g, %g completion tokens (norm %g), dloss %g\n", name, loss, st[5], (double)f.norm,
           (double)dloss);
    check_metrics(t, name, &got, loss, st, f.stats, &o, o.agg == VKT_GRPO_AGG_DAPO ? dloss : 1.0f);
    float *g = vkt_test_download(t, &m->grads);
    check_grads(t, name, &m->table, g, g_ref);
    vkt_ref_model_weighted(c.cfg, c.table, p, c.tokens, c.targets, c.seg, B, T, NULL, old, NULL);
    c.old = old; /* num_iterations 1: the old log-probs are these, detached */
    char what[96];
    snprintf(what, sizeof what, "%s double chain", name);
    vkt_check_fd(t, what, chain_f, p, g_ref, (size_t)total, &c, 1e-4);
    free(g), free(p), free(pf), free(g_ref), free(old);
    vkt_grpo_step_destroy(gs);
    vkt_rollout_set_free(&f.set);
    vkt_model_destroy(m);
}

/* A constant reward: zero advantages, zero loss and (beta 0) every gradient exactly 0. */
static void check_constant(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create(t->dev, &cfg, B, T, true, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    filler f;
    init_filler(t, &cfg, &f, true);
    vkt_grpo_opts o = vkt_grpo_opts_default(G);
    vkt_grpo_step *gs = make_step(t, m, &o);
    vkt_step_micro got;
    run_micro(t, m, NULL, gs, &f, 1.0f, &got);
    float *g = vkt_test_download(t, &m->grads);
    int64_t nonzero = 0, zero_adv = 0;
    for (int64_t i = 0; i < m->table.total; i++) nonzero += g[i] != 0;
    for (int i = 0; i < N_PROMPTS * G; i++) zero_adv += f.adv[i] == 0;
    printf("-- constant reward: %lld of %d advantages exactly 0, loss %g, %lld of %lld gradient entries non-zero\n",
           (long long)zero_adv, N_PROMPTS * G, got.loss, (long long)nonzero, (long long)m->table.total);
    if (zero_adv != N_PROMPTS * G || got.loss != 0 || nonzero != 0)
        vkt_test_fail(t, "constant reward: %lld non-zero gradient entries, loss %g", (long long)nonzero, got.loss);
    free(g);
    vkt_grpo_step_destroy(gs);
    vkt_rollout_set_free(&f.set);
    vkt_model_destroy(m);
}

/* beta > 0 with LoRA: the reference is the base (hook removed). A fresh adapter (B = 0) gives KL exactly 0;
 * a random one the double chain's KL and loss, the reference being the base's losses. */
static void check_kl(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    vkt_model *m;
    VKT_TEST_TRY(t, vkt_model_create_mode(t->dev, &cfg, B, T, VKT_MODEL_FROZEN, false, &m));
    VKT_TEST_TRY(t, vkt_model_init_weights(m, t->seed));
    float *base = malloc((size_t)m->table.total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(m, base));
    filler f;
    init_filler(t, &cfg, &f, false);
    vkt_grpo_opts o = vkt_grpo_opts_default(G);
    o.beta = 0.3f;
    vkt_grpo_step *gs = make_step(t, m, &o);
    for (int fresh = 1; fresh >= 0; fresh--) {
        vkt_lora_cfg lc = vkt_lora_cfg_default();
        lc.r = 4, lc.lora_alpha = 8, lc.all_linear = true, lc.seed = t->seed;
        if (!fresh) lc.init = VKT_LORA_INIT_NONE;
        vkt_lora *l;
        VKT_TEST_TRY(t, vkt_lora_create(m, &lc, &l));
        vkt_lora_attach(l);
        vkt_step_micro got;
        run_micro(t, m, l, gs, &f, 1.0f, &got);
        if (fresh) {
            printf("-- beta %g, policy == reference (LoRA B = 0): kl %g, loss %.9g\n", (double)o.beta, got.metrics[4],
                   got.loss);
            if (got.metrics[4] != 0) vkt_test_fail(t, "policy == reference: kl %g, want exactly 0", got.metrics[4]);
        } else {
            double *merged = lora_test_merge(t, m, l, base), *base_d = vkt_test_to_double(base, (size_t)m->table.total);
            double adv[B] = {0}, *ref = malloc(B * T * 8), st[7];
            const vkt_grpo_slot *s = vkt_grpo_step_slot(gs, 0);
            for (int i = 0; i < B; i++) adv[i] = s->advantages[i];
            chain c = chain_of(m, gs, &o, adv, f.norm);
            vkt_ref_model_weighted(c.cfg, c.table, base_d, c.tokens, c.targets, c.seg, B, T, NULL, ref, NULL);
            c.ref = ref;
            double loss = chain_loss(&c, merged, NULL, st);
            printf("-- beta %g, LoRA adapter against the base as reference: kl %.6g (double %.6g)\n", (double)o.beta,
                   got.metrics[4], st[1]);
            check_metrics(t, "lora beta", &got, loss, st, f.stats, &o, 1.0f);
            if (!(st[1] > 1e-6)) vkt_test_fail(t, "a non-zero adapter should give a positive KL, got %g", st[1]);
            free(merged), free(base_d), free(ref);
        }
        vkt_lora_destroy(l);
    }
    free(base);
    vkt_grpo_step_destroy(gs);
    vkt_rollout_set_free(&f.set);
    vkt_model_destroy(m);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "grpo_step");
    vkt_model_config llama = vkt_test_tiny_llama(), gpt2 = vkt_test_tiny_gpt2();
    check_full(&t, "llama dapo", &llama, VKT_GRPO_AGG_DAPO, 0.5f);
    check_full(&t, "llama grpo", &llama, VKT_GRPO_AGG_GRPO, 0.5f);
    check_full(&t, "llama bnpo", &llama, VKT_GRPO_AGG_BNPO, 1.0f);
    check_full(&t, "llama dr_grpo", &llama, VKT_GRPO_AGG_DR_GRPO, 1.0f);
    check_full(&t, "gpt2 dapo", &gpt2, VKT_GRPO_AGG_DAPO, 1.0f);
    check_constant(&t);
    check_kl(&t);
    return vkt_test_finish(&t);
}
