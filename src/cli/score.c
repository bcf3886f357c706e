/* `vktrain score`: one reward per conversation from a reward model (a base model and its reward adapter). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/log.h"
#include "finetune/lora_peft.h"
#include "io/checkpoint.h"
#include "train/score.h"

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

/* The score head: the adapter's (modules_to_save "score"), else the model's own score.weight. */
static vkt_status head_of(const vkt_model *m, const vkt_lora *lora, const char *from, const char *adapter,
                          vkt_tensor *w) {
    vkt_tensor dw;
    if (lora && vkt_lora_score_views(lora, w, &dw)) return VKT_OK;
    const vkt_param *e = vkt_params_get(&m->table, -1, VKT_ROLE_SCORE_W);
    if (!lora && e) {
        *w = vkt_model_param(m, e);
        return VKT_OK;
    }
    if (lora)
        vkt_log_error("%s: the adapter has no score head (a reward model's adapter has task_type \"SEQ_CLS\" and "
                      "modules_to_save [\"score\"]: train one with finetune.objective \"reward\")", adapter);
    else
        vkt_log_error("%s has no score head (score.weight): give a reward model (finetune.objective \"reward\", "
                      "method full) or its LoRA adapter with --adapter DIR", from);
    return VKT_ERR_ARG;
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
    vkt_model *m = NULL;
    vkt_tokenizer *tok = NULL;
    vkt_lora *lora = NULL;
    char found[1024] = "";
    vkt_model_config mc;
    char ck[1024];
    vkt_status s = T > 0                                              ? VKT_OK
                   : vkt_checkpoint_resolve_quiet(from, ck, sizeof ck) ? vkt_checkpoint_read_config(ck, &mc)
                                                                      : vkt_import_config(from, &mc);
    if (s == VKT_OK && T <= 0) T = mc.max_seq_len < 1024 ? mc.max_seq_len : 1024;
    if (s == VKT_OK) s = vkt_load_model(dev, from, B, T, false, &m, found, sizeof found);
    if (s == VKT_OK && adapter) s = vkt_lora_load_peft(m, adapter, false, &lora);
    vkt_score_opts so = {.model = m, .parse_special = parse_special, .template_spec = tmpl_spec};
    if (s == VKT_OK) s = head_of(m, lora, from, adapter, &so.w);
    if (s == VKT_OK && lora) vkt_lora_attach(lora); /* scored through the adapter hook, unmerged */
    if (s == VKT_OK) {
        so.tokenizer_spec = tok_spec ? tok_spec : found[0] ? found : NULL;
        if (!so.tokenizer_spec) vkt_log_error("%s names no tokenizer; give one with --tokenizer", from), s = VKT_ERR_ARG;
        else s = vkt_tok_load(so.tokenizer_spec, &tok);
    }
    so.tok = tok;
    double *rewards = NULL;
    int64_t n = 0;
    if (s == VKT_OK) s = vkt_score_file(&so, data, &rewards, &n);
    for (int64_t i = 0; s == VKT_OK && i < n; i++) printf("%.9g\n", rewards[i]);
    free(rewards);
    vkt_tok_free(tok);
    vkt_lora_destroy(lora);
    vkt_model_destroy(m);
    vkt_device_destroy(dev);
    return s == VKT_OK ? 0 : 1;
}
