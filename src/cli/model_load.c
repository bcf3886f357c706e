/* The model, adapter and tokenizer a generating command (sample, chat) starts from. */
#include "cli/cli.h"

#include <string.h>

#include "core/log.h"
#include "finetune/lora_peft.h"
#include "io/checkpoint.h"
#include "train/merge.h"

vkt_status vkt_cli_load_for_generation(vkt_device *dev, const char *from, const char *adapter, const char *tok_spec,
                                       vkt_model **m, vkt_tokenizer **tok, char *spec, size_t spec_size) {
    *m = NULL, *tok = NULL;
    char found[1024] = "";
    vkt_lora_cfg ac;
    if (adapter) VKT_TRY(vkt_lora_read_peft_config(adapter, false, &ac));
    if (adapter && ac.n_save) {
        /* modules_to_save may untie a tied model, which a device model cannot do in place: merged on the host. */
        VKT_TRY(vkt_merge_load_model(dev, from, adapter, 1, 1, m));
        vkt_import_tokenizer_spec(from, found, sizeof found);
        adapter = NULL;
    } else {
        VKT_TRY(vkt_load_model(dev, from, 1, 1, false, m, found, sizeof found));
    }
    if (adapter) {
        /* Merged into the weights: the KV-cache decoder then runs the adapted model as it is. */
        vkt_lora *lora = NULL;
        vkt_status s = vkt_lora_load_peft(*m, adapter, false, &lora);
        if (s == VKT_OK) s = vkt_lora_merge_into_model(lora);
        vkt_lora_destroy(lora);
        VKT_TRY(s);
    }
    const char *use = tok_spec ? tok_spec : found[0] ? found : NULL;
    if (!use) {
        vkt_log_error("%s names no tokenizer; give one with --tokenizer", from);
        return VKT_ERR_ARG;
    }
    snprintf(spec, spec_size, "%s", use);
    return vkt_tok_load(use, tok);
}
