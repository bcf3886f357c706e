/* `vktrain eval`: loss and perplexity of a model on a text, file or folder. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "finetune/lora_peft.h"
#include "io/checkpoint.h"
#include "sched/step.h"
#include "train/dataset.h"
#include "train/eval_dump.h"

#include <cjson/cJSON.h>

static void help(void) {
    printf("usage: vktrain eval MODEL --data PATH [--tokenizer SPEC] [--batch B] [--seq T] [--batches N]\n"
           "                    [--json] [--dump-logits FILE.safetensors] [--adapter DIR] [--device INDEX|NAME]\n\n"
           "Mean cross-entropy per token (and perplexity) of MODEL (as for `vktrain sample`) on PATH (a text\n"
           "file, an llm.c token shard or a folder of them), read in order in (B, T) windows. --batches 0 (the\n"
           "default) reads the whole of PATH once. Defaults: B 8, T = the model's context (at most 1024).\n"
           "--json prints one JSON object with the loss at full precision (17 significant digits).\n"
           "--dump-logits writes the logits [N, T, V], input_ids and targets [N, T] of every evaluated sequence\n"
           "as a safetensors file (loss in its metadata), to compare with another framework position by\n"
           "position; it is held in memory first, so limit it with --batches. --adapter DIR evaluates MODEL with a\n"
           "PEFT LoRA adapter folder applied (unmerged, as trained).\n");
}

int vkt_cli_eval(int argc, char **argv) {
    const char *from = NULL, *data = NULL, *tok_spec = NULL, *dump = NULL, *adapter = NULL;
    bool json = false;
    int64_t B = 8, T = 0, batches = 0;
    vkt_device_opts dopts = vkt_device_opts_default();
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i])) return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--data")) data = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer")) tok_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--batch")) B = vkt_cli_i64("--batch", argv[i], 1, 1 << 20);
        else if (vkt_cli_opt(argc, argv, &i, "--seq")) T = vkt_cli_i64("--seq", argv[i], 0, 1 << 24);
        else if (vkt_cli_opt(argc, argv, &i, "--batches")) batches = vkt_cli_i64("--batches", argv[i], 0, INT64_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--device")) vkt_cli_device_arg(argv[i], &dopts);
        else if (vkt_cli_opt(argc, argv, &i, "--dump-logits")) dump = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--adapter")) adapter = argv[i];
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (argv[i][0] != '-' && !from) from = argv[i];
        else {
            fprintf(stderr, "vktrain eval: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!from || !data || B < 1) {
        fprintf(stderr, "vktrain eval: give MODEL and --data PATH (try --help)\n");
        return 2;
    }
    vkt_device *dev;
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
    vkt_model *m = NULL;
    vkt_tokenizer *tok = NULL;
    vkt_rec *r = NULL;
    vkt_dataset ds = {0};
    char found[1024] = "";
    if (T <= 0) T = 1024;
    vkt_status s = vkt_load_model(dev, from, B, T, false, &m, found, sizeof found);
    vkt_lora *lora = NULL;
    if (s == VKT_OK && adapter) s = vkt_lora_load_peft(m, adapter, false, &lora);
    if (s == VKT_OK && lora) vkt_lora_attach(lora); /* evaluated through the adapter hook, unmerged */
    if (s == VKT_OK) {
        const char *spec = tok_spec ? tok_spec : found[0] ? found : NULL;
        if (!spec) vkt_log_error("%s names no tokenizer; give one with --tokenizer", from), s = VKT_ERR_ARG;
        else s = vkt_tok_load(spec, &tok);
    }
    vkt_run_config cfg;
    vkt_run_config_defaults(&cfg);
    if (s == VKT_OK) {
        snprintf(cfg.data_train, sizeof cfg.data_train, "%s", data);
        cfg.val_fraction = 0, cfg.shuffle = false, cfg.batch_size = B, cfg.seq_len = m->T;
        s = vkt_dataset_init(&ds, &cfg, tok);
    }
    if (s == VKT_OK && batches <= 0) batches = ds.train.batches_per_epoch;
    if (s == VKT_OK) s = vkt_rec_create(dev, 0, &r);
    double loss = 0;
    if (s == VKT_OK && dump) s = vkt_eval_dump(m, r, vkt_dataset_train_batch, &ds, batches, dump, from, data, &loss);
    else if (s == VKT_OK) s = vkt_eval_loss(m, r, vkt_dataset_train_batch, &ds, batches, &loss);
    if (s == VKT_OK && json) {
        /* cJSON prints a double with 17 significant digits whenever 15 would not read back the same. */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", from);
        cJSON_AddStringToObject(o, "data", data);
        cJSON_AddNumberToObject(o, "batches", (double)batches);
        cJSON_AddNumberToObject(o, "batch_size", (double)B);
        cJSON_AddNumberToObject(o, "seq_len", (double)m->T);
        cJSON_AddNumberToObject(o, "loss", loss);
        cJSON_AddNumberToObject(o, "perplexity", exp(loss));
        if (dump) cJSON_AddStringToObject(o, "dump", dump);
        char *text = cJSON_PrintUnformatted(o);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
    } else if (s == VKT_OK)
        printf("eval %s on %s: %lld batches of %lld x %lld tokens: loss %.4f perplexity %.3f\n", from, data,
               (long long)batches, (long long)B, (long long)m->T, loss, exp(loss));
    vkt_rec_destroy(r);
    if (tok) vkt_dataset_free(&ds);
    vkt_run_config_free(&cfg);
    vkt_tok_free(tok);
    vkt_lora_destroy(lora);
    vkt_model_destroy(m);
    vkt_device_destroy(dev);
    return s == VKT_OK ? 0 : 1;
}
