/* The training loop end to end on a tiny model: the loss falls, a resumed run reproduces the
 * uninterrupted run's losses bit for bit, checkpoints rotate, the masked-token and fill-in-the-middle
 * objectives train, and bad inputs are errors rather than crashes. */
#include <dirent.h>
#include <string.h>

#include "harness.h"
#include "train/trainer.h"

static char g_dir[64];

static void base_config(vkt_run_config *c, const char *corpus, const char *out) {
    vkt_run_config_defaults(c);
    const char *sets[] = {"model.n_embd=32", "model.n_layer=2", "model.n_head=2", "model.n_positions=32",
                          "optim.batch_size=4", "optim.seq_len=16", "optim.steps=40", "optim.lr=0.003",
                          "optim.warmup_steps=5", "eval.interval=0", "eval.steps=2", "log.interval=100",
                          "output.checkpoint_interval=20", "output.keep=2", "sample.tokens=0"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) vkt_run_config_set(c, sets[i]);
    snprintf(c->data_train, sizeof c->data_train, "%s", corpus);
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out);
}

static int count_steps(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strncmp(e->d_name, "step-", 5) == 0;
    if (d) closedir(d);
    return n;
}

static vkt_status train(vkt_test *t, vkt_run_config *c, const char *resume) {
    vkt_train_opts o = {.resume = resume, .peak_gflops = 1, .no_sample = true};
    VKT_TEST_TRY(t, vkt_run_config_validate(c));
    return vkt_train(t->dev, c, &o);
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "train");
    snprintf(g_dir, sizeof g_dir, "/tmp/vkt_train_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    char corpus[128], run1[128], run2[128], run3[128], ck[160];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", g_dir);
    snprintf(run1, sizeof run1, "%s/run1", g_dir);
    snprintf(run2, sizeof run2, "%s/run2", g_dir);
    snprintf(run3, sizeof run3, "%s/run3", g_dir);
    vkt_test_write_word_corpus(corpus, 6000, 7);
    setenv("VKT_CACHE_DIR", g_dir, 1);

    /* Uninterrupted run; its loss must fall well below the uniform-guess level (ln 256 = 5.5). */
    vkt_run_config c;
    base_config(&c, corpus, run1);
    VKT_TEST_TRY(&t, train(&t, &c, NULL));
    vkt_run_config_free(&c);
    static char a[40][32], b[40][32];
    int na = vkt_test_read_losses(run1, a, 40);
    double first = atof(a[0]), last = atof(a[39]);
    printf("   run1: %d losses, step 0 %.4f -> step 39 %.4f\n", na, first, last);
    if (na != 40 || !(last < first - 2.0)) vkt_test_fail(&t, "the loss did not fall (%g -> %g)", first, last);
    if (count_steps(run1) != 2) vkt_test_fail(&t, "keep=2 left %d checkpoints", count_steps(run1));

    /* Resume from step 20 in another folder: steps 20..39 must repeat exactly. */
    snprintf(ck, sizeof ck, "%s/step-000020", run1);
    base_config(&c, corpus, run2);
    VKT_TEST_TRY(&t, train(&t, &c, ck));
    vkt_run_config_free(&c);
    int nb = vkt_test_read_losses(run2, b, 40), same = 0;
    for (int s = 20; s < 40; s++) same += strcmp(a[s], b[s]) == 0;
    printf("   resumed at 20: %d losses, %d of 20 identical to the uninterrupted run\n", nb, same);
    if (nb != 20 || same != 20) vkt_test_fail(&t, "resume diverged: step 20 %s vs %s, step 39 %s vs %s", a[20], b[20], a[39], b[39]);

    /* Gradient accumulation: batch 2 x 2 micro-batches sees the same windows per step as batch 4 (in
     * order, no shuffle) and must follow the same losses up to summation order. */
    static char acc1[40][32], acc2[40][32];
    const char *accum_sets[2][3] = {{"optim.batch_size=4", "optim.grad_accum=1", "data.shuffle=false"},
                                    {"optim.batch_size=2", "optim.grad_accum=2", "data.shuffle=false"}};
    for (int v = 0; v < 2; v++) {
        base_config(&c, corpus, run3);
        for (int k = 0; k < 3; k++) vkt_run_config_set(&c, accum_sets[v][k]);
        vkt_run_config_set(&c, "optim.steps=8");
        VKT_TEST_TRY(&t, train(&t, &c, NULL));
        vkt_run_config_free(&c);
        vkt_test_read_losses(run3, v ? acc2 : acc1, 40);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", run3);
        if (system(cmd) != 0) vkt_test_fail(&t, "cleanup failed");
    }
    double worst_acc = 0;
    for (int s = 0; s < 8; s++) worst_acc = fmax(worst_acc, fabs(atof(acc1[s]) - atof(acc2[s])) / atof(acc1[s]));
    printf("   gradient accumulation 2x2 vs 4x1: worst loss relative difference over 8 steps %.2e (bound 1e-4)\n",
           worst_acc);
    if (!(worst_acc <= 1e-4)) vkt_test_fail(&t, "gradient accumulation changed the losses by %.2e", worst_acc);

    /* The other objectives train too (bidirectional masked tokens; fill in the middle). */
    const char *objectives[] = {"data.objective=mlm", "data.objective=fim"};
    for (int i = 0; i < 2; i++) {
        base_config(&c, corpus, run3);
        vkt_run_config_set(&c, objectives[i]);
        vkt_run_config_set(&c, "optim.steps=30");
        VKT_TEST_TRY(&t, train(&t, &c, NULL));
        vkt_run_config_free(&c);
        char l[40][32] = {{0}};
        vkt_test_read_losses(run3, l, 40);
        printf("   %s: step 0 %s -> step 29 %s\n", objectives[i], l[0], l[29]);
        if (!(atof(l[29]) < atof(l[0]) - 0.5)) vkt_test_fail(&t, "%s did not learn", objectives[i]);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", run3);
        if (system(cmd) != 0) vkt_test_fail(&t, "cleanup failed");
    }

    /* Bad inputs: errors, not crashes. */
    printf("   expected errors follow:\n");
    base_config(&c, "/nonexistent/corpus.txt", run3);
    if (train(&t, &c, NULL) == VKT_OK) vkt_test_fail(&t, "a missing corpus was accepted");
    vkt_run_config_free(&c);
    base_config(&c, corpus, run3);
    if (train(&t, &c, "/nonexistent/checkpoint") == VKT_OK) vkt_test_fail(&t, "a missing checkpoint was accepted");
    vkt_run_config_free(&c);

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) vkt_test_fail(&t, "cleanup failed");
    return vkt_test_finish(&t);
}
