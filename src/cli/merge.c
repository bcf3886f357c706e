/* `vktrain merge`: fold a PEFT LoRA adapter into its base model and write a Hugging Face folder
 * (train/merge.h). Host only: no device is opened. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "train/merge.h"

static void help(void) {
    printf("usage: vktrain merge MODEL --adapter DIR --out DIR [--dtype f32|f16|bf16] [--tokenizer SPEC]\n\n"
           "Reads MODEL (a Hugging Face folder, a vktrain run or checkpoint folder, a llama2.c or llm.c .bin) and\n"
           "the PEFT LoRA adapter DIR (adapter_config.json + adapter_model.safetensors), computes\n"
           "W + s * B A for every adapted module in double precision (s = lora_alpha / r, or / sqrt(r) with\n"
           "use_rslora) and writes --out DIR with config.json, model.safetensors (in --dtype, default: the\n"
           "base's) and the tokenizer (a Hugging Face base's files copied; else tokenizer.json written from\n"
           "--tokenizer or the tokenizer MODEL names). Other tensors are copied unchanged.\n");
}

int vkt_cli_merge(int argc, char **argv) {
    const char *model = NULL;
    vkt_merge_opts o = {0};
    const char *adapter = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i]))
            return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--adapter"))
            adapter = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--out"))
            out = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--dtype"))
            o.dtype = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer"))
            o.tokenizer = argv[i];
        else if (argv[i][0] != '-' && !model)
            model = argv[i];
        else {
            fprintf(stderr, "vktrain merge: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!model || !adapter || !out) {
        fprintf(stderr, "vktrain merge: give MODEL, --adapter DIR and --out DIR (try --help)\n");
        return 2;
    }
    if (o.dtype && strcmp(o.dtype, "f32") && strcmp(o.dtype, "f16") && strcmp(o.dtype, "bf16")) {
        fprintf(stderr, "vktrain merge: --dtype %s: expected f32, f16 or bf16\n", o.dtype);
        return 2;
    }
    if (vkt_merge_to_hf(model, adapter, out, &o) != VKT_OK) return 1;
    printf("wrote %s (config.json, model.safetensors, tokenizer)\n", out);
    return 0;
}
