/* `vktrain sample`: generate text from a checkpoint or an imported model, streaming it as it comes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "data/tokenizer.h"
#include "train/generate.h"

static void help(void) {
    printf("usage: vktrain sample MODEL [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--top-p P]\n"
           "                      [--seed S] [--context T] [--tokenizer SPEC] [--device INDEX|NAME] [--no-kv-cache]\n"
           "                      [--adapter DIR]\n\n"
           "MODEL is a run or checkpoint folder written by `vktrain train`, a Hugging Face model folder, a\n"
           "llama2.c .bin or an llm.c GPT-2 .bin. The tokenizer comes from the model when it names or holds one,\n"
           "else from --tokenizer (\"bytes\", a tokenizer.json, a folder with encoder.json + vocab.bpe, or a\n"
           "llama2.c tokenizer .bin). Temperature 0 is greedy decoding. Defaults: 200 tokens, temperature 0.8,\n"
           "top-k 40, top-p 1, seed 1337. --no-kv-cache recomputes the whole window for every token (slow; for\n"
           "comparison). The rate (tokens/s, model set-up included) goes to stderr. --adapter DIR applies a PEFT LoRA\n"
           "adapter folder (merged into the weights on the device; its tensors must fit MODEL).\n");
}

int vkt_cli_sample(int argc, char **argv) {
    const char *from = NULL, *prompt = "", *tok_spec = NULL, *adapter = NULL;
    vkt_device_opts dopts = vkt_device_opts_default();
    vkt_generate_opts go = {.max_tokens = 200, .sampler = {.temperature = 0.8, .top_k = 40, .top_p = 1.0},
                            .seed = 1337, .stream = stdout, .stop_at_eos = true};
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i])) return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--prompt")) prompt = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--tokens")) go.max_tokens = vkt_cli_i64("--tokens", argv[i], 0, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--temperature")) go.sampler.temperature = vkt_cli_f64("--temperature", argv[i], 0, 1e6);
        else if (vkt_cli_opt(argc, argv, &i, "--top-k")) go.sampler.top_k = vkt_cli_i64("--top-k", argv[i], 0, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--top-p")) go.sampler.top_p = vkt_cli_f64("--top-p", argv[i], 0, 1);
        else if (vkt_cli_opt(argc, argv, &i, "--seed")) go.seed = (uint64_t)vkt_cli_i64("--seed", argv[i], 0, INT64_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--context")) go.context = vkt_cli_i64("--context", argv[i], 0, INT32_MAX);
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer")) tok_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--adapter")) adapter = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--device")) vkt_cli_device_arg(argv[i], &dopts);
        else if (strcmp(argv[i], "--no-kv-cache") == 0) go.full_recompute = true;
        else if (argv[i][0] != '-' && !from) from = argv[i];
        else {
            fprintf(stderr, "vktrain sample: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!from) {
        fprintf(stderr, "vktrain sample: give a MODEL (try --help)\n");
        return 2;
    }
    vkt_device *dev;
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
    vkt_model *m = NULL;
    vkt_tokenizer *tok = NULL;
    char spec[1024];
    vkt_status s = vkt_cli_load_for_generation(dev, from, adapter, tok_spec, &m, &tok, spec, sizeof spec);
    vkt_tok_ids ids = {0};
    if (s == VKT_OK && *prompt) {
        /* As transformers encodes a prompt: BOS first when the tokenizer says so (Llama 2/3 folders). */
        if (vkt_tok_adds_bos(tok)) s = vkt_tok_ids_push(&ids, vkt_tok_bos(tok));
        if (s == VKT_OK) s = vkt_tok_encode(tok, prompt, strlen(prompt), true, &ids);
        if (s == VKT_OK) fputs(prompt, stdout);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int32_t *out = NULL;
    int64_t n_out = 0;
    if (s == VKT_OK) s = vkt_generate_ids(dev, m, tok, ids.data, (int64_t)ids.len, &go, &out, &n_out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("\n");
    fflush(stdout);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (s == VKT_OK)
        fprintf(stderr, "sample: %lld tokens in %.3f s: %.1f tokens/s (%s, set-up included)\n", (long long)n_out, sec,
                sec > 0 ? (double)n_out / sec : 0.0, go.full_recompute ? "full recompute" : "KV cache");
    free(out);
    vkt_tok_ids_free(&ids);
    vkt_tok_free(tok);
    vkt_model_destroy(m);
    vkt_device_destroy(dev);
    return s == VKT_OK ? 0 : 1;
}
