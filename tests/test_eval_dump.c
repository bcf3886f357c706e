/* `vktrain eval --dump-logits`: the safetensors dump reads back with the documented names and shapes,
 * holds exactly the inputs and targets fed in, and its logits give back the reported loss (recomputed in
 * double) position by position; the loss equals vkt_eval_loss's and the metadata carries it at full
 * precision. Tiny random GPT-2 on the device. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "sched/step.h"
#include "train/eval_dump.h"

enum { B = 2, T = 5, V = 23 };

typedef struct {
    int calls;
} feeder;

/* Deterministic batches; every 7th target is ignored (-100). */
static void fill_arrays(feeder *f, int32_t *in, int32_t *tg) {
    for (int i = 0; i < B * T; i++) {
        in[i] = (int32_t)((i * 5 + f->calls * 3) % V);
        tg[i] = (i + f->calls) % 7 == 0 ? -100 : (int32_t)((i * 11 + f->calls + 1) % V);
    }
    f->calls++;
}

static vkt_status fill(void *ctx, const vkt_batch *batch) {
    fill_arrays(ctx, batch->tokens, batch->targets);
    return VKT_OK;
}

int main(void) {
    vkt_test t;
    vkt_test_init(&t, "eval_dump");
    vkt_model_config c = *vkt_model_preset("gpt2-tiny");
    c.vocab_size = V, c.n_embd = 64, c.n_head = 2, c.n_kv_head = 2, c.head_dim = 32, c.n_layer = 1, c.n_inner = 64, c.max_seq_len = 8;
    vkt_model *m;
    VKT_TEST_TRY(&t, vkt_model_create(t.dev, &c, B, T, false, &m));
    VKT_TEST_TRY(&t, vkt_model_init_weights(m, t.seed));
    vkt_rec *r;
    VKT_TEST_TRY(&t, vkt_rec_create(t.dev, 0, &r));
    const int64_t n = 2;
    char path[] = "/tmp/vkt_dump_XXXXXX";
    if (!mkdtemp(path)) vkt_test_fail(&t, "mkdtemp");
    char file[64];
    snprintf(file, sizeof file, "%s/dump.safetensors", path);
    feeder f = {0};
    double loss = 0, loss_ref = 0;
    VKT_TEST_TRY(&t, vkt_eval_dump(m, r, fill, &f, n, file, "tiny", "synthetic", &loss));
    f.calls = 0;
    VKT_TEST_TRY(&t, vkt_eval_loss(m, r, fill, &f, n, &loss_ref));
    if (loss != loss_ref) vkt_test_fail(&t, "dump loss %.17g, vkt_eval_loss %.17g", loss, loss_ref);

    vkt_st_file sf;
    VKT_TEST_TRY(&t, vkt_st_open(file, &sf));
    const vkt_st_tensor *lg = vkt_st_find(&sf, "logits"), *in = vkt_st_find(&sf, "input_ids"),
                        *tg = vkt_st_find(&sf, "targets");
    if (!lg || !in || !tg || lg->ndim != 3 || lg->shape[0] != n * B || lg->shape[1] != T || lg->shape[2] != V ||
        in->ndim != 2 || in->shape[0] != n * B || in->shape[1] != T || in->dtype != VKT_ST_I32 || !tg ||
        tg->shape[0] != n * B || tg->dtype != VKT_ST_I32) {
        vkt_test_fail(&t, "dump tensors missing or mis-shaped");
        return vkt_test_finish(&t);
    }
    float *logits = malloc((size_t)lg->numel * sizeof *logits);
    VKT_TEST_TRY(&t, vkt_st_read_f32(&sf, lg, logits, lg->numel));
    const int32_t *ids = vkt_st_bytes(&sf, in), *tgt = vkt_st_bytes(&sf, tg);
    int32_t want_in[B * T], want_tg[B * T];
    double sum = 0, count = 0, worst = 0;
    long bad = -1;
    for (int64_t b = 0; b < n; b++) {
        feeder g = {.calls = (int)b};
        fill_arrays(&g, want_in, want_tg);
        for (int i = 0; i < B * T; i++) {
            int64_t k = b * B * T + i;
            if ((ids[k] != want_in[i] || tgt[k] != want_tg[i]) && bad < 0) bad = (long)k;
            if (tgt[k] < 0) continue;
            const float *row = logits + k * V;
            double mx = row[0], z = 0;
            for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < V; v++) z += exp((double)row[v] - mx);
            sum += log(z) + mx - row[tgt[k]], count++;
            if (!isfinite(row[0])) worst = INFINITY;
        }
    }
    if (bad >= 0) vkt_test_fail(&t, "input/target at flat position %ld differ from what was fed", bad);
    double recomputed = sum / count, rel = fabs(recomputed - loss) / loss;
    if (!(rel < 1e-5) || isinf(worst))
        vkt_test_fail(&t, "loss from the dumped logits %.9g vs reported %.9g (rel %.2e, bound 1e-5)", recomputed, loss,
                      rel);
    const char *meta = vkt_st_meta(&sf, "loss");
    if (!meta || strtod(meta, NULL) != loss) vkt_test_fail(&t, "metadata loss '%s' is not %.17g", meta ? meta : "", loss);
    printf("   dump: logits [%lld, %d, %d], loss %.17g (from the logits %.17g, rel %.1e), metadata \"%s\"\n",
           (long long)(n * B), T, V, loss, recomputed, rel, meta ? meta : "");
    free(logits);
    vkt_st_close(&sf);
    remove(file);
    rmdir(path);
    vkt_rec_destroy(r);
    vkt_model_destroy(m);
    return vkt_test_finish(&t);
}
