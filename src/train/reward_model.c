/* A reward model loaded for scoring (see reward_model.h). */
#include "train/reward_model.h"

#include <stdio.h>
#include <stdlib.h>

#include "chat/chat.h"
#include "core/log.h"
#include "finetune/lora_peft.h"
#include "io/checkpoint.h"

struct vkt_reward_model {
    vkt_model *model;        /* owned */
    vkt_lora *lora;          /* owned or NULL */
    vkt_tokenizer *tok;      /* owned */
    vkt_chat_template *chat; /* owned or NULL */
    char tokenizer_spec[1024];
    vkt_score_opts so;
};

/* The score head: the adapter's (modules_to_save "score"), else the model's own score.weight. */
static vkt_status head_of(const vkt_reward_model *rm, const vkt_reward_model_opts *o, vkt_tensor *w) {
    vkt_tensor dw;
    if (rm->lora && vkt_lora_score_views(rm->lora, w, &dw)) return VKT_OK;
    const vkt_param *e = vkt_params_get(&rm->model->table, -1, VKT_ROLE_SCORE_W);
    if (!rm->lora && e) {
        *w = vkt_model_param(rm->model, e);
        return VKT_OK;
    }
    if (rm->lora)
        vkt_log_error("%s: the adapter %s has no score head (a reward model's adapter has task_type \"SEQ_CLS\" and "
                      "modules_to_save [\"score\"]: train one with finetune.objective \"reward\")",
                      o->adapter_field, o->adapter);
    else
        vkt_log_error(
            "%s: %s has no score head (score.weight), so it is no reward model: give a reward model "
            "(a run or step folder of finetune.objective \"reward\", method full), or its base model with the "
            "LoRA adapter of such a run in %s",
            o->path_field, o->path, o->adapter_field);
    return VKT_ERR_ARG;
}

static vkt_status load(vkt_device *dev, const vkt_reward_model_opts *o, vkt_reward_model *rm) {
    int64_t T = o->max_length;
    if (T <= 0) {
        vkt_model_config mc;
        char ck[1024];
        vkt_status s = vkt_checkpoint_resolve_quiet(o->path, ck, sizeof ck) ? vkt_checkpoint_read_config(ck, &mc)
                                                                            : vkt_import_config(o->path, &mc);
        if (s != VKT_OK) {
            vkt_log_error("%s: %s cannot be read as a model (above)", o->path_field, o->path);
            return s;
        }
        T = o->default_length > 0 ? o->default_length : 1024;
        if (T > mc.max_seq_len) T = mc.max_seq_len;
    }
    char found[1024] = "";
    vkt_status s = vkt_load_model(dev, o->path, o->batch, T, false, &rm->model, found, sizeof found);
    if (s != VKT_OK) {
        vkt_log_error("%s: the reward model %s could not be loaded (above)", o->path_field, o->path);
        return s;
    }
    if (o->adapter && (s = vkt_lora_load_peft(rm->model, o->adapter, false, &rm->lora)) != VKT_OK) {
        vkt_log_error("%s: the adapter %s could not be loaded (above)", o->adapter_field, o->adapter);
        return s;
    }
    VKT_TRY(head_of(rm, o, &rm->so.w));
    if (rm->lora) vkt_lora_attach(rm->lora); /* scored through the adapter hook, unmerged */
    const char *spec = o->tokenizer ? o->tokenizer : found[0] ? found : NULL;
    if (!spec) {
        vkt_log_error("%s: %s names no tokenizer; give one with %s", o->path_field, o->path, o->tokenizer_field);
        return VKT_ERR_ARG;
    }
    snprintf(rm->tokenizer_spec, sizeof rm->tokenizer_spec, "%s", spec);
    VKT_TRY(vkt_tok_load(spec, &rm->tok));
    if (o->need_template && (s = vkt_chat_template_resolve(o->template_spec, spec, rm->tok, &rm->chat)) != VKT_OK) {
        vkt_log_error("%s: the reward model's chat template, for conversational prompts (above)", o->template_field);
        return s;
    }
    rm->so = (vkt_score_opts){.model = rm->model,
                              .w = rm->so.w,
                              .tok = rm->tok,
                              .template_spec = o->template_spec,
                              .tokenizer_spec = rm->tokenizer_spec,
                              .chat = rm->chat,
                              .parse_special = o->parse_special,
                              .keep_end = o->keep_end};
    return VKT_OK;
}

vkt_status vkt_reward_model_load(vkt_device *dev, const vkt_reward_model_opts *o, vkt_reward_model **out) {
    *out = NULL;
    vkt_reward_model *rm = calloc(1, sizeof *rm);
    if (!rm) return VKT_ERR_OOM;
    vkt_status s = load(dev, o, rm);
    if (s != VKT_OK) {
        vkt_reward_model_destroy(rm);
        return s;
    }
    *out = rm;
    return VKT_OK;
}

void vkt_reward_model_destroy(vkt_reward_model *rm) {
    if (!rm) return;
    vkt_chat_template_free(rm->chat);
    vkt_tok_free(rm->tok);
    vkt_lora_destroy(rm->lora);
    vkt_model_destroy(rm->model);
    free(rm);
}

static size_t capacity(const vkt_arena *a) { return a ? vkt_arena_capacity(a) : 0; }

size_t vkt_reward_model_memory(const vkt_reward_model *rm) {
    size_t params, grads, acts;
    vkt_model_memory(rm->model, &params, &grads, &acts);
    size_t total = params + grads + acts;
    if (rm->lora)
        total += capacity(rm->lora->params_arena) + capacity(rm->lora->grads_arena) + capacity(rm->lora->acts_arena);
    return total;
}

const vkt_score_opts *vkt_reward_model_score_opts(const vkt_reward_model *rm) { return &rm->so; }
