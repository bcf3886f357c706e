/* Learning-rate schedule, sampler and metrics files. Pure CPU. */
#include <math.h>
#include <stdio.h>

#include "expect.h"
#include <stdlib.h>
#include <string.h>

#include "optim/schedule.h"
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

int main(void) {
    test_schedule();
    test_sampler();
    test_metrics();
    return expect_finish("train_utils");
}
