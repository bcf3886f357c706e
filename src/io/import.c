/* Model import from Hugging Face folders, llama2.c and llm.c checkpoints (see checkpoint.h). The file
 * readers live in safetensors.c, llama2c.c and llmc_gpt2.c; this file maps their host tables onto the
 * model's parameter table by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/checkpoint.h"
#include "io/llama2c.h"
#include "io/llmc_gpt2.h"
#include "io/param_match.h"

typedef enum { SRC_HF, SRC_LLAMA2C, SRC_LLMC } source_kind;

static vkt_status detect(const char *from, source_kind *kind) {
    struct stat st;
    if (stat(from, &st) != 0) {
        vkt_log_error("%s: not found (model.from takes a Hugging Face model folder, a llama2.c .bin or an "
                      "llm.c .bin)", from);
        return VKT_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) return *kind = SRC_HF, VKT_OK;
    FILE *f = fopen(from, "rb");
    int32_t magic = 0;
    if (!f || fread(&magic, 4, 1, f) != 1) {
        if (f) fclose(f);
        vkt_log_error("%s: cannot read the header", from);
        return VKT_ERR_IO;
    }
    fclose(f);
    *kind = magic == 20240326 ? SRC_LLMC : SRC_LLAMA2C;
    return VKT_OK;
}

vkt_status vkt_import_config(const char *from, vkt_model_config *cfg) {
    source_kind kind;
    VKT_TRY(detect(from, &kind));
    if (kind == SRC_HF) return vkt_checkpoint_read_config(from, cfg);
    if (kind == SRC_LLAMA2C) {
        vkt_llama2c_config lc;
        VKT_TRY(vkt_llama2c_read_config(from, &lc));
        *cfg = *vkt_model_preset("llama-tiny");
        cfg->vocab_size = lc.vocab_size, cfg->max_seq_len = lc.seq_len, cfg->n_embd = lc.dim;
        cfg->n_layer = lc.n_layers, cfg->n_head = lc.n_heads, cfg->n_kv_head = lc.n_kv_heads;
        cfg->head_dim = lc.head_size, cfg->n_inner = lc.hidden_dim, cfg->tie_word_embeddings = lc.shared_classifier;
        cfg->norm_eps = 1e-5, cfg->rope_theta = 10000.0; /* llama2.c's fixed values */
        return vkt_model_config_validate(cfg, from);
    }
    vkt_gpt2_config gc;
    vkt_host_params hp = {0};
    VKT_TRY(vkt_llmc_gpt2_load(from, &gc, &hp));
    vkt_host_params_free(&hp);
    *cfg = *vkt_model_preset("gpt2");
    cfg->vocab_size = gc.vocab_size, cfg->max_seq_len = gc.max_seq_len, cfg->n_layer = gc.n_layers;
    cfg->n_head = gc.n_heads, cfg->n_embd = gc.channels, cfg->head_dim = gc.channels / gc.n_heads;
    cfg->n_inner = 4 * gc.channels;
    return vkt_model_config_validate(cfg, from);
}

/* Copies a host table (names as the readers give them, (out, in) layout) into flat (table layout);
 * every entry must be a parameter of exactly the expected shape and every parameter must be there. */
static vkt_status fill_flat(const char *from, const vkt_host_params *hp, const vkt_param_table *t, float *flat) {
    vkt_status s = VKT_OK;
    for (int i = 0; i < t->n && s == VKT_OK; i++) {
        const vkt_param *e = &t->p[i];
        const vkt_host_param *h = vkt_host_params_find(hp, e->name);
        if (!h && strncmp(e->name, "transformer.", 12) == 0) h = vkt_host_params_find(hp, e->name + 12);
        if (!h) {
            vkt_log_error("%s: tensor %s is missing", from, e->name);
            s = VKT_ERR_FORMAT;
            break;
        }
        s = vkt_param_check_shape(from, h->name, h->ndim, h->shape, e, VKT_LAYOUT_OUT_IN);
        if (s == VKT_OK) memcpy(flat + e->offset, h->data, (size_t)e->numel * sizeof *flat);
    }
    for (int i = 0; i < hp->count && s == VKT_OK; i++)
        if (!vkt_param_for_file_name(t, hp->items[i].name)) {
            char shape[96];
            vkt_log_error("%s: unexpected tensor \"%s\" %s: the model has no such parameter", from, hp->items[i].name,
                          vkt_shape_str(hp->items[i].ndim, hp->items[i].shape, shape, sizeof shape));
            s = VKT_ERR_FORMAT;
        }
    return s;
}

static vkt_status upload_host(const char *from, const vkt_host_params *hp, vkt_model *m, const vkt_param_table *t) {
    float *flat = calloc((size_t)m->table.total, sizeof *flat);
    if (!flat) return VKT_ERR_OOM;
    vkt_status s = fill_flat(from, hp, t, flat);
    if (s == VKT_OK) s = vkt_model_upload_params(m, flat);
    free(flat);
    return s;
}

vkt_status vkt_import_flat(const char *from, const vkt_param_table *t, float *flat) {
    char ck[1024];
    if (vkt_checkpoint_resolve_quiet(from, ck, sizeof ck)) return vkt_checkpoint_read_hf_flat(ck, t, flat);
    source_kind kind;
    VKT_TRY(detect(from, &kind));
    if (kind == SRC_HF) return vkt_checkpoint_read_hf_flat(from, t, flat);
    vkt_host_params hp = {0};
    vkt_status s;
    if (kind == SRC_LLAMA2C) {
        vkt_llama2c_config lc;
        s = vkt_llama2c_load(from, &lc, &hp);
    } else {
        vkt_gpt2_config gc;
        s = vkt_llmc_gpt2_load(from, &gc, &hp);
    }
    if (s == VKT_OK) s = fill_flat(from, &hp, t, flat);
    vkt_host_params_free(&hp);
    return s;
}

/* The entries of m's table that source from holds: all of them, or, for a reward model (a score head, the
 * table's last entry) read from a causal LM, all but the head, which then stays zero. */
static vkt_status source_table(const char *from, const vkt_model *m, vkt_param_table *t) {
    *t = m->table;
    if (!t->n || t->p[t->n - 1].role != VKT_ROLE_SCORE_W) return VKT_OK;
    vkt_model_config src;
    VKT_TRY(vkt_import_config(from, &src));
    if (src.num_labels == 0) {
        t->n--;
        vkt_log_info("%s is a causal LM: its weights are loaded under a score head that starts at zero", from);
    }
    return VKT_OK;
}

vkt_status vkt_import_params(const char *from, vkt_model *m) {
    source_kind kind;
    VKT_TRY(detect(from, &kind));
    vkt_param_table t;
    VKT_TRY(source_table(from, m, &t));
    if (kind == SRC_HF) {
        float *flat = calloc((size_t)m->table.total, sizeof *flat);
        if (!flat) return VKT_ERR_OOM;
        vkt_status s = vkt_checkpoint_read_hf_flat(from, &t, flat);
        if (s == VKT_OK) s = vkt_model_upload_params(m, flat);
        free(flat);
        return s;
    }
    vkt_host_params hp = {0};
    vkt_status s;
    if (kind == SRC_LLAMA2C) {
        vkt_llama2c_config lc;
        s = vkt_llama2c_load(from, &lc, &hp);
    } else {
        vkt_gpt2_config gc;
        s = vkt_llmc_gpt2_load(from, &gc, &hp);
    }
    if (s == VKT_OK) s = upload_host(from, &hp, m, &t);
    vkt_host_params_free(&hp);
    return s;
}

/* The tokenizer a model source carries: a checkpoint's trainer_state.json names it; a folder may hold a
 * tokenizer.json; llama2.c models ship theirs separately (tokenizer.bin beside the checkpoint). */
void vkt_import_tokenizer_spec(const char *from, char *spec, size_t n) {
    char ck[1024], path[1200];
    struct stat st;
    spec[0] = 0;
    if (vkt_checkpoint_resolve_quiet(from, ck, sizeof ck) && vkt_checkpoint_tokenizer(ck, spec, n)) return;
    snprintf(path, sizeof path, "%s/tokenizer.json", from);
    if (stat(path, &st) == 0) {
        snprintf(spec, n, "%s", path);
        return;
    }
    const char *slash = strrchr(from, '/');
    int dir_len = slash ? (int)(slash - from) : 1;
    snprintf(path, sizeof path, "%.*s/tokenizer.bin", dir_len, slash ? from : ".");
    if (stat(path, &st) == 0) snprintf(spec, n, "%s", path);
}

vkt_status vkt_load_model(vkt_device *dev, const char *from, int64_t B, int64_t T, bool with_grads, vkt_model **out,
                          char *tokenizer_spec, size_t spec_size) {
    char ck[1024];
    vkt_model_config cfg;
    bool is_ckpt = vkt_checkpoint_resolve_quiet(from, ck, sizeof ck);
    char conf[1100];
    struct stat sb;
    snprintf(conf, sizeof conf, "%s/config.json", ck);
    if (is_ckpt && stat(conf, &sb) != 0) {
        vkt_log_error("%s is a LoRA adapter (adapter_config.json), not a model: give the base model it was trained on "
                      "and the adapter with --adapter %s", from, ck);
        return VKT_ERR_ARG;
    }
    if (is_ckpt) VKT_TRY(vkt_checkpoint_read_config(ck, &cfg));
    else VKT_TRY(vkt_import_config(from, &cfg));
    if (T <= 0 || T > cfg.max_seq_len) T = cfg.max_seq_len;
    VKT_TRY(vkt_model_create(dev, &cfg, B, T, with_grads, out));
    vkt_status s = is_ckpt ? vkt_checkpoint_load_hf(ck, *out) : vkt_import_params(from, *out);
    if (s != VKT_OK) {
        vkt_model_destroy(*out);
        *out = NULL;
        return s;
    }
    if (tokenizer_spec) vkt_import_tokenizer_spec(from, tokenizer_spec, spec_size);
    return VKT_OK;
}
