/* `vktrain score`: one reward per conversation from a reward model (a base model and its reward adapter). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "train/reward_model.h"

static void help(void) {
    printf("usage: vktrain score MODEL [--adapter DIR] DATA.jsonl [--tokenizer SPEC] [--template NAME|FILE]\n"
           "                     [--seq T] [--batch B] [--parse-special] [--device INDEX|NAME]\n\n"
           "Prints one reward per record of DATA (a .json / .jsonl file or folder in the SFT formats:\n"
           "{\"messages\": [...]}, {\"prompt\", \"completion\"}, {\"text\"}, ...), in file order, from the reward model\n"
           "MODEL: a run or step folder of `vktrain finetune` with finetune.objective \"reward\" and method full (its\n"
           "score.weight), or any model `sample` takes with --adapter DIR, the PEFT folder such a run wrote with\n"
           "method lora or qlora (LoRA plus its score head, modules_to_save \"score\"). Records are rendered\n"
           "and encoded as SFT renders them (conversations with MODEL's chat template or --template) and scored at\n"
           "their last token. --seq: the longest record in tokens (default: the model's context, at most 1024);\n"
           "--batch: records scored at once (default 8).\n");
}

int vkt_cli_score(int argc, char **argv) {
    const char *from = NULL, *data = NULL, *tok_spec = NULL, *adapter = NULL, *tmpl_spec = NULL;
    int64_t B = 8, T = 0;
    bool parse_special = false;
    vkt_device_opts dopts = vkt_device_opts_default();
    for (int i = 1; i < argc; i++) {
        if (vkt_cli_is_help(argv[i])) return help(), 0;
        else if (vkt_cli_opt(argc, argv, &i, "--adapter")) adapter = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--tokenizer")) tok_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--template")) tmpl_spec = argv[i];
        else if (vkt_cli_opt(argc, argv, &i, "--seq")) T = vkt_cli_i64("--seq", argv[i], 1, 1 << 20);
        else if (vkt_cli_opt(argc, argv, &i, "--batch")) B = vkt_cli_i64("--batch", argv[i], 1, 1 << 16);
        else if (vkt_cli_opt(argc, argv, &i, "--device")) vkt_cli_device_arg(argv[i], &dopts);
        else if (strcmp(argv[i], "--parse-special") == 0) parse_special = true;
        else if (argv[i][0] != '-' && !from) from = argv[i];
        else if (argv[i][0] != '-' && !data) data = argv[i];
        else {
            fprintf(stderr, "vktrain score: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (!from || !data) {
        fprintf(stderr, "vktrain score: give MODEL and DATA (try --help)\n");
        return 2;
    }
    vkt_device *dev;
    if (vkt_device_create(&dopts, &dev) != VKT_OK) return 1;
    vkt_reward_model_opts ro = {.path = from,
                                .adapter = adapter,
                                .tokenizer = tok_spec,
                                .template_spec = tmpl_spec,
                                .batch = B,
                                .max_length = T,
                                .parse_special = parse_special,
                                .path_field = "MODEL",
                                .adapter_field = "--adapter",
                                .tokenizer_field = "--tokenizer",
                                .template_field = "--template"};
    vkt_reward_model *rm = NULL;
    vkt_status s = vkt_reward_model_load(dev, &ro, &rm);
    double *rewards = NULL;
    int64_t n = 0;
    if (s == VKT_OK) s = vkt_score_file(vkt_reward_model_score_opts(rm), data, &rewards, &n);
    for (int64_t i = 0; s == VKT_OK && i < n; i++) printf("%.9g\n", rewards[i]);
    free(rewards);
    vkt_reward_model_destroy(rm);
    vkt_device_destroy(dev);
    return s == VKT_OK ? 0 : 1;
}
