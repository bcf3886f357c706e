/* Learning-rate schedule, sampler, metrics files, and the dataset's validation split (no validation data
 * means no validation loss, never the training loss under that label). Pure CPU. */
#include <math.h>
#include <stdio.h>

#include "expect.h"
#include "io_testutil.h"
#include <stdlib.h>
#include <string.h>

#include "optim/schedule.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/sampler.h"


static void test_schedule(void) {
    vkt_lr_schedule s = {.lr_max = 1e-3, .lr_min = 1e-4, .warmup = 10, .total = 110};
    EXPECT(fabs(vkt_lr_at(&s, 0) - 1e-4) < 1e-12);      /* (0+1)/10 of max */
    EXPECT(fabs(vkt_lr_at(&s, 9) - 1e-3) < 1e-12);      /* warmup ends at max */
    EXPECT(fabs(vkt_lr_at(&s, 10) - 1e-3) < 1e-12);     /* cosine starts at max */
    EXPECT(fabs(vkt_lr_at(&s, 60) - 5.5e-4) < 1e-12);   /* halfway: mean of max and min */
    EXPECT(fabs(vkt_lr_at(&s, 110) - 1e-4) < 1e-12);    /* end: min */
    for (int64_t i = 10; i < 110; i++) EXPECT(vkt_lr_at(&s, i + 1) <= vkt_lr_at(&s, i));
}

static void test_sampler(void) {
    const int V = 6;
    float logits[6] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f, -3.0f};
    vkt_sampler s;
    EXPECT(vkt_sampler_init(&s, V, (vkt_sampler_opts){.temperature = 0, .top_p = 1}, 1) == VKT_OK);
    EXPECT(vkt_sampler_next(&s, logits) == 1);
    vkt_sampler_free(&s);
    /* top-k 2: only ids 1 and 3 ever come out, in roughly e^2 : e^1.9 proportion. */
    EXPECT(vkt_sampler_init(&s, V, (vkt_sampler_opts){.temperature = 1, .top_k = 2, .top_p = 1}, 7) == VKT_OK);
    int counts[6] = {0};
    for (int i = 0; i < 20000; i++) counts[vkt_sampler_next(&s, logits)]++;
    EXPECT(counts[0] + counts[2] + counts[4] + counts[5] == 0);
    double ratio = (double)counts[1] / counts[3], want = exp(0.1);
    EXPECT(fabs(ratio - want) < 0.06);
    printf("top-k ratio %.3f (want %.3f)\n", ratio, want);
    vkt_sampler_free(&s);
    /* top-p small: the nucleus is the single most likely token. */
    EXPECT(vkt_sampler_init(&s, V, (vkt_sampler_opts){.temperature = 1, .top_p = 0.01}, 7) == VKT_OK);
    for (int i = 0; i < 100; i++) EXPECT(vkt_sampler_next(&s, logits) == 1);
    vkt_sampler_free(&s);
    /* Same seed, same stream. */
    vkt_sampler a, b;
    vkt_sampler_init(&a, V, (vkt_sampler_opts){.temperature = 0.8, .top_p = 0.9}, 42);
    vkt_sampler_init(&b, V, (vkt_sampler_opts){.temperature = 0.8, .top_p = 0.9}, 42);
    for (int i = 0; i < 100; i++) EXPECT(vkt_sampler_next(&a, logits) == vkt_sampler_next(&b, logits));
    vkt_sampler_free(&a), vkt_sampler_free(&b);
}

static void test_metrics(void) {
    char dir[] = "/tmp/vkt_metrics_XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/run/a", dir);
    vkt_metrics m;
    EXPECT(vkt_metrics_open(&m, sub) == VKT_OK);
    for (int i = 0; i < 3000; i++) EXPECT(vkt_metrics_log(&m, i, "train", 4.0 / (1 + i * 0.01), "\"lr\":0.001") == VKT_OK);
    EXPECT(vkt_metrics_log(&m, 1000, "val", 2.5, NULL) == VKT_OK);
    EXPECT(vkt_metrics_write_svg(&m) == VKT_OK);
    vkt_metrics_close(&m);
    char path[700];
    snprintf(path, sizeof path, "%s/metrics.jsonl", sub);
    FILE *f = fopen(path, "r");
    char line[256];
    EXPECT(f && fgets(line, sizeof line, f));
    EXPECT(strcmp(line, "{\"step\":0,\"kind\":\"train\",\"loss\":4,\"lr\":0.001}\n") == 0);
    if (f) fclose(f);
    snprintf(path, sizeof path, "%s/loss.svg", sub);
    f = fopen(path, "r");
    EXPECT(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        EXPECT(ftell(f) > 1000);
        fclose(f);
    }
}

static void test_no_validation(void) {
    const char *dir = tu_mkdir();
    char path[128];
    snprintf(path, sizeof path, "%s/text.txt", dir);
    setenv("VKT_CACHE_DIR", dir, 1);
    char text[2000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + i % 26);
    tu_write(path, text, sizeof text);
    vkt_tokenizer *tok;
    EXPECT(vkt_tok_load("bytes", &tok) == VKT_OK);
    vkt_run_config cfg;
    vkt_run_config_defaults(&cfg);
    snprintf(cfg.data_train, sizeof cfg.data_train, "%s", path);
    cfg.batch_size = 2, cfg.seq_len = 8, cfg.val_fraction = 0;
    vkt_dataset d;
    tu_capture_begin();
    vkt_status s = vkt_dataset_init(&d, &cfg, tok);
    const char *log = tu_capture_end();
    EXPECT(s == VKT_OK && !d.has_val);
    printf("val_fraction 0: has_val %d %s", d.has_val, log);
    int32_t in[16], tg[16], seg[16] = {0};
    const vkt_batch batch = {in, tg, seg, NULL};
    tu_capture_begin();
    s = vkt_dataset_val_batch(&d, &batch);
    log = tu_capture_end();
    EXPECT(s == VKT_ERR_ARG && strstr(log, "no validation data"));
    printf("validation batch without validation data: %s", log);
    EXPECT(vkt_dataset_train_batch(&d, &batch) == VKT_OK);
    vkt_dataset_free(&d);
    /* A split under one batch is no validation set either. */
    cfg.val_fraction = 0.001;
    tu_capture_begin();
    s = vkt_dataset_init(&d, &cfg, tok);
    log = tu_capture_end();
    EXPECT(s == VKT_OK && !d.has_val && strstr(log, "no validation loss will be reported"));
    vkt_dataset_free(&d);
    cfg.val_fraction = 0.2;
    EXPECT(vkt_dataset_init(&d, &cfg, tok) == VKT_OK && d.has_val);
    EXPECT(vkt_dataset_val_batch(&d, &batch) == VKT_OK);
    vkt_dataset_free(&d);
    vkt_run_config_free(&cfg);
    vkt_tok_free(tok);
    tu_rmdir(dir);
}

int main(void) {
    test_no_validation();
    test_schedule();
    test_sampler();
    test_metrics();
    return expect_finish("train_utils");
}
