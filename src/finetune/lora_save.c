/* modules_to_save copies of a LoRA adapter (see lora_save.h and lora.h). */
#include "finetune/lora_save.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

static const vkt_param_role savable[VKT_LORA_SAVED] = {VKT_ROLE_WTE, VKT_ROLE_WPE, VKT_ROLE_LM_HEAD};

const char *vkt_lora_saved_module(const vkt_model_config *mc, vkt_param_role role) {
    bool gpt2 = mc->arch == VKT_ARCH_GPT2;
    if (role == VKT_ROLE_WTE) return gpt2 ? "transformer.wte" : "model.embed_tokens";
    if (role == VKT_ROLE_WPE) return gpt2 ? "transformer.wpe" : NULL;
    return "lm_head"; /* a tied model has the module too (its weight is the embedding's) */
}

/* PEFT's _set_trainable: key.endswith(target_key), a plain string suffix. */
static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

vkt_status vkt_lora_saved_select(vkt_lora *l) {
    const vkt_model_config *mc = &l->model->cfg;
    const vkt_lora_cfg *c = &l->cfg;
    bool hit[VKT_LORA_SAVED] = {0};
    for (int k = 0; k < c->n_save; k++) {
        bool used = false;
        for (int j = 0; j < VKT_LORA_SAVED; j++) {
            const char *mod = vkt_lora_saved_module(mc, savable[j]);
            if (mod && ends_with(mod, c->modules_to_save[k])) hit[j] = used = true;
        }
        if (!used) {
            char names[256] = "";
            for (int j = 0; j < VKT_LORA_SAVED; j++) {
                const char *mod = vkt_lora_saved_module(mc, savable[j]);
                if (mod)
                    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", mod);
            }
            vkt_log_error("modules_to_save: \"%s\" matches no module of this %s model that can be trained in full; "
                          "its savable modules are %s%s (a name selects the modules whose path ends with it)",
                          c->modules_to_save[k], mc->model_type, names, c->score_head ? ", score" : "");
            return VKT_ERR_ARG;
        }
    }
    l->n_saved = 0;
    for (int j = 0; j < VKT_LORA_SAVED; j++)
        if (hit[j]) l->saved_role[l->n_saved++] = savable[j];
    return VKT_OK;
}

/* The base model's weight a copy starts from (the embedding for a tied head). */
static const vkt_param *base_entry(const vkt_model *m, vkt_param_role role) {
    if (role == VKT_ROLE_LM_HEAD && m->cfg.tie_word_embeddings) role = VKT_ROLE_WTE;
    return vkt_params_get(&m->table, -1, role);
}

void vkt_lora_saved_add_entries(vkt_lora *l, int64_t *off, int64_t align) {
    vkt_param_table *t = &l->table;
    l->saved_first = t->n;
    for (int j = 0; j < l->n_saved; j++) {
        const vkt_param *b = base_entry(l->model, l->saved_role[j]);
        vkt_param *e = &t->p[t->n++];
        /* PEFT saves a ModulesToSaveWrapper's copy under the module's own path: get_peft_model_state_dict drops
         * "modules_to_save.<adapter>." (ModulesToSaveWrapper.adapter_state_dict), and set_peft_model_state_dict
         * puts it back on load (adapter_state_dict_load_map). */
        snprintf(e->name, sizeof e->name, "base_model.model.%s.weight",
                 vkt_lora_saved_module(&l->model->cfg, l->saved_role[j]));
        e->rows = b->rows, e->cols = b->cols, e->numel = b->numel;
        *off = (*off + align - 1) / align * align;
        e->offset = *off, *off += e->numel;
        /* transformers' Trainer decays every weight but biases and norms: embeddings and the head too. */
        e->layer = -1, e->role = l->saved_role[j], e->decay = true;
    }
}

vkt_status vkt_lora_saved_init(vkt_lora *l, float *host) {
    for (int j = 0; j < l->n_saved; j++) {
        const vkt_param *e = &l->table.p[l->saved_first + j];
        vkt_tensor w = vkt_model_param(l->model, base_entry(l->model, e->role));
        VKT_TRY(vkt_tensor_download(l->model->dev, &w, host + e->offset, (size_t)e->numel * 4));
    }
    return VKT_OK;
}

static vkt_tensor entry_view(const vkt_tensor *flat, const vkt_param *e) {
    vkt_tensor t = *flat;
    t.offset += (size_t)e->offset * vkt_dtype_size(flat->dtype);
    t.shape[0] = e->rows, t.shape[1] = e->cols, t.shape[2] = t.shape[3] = 1;
    return t;
}

/* The passes of the adapted model read the 16-bit copy under mixed precision (as they do the adapters and the
 * base), and the gradients are f32 either way; an f32 inference model (a mirror) reads the f32 copies. */
void vkt_lora_saved_views(vkt_lora *l) {
    memset(&l->saved, 0, sizeof l->saved);
    memset(&l->saved_master, 0, sizeof l->saved_master);
    const vkt_tensor *read = l->params_half.arena ? &l->params_half : &l->params;
    for (int j = 0; j < l->n_saved; j++) {
        const vkt_param *e = &l->table.p[l->saved_first + j];
        vkt_tensor w = entry_view(read, e), g = entry_view(&l->grads, e), w32 = entry_view(&l->params, e);
        if (e->role == VKT_ROLE_WTE) l->saved.wte = w, l->saved.dwte = g, l->saved_master.wte = w32;
        if (e->role == VKT_ROLE_WPE) l->saved.wpe = w, l->saved.dwpe = g, l->saved_master.wpe = w32;
        if (e->role == VKT_ROLE_LM_HEAD) l->saved.head = w, l->saved.dhead = g, l->saved_master.head = w32;
    }
}

bool vkt_lora_unties(const vkt_lora *l) {
    if (!l->model->cfg.tie_word_embeddings) return false;
    for (int j = 0; j < l->n_saved; j++)
        if (l->saved_role[j] == VKT_ROLE_WTE || l->saved_role[j] == VKT_ROLE_LM_HEAD) return true;
    return false;
}

vkt_status vkt_lora_saved_merge(vkt_lora *l, vkt_rec *r) {
    if (vkt_lora_unties(l)) {
        vkt_log_error("LoRA merge: the adapter's modules_to_save untie this model's tied embeddings (PEFT trains a "
                      "separate copy), which a tied model cannot hold in place; merge into a new folder with `vktrain "
                      "merge MODEL --adapter DIR --out DIR` (it writes lm_head.weight and tie_word_embeddings false)");
        return VKT_ERR_UNSUPPORTED;
    }
    for (int j = 0; j < l->n_saved; j++) {
        const vkt_param *e = &l->table.p[l->saved_first + j];
        vkt_tensor src = entry_view(&l->params, e), dst = vkt_model_param(l->model, base_entry(l->model, e->role));
        VKT_TRY(vkt_rec_copy(r, &src, &dst));
    }
    return VKT_OK;
}
