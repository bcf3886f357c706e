/* Model memory plan, parameter views, initialisation and host transfers (see model.h). */
#include "model/model.h"
#include "model/model_decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "ops/cast.h"
#include "ops/embed.h"
#include "ops/layernorm.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "vk/memory.h"

/* Two passes over the same allocation code: the first only measures, the second allocates. */
typedef struct {
    vkt_arena *arena; /* NULL while measuring */
    size_t bytes, align;
} planner;

static vkt_status plan(planner *p, vkt_dtype dt, int64_t d0, int64_t d1, vkt_tensor *out) {
    if (p->arena) return vkt_tensor_alloc(p->arena, dt, d0, d1, 1, 1, out);
    p->bytes = (p->bytes + p->align - 1) / p->align * p->align + (size_t)(d0 * d1) * vkt_dtype_size(dt);
    memset(out, 0, sizeof *out);
    return VKT_OK;
}

static vkt_status plan_acts(vkt_model *m, planner *p, bool backward, int64_t norm_scratch) {
    const vkt_model_config *c = &m->cfg;
    int64_t BT = m->B * m->T, C = c->n_embd, HS = c->head_dim, NH = c->n_head, KVH = c->n_kv_head;
    int64_t QKV = (NH + 2 * KVH) * HS, F = c->n_inner, FC = c->arch == VKT_ARCH_LLAMA ? 2 * F : F;
    bool ln = c->arch == VKT_ARCH_GPT2;
    /* Activations and their gradients in the run's storage dtype; statistics, losses and tables f32. */
    vkt_dtype A = m->act_dtype, F32 = VKT_DTYPE_F32;
    VKT_TRY(plan(p, A, BT, C, &m->embed_out));
    for (int l = 0; l < c->n_layer; l++) {
        vkt_layer_acts *a = &m->layers[l];
        if (m->recompute && l > 0) {
            /* Recomputation keeps only each block's output; everything else is shared and recomputed
             * in the backward, one block at a time. */
            *a = m->layers[0];
            VKT_TRY(plan(p, A, BT, C, &a->res_mlp));
            continue;
        }
        VKT_TRY(plan(p, A, BT, C, &a->norm1));
        if (ln) VKT_TRY(plan(p, F32, BT, 1, &a->norm1_mean));
        VKT_TRY(plan(p, F32, BT, 1, &a->norm1_rstd));
        VKT_TRY(plan(p, A, BT, QKV, &a->qkv));
        VKT_TRY(plan(p, A, BT, NH * HS, &a->atty));
        VKT_TRY(plan(p, F32, m->B * NH, m->T, &a->lse));
        VKT_TRY(plan(p, A, BT, C, &a->res_attn));
        VKT_TRY(plan(p, A, BT, C, &a->norm2));
        if (ln) VKT_TRY(plan(p, F32, BT, 1, &a->norm2_mean));
        VKT_TRY(plan(p, F32, BT, 1, &a->norm2_rstd));
        VKT_TRY(plan(p, A, BT, FC, &a->fc));
        VKT_TRY(plan(p, A, BT, F, &a->fc_act));
        VKT_TRY(plan(p, A, BT, C, &a->res_mlp));
    }
    VKT_TRY(plan(p, A, BT, C, &m->normf));
    if (ln) VKT_TRY(plan(p, F32, BT, 1, &m->normf_mean));
    VKT_TRY(plan(p, F32, BT, 1, &m->normf_rstd));
    if (!ln) VKT_TRY(plan(p, F32, m->T + m->pos0_max, HS, &m->rope_table));
    /* As llm.c pads its vocabulary: aligned rows for the fast matmul kernels (see logits_pad in model.h). */
    int64_t V = c->vocab_size, Vp = V % 8 ? (V + 127) / 128 * 128 : V;
    VKT_TRY(plan(p, A, BT, Vp, &m->logits_pad));
    m->logits = m->logits_pad;
    m->logits.shape[1] = V;
    m->dlogits_ld = V;
    VKT_TRY(plan(p, F32, BT, 1, &m->losses));
    VKT_TRY(plan(p, F32, BT, 2, &m->xent_rowstats));
    if (m->kv_len > 0) {
        VKT_TRY(plan(p, F32, c->n_layer * m->kv_len, KVH * HS, &m->k_cache));
        VKT_TRY(plan(p, F32, c->n_layer * m->kv_len, KVH * HS, &m->v_cache));
        VKT_TRY(plan(p, F32, 1, C, &m->dec_last));
    }
    if (!backward) return VKT_OK;
    for (int k = 0; k < 2 && !m->grads_arena; k++) VKT_TRY(plan(p, F32, 1, C, &m->dnorm_sink[k]));
    VKT_TRY(plan(p, A, BT, C, &m->dres));
    VKT_TRY(plan(p, A, BT, C, &m->dtmp_c));
    VKT_TRY(plan(p, A, BT, QKV, &m->dqkv));
    VKT_TRY(plan(p, A, BT, NH * HS, &m->datty));
    VKT_TRY(plan(p, A, BT, FC, &m->dfc));
    VKT_TRY(plan(p, A, BT, F, &m->dfc_act));
    VKT_TRY(plan(p, F32, m->B * NH, m->T, &m->delta));
    VKT_TRY(plan(p, VKT_DTYPE_I32, vkt_op_embed_bwd_scratch(BT), 1, &m->embed_scratch));
    return plan(p, F32, norm_scratch, 1, &m->norm_scratch);
}

/* The norm backward's partial-sum scratch depends on the device's binding limit, known to a recorder. */
static vkt_status norm_scratch_elems(vkt_model *m, int64_t *out) {
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(m->dev, 0, &r));
    int64_t BT = m->B * m->T, C = m->cfg.n_embd;
    *out = m->cfg.arch == VKT_ARCH_GPT2 ? vkt_op_layernorm_bwd_scratch(r, BT, C) : vkt_op_rmsnorm_bwd_scratch(r, BT, C);
    vkt_rec_destroy(r);
    return VKT_OK;
}

/* Backward passes accumulate into the gradients, so they start at zero. */
static vkt_status zero_grads_now(vkt_model *m) {
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(m->dev, 0, &r));
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_rec_fill(r, &m->grads, 0);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_destroy(r);
    return s;
}

static vkt_status fill_rope_table(vkt_model *m) {
    int64_t HS = m->cfg.head_dim, P = m->T + m->pos0_max;
    double *inv_freq = malloc((size_t)HS / 2 * sizeof *inv_freq);
    float *table = malloc((size_t)(P * HS) * sizeof *table);
    vkt_status s = inv_freq && table ? VKT_OK : VKT_ERR_OOM;
    if (s == VKT_OK) {
        vkt_model_config_rope_freqs(&m->cfg, inv_freq);
        vkt_rope_table(table, P, HS / 2, inv_freq, false);
        s = vkt_tensor_upload(m->dev, &m->rope_table, table, (size_t)(P * HS) * sizeof *table);
    }
    free(inv_freq);
    free(table);
    return s;
}

static vkt_status create(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T, vkt_model_mode mode,
                         bool recompute, vkt_qformat base_format, vkt_dtype precision, int64_t kv_len,
                         vkt_model **out);

vkt_status vkt_model_create(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T, bool with_grads,
                            vkt_model **out) {
    return vkt_model_create_ex(dev, cfg, B, T, with_grads, false, out);
}

vkt_status vkt_model_create_ex(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T, bool with_grads,
                               bool recompute, vkt_model **out) {
    return create(dev, cfg, B, T, with_grads ? VKT_MODEL_TRAIN : VKT_MODEL_INFER, recompute, VKT_QFORMAT_F32,
                  VKT_DTYPE_F32, 0, out);
}

vkt_status vkt_model_create_mode(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T,
                                 vkt_model_mode mode, bool recompute, vkt_model **out) {
    return create(dev, cfg, B, T, mode, recompute, VKT_QFORMAT_F32, VKT_DTYPE_F32, 0, out);
}

vkt_status vkt_model_create_opts(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T,
                                 const vkt_model_opts *opts, vkt_model **out) {
    return create(dev, cfg, B, T, opts->mode, opts->recompute, opts->base_format, opts->precision, 0, out);
}

vkt_status vkt_model_create_decode(vkt_device *dev, const vkt_model_config *cfg, int64_t T, int64_t kv_len,
                                   vkt_model **out) {
    if (kv_len < T || kv_len > cfg->max_seq_len) {
        vkt_log_error("KV cache of %lld positions: must hold the %lld-token chunk and stay within the model's "
                      "maximum %lld", (long long)kv_len, (long long)T, (long long)cfg->max_seq_len);
        return VKT_ERR_ARG;
    }
    return create(dev, cfg, 1, T, VKT_MODEL_INFER, false, VKT_QFORMAT_F32, VKT_DTYPE_F32, kv_len, out);
}

/* After an out-of-memory arena (whose own message names its size and the heap): what the model needs and
 * the settings that shrink it. act_bytes is 0 when the activations were not planned yet. */
static void log_oom_hint(const vkt_model *m, size_t param_bytes, size_t act_bytes, bool with_grads) {
    char acts[96] = "";
    if (act_bytes) snprintf(acts, sizeof acts, ", %.3f GiB of activations", (double)act_bytes / (1 << 30));
    vkt_log_error("the model at batch %lld x sequence %lld needs %.3f GiB of parameters%s%s: lower optim.batch_size "
                  "or optim.seq_len (activations grow with batch x sequence; optim.grad_accum keeps the effective "
                  "batch)%s, or choose a smaller model (n_embd, n_layer, vocab_size) or a device with more memory "
                  "(`vktrain devices`)",
                  (long long)m->B, (long long)m->T, (double)param_bytes / (1 << 30),
                  with_grads ? " (and as much again for gradients)" : "", acts,
                  with_grads && !m->recompute ? ", set optim.recompute=true (recomputes activations in the backward "
                                                "pass instead of keeping them)"
                                              : "");
}

static size_t io_arena_bytes(const vkt_model_config *cfg, int64_t B, int64_t T, int64_t kv_len) {
    return 16 * (size_t)(B * T * 4 + 1024) + (kv_len > 0 ? (size_t)cfg->vocab_size * 4 + 4096 : 0);
}

/* Table offsets keep storage-binding alignment for the f32 views, and for the half copy's views too under
 * mixed precision (twice the elements per aligned block). */
static int64_t align_elems(vkt_device *dev, vkt_dtype precision) {
    const vkt_device_info *info = vkt_device_get_info(dev);
    size_t bytes = info->min_storage_offset_align > 256 ? info->min_storage_offset_align : 256;
    return (int64_t)(bytes / (precision == VKT_DTYPE_F32 ? 4 : 2));
}

/* The mixed-precision storage dtypes, and what they need: a model with a backward (TRAIN, or FROZEN under
 * LoRA adapters, where the base may be quantized: qmatmul takes 16-bit activations). */
static vkt_status check_precision(vkt_dtype precision, vkt_model_mode mode, vkt_qformat base_format) {
    if (precision == VKT_DTYPE_F32) return VKT_OK;
    if (precision != VKT_DTYPE_F16 && precision != VKT_DTYPE_BF16) {
        vkt_log_error("model precision %s: must be f32, bf16 or f16", vkt_dtype_name(precision));
        return VKT_ERR_ARG;
    }
    if (mode == VKT_MODEL_INFER || (base_format != VKT_QFORMAT_F32 && mode != VKT_MODEL_FROZEN)) {
        vkt_log_error("optim.precision %s is for training: a model with a backward, whose quantized base (if any) "
                      "is frozen", vkt_dtype_name(precision));
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

vkt_status vkt_model_plan_bytes(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T,
                                const vkt_model_opts *opts, vkt_model_bytes *out) {
    memset(out, 0, sizeof *out);
    VKT_TRY(vkt_model_config_validate(cfg, "model"));
    vkt_model *m = calloc(1, sizeof *m);
    if (!m) return VKT_ERR_OOM;
    bool backward = opts->mode != VKT_MODEL_INFER;
    m->cfg = *cfg, m->B = B, m->T = T, m->dev = dev, m->recompute = opts->recompute && backward;
    m->act_dtype = opts->precision;
    int64_t align = align_elems(dev, opts->precision), scratch = 0;
    vkt_status s = check_precision(opts->precision, opts->mode, opts->base_format);
    if (s == VKT_OK) s = vkt_params_build(cfg, align, &m->table);
    if (s == VKT_OK) s = vkt_model_base_plan(&m->table, opts->base_format, align, &m->base);
    m->layers = calloc((size_t)cfg->n_layer, sizeof *m->layers);
    if (s == VKT_OK && !m->layers) s = VKT_ERR_OOM;
    if (s == VKT_OK) s = norm_scratch_elems(m, &scratch);
    planner p = {.align = (size_t)align * 4};
    if (s == VKT_OK) s = plan_acts(m, &p, backward, scratch);
    if (s == VKT_OK) {
        size_t linear = 0;
        for (int i = 0; i < m->table.n; i++)
            if (vkt_model_base_role_stored(m->table.p[i].role)) linear += (size_t)m->table.p[i].numel * 4;
        bool f32 = opts->base_format == VKT_QFORMAT_F32;
        out->linear = f32 ? linear : m->base.blob_bytes;
        out->other = (size_t)m->base.params_total * 4 - (f32 ? linear : 0);
        out->grads = opts->mode == VKT_MODEL_TRAIN ? (size_t)m->table.total * 4 : 0;
        out->acts = p.bytes, out->io = io_arena_bytes(cfg, B, T, 0);
        if (opts->precision != VKT_DTYPE_F32)
            out->half = (size_t)m->base.params_total * vkt_dtype_size(opts->precision);
    }
    vkt_model_destroy(m);
    return s;
}

static vkt_status create(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T, vkt_model_mode mode,
                         bool recompute, vkt_qformat base_format, vkt_dtype precision, int64_t kv_len,
                         vkt_model **out) {
    bool with_grads = mode == VKT_MODEL_TRAIN, backward = mode != VKT_MODEL_INFER;
    VKT_TRY(check_precision(precision, mode, base_format));
    if (base_format != VKT_QFORMAT_F32 && with_grads) {
        vkt_log_error("base weights stored as %s cannot train: a quantized base is for frozen models (finetune.method "
                      "lora or qlora); full fine-tuning needs finetune.base_format f32",
                      vkt_qformat_name(base_format));
        return VKT_ERR_ARG;
    }
    VKT_TRY(vkt_model_config_validate(cfg, "model"));
    VKT_TRY(vkt_model_config_check_positions(cfg, kv_len > T ? kv_len : T, "model config"));
    if (T > cfg->max_seq_len) {
        vkt_log_error("sequence length %lld is over the model's maximum %lld", (long long)T,
                      (long long)cfg->max_seq_len);
        return VKT_ERR_ARG;
    }
    vkt_model *m = calloc(1, sizeof *m);
    if (!m) return VKT_ERR_OOM;
    m->cfg = *cfg, m->B = B, m->T = T, m->dev = dev, m->dloss = 1.0f, m->recompute = recompute && backward;
    m->kv_len = kv_len, m->pos0_max = kv_len > T ? kv_len - T : 0;
    m->act_dtype = precision;
    int64_t align = align_elems(dev, precision);
    vkt_status s = vkt_params_build(cfg, align, &m->table);
    m->layers = calloc((size_t)cfg->n_layer, sizeof *m->layers);
    if (s == VKT_OK && !m->layers) s = VKT_ERR_OOM;
    if (s == VKT_OK) s = vkt_model_base_plan(&m->table, base_format, align, &m->base);
    size_t pbytes = (size_t)m->base.params_total * 4;
    if (s == VKT_OK) s = vkt_arena_create(dev, "parameters", pbytes, &m->params_arena);
    if (s == VKT_OK) s = vkt_tensor_alloc(m->params_arena, VKT_DTYPE_F32, m->base.params_total, 1, 1, 1, &m->params);
    if (s == VKT_OK) s = vkt_model_base_alloc(dev, &m->base);
    pbytes += m->base.blob_bytes;
    if (s == VKT_OK && precision != VKT_DTYPE_F32) {
        char name[48];
        snprintf(name, sizeof name, "parameters (%s copy)", vkt_dtype_name(precision));
        /* The parameter arena's layout (a quantized base's weights are not in it, so not in the copy). */
        size_t hbytes = (size_t)m->base.params_total * vkt_dtype_size(precision);
        s = vkt_arena_create(dev, name, hbytes, &m->half_arena);
        if (s == VKT_OK)
            s = vkt_tensor_alloc(m->half_arena, precision, m->base.params_total, 1, 1, 1, &m->params_half);
        pbytes += hbytes;
    }
    if (s == VKT_OK && with_grads) s = vkt_arena_create(dev, "gradients", (size_t)m->table.total * 4, &m->grads_arena);
    if (s == VKT_OK && with_grads)
        s = vkt_tensor_alloc(m->grads_arena, VKT_DTYPE_F32, m->table.total, 1, 1, 1, &m->grads);
    /* Decode models also keep the next position and the last position's logits here (host-visible). */
    size_t io_bytes = io_arena_bytes(cfg, B, T, kv_len);
    if (s == VKT_OK) s = vkt_arena_create_host(dev, "batches", io_bytes, &m->io_arena);
    for (int k = 0; k < 2 && s == VKT_OK; k++) {
        s = vkt_tensor_alloc(m->io_arena, VKT_DTYPE_I32, B, T, 1, 1, &m->tokens_slot[k]);
        if (s == VKT_OK) s = vkt_tensor_alloc(m->io_arena, VKT_DTYPE_I32, B, T, 1, 1, &m->targets_slot[k]);
        if (s == VKT_OK) s = vkt_tensor_alloc(m->io_arena, VKT_DTYPE_I32, B, T, 1, 1, &m->seg_start_slot[k]);
        if (s == VKT_OK) memset(vkt_tensor_host_ptr(&m->seg_start_slot[k]), 0, (size_t)(B * T) * sizeof(int32_t));
        if (s == VKT_OK) s = vkt_tensor_alloc(m->io_arena, VKT_DTYPE_F32, 4, 1, 1, 1, &m->stats_slot[k]);
    }
    if (s == VKT_OK && kv_len > 0) s = vkt_tensor_alloc(m->io_arena, VKT_DTYPE_I32, 2, 1, 1, 1, &m->dec_pos);
    if (s == VKT_OK && kv_len > 0)
        s = vkt_tensor_alloc(m->io_arena, VKT_DTYPE_F32, 1, cfg->vocab_size, 1, 1, &m->dec_logits);
    if (s == VKT_OK) vkt_model_use_slot(m, 0);
    planner p = {.align = (size_t)align * 4};
    int64_t scratch = 0;
    if (s == VKT_OK) s = norm_scratch_elems(m, &scratch);
    if (s == VKT_OK) s = plan_acts(m, &p, backward, scratch);
    if (s == VKT_OK) s = vkt_arena_create(dev, "activations", p.bytes, &m->acts_arena);
    if (s == VKT_OK) {
        p.arena = m->acts_arena;
        s = plan_acts(m, &p, backward, scratch);
    }
    if (s == VKT_OK && cfg->arch == VKT_ARCH_LLAMA) s = fill_rope_table(m);
    if (s == VKT_OK && with_grads) s = zero_grads_now(m);
    if (s == VKT_ERR_OOM) log_oom_hint(m, pbytes, p.bytes, with_grads);
    if (s != VKT_OK) {
        vkt_model_destroy(m);
        return s;
    }
    *out = m;
    return VKT_OK;
}

void vkt_model_destroy(vkt_model *m) {
    if (!m) return;
    vkt_arena_destroy(m->acts_arena);
    vkt_arena_destroy(m->io_arena);
    vkt_arena_destroy(m->grads_arena);
    vkt_arena_destroy(m->params_arena);
    vkt_arena_destroy(m->half_arena);
    vkt_model_base_free(&m->base);
    vkt_params_free(&m->table);
    free(m->layers);
    free(m);
}

void vkt_model_use_slot(vkt_model *m, int s) {
    VKT_ASSERT(s == 0 || s == 1);
    m->tokens = m->tokens_slot[s], m->targets = m->targets_slot[s], m->loss_stats = m->stats_slot[s];
    m->seg_start = m->seg_start_slot[s];
}

int32_t *vkt_model_slot_tokens(const vkt_model *m, int s) { return vkt_tensor_host_ptr(&m->tokens_slot[s]); }
int32_t *vkt_model_slot_targets(const vkt_model *m, int s) { return vkt_tensor_host_ptr(&m->targets_slot[s]); }
int32_t *vkt_model_slot_seg_start(const vkt_model *m, int s) { return vkt_tensor_host_ptr(&m->seg_start_slot[s]); }
const float *vkt_model_slot_stats(const vkt_model *m, int s) { return vkt_tensor_host_ptr(&m->stats_slot[s]); }

static vkt_tensor view(const vkt_tensor *flat, int64_t offset, int64_t rows, int64_t cols) {
    vkt_tensor t = *flat;
    t.offset += (size_t)offset * vkt_dtype_size(flat->dtype);
    t.shape[0] = rows, t.shape[1] = cols, t.shape[2] = t.shape[3] = 1;
    return t;
}

/* Element offset of e in the parameter arena (the table's unless the base is stored quantized). */
static int64_t param_offset(const vkt_model *m, const vkt_param *e) {
    int64_t off = m->base.offset[e - m->table.p];
    VKT_ASSERT(off >= 0); /* a quantized base weight has no f32 view: see vkt_model_param_stored */
    return off;
}

bool vkt_model_param_stored(const vkt_model *m, const vkt_param *e) { return m->base.offset[e - m->table.p] < 0; }

vkt_tensor vkt_model_param(const vkt_model *m, const vkt_param *e) {
    return view(&m->params, param_offset(m, e), e->rows, e->cols);
}

vkt_tensor vkt_model_grad(const vkt_model *m, const vkt_param *e) {
    VKT_ASSERT(m->grads_arena);
    return view(&m->grads, e->offset, e->rows, e->cols);
}

vkt_tensor vkt_model_param_group(const vkt_model *m, const vkt_param *e) {
    return view(&m->params, param_offset(m, e), vkt_params_group_rows(&m->table, e), e->cols);
}

vkt_tensor vkt_model_grad_group(const vkt_model *m, const vkt_param *e) {
    VKT_ASSERT(m->grads_arena);
    return view(&m->grads, e->offset, vkt_params_group_rows(&m->table, e), e->cols);
}

vkt_status vkt_model_init_weights(vkt_model *m, uint64_t seed) {
    float *host = calloc((size_t)m->table.total, sizeof *host);
    if (!host) return VKT_ERR_OOM;
    vkt_rng rng;
    vkt_rng_init(&rng, seed);
    double std = m->cfg.init_std, resid_std = std / sqrt(2.0 * (double)m->cfg.n_layer);
    for (int i = 0; i < m->table.n; i++) {
        const vkt_param *e = &m->table.p[i];
        float *x = host + e->offset;
        bool norm_w = e->role == VKT_ROLE_NORM1_W || e->role == VKT_ROLE_NORM2_W || e->role == VKT_ROLE_NORM_F_W;
        if (norm_w) {
            for (int64_t k = 0; k < e->numel; k++) x[k] = 1.0f;
        } else if (e->rows > 1) {
            /* Residual-branch output projections: scaled so the stream's variance stays O(1) with depth. */
            double s = e->role == VKT_ROLE_O_W || e->role == VKT_ROLE_DOWN_W ? resid_std : std;
            for (int64_t k = 0; k < e->numel; k++) x[k] = (float)(s * vkt_rng_normal(&rng));
        }
    }
    vkt_status s = vkt_model_upload_params(m, host);
    free(host);
    return s;
}

vkt_status vkt_model_upload_params(vkt_model *m, const float *host) {
    VKT_TRY(vkt_model_base_upload(m->dev, &m->table, &m->base, &m->params, host));
    return vkt_model_refresh_half(m);
}

vkt_status vkt_model_record_refresh_half(vkt_model *m, vkt_rec *r) {
    if (!m->half_arena) return VKT_OK;
    return vkt_op_cast(r, &m->params, &m->params_half);
}

vkt_status vkt_model_refresh_half(vkt_model *m) {
    if (!m->half_arena) return VKT_OK;
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(m->dev, 0, &r));
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_model_record_refresh_half(m, r);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_destroy(r);
    return s;
}

vkt_status vkt_model_download_params(const vkt_model *m, float *host) {
    return vkt_model_base_download(m->dev, &m->table, &m->base, &m->params, host);
}

vkt_status vkt_model_record_zero_grads(vkt_model *m, vkt_rec *r) {
    if (!m->grads_arena) return VKT_OK;
    /* The flat gradient arena may exceed one fill's reach only in theory: vkCmdFillBuffer has no range
     * limit, so one command covers it. */
    return vkt_rec_fill(r, &m->grads, 0);
}

void vkt_model_memory(const vkt_model *m, size_t *params, size_t *grads, size_t *acts) {
    *params = vkt_arena_capacity(m->params_arena) + (m->base.arena ? vkt_arena_capacity(m->base.arena) : 0) +
              (m->half_arena ? vkt_arena_capacity(m->half_arena) : 0);
    *grads = m->grads_arena ? vkt_arena_capacity(m->grads_arena) : 0;
    *acts = vkt_arena_capacity(m->acts_arena);
}
