/* `vktrain convert`: any model source to a Hugging Face folder (config.json + model.safetensors). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "io/checkpoint.h"

int vkt_cli_convert(int argc, char **argv) {
    if (argc != 3 || vkt_cli_is_help(argv[1])) {
        printf("usage: vktrain convert FROM OUT_DIR\n\n"
               "Reads FROM (a llama2.c .bin, an llm.c GPT-2 .bin, a Hugging Face folder or a vktrain checkpoint)\n"
               "and writes OUT_DIR/step-000000/ with config.json and model.safetensors under Hugging Face names,\n"
               "loadable by transformers' from_pretrained and by every vktrain command.\n");
        return argc == 2 && vkt_cli_is_help(argv[1]) ? 0 : 2;
    }
    vkt_device_opts dopts = vkt_device_opts_default();
    vkt_device *dev;
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
    vkt_model *m = NULL;
    char saved[1200];
    vkt_checkpoint_state st = {0};
    vkt_status s = vkt_load_model(dev, argv[1], 1, 1, false, &m, NULL, 0);
    if (s == VKT_OK) s = vkt_checkpoint_save(argv[2], 0, m, NULL, &st, NULL, saved, sizeof saved);
    if (s == VKT_OK) printf("wrote %s (%lld parameters)\n", saved, (long long)vkt_params_count(&m->table));
    vkt_model_destroy(m);
    vkt_device_destroy(dev);
    return s == VKT_OK ? 0 : 1;
}
