/* The trainer applies the configured weight decay and gradient clipping: a run through the real config and
 * trainer path with non-default optim.weight_decay = 0.3 and optim.grad_clip = 0.05 (below every step's
 * gradient norm, so clipping is active), a checkpoint after every step, and each step checked on the host
 * in double against AdamW as torch.optim.AdamW defines it (decoupled weight decay):
 *   g = clip(grad),  m_t = b1 m_{t-1} + (1 - b1) g,  v_t = b2 v_{t-1} + (1 - b2) g^2,
 *   w_t = w_{t-1} (1 - lr_t wd) - lr_t (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)
 * with wd applied to matrices and embeddings only (2-D tensors, nanoGPT's rule) and g = grad * clip / |grad|
 * when the global norm |grad| exceeds clip. The device's clipped gradient is recovered from the saved
 * moments, g_t = (m_t - b1 m_{t-1}) / (1 - b1) (g_1 = m_1 / (1 - b1)), and must have global norm exactly
 * grad_clip; v_t must follow from it; w_t must follow from w_{t-1}, m_t, v_t, the logged lr_t and wd = 0.3.
 * A trainer that ignored either setting fails: falling back to clip 1.0 makes the applied norm min(1, |grad|),
 * 20x grad_clip here (the logged norms are 1.3-2.9), and a weight decay other than 0.3 (0.01 is AdamW's
 * default, 0.1 the config's), or decay on norms and biases, leaves |wd' - wd| lr |w| in a weight: thousands
 * of times the bound below. Verified by making each of those three changes to the trainer and optimizer.
 *
 * Bounds. Norm of g: the subtraction m_t - b1 m_{t-1} loses at most a few f32 ulps of m, ~1e-6 relative;
 * bound 1e-4. v_t: one f32 FMA chain, bound 1e-5 relative + 1e-12 absolute (v of a zero gradient is 0).
 * w_t: the f32 weight is rounded to 2^-24 |w| and the f32 update to ~4 2^-24 lr (the host uses the f32-rounded
 * betas and eps the device gets; measured 0.46 of the bound on lavapipe); bound 2^-21 (|w| + lr). */
#include <string.h>

#include "harness.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/params.h"
#include "train/trainer.h"

#define STEPS 3
#define WD    0.3
#define CLIP  0.05

/* lr and grad_norm of each train step from metrics.jsonl. */
static int read_metrics(const char *dir, double *lr, double *norm) {
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        long step;
        const char *a = strstr(line, "\"lr\":"), *b = strstr(line, "\"grad_norm\":");
        if (sscanf(line, "{\"step\":%ld,\"kind\":\"train\"", &step) == 1 && a && b && step >= 0 && step < STEPS)
            lr[step] = atof(a + 5), norm[step] = atof(b + 12), n++;
    }
    if (f) fclose(f);
    return n;
}

/* Weights and moments of checkpoint step-NNNNNN, in table layout. */
static void read_checkpoint(vkt_test *t, const char *run, int step, const vkt_param_table *tab, double *w, double *m,
                            double *v) {
    char path[400];
    float *buf = calloc((size_t)tab->total, sizeof *buf);
    snprintf(path, sizeof path, "%s/step-%06d/model.safetensors", run, step);
    VKT_TEST_TRY(t, vkt_checkpoint_read_hf_flat(path, tab, buf));
    for (int64_t i = 0; i < tab->total; i++) w[i] = buf[i];
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/step-%06d/optimizer_%c.safetensors", run, step, k ? 'v' : 'm');
        vkt_st_file f = {0};
        VKT_TEST_TRY(t, vkt_st_open(path, &f));
        for (int e = 0; e < tab->n; e++) {
            const vkt_param *p = &tab->p[e];
            char name[160];
            snprintf(name, sizeof name, "%s%s", k ? "exp_avg_sq." : "exp_avg.", p->name);
            const vkt_st_tensor *st = vkt_st_find(&f, name);
            if (!st || st->numel != p->numel) {
                vkt_test_fail(t, "%s: %s missing or of the wrong size", path, name);
                continue;
            }
            VKT_TEST_TRY(t, vkt_st_read_f32(&f, st, buf + p->offset, p->numel));
        }
        vkt_st_close(&f);
        for (int64_t i = 0; i < tab->total; i++) (k ? v : m)[i] = buf[i];
    }
    free(buf);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "train_optim");
    char dir[] = "/tmp/vkt_train_optim_XXXXXX", corpus[128], run[128];
    if (!mkdtemp(dir)) return 1;
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    vkt_test_write_word_corpus(corpus, 3000, 11);
    setenv("VKT_CACHE_DIR", dir, 1);

    vkt_run_config c;
    vkt_run_config_defaults(&c);
    const char *sets[] = {"model.n_embd=32",      "model.n_layer=2",
                          "model.n_head=2",       "model.n_positions=32",
                          "optim.batch_size=4",   "optim.seq_len=16",
                          "optim.steps=3",        "optim.lr=0.01",
                          "optim.warmup_steps=0", "optim.weight_decay=0.3",
                          "optim.grad_clip=0.05", "eval.interval=0",
                          "log.interval=100",     "output.checkpoint_interval=1",
                          "output.keep=3",        "sample.tokens=0"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) VKT_TEST_TRY(&t, vkt_run_config_set(&c, sets[i]));
    snprintf(c.data_train, sizeof c.data_train, "%s", corpus);
    snprintf(c.out_dir, sizeof c.out_dir, "%s", run);
    VKT_TEST_TRY(&t, vkt_run_config_validate(&c));
    /* The trainer hands the optimizer f32 settings (vkt_adamw_cfg): the host uses the same rounded values. */
    const double b1 = (float)c.beta1, b2 = (float)c.beta2, eps = (float)c.eps;
    printf("   weight_decay %g grad_clip %g beta1 %g beta2 %g eps %g\n", c.weight_decay, c.grad_clip, b1, b2, eps);
    vkt_train_opts o = {.peak_gflops = 1, .no_sample = true};
    VKT_TEST_TRY(&t, vkt_train(t.dev, &c, &o));

    double lr[STEPS] = {0}, norm[STEPS] = {0};
    if (read_metrics(run, lr, norm) != STEPS) vkt_test_fail(&t, "metrics.jsonl lacks %d train steps", STEPS);
    vkt_param_table tab;
    VKT_TEST_TRY(&t, vkt_params_build(&c.model, 1, &tab));
    size_t n = (size_t)tab.total;
    double *w[STEPS + 1], *m[STEPS + 1], *v[STEPS + 1];
    for (int s = 1; s <= STEPS; s++) {
        w[s] = malloc(n * sizeof(double)), m[s] = malloc(n * sizeof(double)), v[s] = malloc(n * sizeof(double));
        read_checkpoint(&t, run, s, &tab, w[s], m[s], v[s]);
    }
    m[0] = calloc(n, sizeof(double)), v[0] = calloc(n, sizeof(double)), w[0] = NULL;

    for (int s = 1; s <= STEPS; s++) {
        /* The clipped gradient the device applied, and its global norm. */
        double ss = 0;
        for (int e = 0; e < tab.n; e++)
            for (int64_t i = tab.p[e].offset; i < tab.p[e].offset + tab.p[e].numel; i++) {
                double g = (m[s][i] - b1 * m[s - 1][i]) / (1 - b1);
                ss += g * g;
            }
        double gnorm = sqrt(ss), rel = fabs(gnorm - CLIP) / CLIP;
        printf("   step %d: lr %.6g, logged gradient norm %.4f (> clip %.2f), clipped norm %.7f (want %.2f, rel err "
               "%.2e, bound 1e-4)\n",
               s, lr[s - 1], norm[s - 1], CLIP, gnorm, CLIP, rel);
        if (!(norm[s - 1] > 2 * CLIP))
            vkt_test_fail(&t, "step %d: gradient norm %g does not exceed 2 x clip", s, norm[s - 1]);
        if (!(rel <= 1e-4))
            vkt_test_fail(&t, "step %d: the applied gradient has norm %.7g, not grad_clip %g", s, gnorm, CLIP);

        /* v_t from v_{t-1} and g_t; w_t from w_{t-1} (steps after the first: w_0 is not saved). */
        double worst_v = 0, worst_w = 0, bc1 = 1 - pow(b1, s), bc2 = 1 - pow(b2, s);
        int64_t bad_v = -1, bad_w = -1, n_decay = 0, flag_mismatch = 0;
        for (int e = 0; e < tab.n; e++) {
            const vkt_param *p = &tab.p[e];
            const bool decay = p->rows > 1 && p->cols > 1; /* matrices and embeddings */
            n_decay += decay, flag_mismatch += decay != p->decay;
            for (int64_t i = p->offset; i < p->offset + p->numel; i++) {
                double g = (m[s][i] - b1 * m[s - 1][i]) / (1 - b1);
                double want_v = b2 * v[s - 1][i] + (1 - b2) * g * g;
                double ev = fabs(v[s][i] - want_v) / (1e-5 * want_v + 1e-12);
                if (ev > worst_v) worst_v = ev, bad_v = i;
                if (s == 1) continue;
                double upd = (m[s][i] / bc1) / (sqrt(v[s][i] / bc2) + eps);
                double want_w = w[s - 1][i] * (1 - lr[s - 1] * (decay ? WD : 0)) - lr[s - 1] * upd;
                double ew = fabs(w[s][i] - want_w) / (0x1p-21 * (fabs(w[s - 1][i]) + lr[s - 1]));
                if (ew > worst_w) worst_w = ew, bad_w = i;
            }
        }
        if (flag_mismatch)
            vkt_test_fail(&t, "%lld parameter tensors' decay flags differ from 'matrices and embeddings'",
                          (long long)flag_mismatch);
        printf("   step %d: v_t err/bound %.3f; w_t err/bound %s%.3f (decayed tensors %lld of %d, wd %.2f)\n", s,
               worst_v, s == 1 ? "(no w_0) " : "", worst_w, (long long)n_decay, tab.n, WD);
        if (worst_v > 1)
            vkt_test_fail(&t, "step %d: v at element %lld is %.9g, AdamW gives %.9g", s, (long long)bad_v, v[s][bad_v],
                          b2 * v[s - 1][bad_v]);
        if (worst_w > 1)
            vkt_test_fail(&t,
                          "step %d: weight element %lld is %.9g, AdamW with wd %.2f gives another value (%.3g x bound)",
                          s, (long long)bad_w, w[s][bad_w], WD, worst_w);
    }

    for (int s = 0; s <= STEPS; s++) free(w[s]), free(m[s]), free(v[s]);
    vkt_params_free(&tab);
    vkt_run_config_free(&c);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) vkt_test_fail(&t, "cleanup failed");
    return vkt_test_finish(&t);
}
