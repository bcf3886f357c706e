/* llama2.c legacy checkpoint -> HF Llama parameter table (see llama2c.h). */
#include "io/llama2c.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/file.h"

#define HEADER_BYTES 28
#define AK42_MAGIC   0x616b3432 /* llama2.c version 1/2 exports start with "ak42" */

void vkt_rope_interleaved_to_half(float *dst, const float *src, int n_heads, int head_size, int64_t cols) {
    int half = head_size / 2;
    for (int h = 0; h < n_heads; h++)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < half; i++) {
                const float *s = src + ((int64_t)h * head_size + 2 * i + j) * cols;
                float *d = dst + ((int64_t)h * head_size + (int64_t)j * half + i) * cols;
                memcpy(d, s, (size_t)cols * sizeof *d);
            }
}

static vkt_status parse_header(const char *path, const uint8_t *p, size_t size, vkt_llama2c_config *cfg) {
    if (size < HEADER_BYTES) {
        vkt_log_error("%s: truncated: %zu bytes, a llama2.c checkpoint starts with a 28-byte header", path, size);
        return VKT_ERR_FORMAT;
    }
    int32_t h[7];
    memcpy(h, p, sizeof h);
    if ((uint32_t)h[0] == AK42_MAGIC) {
        vkt_log_error("%s: a llama2.c version 1/2 export (magic \"ak42\"); only the legacy format is supported "
                      "(re-export with llama2.c export.py --version 0)",
                      path);
        return VKT_ERR_UNSUPPORTED;
    }
    static const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++) {
        int64_t v = i == 5 && h[i] < 0 ? -(int64_t)h[i] : h[i]; /* INT32_MIN has no int32 negation */
        if (v <= 0 || v > (1 << 24)) {
            vkt_log_error("%s: header field %s = %d is out of range (1..2^24): not a llama2.c checkpoint?", path,
                          names[i], h[i]);
            return VKT_ERR_FORMAT;
        }
    }
    *cfg = (vkt_llama2c_config){.dim = h[0],
                                .hidden_dim = h[1],
                                .n_layers = h[2],
                                .n_heads = h[3],
                                .n_kv_heads = h[4],
                                .vocab_size = h[5] < 0 ? -h[5] : h[5],
                                .seq_len = h[6],
                                .shared_classifier = h[5] > 0};
    if (cfg->dim % cfg->n_heads != 0 || cfg->n_heads % cfg->n_kv_heads != 0 || (cfg->dim / cfg->n_heads) % 2) {
        vkt_log_error("%s: header dim %d, n_heads %d, n_kv_heads %d: need dim %% n_heads == 0, n_heads %% n_kv_heads "
                      "== 0 and an even head size",
                      path, cfg->dim, cfg->n_heads, cfg->n_kv_heads);
        return VKT_ERR_FORMAT;
    }
    cfg->head_size = cfg->dim / cfg->n_heads;
    return VKT_OK;
}

vkt_status vkt_llama2c_read_config(const char *path, vkt_llama2c_config *cfg) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    vkt_status s = parse_header(path, f.data, f.size, cfg);
    vkt_file_map_close(&f);
    return s;
}

/* Source arrays in file order; counts in floats. */
typedef struct {
    int64_t emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq, wcls;
} offsets;

static int64_t layout(const vkt_llama2c_config *c, offsets *o) {
    int64_t C = c->dim, H = c->hidden_dim, L = c->n_layers, V = c->vocab_size, HS = c->head_size;
    int64_t q = (int64_t)c->n_heads * HS, kv = (int64_t)c->n_kv_heads * HS, at = 0;
    o->emb = at, at += V * C;
    o->rms_att = at, at += L * C;
    o->wq = at, at += L * q * C;
    o->wk = at, at += L * kv * C;
    o->wv = at, at += L * kv * C;
    o->wo = at, at += L * C * q;
    o->rms_ffn = at, at += L * C;
    o->w1 = at, at += L * H * C;
    o->w2 = at, at += L * C * H;
    o->w3 = at, at += L * H * C;
    o->rms_final = at, at += C;
    o->freq = at, at += (int64_t)c->seq_len * HS; /* real and imag halves, HS/2 each per position */
    o->wcls = c->shared_classifier ? o->emb : at;
    if (!c->shared_classifier) at += V * C;
    return at;
}

static vkt_status build_table(const vkt_llama2c_config *c, vkt_host_params *t) {
    int64_t C = c->dim, H = c->hidden_dim, V = c->vocab_size;
    int64_t q = (int64_t)c->n_heads * c->head_size, kv = (int64_t)c->n_kv_heads * c->head_size;
    VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){V, C}, "model.embed_tokens.weight"));
    for (int l = 0; l < c->n_layers; l++) {
        const char *pre = "model.layers";
        VKT_TRY(vkt_host_params_add(t, 1, (int64_t[]){C}, "%s.%d.input_layernorm.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){q, C}, "%s.%d.self_attn.q_proj.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){kv, C}, "%s.%d.self_attn.k_proj.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){kv, C}, "%s.%d.self_attn.v_proj.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){C, q}, "%s.%d.self_attn.o_proj.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 1, (int64_t[]){C}, "%s.%d.post_attention_layernorm.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){H, C}, "%s.%d.mlp.gate_proj.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){H, C}, "%s.%d.mlp.up_proj.weight", pre, l));
        VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){C, H}, "%s.%d.mlp.down_proj.weight", pre, l));
    }
    VKT_TRY(vkt_host_params_add(t, 1, (int64_t[]){C}, "model.norm.weight"));
    if (!c->shared_classifier) VKT_TRY(vkt_host_params_add(t, 2, (int64_t[]){V, C}, "lm_head.weight"));
    return vkt_host_params_alloc(t);
}

/* Copies n floats from the file (unaligned-safe). */
static void copy(float *dst, const uint8_t *w, int64_t at, int64_t n) { memcpy(dst, w + at * 4, (size_t)n * 4); }

static void fill_table(const vkt_llama2c_config *c, const offsets *o, const uint8_t *w, vkt_host_params *t) {
    int64_t C = c->dim, H = c->hidden_dim, V = c->vocab_size;
    int64_t q = (int64_t)c->n_heads * c->head_size, kv = (int64_t)c->n_kv_heads * c->head_size;
    vkt_host_param *p = t->items;
    copy((p++)->data, w, o->emb, V * C);
    for (int64_t l = 0; l < c->n_layers; l++) {
        /* The permutation needs a separate source: stage q and k in the o_proj slot (C*q floats, enough
         * for both), which is filled after them. */
        float *scratch = p[4].data;
        copy(p[0].data, w, o->rms_att + l * C, C);
        copy(scratch, w, o->wq + l * q * C, q * C);
        vkt_rope_interleaved_to_half(p[1].data, scratch, c->n_heads, c->head_size, C);
        copy(scratch, w, o->wk + l * kv * C, kv * C);
        vkt_rope_interleaved_to_half(p[2].data, scratch, c->n_kv_heads, c->head_size, C);
        copy(p[3].data, w, o->wv + l * kv * C, kv * C);
        copy(p[4].data, w, o->wo + l * C * q, C * q);
        copy(p[5].data, w, o->rms_ffn + l * C, C);
        copy(p[6].data, w, o->w1 + l * H * C, H * C);
        copy(p[7].data, w, o->w3 + l * H * C, H * C);
        copy(p[8].data, w, o->w2 + l * C * H, C * H);
        p += 9;
    }
    copy((p++)->data, w, o->rms_final, C);
    if (!c->shared_classifier) copy(p->data, w, o->wcls, V * C);
}

vkt_status vkt_llama2c_load(const char *path, vkt_llama2c_config *cfg, vkt_host_params *out) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    vkt_status s = vkt_llama2c_load_mem(f.data, f.size, path, cfg, out);
    vkt_file_map_close(&f);
    return s;
}

vkt_status vkt_llama2c_load_mem(const void *data, size_t size, const char *path, vkt_llama2c_config *cfg,
                                vkt_host_params *out) {
    vkt_status s = parse_header(path, (const uint8_t *)data, size, cfg);
    if (s != VKT_OK) goto cleanup;
    /* Header fields are at most 2^24 each, but products of three can overflow int64: bound in double. */
    double C = cfg->dim, H = cfg->hidden_dim, L = cfg->n_layers, V = cfg->vocab_size;
    double approx = 2 * V * C + L * (4 * C * C + 3 * H * C + 2 * C) + (double)cfg->seq_len * cfg->head_size;
    if (approx * 4 > 4e18) {
        vkt_log_error("%s: header implies %.3g bytes of weights: not a llama2.c checkpoint?", path, approx * 4);
        s = VKT_ERR_FORMAT;
        goto cleanup;
    }
    offsets o;
    int64_t want = HEADER_BYTES + 4 * layout(cfg, &o);
    if ((int64_t)size != want) {
        vkt_log_error("%s: file has %zu bytes, but the header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                      "n_kv_heads %d, vocab_size %d %s, seq_len %d) implies %lld bytes including the freq_cis "
                      "tables%s",
                      path, size, cfg->dim, cfg->hidden_dim, cfg->n_layers, cfg->n_heads, cfg->n_kv_heads,
                      cfg->vocab_size, cfg->shared_classifier ? "shared" : "unshared", cfg->seq_len, (long long)want,
                      (int64_t)size < want ? " (truncated?)" : "");
        s = VKT_ERR_FORMAT;
        goto cleanup;
    }
    s = build_table(cfg, out);
    if (s != VKT_OK) goto cleanup;
    fill_table(cfg, &o, (const uint8_t *)data + HEADER_BYTES, out);
cleanup:
    if (s != VKT_OK) vkt_host_params_free(out);
    return s;
}
