/* llm.c GPT-2 checkpoint <-> HF GPT-2 named parameter table (see llmc_gpt2.h). */
#include "io/llmc_gpt2.h"

#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"
#include "io/file.h"

#define HEADER_INTS 256

/* The 16 file arrays in order: HF name (a per-layer suffix when layered). */
typedef struct {
    const char *name;
    bool layered;
} section;

static const section k_sections[16] = {
    {"transformer.wte.weight", false},
    {"transformer.wpe.weight", false},
    {"ln_1.weight", true},
    {"ln_1.bias", true},
    {"attn.c_attn.weight", true},
    {"attn.c_attn.bias", true},
    {"attn.c_proj.weight", true},
    {"attn.c_proj.bias", true},
    {"ln_2.weight", true},
    {"ln_2.bias", true},
    {"mlp.c_fc.weight", true},
    {"mlp.c_fc.bias", true},
    {"mlp.c_proj.weight", true},
    {"mlp.c_proj.bias", true},
    {"transformer.ln_f.weight", false},
    {"transformer.ln_f.bias", false},
};

/* Shape of section s in the table (wte without padding). */
static int section_shape(const vkt_gpt2_config *c, int s, int64_t shape[2]) {
    int64_t C = c->channels;
    switch (s) {
    case 0: shape[0] = c->vocab_size, shape[1] = C; return 2;
    case 1: shape[0] = c->max_seq_len, shape[1] = C; return 2;
    case 4: shape[0] = 3 * C, shape[1] = C; return 2;
    case 5: shape[0] = 3 * C; return 1;
    case 6: shape[0] = C, shape[1] = C; return 2;
    case 10: shape[0] = 4 * C, shape[1] = C; return 2;
    case 11: shape[0] = 4 * C; return 1;
    case 12: shape[0] = C, shape[1] = 4 * C; return 2;
    default: shape[0] = C; return 1;
    }
}

static int64_t shape_numel(int nd, const int64_t *shape) { return nd == 1 ? shape[0] : shape[0] * shape[1]; }

static void param_name(char *buf, size_t n, int s, int layer) {
    if (k_sections[s].layered)
        snprintf(buf, n, "transformer.h.%d.%s", layer, k_sections[s].name);
    else
        snprintf(buf, n, "%s", k_sections[s].name);
}

bool vkt_gpt2_is_conv1d(const char *name) {
    if (strncmp(name, "transformer.", 12) == 0) name += 12;
    if (strncmp(name, "h.", 2) != 0) return false;
    const char *dot = strchr(name + 2, '.');
    if (!dot) return false;
    dot++;
    return strcmp(dot, "attn.c_attn.weight") == 0 || strcmp(dot, "attn.c_proj.weight") == 0 ||
           strcmp(dot, "mlp.c_fc.weight") == 0 || strcmp(dot, "mlp.c_proj.weight") == 0;
}

static vkt_status parse_header(const char *path, const uint8_t *d, size_t size, vkt_gpt2_config *c, int *version) {
    if (size < HEADER_INTS * 4) {
        vkt_log_error("%s: truncated header: %zu bytes, an llm.c GPT-2 checkpoint starts with 1024", path, size);
        return VKT_ERR_FORMAT;
    }
    int32_t h[8];
    memcpy(h, d, sizeof h);
    if (h[0] != VKT_LLMC_GPT2_MAGIC) {
        vkt_log_error("%s: bad magic %d (expected %d): not an llm.c GPT-2 checkpoint", path, h[0], VKT_LLMC_GPT2_MAGIC);
        return VKT_ERR_FORMAT;
    }
    if (h[1] != VKT_LLMC_GPT2_VERSION_F32 && h[1] != VKT_LLMC_GPT2_VERSION_BF16) {
        vkt_log_error("%s: unsupported version %d (3 = f32, 5 = bf16)", path, h[1]);
        return VKT_ERR_FORMAT;
    }
    static const char *names[6] = {"maxT", "V", "L", "NH", "C", "Vp"};
    for (int i = 0; i < 6; i++)
        if (h[2 + i] <= 0 || h[2 + i] > (1 << 22)) {
            vkt_log_error("%s: header field %s = %d is out of range (1..2^22)", path, names[i], h[2 + i]);
            return VKT_ERR_FORMAT;
        }
    *c = (vkt_gpt2_config){.max_seq_len = h[2],
                           .vocab_size = h[3],
                           .n_layers = h[4],
                           .n_heads = h[5],
                           .channels = h[6],
                           .padded_vocab_size = h[7]};
    if (c->padded_vocab_size < c->vocab_size || c->channels % c->n_heads != 0) {
        vkt_log_error("%s: header Vp %d < V %d, or C %d not a multiple of NH %d", path, c->padded_vocab_size,
                      c->vocab_size, c->channels, c->n_heads);
        return VKT_ERR_FORMAT;
    }
    *version = h[1];
    return VKT_OK;
}

/* Elements of the file array s (all layers; wte with padding). */
static int64_t section_elems(const vkt_gpt2_config *c, int s) {
    int64_t shape[2] = {1, 1};
    int nd = section_shape(c, s, shape);
    if (s == 0) shape[0] = c->padded_vocab_size;
    return shape_numel(nd, shape) * (k_sections[s].layered ? c->n_layers : 1);
}

static vkt_status build_table(const vkt_gpt2_config *c, vkt_host_params *t) {
    /* HF order: embeddings, then per layer its 12 tensors, then ln_f. */
    for (int s = 0; s < 2; s++) {
        int64_t shape[2];
        int nd = section_shape(c, s, shape);
        VKT_TRY(vkt_host_params_add(t, nd, shape, "%s", k_sections[s].name));
    }
    for (int l = 0; l < c->n_layers; l++)
        for (int s = 2; s < 14; s++) {
            int64_t shape[2];
            int nd = section_shape(c, s, shape);
            VKT_TRY(vkt_host_params_add(t, nd, shape, "transformer.h.%d.%s", l, k_sections[s].name));
        }
    for (int s = 14; s < 16; s++) {
        int64_t shape[2];
        int nd = section_shape(c, s, shape);
        VKT_TRY(vkt_host_params_add(t, nd, shape, "%s", k_sections[s].name));
    }
    return vkt_host_params_alloc(t);
}

static void load_values(float *dst, const uint8_t *src, int64_t n, bool bf16) {
    if (!bf16) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint16_t b;
        memcpy(&b, src + 2 * i, 2);
        dst[i] = vkt_bf16_to_f32(b);
    }
}

/* Header plus the exact-size check; *es gets bytes per weight. */
static vkt_status check_file(const char *path, const uint8_t *data, size_t size, vkt_gpt2_config *cfg, size_t *es) {
    int version = 0;
    VKT_TRY(parse_header(path, data, size, cfg, &version));
    *es = version == VKT_LLMC_GPT2_VERSION_BF16 ? 2 : 4;
    /* Header fields are <= 2^22 but L * 12 C^2 can overflow int64: bound in double first. */
    double approx = ((double)cfg->padded_vocab_size + cfg->max_seq_len) * cfg->channels +
                    (double)cfg->n_layers * 13.0 * cfg->channels * (cfg->channels + 1.0);
    if (approx * (double)*es > 4e18) {
        vkt_log_error("%s: header implies %.3g bytes of weights", path, approx * (double)*es);
        return VKT_ERR_FORMAT;
    }
    int64_t total = 0;
    for (int i = 0; i < 16; i++) total += section_elems(cfg, i);
    size_t want = HEADER_INTS * 4 + (size_t)total * *es;
    if (size != want) {
        vkt_log_error("%s: file has %zu bytes, but the header (version %d, maxT %d, V %d, L %d, NH %d, C %d, Vp %d) "
                      "implies %zu bytes%s",
                      path, size, version, cfg->max_seq_len, cfg->vocab_size, cfg->n_layers, cfg->n_heads,
                      cfg->channels, cfg->padded_vocab_size, want, size < want ? " (truncated?)" : "");
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}

vkt_status vkt_llmc_gpt2_read_config(const char *path, vkt_gpt2_config *cfg) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    size_t es;
    vkt_status s = check_file(path, f.data, f.size, cfg, &es);
    vkt_file_map_close(&f);
    return s;
}

vkt_status vkt_llmc_gpt2_load(const char *path, vkt_gpt2_config *cfg, vkt_host_params *out) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    vkt_status s = vkt_llmc_gpt2_load_mem(f.data, f.size, path, cfg, out);
    vkt_file_map_close(&f);
    return s;
}

vkt_status vkt_llmc_gpt2_load_mem(const void *data, size_t size, const char *path, vkt_gpt2_config *cfg,
                                  vkt_host_params *out) {
    size_t es = 4;
    vkt_status s = check_file(path, data, size, cfg, &es);
    if (s != VKT_OK) goto cleanup;
    s = build_table(cfg, out);
    if (s != VKT_OK) goto cleanup;
    const uint8_t *p = (const uint8_t *)data + HEADER_INTS * 4;
    char name[VKT_PARAM_NAME_MAX];
    for (int sec = 0; sec < 16; sec++) {
        int64_t total_sec = section_elems(cfg, sec);
        int n_parts = k_sections[sec].layered ? cfg->n_layers : 1;
        for (int l = 0; l < n_parts; l++) {
            param_name(name, sizeof name, sec, l);
            vkt_host_param *hp = vkt_host_params_find(out, name);
            VKT_ASSERT(hp != NULL);
            load_values(hp->data, p + (size_t)(total_sec / n_parts) * (size_t)l * es, hp->n, es == 2);
        }
        p += (size_t)total_sec * es;
    }
cleanup:
    if (s != VKT_OK) vkt_host_params_free(out);
    return s;
}

static vkt_status write_values(vkt_atomic_file *a, const float *x, int64_t n, bool bf16) {
    if (!bf16) return vkt_atomic_write(a, x, (size_t)n * 4);
    uint16_t buf[4096];
    for (int64_t i = 0; i < n; i += 4096) {
        int64_t m = n - i < 4096 ? n - i : 4096;
        for (int64_t j = 0; j < m; j++) buf[j] = vkt_f32_to_bf16(x[i + j]);
        VKT_TRY(vkt_atomic_write(a, buf, (size_t)m * 2));
    }
    return VKT_OK;
}

static vkt_status check_table(const char *path, const vkt_gpt2_config *c, const vkt_host_params *p) {
    char name[VKT_PARAM_NAME_MAX];
    for (int sec = 0; sec < 16; sec++)
        for (int l = 0; l < (k_sections[sec].layered ? c->n_layers : 1); l++) {
            param_name(name, sizeof name, sec, l);
            const vkt_host_param *hp = vkt_host_params_find(p, name);
            int64_t shape[2] = {1, 1};
            int nd = section_shape(c, sec, shape);
            if (!hp || !hp->data || hp->shape[0] != shape[0] || (nd == 2 && hp->shape[1] != shape[1]) ||
                hp->n != shape_numel(nd, shape)) {
                vkt_log_error("%s: parameter %s is missing or not shaped (%lld, %lld)", path, name, (long long)shape[0],
                              (long long)(nd == 2 ? shape[1] : 1));
                return VKT_ERR_ARG;
            }
        }
    return VKT_OK;
}

vkt_status vkt_llmc_gpt2_save(const char *path, const vkt_gpt2_config *c, const vkt_host_params *p, bool bf16) {
    if (c->padded_vocab_size < c->vocab_size) return VKT_ERR_ARG;
    VKT_TRY(check_table(path, c, p));
    int32_t header[HEADER_INTS] = {VKT_LLMC_GPT2_MAGIC, bf16 ? VKT_LLMC_GPT2_VERSION_BF16 : VKT_LLMC_GPT2_VERSION_F32,
                                   c->max_seq_len,      c->vocab_size,
                                   c->n_layers,         c->n_heads,
                                   c->channels,         c->padded_vocab_size};
    vkt_atomic_file a;
    VKT_TRY(vkt_atomic_open(path, &a));
    vkt_status s = vkt_atomic_write(&a, header, sizeof header);
    char name[VKT_PARAM_NAME_MAX];
    for (int sec = 0; sec < 16 && s == VKT_OK; sec++)
        for (int l = 0; l < (k_sections[sec].layered ? c->n_layers : 1) && s == VKT_OK; l++) {
            param_name(name, sizeof name, sec, l);
            const vkt_host_param *hp = vkt_host_params_find(p, name);
            s = write_values(&a, hp->data, hp->n, bf16);
            /* wte's padding rows (Vp - V of them) follow its V rows inside the same file array. */
            if (sec == 0 && s == VKT_OK && c->padded_vocab_size > c->vocab_size) {
                int64_t pad = (int64_t)(c->padded_vocab_size - c->vocab_size) * c->channels;
                float *zeros = calloc((size_t)pad, sizeof *zeros);
                s = zeros ? write_values(&a, zeros, pad, bf16) : VKT_ERR_OOM;
                free(zeros);
            }
        }
    if (s != VKT_OK) {
        vkt_atomic_abort(&a);
        return s;
    }
    return vkt_atomic_commit(&a);
}
