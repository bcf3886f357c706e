/* Special tokens of a Hugging Face tokenizer folder: tokenizer_config.json's bos_token / eos_token /
 * pad_token (by content, as transformers resolves them) and add_bos_token, and the BOS a tokenizer.json
 * post_processor prepends (TemplateProcessing, alone or inside a Sequence: Llama 3's way of adding
 * <|begin_of_text|>, where tokenizer_config.json has no add_bos_token).
 *
 * Precedence, as in transformers: an explicit add_bos_token wins (LlamaTokenizerFast rebuilds its
 * post_processor from it); otherwise the post_processor decides. A token given as null (Qwen2's
 * bos_token) means the model has none. Not here: chat templates, add_eos_token (training data adds its
 * own separators), added_tokens_decoder (tokenizer.json's added_tokens already hold the same tokens). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tok_internal.h"

void vkt_tok_read_post_processor(vkt_tokenizer *t, const cJSON *pp) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pp, "type"));
    if (!type) return;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pp, "processors")) vkt_tok_read_post_processor(t, p);
        return;
    }
    if (strcmp(type, "TemplateProcessing") != 0) return;
    /* "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A"}}] */
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *first = cJSON_IsArray(single) ? single->child : NULL;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(first, "SpecialToken");
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sp, "id"));
    int32_t id = content ? vkt_tok_find(t, content, strlen(content)) : -1;
    if (id < 0) return;
    t->bos = id;
    t->add_bos = true;
}

/* A token field: "content", {"content": "..."} (AddedToken), null (-1), or absent (*id untouched). */
static vkt_status special(const vkt_tokenizer *t, const cJSON *root, const char *key, const char *path, int32_t *id) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return VKT_OK;
    if (cJSON_IsNull(v)) return *id = -1, VKT_OK;
    const char *content =
        cJSON_IsString(v) ? v->valuestring : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "content"));
    if (!content) {
        vkt_log_error("%s: \"%s\" must be a string, an object with \"content\", or null", path, key);
        return VKT_ERR_FORMAT;
    }
    int32_t found = vkt_tok_find(t, content, strlen(content));
    if (found < 0) {
        vkt_log_error("%s: \"%s\" is \"%s\", which tokenizer.json has no token for (is this tokenizer_config.json of "
                      "the same tokenizer?)",
                      path, key, content);
        return VKT_ERR_FORMAT;
    }
    *id = found;
    return VKT_OK;
}

vkt_status vkt_tok_apply_hf_config(vkt_tokenizer *t, const char *tokenizer_config_json) {
    char *text;
    size_t len;
    VKT_TRY(vkt_tok_read_file(tokenizer_config_json, "tokenizer_config.json", &text, &len));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const char *p = tokenizer_config_json;
    vkt_status s = cJSON_IsObject(root) ? VKT_OK : VKT_ERR_FORMAT;
    if (s != VKT_OK) vkt_log_error("%s: not a JSON object (expected a Hugging Face tokenizer_config.json)", p);
    if (s == VKT_OK) s = special(t, root, "bos_token", p, &t->bos);
    if (s == VKT_OK) s = special(t, root, "eos_token", p, &t->eos);
    if (s == VKT_OK) s = special(t, root, "pad_token", p, &t->pad);
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(root, "add_bos_token");
    if (s == VKT_OK && add && !cJSON_IsBool(add)) {
        vkt_log_error("%s: \"add_bos_token\" must be true or false", p);
        s = VKT_ERR_FORMAT;
    }
    if (s == VKT_OK && add) t->add_bos = cJSON_IsTrue(add);
    if (s == VKT_OK && t->add_bos && t->bos < 0) {
        vkt_log_error("%s: the tokenizer adds a BOS token (add_bos_token or tokenizer.json's post_processor) but "
                      "\"bos_token\" names none; give bos_token or set add_bos_token to false",
                      p);
        s = VKT_ERR_FORMAT;
    }
    cJSON_Delete(root);
    return s;
}
