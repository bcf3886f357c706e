/* Model source -> complete Hugging Face folder (see convert.h). */
#include "train/convert.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_save.h"
#include "data/tokenizer.h"
#include "io/checkpoint.h"
#include "io/file.h"

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

vkt_status vkt_convert_to_hf(vkt_device *dev, const char *from, const char *out_dir, const char *tok_spec,
                             char *saved, size_t saved_size) {
    vkt_model *m = NULL;
    vkt_tokenizer *tok = NULL;
    char found[1024] = "", path[1400];
    VKT_TRY(vkt_load_model(dev, from, 1, 1, false, &m, found, sizeof found));
    const char *spec = tok_spec ? tok_spec : found[0] ? found : NULL;
    vkt_status s = VKT_OK;
    if (!spec) {
        vkt_log_error("%s names no tokenizer and none lies beside it: give one with --tokenizer (a tokenizer.json, "
                      "a llama2.c tok*.bin, a GPT-2 folder or \"bytes\") so the converted folder is complete", from);
        s = VKT_ERR_ARG;
    }
    if (s == VKT_OK) s = vkt_tok_load_for_model(spec, m->cfg.vocab_size, from, &tok);
    vkt_run_config rc;
    vkt_run_config_defaults(&rc);
    bool bytes = s == VKT_OK && vkt_tok_get_kind(tok) == VKT_TOK_BYTES;
    if (bytes) snprintf(rc.tokenizer_type, sizeof rc.tokenizer_type, "bytes");
    vkt_checkpoint_state st = {0};
    if (s == VKT_OK) s = vkt_checkpoint_save(out_dir, 0, m, NULL, &st, bytes ? &rc : NULL, saved, saved_size);
    snprintf(path, sizeof path, "%s/tokenizer.json", saved);
    if (s == VKT_OK && !bytes) {
        s = has_suffix(spec, "tokenizer.json") ? vkt_file_copy(spec, path) : vkt_tok_save_hf(tok, path);
        if (s != VKT_OK) vkt_log_error("%s: could not write the tokenizer (from %s)", path, spec);
    }
    vkt_run_config_free(&rc);
    vkt_tok_free(tok);
    vkt_model_destroy(m);
    return s;
}
