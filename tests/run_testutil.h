/* Shared pieces of the tests that run `vktrain finetune` end to end (LoRA, SFT, preference, reward, GRPO,
 * modules_to_save) on the stories260K model the repository ships: the config's model part, the run itself,
 * and checks on the files a run writes. Header-only, static inline functions. */
#ifndef VKT_RUN_TESTUTIL_H
#define VKT_RUN_TESTUTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finetune/finetune.h"
#include "harness.h"
#include "io/file.h"
#include "io/run_config.h"

/* Applies every "section.key=value" of sets to c; a set that fails is a broken test, not a case. */
static inline void ft_test_set_all(vkt_run_config *c, const char *const *sets, size_t n) {
    for (size_t i = 0; i < n; i++) VKT_ASSERT(vkt_run_config_set(c, sets[i]) == VKT_OK);
}

/* Points c at stories260K and its 512-id tokenizer, trains on data, writes to dir/out; method NULL leaves
 * finetune.method as set. */
static inline void ft_test_use_stories260k(vkt_run_config *c, const char *data, const char *dir, const char *out,
                                           const char *method) {
    snprintf(c->model_from, sizeof c->model_from, "%s", vkt_test_data("models/stories260K/stories260K.bin"));
    snprintf(c->tokenizer_path, sizeof c->tokenizer_path, "%s", vkt_test_data("models/stories260K/tok512.bin"));
    snprintf(c->data_train, sizeof c->data_train, "%s", data);
    snprintf(c->out_dir, sizeof c->out_dir, "%s/%s", dir, out);
    if (method) snprintf(c->ft_method, sizeof c->ft_method, "%s", method);
}

/* Validates c and runs vkt_finetune (no closing samples; a nominal 1 GFLOP/s peak so that no benchmark runs),
 * then frees c. Returns the first error, which some cases expect. */
static inline vkt_status ft_test_run(vkt_test *t, vkt_run_config *c, const char *resume, const char *adapter,
                                     bool overwrite) {
    vkt_train_opts o = {.resume = resume, .overwrite = overwrite, .peak_gflops = 1, .no_sample = true};
    vkt_status s = vkt_run_config_validate(c);
    if (s == VKT_OK) s = vkt_finetune(t->dev, c, adapter, &o);
    vkt_run_config_free(c);
    return s;
}

/* True when both files exist and hold the same bytes. */
static inline bool ft_test_same_file(const char *a, const char *b) {
    vkt_file_map x = {0}, y = {0};
    bool same = vkt_file_map_open(a, &x) == VKT_OK && vkt_file_map_open(b, &y) == VKT_OK && x.size == y.size &&
                memcmp(x.data, y.data, x.size) == 0;
    vkt_file_map_close(&x), vkt_file_map_close(&y);
    return same;
}

/* The number of keys[] that dir/metrics.jsonl mentions; each missing one is printed. */
static inline int ft_test_metrics_have(const char *dir, const char *const *keys, int n) {
    char path[300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    vkt_file_map m = {0};
    if (vkt_file_map_open(path, &m) != VKT_OK) return 0;
    char *text = strndup((const char *)m.data, m.size);
    vkt_file_map_close(&m);
    int found = 0;
    for (int i = 0; i < n; i++) {
        bool has = strstr(text, keys[i]) != NULL;
        if (!has) printf("   metrics.jsonl lacks %s\n", keys[i]);
        found += has;
    }
    free(text);
    return found;
}

/* A number field of dir/metrics.jsonl's step-0 training line ("loss", "grad_norm", "reward"); NAN when missing. */
static inline double ft_test_step0_metric(const char *dir, const char *key) {
    char path[300], line[2048], pat[64];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *head = "{\"step\":0,\"kind\":\"train\"";
    FILE *f = fopen(path, "r");
    double v = NAN;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, pat);
        if (at && !strncmp(line, head, strlen(head))) v = atof(at + strlen(pat));
    }
    if (f) fclose(f);
    return v;
}

#endif
