/* The reward model (model/score_head.h, sched/reward_step.h) against the double reference:
 *  - the Bradley-Terry loss on hand-computed cases (ref/ref_pref.h with VKT_REF_PREF_BT): r_c = r_r gives
 *    ln 2 and dL/dr = -0.5, +0.5; r_c - r_r = 1; the center_rewards_coefficient term;
 *  - the device step with a zero head: loss ln 2, zero metrics, d(score) = -0.5 / P sum (h_c - h_r) by hand,
 *    and no gradient into the model;
 *  - the device step on tiny LLaMA (GQA) and GPT-2 models, packed and one-sequence-per-row batches of odd
 *    shapes (B 3, T 13): per-sequence rewards, loss, TRL metrics, the head's and every model gradient against
 *    the whole-model reference (vkt_ref_model_hidden -> ref_reward.h -> vkt_ref_pref_loss and back), and the
 *    double chain against central differences in the head's weight;
 *  - the last-position table (vkt_score_last_ids): packed rows, padding, and its errors.
 * Bounds as test_pref_train.c: loss and metrics 1e-5 relative (atol 1e-3 / 1e-2), rewards 1e-5 in norm,
 * gradients 1e-4 relative in norm per tensor, finite differences 1e-4. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/score_head.h"
#include "model_testutil.h"
#include "pref_testutil.h"
#include "ref/ref_model.h"
#include "ref/ref_pref.h"
#include "ref/ref_reward.h"
#include "sched/reward_step.h"
#include "sft/pref_pack.h"

enum { B = 3, T = 13, N_PAIRS = 4 };

/* N_PAIRS pairs: a shared prompt of 1-3 tokens, completions of 1-5, the rejected one differing at its end. */
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
            if (side == 1) d->ids[n - 1] = (d->ids[d->start[s - 1] + np] + 1) % (int32_t)V;
        }
        d->source[i] = i;
    }
    d->start[2 * N_PAIRS] = n, d->n_tokens = n;
}

/* Every batch is the packer's first one, with the last-position table. */
typedef struct {
    vkt_pref_pack pack;
    int64_t S;
} filler;

static vkt_status fill(void *ctx, const vkt_batch *b) {
    filler *f = ctx;
    vkt_pref_slot *s = b->aux;
    vkt_pref_pack_state st = vkt_pref_pack_get_state(&f->pack);
    st.epoch = 0, st.batch = 0;
    VKT_TRY(vkt_pref_pack_set_state(&f->pack, &st));
    vkt_pref_batch pb = {b->tokens, b->targets, b->seg_start, s->seq_id, s->pairs, s->pair_index, s->seq_last, 0};
    VKT_TRY(vkt_pref_pack_next(&f->pack, &pb));
    s->n_pairs = pb.n_pairs;
    return vkt_score_last_ids(s->seq_last, f->S, B * T, s->last_id);
}

/* The batch and head as the device sees them, for the double chain. */
typedef struct {
    const vkt_model_config *cfg;
    const vkt_param_table *table;
    const double *params;
    const int32_t *tokens, *seg, *seq_last, *pairs;
    int64_t P, S;
    double center;
} chain;

/* Loss of head weight w; rewards (S), stats, dw (C, overwritten) and the model's grads when set. */
static double chain_loss(const chain *c, const double *w, double *rewards, vkt_ref_pref_stats *st, double *dw,
                         double *grads) {
    int64_t C = c->cfg->n_embd, N = B * T;
    double *hidden = malloc((size_t)(N * C) * 8), *r = malloc((size_t)c->S * 8), *dr = malloc((size_t)c->S * 8);
    vkt_ref_model_hidden(c->cfg, c->table, c->params, c->tokens, c->seg, B, T, hidden, NULL, NULL);
    vkt_ref_score_head_fwd(hidden, w, c->seq_last, c->S, C, r);
    vkt_ref_pref_params o = {.type = VKT_REF_PREF_BT, .center_rewards_coef = c->center, .dloss = 1.0};
    double loss = vkt_ref_pref_loss(&o, r, 1, NULL, 1, c->pairs, NULL, c->P, c->S, NULL, dr, st);
    if (rewards) memcpy(rewards, r, (size_t)c->S * 8);
    if (dw || grads) {
        double *dh = malloc((size_t)(N * C) * 8);
        if (dw) memset(dw, 0, (size_t)C * 8);
        vkt_ref_score_head_bwd(hidden, w, c->seq_last, dr, c->S, N, C, dh, dw);
        if (grads) vkt_ref_model_hidden(c->cfg, c->table, c->params, c->tokens, c->seg, B, T, NULL, dh, grads);
        free(dh);
    }
    free(hidden), free(r), free(dr);
    return loss;
}

static double chain_f(const double *w, void *ctx) { return chain_loss(ctx, w, NULL, NULL, NULL, NULL); }

static bool near(double a, double b, double tol) { return fabs(a - b) <= tol; }

/* The loss on rewards given by hand: one pair (r_c, r_r), coefficient center. */
static void check_bt_case(vkt_test *t, double rc, double rr, double center, double want, double dc, double dr) {
    double pol[2] = {rc, rr}, d[2];
    int32_t pairs[2] = {0, 1};
    vkt_ref_pref_params o = {.type = VKT_REF_PREF_BT, .center_rewards_coef = center, .dloss = 1.0};
    vkt_ref_pref_stats st;
    double loss = vkt_ref_pref_loss(&o, pol, 1, NULL, 1, pairs, NULL, 1, 2, NULL, d, &st);
    bool ok = near(loss, want, 1e-15) && near(d[0], dc, 1e-15) && near(d[1], dr, 1e-15) &&
              st.rewards_accuracies == (rc > rr) && near(st.rewards_margins, rc - rr, 1e-15);
    printf("-- BT by hand: r_c %g r_r %g center %g: loss %.17g (want %.17g), dL/dr %.17g %.17g (want %.17g %.17g) "
           "%s\n",
           rc, rr, center, loss, want, d[0], d[1], dc, dr, ok ? "ok" : "FAIL");
    if (!ok) vkt_test_fail(t, "Bradley-Terry loss of (%g, %g) by hand", rc, rr);
}

static void check_bt_by_hand(vkt_test *t) {
    check_bt_case(t, 1.3, 1.3, 0, M_LN2, -0.5, 0.5);
    double s1 = 1.0 / (1.0 + exp(-1.0)); /* sigmoid(1) */
    check_bt_case(t, 0.25, -0.75, 0, log1p(exp(-1.0)), -(1 - s1), 1 - s1);
    double s15 = 1.0 / (1.0 + exp(-1.5)), c = 0.01, sum = 0.5; /* r_c + r_r */
    check_bt_case(t, 1.0, -0.5, c, log1p(exp(-1.5)) + c * sum * sum, -(1 - s15) + 2 * c * sum,
                  (1 - s15) + 2 * c * sum);
}

static void check_last_ids(vkt_test *t) {
    int32_t seq_last[4] = {5, 2, -1, 7}, ids[9];
    VKT_TEST_TRY(t, vkt_score_last_ids(seq_last, 4, 9, ids));
    const int32_t want[9] = {-1, -1, 1, -1, -1, 0, -1, 3, -1};
    bool right = !memcmp(ids, want, sizeof want);
    if (!right) vkt_test_fail(t, "last-position table wrong");
    int32_t dup[2] = {3, 3}, out[2] = {1, 9};
    bool errs =
        vkt_score_last_ids(dup, 2, 9, ids) == VKT_ERR_FORMAT && vkt_score_last_ids(out, 2, 9, ids) == VKT_ERR_FORMAT;
    printf("-- last-position table: %s; two sequences at one position and a position past the batch %s\n",
           right ? "ok" : "WRONG", errs ? "refused" : "ACCEPTED");
    if (!errs) vkt_test_fail(t, "bad last-position tables were accepted");
}

typedef struct {
    vkt_model *m;
    vkt_reward_step *rs;
    vkt_tensor w, dw;
    filler f;
    vkt_pref_tokenized d;
} rig;

static void rig_init(vkt_test *t, rig *g, const vkt_model_config *cfg, bool pack, const float *w, double center) {
    memset(g, 0, sizeof *g);
    VKT_TEST_TRY(t, vkt_model_create(t->dev, cfg, B, T, true, &g->m));
    VKT_TEST_TRY(t, vkt_model_init_weights(g->m, t->seed));
    vkt_rng rng;
    vkt_rng_init(&rng, t->seed + 3);
    make_pairs(&rng, cfg->vocab_size, &g->d);
    vkt_pref_pack_opts po = {.data = &g->d, .B = B, .T = T, .pack = pack, .seed = t->seed};
    VKT_TEST_TRY(t, vkt_pref_pack_init(&g->f.pack, &po));
    int64_t C = cfg->n_embd;
    g->w = vkt_test_upload(t, w, 1, C, 1, 1);
    float *zero = calloc((size_t)C, 4);
    g->dw = vkt_test_upload(t, zero, 1, C, 1, 1);
    free(zero);
    vkt_reward_step_cfg rc = {.center_rewards_coef = (float)center,
                              .max_pairs = vkt_pref_pack_max_pairs(&g->f.pack),
                              .w = g->w,
                              .dw = g->dw};
    g->f.S = 2 * rc.max_pairs;
    VKT_TEST_TRY(t, vkt_reward_step_create(g->m, &rc, &g->rs));
}

static void rig_free(rig *g) {
    vkt_reward_step_destroy(g->rs);
    vkt_pref_pack_free(&g->f.pack);
    vkt_pref_tokenized_free(&g->d);
    vkt_model_destroy(g->m);
}

/* One training micro-batch into slot 0, gradients zeroed first. */
static void run_micro(vkt_test *t, rig *g, vkt_step_micro *out) {
    const vkt_step_program *p = vkt_reward_step_program(g->rs);
    g->m->dloss = 1.0f;
    VKT_TEST_TRY(t, vkt_step_fill_batch_aux(g->m, 0, p->slot_aux(p->ctx, 0), fill, &g->f));
    VKT_TEST_TRY(t, vkt_rec_begin(t->rec));
    VKT_TEST_TRY(t, vkt_model_record_zero_grads(g->m, t->rec));
    VKT_TEST_TRY(t, vkt_rec_fill(t->rec, &g->dw, 0));
    VKT_TEST_TRY(t, p->record(p->ctx, g->m, t->rec, 0, true));
    VKT_TEST_TRY(t, vkt_rec_end(t->rec));
    VKT_TEST_TRY(t, vkt_rec_submit_wait(t->rec));
    p->read(p->ctx, g->m, 0, out);
}

static chain chain_of(rig *g, const double *params, double center) {
    const vkt_step_program *p = vkt_reward_step_program(g->rs);
    const vkt_pref_slot *s = p->slot_aux(p->ctx, 0);
    return (chain){.cfg = &g->m->cfg,
                   .table = &g->m->table,
                   .params = params,
                   .tokens = vkt_model_slot_tokens(g->m, 0),
                   .seg = vkt_model_slot_seg_start(g->m, 0),
                   .seq_last = s->seq_last,
                   .pairs = s->pairs,
                   .P = g->f.S / 2,
                   .S = g->f.S,
                   .center = center};
}

/* The device step against the double chain: rewards, loss, metrics, head and model gradients. */
static void check_device(vkt_test *t, const char *name, const vkt_model_config *cfg, bool pack, double center) {
    int64_t C = cfg->n_embd;
    float *w = vkt_test_randn(t, (size_t)C, 0.5f);
    rig g;
    rig_init(t, &g, cfg, pack, w, center);
    printf("-- %s (%s, B %d, T %d, center %g): %lld sequence slots\n", name, pack ? "packed" : "one per row", B, T,
           center, (long long)g.f.S);
    vkt_step_micro got;
    run_micro(t, &g, &got);
    int64_t total = g.m->table.total;
    float *params = malloc((size_t)total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(g.m, params));
    double *pd = vkt_test_to_double(params, (size_t)total), *wd = vkt_test_to_double(w, (size_t)C);
    chain c = chain_of(&g, pd, center);
    double *r_ref = malloc((size_t)c.S * 8), *dw_ref = malloc((size_t)C * 8), *g_ref = malloc((size_t)total * 8);
    vkt_ref_pref_stats st;
    double loss = chain_loss(&c, wd, r_ref, &st, dw_ref, g_ref);

    const float *rw = vkt_tensor_host_ptr(vkt_reward_step_rewards(g.rs));
    float *r_dev = malloc((size_t)c.S * 4);
    for (int64_t s = 0; s < c.S; s++) r_dev[s] = rw[2 * s];
    double er = vkt_rel_norm_err(r_dev, r_ref, c.S);
    printf("   rewards of %lld sequences: relative error in norm %.2e (bound 1e-5)\n", (long long)c.S, er);
    if (!(er <= 1e-5)) vkt_test_fail(t, "%s: rewards off by %.3e", name, er);
    char what[128];
    snprintf(what, sizeof what, "%s loss", name);
    pt_check_scalar(t, what, got.loss, loss, 1e-3, 1e-5);
    const double want[7] = {st.rewards_chosen,     st.rewards_rejected, st.rewards_margins, st.rewards_accuracies,
                            st.reward_min,         st.reward_mean,      st.reward_max};
    const char *const *names = vkt_reward_step_program(g.rs)->metric_names;
    for (int i = 0; i < 7; i++) {
        snprintf(what, sizeof what, "%s %s", name, names[i]);
        pt_check_scalar(t, what, got.metrics[i], want[i], 1e-2, 1e-5);
    }
    int64_t pairs = pack ? N_PAIRS : B / 2; /* one sequence per row: a pair takes two rows */
    if (got.weight != (double)st.n_pairs || st.n_pairs != pairs)
        vkt_test_fail(t, "%s: %g pairs, want %lld", name, got.weight, (long long)pairs);

    float *dw = vkt_test_download(t, &g.dw), *gm = vkt_test_download(t, &g.m->grads);
    double e = vkt_rel_norm_err(dw, dw_ref, C), worst = 0;
    int at = 0;
    for (int i = 0; i < g.m->table.n; i++) {
        const vkt_param *p = &g.m->table.p[i];
        double ei = vkt_rel_norm_err(gm + p->offset, g_ref + p->offset, p->numel);
        if (!(ei <= worst)) worst = ei, at = i;
    }
    printf("   score.weight gradient: relative error in norm %.2e; model gradients: worst %.2e (%s) (bounds 1e-4)\n", e,
           worst, g.m->table.p[at].name);
    if (!(e <= 1e-4)) vkt_test_fail(t, "%s: score head gradient off by %.3e", name, e);
    if (!(worst <= 1e-4)) vkt_test_fail(t, "%s: gradient of %s off by %.3e", name, g.m->table.p[at].name, worst);
    snprintf(what, sizeof what, "%s double chain (score.weight)", name);
    vkt_check_fd(t, what, chain_f, wd, dw_ref, (size_t)C, &c, 1e-4);
    free(dw), free(gm), free(r_dev), free(r_ref), free(dw_ref), free(g_ref), free(pd), free(wd), free(params), free(w);
    rig_free(&g);
}

/* A zero head: every reward 0, so loss ln 2, dL/dr = -+0.5 / P, and no gradient reaches the model. */
static void check_zero_head(vkt_test *t) {
    vkt_model_config cfg = vkt_test_tiny_llama();
    int64_t C = cfg.n_embd;
    float *w = calloc((size_t)C, 4);
    rig g;
    rig_init(t, &g, &cfg, true, w, 0);
    vkt_step_micro got;
    run_micro(t, &g, &got);
    int64_t total = g.m->table.total;
    float *params = malloc((size_t)total * 4);
    VKT_TEST_TRY(t, vkt_model_download_params(g.m, params));
    double *pd = vkt_test_to_double(params, (size_t)total), *hidden = malloc((size_t)(B * T * C) * 8);
    chain c = chain_of(&g, pd, 0);
    vkt_ref_model_hidden(&cfg, &g.m->table, pd, c.tokens, c.seg, B, T, hidden, NULL, NULL);
    double *hand = calloc((size_t)C, 8);
    for (int64_t k = 0; k < c.P; k++) {
        if (c.pairs[2 * k] < 0) continue; /* padding rows of the pair table */
        int32_t pc = c.seq_last[c.pairs[2 * k]], pr = c.seq_last[c.pairs[2 * k + 1]];
        for (int64_t j = 0; j < C; j++) hand[j] += -0.5 / N_PAIRS * (hidden[pc * C + j] - hidden[pr * C + j]);
    }
    float *dw = vkt_test_download(t, &g.dw), *gm = vkt_test_download(t, &g.m->grads);
    double e = vkt_rel_norm_err(dw, hand, C), gmax = 0;
    for (int64_t i = 0; i < total; i++) gmax = fmax(gmax, fabs(gm[i]));
    const float ln2 = (float)M_LN2;
    printf("-- zero head: loss %.9g (ln 2 = %.9g), margin %g, accuracy %g; d(score) vs -0.5/P sum (h_c - h_r): %.2e; "
           "largest model gradient %g\n",
           got.loss, (double)ln2, got.metrics[2], got.metrics[3], e, gmax);
    if (fabs(got.loss - ln2) > 1.2e-7 || got.metrics[0] != 0 || got.metrics[1] != 0 || got.metrics[2] != 0 ||
        got.metrics[3] != 0)
        vkt_test_fail(t, "zero head: loss %.9g, want ln 2 with zero rewards, margin and accuracy", got.loss);
    if (!(e <= 1e-5)) vkt_test_fail(t, "zero head: score gradient off the hand formula by %.3e", e);
    if (gmax != 0) vkt_test_fail(t, "zero head: the model got a gradient (%g) through a zero head", gmax);
    free(w), free(params), free(pd), free(hidden), free(hand), free(dw), free(gm);
    rig_free(&g);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "reward_step");
    check_bt_by_hand(&t);
    check_last_ids(&t);
    check_zero_head(&t);
    vkt_model_config llama = vkt_test_tiny_llama(), gpt2 = vkt_test_tiny_gpt2();
    check_device(&t, "llama", &llama, true, 0);
    check_device(&t, "llama", &llama, false, 0.01);
    check_device(&t, "gpt2", &gpt2, true, 0);
    return vkt_test_finish(&t);
}
