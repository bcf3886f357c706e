/* `vktrain convert`: any model source to a complete Hugging Face folder (train/convert.h). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "io/checkpoint.h"
#include "train/convert.h"

static void help(void) {
    printf("usage: vktrain convert FROM OUT_DIR [--tokenizer SPEC] [--device INDEX|NAME]\n\n"
           "Reads FROM (a llama2.c .bin, an llm.c GPT-2 .bin, a Hugging Face folder or a vktrain checkpoint)\n"
           "and writes OUT_DIR/step-000000/ with config.json, model.safetensors and tokenizer.json under Hugging\n"
           "Face names, loadable by transformers' from_pretrained / AutoTokenizer and by every vktrain command.\n"
           "The tokenizer is SPEC, else the one FROM names or holds (a llama2.c tokenizer.bin beside the model);\n"
           "llama2.c models usually need --tokenizer tok*.bin.\n");
}

int vkt_cli_convert(int argc, char **argv) {
    const char *pos[2] = {0}, *tok_spec = NULL;
    int n_pos = 0;
    vkt_device_opts dopts = vkt_device_opts_default();
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i])) return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer")) tok_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--device")) vkt_cli_device_arg(argv[i], &dopts);
        else if (argv[i][0] != '-' && n_pos < 2) pos[n_pos++] = argv[i];
        else {
            fprintf(stderr, "vktrain convert: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (n_pos != 2) {
        fprintf(stderr, "vktrain convert: give FROM and OUT_DIR (try --help)\n");
        return 2;
    }
    vkt_device *dev;
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
    char saved[1200];
    vkt_status s = vkt_convert_to_hf(dev, pos[0], pos[1], tok_spec, saved, sizeof saved);
    if (s == VKT_OK) printf("wrote %s (config.json, model.safetensors, tokenizer)\n", saved);
    vkt_device_destroy(dev);
    return s == VKT_OK ? 0 : 1;
}
