/* `vktrain export`: a model (optionally with a LoRA adapter merged) as a GGUF file for llama.cpp
 * (train/export_gguf.h). Host only: no device is opened. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "train/export_gguf.h"

static void help(void) {
    printf("usage: vktrain export MODEL [--adapter DIR] --gguf OUT.gguf [--type f32|f16|q8_0]\n"
           "                      [--tokenizer SPEC] [--name NAME]\n\n"
           "Writes MODEL (a Hugging Face folder, a vktrain run or checkpoint folder, a llama2.c or llm.c .bin;\n"
           "Llama-family or GPT-2), with the PEFT LoRA adapter DIR merged when given, as a GGUF v3 file that\n"
           "llama.cpp loads: architecture \"llama\" or \"gpt2\", hyper-parameters, the tokenizer (--tokenizer, else\n"
           "the one MODEL names or holds) and the weights in --type (default f32; vectors stay f32; a q8_0\n"
           "matrix whose rows are not a multiple of 32 is written f16).\n");
}

int vkt_cli_export(int argc, char **argv) {
    const char *model = NULL, *gguf = NULL;
    vkt_export_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i]))
            return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--adapter"))
            o.adapter = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--gguf"))
            gguf = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--type"))
            o.type = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer"))
            o.tokenizer = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--name"))
            o.name = argv[i];
        else if (argv[i][0] != '-' && !model)
            model = argv[i];
        else {
            fprintf(stderr, "vktrain export: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!model || !gguf) {
        fprintf(stderr, "vktrain export: give MODEL and --gguf OUT.gguf (try --help)\n");
        return 2;
    }
    vkt_ggml_type t;
    if (o.type && !vkt_export_type_parse(o.type, &t)) {
        fprintf(stderr, "vktrain export: --type %s: expected f32, f16 or q8_0\n", o.type);
        return 2;
    }
    if (vkt_export_gguf(model, gguf, &o) != VKT_OK) return 1;
    printf("wrote %s\n", gguf);
    return 0;
}
