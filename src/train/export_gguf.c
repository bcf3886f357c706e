/* GGUF export (see export_gguf.h). */
#include "train/export_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/tokenizer.h"
#include "io/checkpoint.h"
#include "train/merge.h"

bool vkt_export_type_parse(const char *s, vkt_ggml_type *out) {
    if (!strcmp(s, "f32")) return *out = VKT_GGML_F32, true;
    if (!strcmp(s, "f16")) return *out = VKT_GGML_F16, true;
    if (!strcmp(s, "q8_0")) return *out = VKT_GGML_Q8_0, true;
    return false;
}

/* GGUF base name of a parameter role (llama.cpp's LLM_TENSOR_* names), or NULL. */
static const char *role_name(vkt_param_role r, const char **suffix) {
    *suffix = "weight";
    switch (r) {
    case VKT_ROLE_WTE: return "token_embd";
    case VKT_ROLE_WPE: return "position_embd";
    case VKT_ROLE_NORM_F_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_NORM_F_W: return "output_norm";
    case VKT_ROLE_LM_HEAD: return "output";
    case VKT_ROLE_NORM1_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_NORM1_W: return "attn_norm";
    case VKT_ROLE_QKV_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_QKV_W: return "attn_qkv";
    case VKT_ROLE_Q_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_Q_W: return "attn_q";
    case VKT_ROLE_K_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_K_W: return "attn_k";
    case VKT_ROLE_V_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_V_W: return "attn_v";
    case VKT_ROLE_O_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_O_W: return "attn_output";
    case VKT_ROLE_NORM2_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_NORM2_W: return "ffn_norm";
    case VKT_ROLE_GATE_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_GATE_W: return "ffn_gate";
    case VKT_ROLE_FC_B:
    case VKT_ROLE_UP_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_FC_W:
    case VKT_ROLE_UP_W: return "ffn_up";
    case VKT_ROLE_DOWN_B: *suffix = "bias"; /* fall through */
    case VKT_ROLE_DOWN_W: return "ffn_down";
    default: return NULL;
    }
}

/* HF rotate_half row order -> interleaved pairs, per head (rows = n_heads * hs, each of cols). */
static void permute_rope(float *dst, const float *src, int64_t n_heads, int64_t hs, int64_t cols) {
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < hs / 2; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy(dst + (h * hs + 2 * i + j) * cols, src + (h * hs + j * hs / 2 + i) * cols,
                       (size_t)cols * sizeof *dst);
}

static vkt_status add_hparams(vkt_gguf_writer *w, const vkt_model_config *c, const char *arch, vkt_ggml_type type,
                              const char *name) {
    char k[96];
    uint32_t ftype = type == VKT_GGML_F32   ? VKT_GGUF_FTYPE_ALL_F32
                     : type == VKT_GGML_F16 ? VKT_GGUF_FTYPE_MOSTLY_F16
                                            : VKT_GGUF_FTYPE_MOSTLY_Q8_0;
    VKT_TRY(vkt_gguf_add_str(w, "general.architecture", arch));
    VKT_TRY(vkt_gguf_add_str(w, "general.name", name));
    VKT_TRY(vkt_gguf_add_u32(w, "general.file_type", ftype));
    if (type == VKT_GGML_Q8_0) VKT_TRY(vkt_gguf_add_u32(w, "general.quantization_version", 2));
    VKT_TRY(vkt_gguf_add_u32(w, "general.alignment", VKT_GGUF_DEFAULT_ALIGNMENT));
#define KEY(s) (snprintf(k, sizeof k, "%s." s, arch), k)
    VKT_TRY(vkt_gguf_add_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("context_length"), (uint32_t)c->max_seq_len));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("embedding_length"), (uint32_t)c->n_embd));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("block_count"), (uint32_t)c->n_layer));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("feed_forward_length"), (uint32_t)c->n_inner));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("attention.head_count"), (uint32_t)c->n_head));
    if (c->arch == VKT_ARCH_GPT2) {
        VKT_TRY(vkt_gguf_add_f32(w, KEY("attention.layer_norm_epsilon"), (float)c->norm_eps));
        return VKT_OK;
    }
    VKT_TRY(vkt_gguf_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_head));
    VKT_TRY(vkt_gguf_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)c->norm_eps));
    VKT_TRY(vkt_gguf_add_f32(w, KEY("rope.freq_base"), (float)c->rope_theta));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim));
    VKT_TRY(vkt_gguf_add_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim));
#undef KEY
    return VKT_OK;
}

static vkt_status add_vocab(vkt_gguf_writer *w, const vkt_tok_vocab *v) {
    VKT_TRY(vkt_gguf_add_str(w, "tokenizer.ggml.model", v->model));
    if (v->pre) VKT_TRY(vkt_gguf_add_str(w, "tokenizer.ggml.pre", v->pre));
    VKT_TRY(vkt_gguf_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, v->n));
    if (v->scores) VKT_TRY(vkt_gguf_add_arr_f32(w, "tokenizer.ggml.scores", v->scores, v->n));
    VKT_TRY(vkt_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", v->types, v->n));
    if (v->merges)
        VKT_TRY(vkt_gguf_add_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges, v->n_merges));
    if (v->bos >= 0) VKT_TRY(vkt_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos));
    if (v->eos >= 0) VKT_TRY(vkt_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos));
    if (v->unk >= 0) VKT_TRY(vkt_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk));
    bool sp = strcmp(v->model, "llama") == 0;
    VKT_TRY(vkt_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos));
    VKT_TRY(vkt_gguf_add_bool(w, "tokenizer.ggml.add_eos_token", false));
    if (sp) VKT_TRY(vkt_gguf_add_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix));
    return VKT_OK;
}

static vkt_status add_tensor(vkt_gguf_writer *w, const vkt_host_model *m, const vkt_param *e, const char *gname,
                             vkt_ggml_type type) {
    const vkt_model_config *c = &m->cfg;
    const float *x = m->flat + e->offset;
    float *perm = NULL;
    bool q = e->role == VKT_ROLE_Q_W || e->role == VKT_ROLE_Q_B, k = e->role == VKT_ROLE_K_W || e->role == VKT_ROLE_K_B;
    if (c->arch == VKT_ARCH_LLAMA && (q || k)) {
        int64_t cols = e->rows == 1 ? 1 : e->cols; /* a bias is one value per row */
        if (!(perm = malloc((size_t)e->numel * sizeof *perm))) return VKT_ERR_OOM;
        permute_rope(perm, x, q ? c->n_head : c->n_kv_head, c->head_dim, cols);
        x = perm;
    }
    int64_t ne[2] = {e->cols, e->rows};
    int ndim = e->rows == 1 ? 1 : 2;
    vkt_ggml_type t = ndim == 1 ? VKT_GGML_F32 : type;
    if (t == VKT_GGML_Q8_0 && e->cols % VKT_GGUF_QK8_0) {
        vkt_log_info("GGUF export: %s has rows of %lld values (not a multiple of %d): written F16 instead of Q8_0",
                     gname, (long long)e->cols, VKT_GGUF_QK8_0);
        t = VKT_GGML_F16;
    }
    vkt_status s = vkt_gguf_add_tensor_f32(w, gname, ndim, ne, t, x);
    free(perm);
    return s;
}

vkt_status vkt_export_gguf_add(vkt_gguf_writer *w, const vkt_host_model *m, vkt_ggml_type type,
                               const vkt_tok_vocab *vocab, const char *name) {
    const vkt_model_config *c = &m->cfg;
    if (c->arch == VKT_ARCH_LLAMA && strcmp(c->model_type, "qwen2") == 0) {
        vkt_log_error("GGUF export: Qwen2 models (NEOX RoPE, their own tokenizer) are not written by vktrain; use "
                      "llama.cpp's convert_hf_to_gguf.py on a merged folder (vktrain merge)");
        return VKT_ERR_UNSUPPORTED;
    }
    if (c->arch == VKT_ARCH_LLAMA && c->head_dim % 2) {
        vkt_log_error("GGUF export: head_dim %lld is odd; RoPE needs pairs", (long long)c->head_dim);
        return VKT_ERR_UNSUPPORTED;
    }
    const char *arch = c->arch == VKT_ARCH_GPT2 ? "gpt2" : "llama";
    VKT_TRY(add_hparams(w, c, arch, type, name));
    VKT_TRY(add_vocab(w, vocab));
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        const char *suffix, *base = role_name(e->role, &suffix);
        char gname[96];
        if (!base) {
            vkt_log_error("GGUF export: parameter %s has no GGUF name", e->name);
            return VKT_ERR_UNSUPPORTED;
        }
        if (e->layer >= 0)
            snprintf(gname, sizeof gname, "blk.%d.%s.%s", e->layer, base, suffix);
        else
            snprintf(gname, sizeof gname, "%s.%s", base, suffix);
        VKT_TRY(add_tensor(w, m, e, gname, type));
    }
    /* GPT-2 in llama.cpp requires output.weight; vktrain's GPT-2 ties it to the embedding. */
    const vkt_param *wte = vkt_params_get(&m->table, -1, VKT_ROLE_WTE);
    if (c->arch == VKT_ARCH_GPT2 && !vkt_params_get(&m->table, -1, VKT_ROLE_LM_HEAD))
        VKT_TRY(add_tensor(w, m, wte, "output.weight", type));
    return VKT_OK;
}

static vkt_status load_vocab(const vkt_host_model *m, const char *model, const char *spec_opt, vkt_tok_vocab *v) {
    char found[1024] = "";
    vkt_import_tokenizer_spec(model, found, sizeof found);
    const char *spec = spec_opt ? spec_opt : found[0] ? found : NULL;
    if (!spec) {
        vkt_log_error("%s names no tokenizer and none lies beside it: give one with --tokenizer (a tokenizer.json, "
                      "a llama2.c tok*.bin or a GPT-2 folder); llama.cpp needs it in the GGUF file",
                      model);
        return VKT_ERR_ARG;
    }
    size_t n = strlen(spec);
    vkt_tokenizer *tok = NULL;
    vkt_status s = n > 4 && strcmp(spec + n - 4, ".bin") == 0
                       ? vkt_tok_load_llama2c(spec, (int32_t)m->cfg.vocab_size, &tok)
                       : vkt_tok_load(spec, &tok);
    if (s == VKT_OK) s = vkt_tok_vocab_get(tok, (int32_t)m->cfg.vocab_size, v);
    if (s != VKT_OK) vkt_log_error("%s: tokenizer %s cannot be exported (see above)", model, spec);
    vkt_tok_free(tok);
    return s;
}

vkt_status vkt_export_gguf(const char *model, const char *out_path, const vkt_export_opts *o) {
    vkt_ggml_type type = VKT_GGML_F32;
    if (o->type && !vkt_export_type_parse(o->type, &type)) {
        vkt_log_error("--type %s: expected f32, f16 or q8_0", o->type);
        return VKT_ERR_ARG;
    }
    vkt_host_model m = {0};
    vkt_peft_adapter a = {0};
    vkt_tok_vocab v = {0};
    vkt_gguf_writer w;
    vkt_gguf_writer_init(&w);
    VKT_TRY(vkt_host_model_load(model, &m));
    vkt_status s = VKT_OK;
    if (o->adapter) {
        s = vkt_peft_read(o->adapter, &a);
        if (s == VKT_OK) s = vkt_merge_lora(&m, &a, o->adapter);
    }
    if (s == VKT_OK) s = load_vocab(&m, model, o->tokenizer, &v);
    char name[256];
    const char *base = strrchr(model, '/');
    snprintf(name, sizeof name, "%s", o->name ? o->name : base && base[1] ? base + 1 : model);
    if (s == VKT_OK) s = vkt_export_gguf_add(&w, &m, type, &v, name);
    if (s == VKT_OK) s = vkt_gguf_write(&w, out_path);
    if (s == VKT_OK)
        vkt_log_info("wrote %s: %d tensors, %s, architecture %s", out_path, w.n_tensors, o->type ? o->type : "f32",
                     m.cfg.arch == VKT_ARCH_GPT2 ? "gpt2" : "llama");
    vkt_gguf_writer_free(&w);
    vkt_tok_vocab_free(&v);
    vkt_peft_free(&a);
    vkt_host_model_free(&m);
    return s;
}
