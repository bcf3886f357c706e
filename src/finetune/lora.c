/* LoRA adapter table, device memory, initialisation, the model hook and merging (see lora.h). */
#include "finetune/lora.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "finetune/lora_save.h"
#include "ops/cast.h"
#include "ops/lora.h"
#include "ops/matmul.h"

vkt_lora_cfg vkt_lora_cfg_default(void) { return (vkt_lora_cfg){.r = 8, .lora_alpha = 8}; }

vkt_status vkt_lora_cfg_add_target(vkt_lora_cfg *c, const char *name) {
    if (strcmp(name, "all-linear") == 0) return c->all_linear = true, VKT_OK;
    if (c->n_targets == VKT_LORA_MAX_TARGETS || strlen(name) >= sizeof c->targets[0] || !*name) {
        vkt_log_error("target_modules: \"%s\" is empty, too long or one too many (at most %d names of up to %zu "
                      "characters)",
                      name, VKT_LORA_MAX_TARGETS, sizeof c->targets[0] - 1);
        return VKT_ERR_ARG;
    }
    snprintf(c->targets[c->n_targets++], sizeof c->targets[0], "%s", name);
    return VKT_OK;
}

vkt_status vkt_lora_cfg_add_save(vkt_lora_cfg *c, const char *name) {
    if (c->n_save == VKT_LORA_MAX_SAVE || strlen(name) >= sizeof c->modules_to_save[0] || !*name) {
        vkt_log_error("modules_to_save: \"%s\" is empty, too long or one too many (at most %d names of up to %zu "
                      "characters)",
                      name, VKT_LORA_MAX_SAVE, sizeof c->modules_to_save[0] - 1);
        return VKT_ERR_ARG;
    }
    for (int k = 0; k < c->n_save; k++)
        if (!strcmp(c->modules_to_save[k], name)) return VKT_OK; /* PEFT matches a repeated name once */
    snprintf(c->modules_to_save[c->n_save++], sizeof c->modules_to_save[0], "%s", name);
    return VKT_OK;
}

vkt_status vkt_lora_cfg_check(const vkt_lora_cfg *c) {
    if (c->r <= 0) {
        vkt_log_error("LoRA rank r is %lld (finetune.r / adapter_config.json \"r\"): it must be a positive integer, "
                      "e.g. 8",
                      (long long)c->r);
        return VKT_ERR_ARG;
    }
    if (!isfinite(c->lora_alpha)) {
        vkt_log_error("lora_alpha %g is not a finite number (finetune.lora_alpha), e.g. 16", c->lora_alpha);
        return VKT_ERR_ARG;
    }
    if (!(c->lora_dropout >= 0 && c->lora_dropout < 1)) {
        vkt_log_error("lora_dropout %g must be in [0, 1) (finetune.lora_dropout)", c->lora_dropout);
        return VKT_ERR_ARG;
    }
    if (!c->all_linear && !c->n_targets && !c->target_regex[0]) {
        vkt_log_error("target_modules is empty: name the modules to adapt, e.g. [\"q_proj\", \"v_proj\"], or "
                      "\"all-linear\" (finetune.target_modules)");
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

static bool is_linear(vkt_param_role r) {
    return r == VKT_ROLE_QKV_W || r == VKT_ROLE_Q_W || r == VKT_ROLE_K_W || r == VKT_ROLE_V_W || r == VKT_ROLE_O_W ||
           r == VKT_ROLE_FC_W || r == VKT_ROLE_GATE_W || r == VKT_ROLE_UP_W || r == VKT_ROLE_DOWN_W;
}

/* The role a fused group's hook call carries (model_fwd.c passes the group's first role). */
static vkt_param_role group_first(vkt_param_role r) {
    return r == VKT_ROLE_K_W || r == VKT_ROLE_V_W ? VKT_ROLE_Q_W : r == VKT_ROLE_UP_W ? VKT_ROLE_GATE_W : r;
}

/* "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj". */
static void module_name(const vkt_param *e, char *out, size_t n) {
    snprintf(out, n, "%s", e->name);
    size_t len = strlen(out);
    if (len > 7 && strcmp(out + len - 7, ".weight") == 0) out[len - 7] = 0;
}

void vkt_lora_module_names(const vkt_model *m, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < m->table.n && used + 1 < n; i++) {
        if (!is_linear(m->table.p[i].role)) continue;
        char name[96];
        module_name(&m->table.p[i], name, sizeof name);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", name);
    }
}

/* PEFT's list form: the name itself or a "."-separated suffix of the module path. */
static bool suffix_match(const char *module, const char *target) {
    size_t lm = strlen(module), lt = strlen(target);
    if (lm == lt) return strcmp(module, target) == 0;
    return lm > lt && module[lm - lt - 1] == '.' && strcmp(module + lm - lt, target) == 0;
}

static bool regex_full_match(pcre2_code *re, const char *s) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, NULL) : -1;
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* The modules cfg selects, in table order, into l->mods; every list entry must select one. */
static vkt_status select_modules(vkt_lora *l) {
    const vkt_param_table *t = &l->model->table;
    const vkt_lora_cfg *c = &l->cfg;
    pcre2_code *re = NULL;
    if (c->target_regex[0] && !c->all_linear) {
        int err;
        PCRE2_SIZE at;
        re = pcre2_compile((PCRE2_SPTR)c->target_regex, PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(err, msg, sizeof msg);
            vkt_log_error("target_modules \"%s\": not a valid regular expression (%s at offset %zu)", c->target_regex,
                          (const char *)msg, (size_t)at);
            return VKT_ERR_ARG;
        }
    }
    bool used[VKT_LORA_MAX_TARGETS] = {0}, any = false;
    l->mods = calloc((size_t)t->n, sizeof *l->mods);
    if (!l->mods) return pcre2_code_free(re), VKT_ERR_OOM;
    for (int i = 0; i < t->n; i++) {
        const vkt_param *e = &t->p[i];
        if (!is_linear(e->role)) continue;
        char name[96];
        module_name(e, name, sizeof name);
        bool hit = c->all_linear || (re && regex_full_match(re, name));
        for (int k = 0; k < c->n_targets; k++)
            if (suffix_match(name, c->targets[k])) hit = used[k] = true;
        if (!hit) continue;
        any = true;
        vkt_lora_module *md = &l->mods[l->n_mods++];
        snprintf(md->module, sizeof md->module, "%s", name);
        md->layer = e->layer, md->role = e->role, md->hook_role = group_first(e->role);
        md->in = e->cols, md->out = e->rows;
        const vkt_param *first = vkt_params_get(t, e->layer, md->hook_role);
        md->col0 = e->offset - first->offset;
        VKT_ASSERT(md->col0 % e->cols == 0);
        md->col0 /= e->cols;
        md->ldy = vkt_params_group_rows(t, first);
    }
    pcre2_code_free(re);
    char names[2048];
    vkt_lora_module_names(l->model, names, sizeof names);
    for (int k = 0; k < c->n_targets; k++)
        if (!used[k]) {
            vkt_log_error("target_modules: \"%s\" matches no linear module of this model (%s); its modules are: %s",
                          c->targets[k], l->model->cfg.model_type, names);
            return VKT_ERR_ARG;
        }
    if (!any) {
        vkt_log_error("target_modules: the regular expression \"%s\" matches no module of this model (it must match a "
                      "whole name); its modules are: %s",
                      c->target_regex, names);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

/* lora_A then lora_B per module, each aligned like the model's parameters, then the score head if any. */
static vkt_status build_table(vkt_lora *l, int64_t align) {
    vkt_param_table *t = &l->table;
    t->p = calloc((size_t)(2 * l->n_mods + 1 + l->n_saved), sizeof *t->p);
    if (!t->p) return VKT_ERR_OOM;
    int64_t off = 0;
    for (int i = 0; i < l->n_mods; i++) {
        vkt_lora_module *md = &l->mods[i];
        for (int ab = 0; ab < 2; ab++) {
            vkt_param *e = &t->p[t->n];
            int len =
                snprintf(e->name, sizeof e->name, "base_model.model.%.64s.lora_%c.weight", md->module, ab ? 'B' : 'A');
            if (len >= (int)sizeof e->name || strlen(md->module) > 64) {
                vkt_log_error("module name \"%s\" is too long for an adapter key", md->module);
                return VKT_ERR_ARG;
            }
            e->rows = ab ? md->out : l->cfg.r, e->cols = ab ? l->cfg.r : md->in, e->numel = e->rows * e->cols;
            off = (off + align - 1) / align * align;
            e->offset = off, off += e->numel;
            /* torch.optim.AdamW over PEFT's trainable parameters decays lora_A and lora_B alike. */
            e->layer = md->layer, e->role = md->role, e->decay = true;
            *(ab ? &md->b : &md->a) = t->n++;
        }
    }
    if (l->cfg.score_head) {
        /* PEFT saves modules_to_save under the module's own name (the ".modules_to_save.default" dropped). */
        vkt_param *e = &t->p[t->n++];
        snprintf(e->name, sizeof e->name, "base_model.model.score.weight");
        e->rows = 1, e->cols = l->model->cfg.n_embd, e->numel = e->cols;
        off = (off + align - 1) / align * align;
        e->offset = off, off += e->numel;
        e->layer = -1, e->role = VKT_ROLE_SCORE_W, e->decay = true;
    }
    vkt_lora_saved_add_entries(l, &off, align);
    t->total = (off + align - 1) / align * align;
    t->n_layer = l->model->table.n_layer;
    return VKT_OK;
}

static vkt_tensor view(const vkt_tensor *flat, int64_t offset, int64_t rows, int64_t cols) {
    vkt_tensor t = *flat;
    t.offset += (size_t)offset * vkt_dtype_size(flat->dtype);
    t.shape[0] = rows, t.shape[1] = cols, t.shape[2] = t.shape[3] = 1;
    return t;
}

/* The module's columns of a fused (BT, ldy) output, as the view vkt_op_lora_* expect. */
static vkt_tensor window(const vkt_tensor *y, const vkt_lora_module *md) {
    vkt_tensor w = *y;
    w.offset += (size_t)md->col0 * vkt_dtype_size(y->dtype);
    w.shape[0] = vkt_tensor_numel(y) - md->col0, w.shape[1] = w.shape[2] = w.shape[3] = 1;
    return w;
}

/* Views of a module's lora_A (r, in) and lora_B (out, r) in a flat adapter tensor (params or grads). */
static void ab_views(const vkt_lora *l, const vkt_lora_module *md, const vkt_tensor *flat, vkt_tensor *a,
                     vkt_tensor *b) {
    const vkt_param *ea = &l->table.p[md->a], *eb = &l->table.p[md->b];
    *a = view(flat, ea->offset, ea->rows, ea->cols);
    *b = view(flat, eb->offset, eb->rows, eb->cols);
}

static vkt_lora_desc desc_of(const vkt_lora *l, const vkt_lora_module *md) {
    return (vkt_lora_desc){.rows = l->model->B * l->model->T,
                           .in = md->in,
                           .out = md->out,
                           .rank = l->cfg.r,
                           .ldy = md->ldy,
                           .scale = l->scale};
}

/* Module i's dropout in a training pass, or NULL (no dropout, or an evaluation / inference pass). */
static const vkt_lora_dropout *dropout_of(const vkt_lora *l, int i, vkt_lora_dropout *buf) {
    if (l->cfg.lora_dropout <= 0 || !l->model->training) return NULL;
    *buf = (vkt_lora_dropout){.p = (float)l->cfg.lora_dropout,
                              .seed = (uint32_t)(l->cfg.seed ^ (l->cfg.seed >> 32)),
                              .stream = (uint32_t)i,
                              .counter = &l->counter,
                              .xd = &l->xd,
                              .tmp = &l->tmp,
                              .row0 = l->dropout_row0};
    return buf;
}

/* The adapter weights the passes read: the half copy under mixed precision. */
static const vkt_tensor *compute_params(const vkt_lora *l) {
    return l->params_half.arena ? &l->params_half : &l->params;
}

static vkt_status hook_fwd(void *ctx, vkt_rec *r, int layer, vkt_param_role role, const vkt_tensor *x,
                           const vkt_tensor *y) {
    vkt_lora *l = ctx;
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        if (md->layer != layer || md->hook_role != role) continue;
        vkt_tensor a, b, yw = window(y, md);
        ab_views(l, md, compute_params(l), &a, &b);
        vkt_lora_desc d = desc_of(l, md);
        vkt_lora_dropout dp;
        d.dropout = dropout_of(l, i, &dp);
        VKT_TRY(vkt_op_lora_fwd(r, &d, x, &a, &b, &md->u, &yw));
    }
    return VKT_OK;
}

static vkt_status hook_bwd(void *ctx, vkt_rec *r, int layer, vkt_param_role role, const vkt_tensor *x,
                           const vkt_tensor *dy, const vkt_tensor *dx) {
    vkt_lora *l = ctx;
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        if (md->layer != layer || md->hook_role != role) continue;
        vkt_tensor a, b, da, db, dyw = window(dy, md);
        ab_views(l, md, compute_params(l), &a, &b);
        ab_views(l, md, &l->grads, &da, &db);
        vkt_lora_desc d = desc_of(l, md);
        vkt_lora_dropout dp;
        d.dropout = dropout_of(l, i, &dp);
        VKT_TRY(vkt_op_lora_bwd(r, &d, &dyw, x, &a, &b, &md->u, &l->g, dx, &da, &db));
    }
    /* The backward reaches mods[0]'s linear last: every mask of this pass has been drawn, so the next
     * pass (a recorded replay) gets fresh ones. A recomputed forward inside this backward reuses them. */
    vkt_lora_dropout probe;
    if (l->n_mods && layer == l->mods[0].layer && role == l->mods[0].hook_role && dropout_of(l, 0, &probe))
        VKT_TRY(vkt_op_lora_dropout_tick(r, &l->counter));
    return VKT_OK;
}

/* Host-side init in table order from one seeded stream: the same seed gives the same adapter. */
static vkt_status init_weights(vkt_lora *l) {
    float *h = calloc((size_t)l->table.total, sizeof *h);
    if (!h) return VKT_ERR_OOM;
    vkt_rng rng;
    vkt_rng_init(&rng, l->cfg.seed);
    for (int i = 0; i < l->table.n; i++) {
        const vkt_param *e = &l->table.p[i];
        bool is_a = i % 2 == 0;
        float *x = h + e->offset;
        if (i >= 2 * l->n_mods) continue; /* the score head starts at zero (lora.h), saved copies from the base */
        if (!is_a && l->cfg.init != VKT_LORA_INIT_NONE) continue; /* B = 0: the adapter starts as a no-op */
        if (is_a && l->cfg.init == VKT_LORA_INIT_GAUSSIAN) {
            for (int64_t k = 0; k < e->numel; k++) x[k] = (float)(vkt_rng_normal(&rng) / (double)l->cfg.r);
            continue;
        }
        /* kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in) = 1/sqrt(fan_in). */
        float bound = (float)(1.0 / sqrt((double)e->cols));
        for (int64_t k = 0; k < e->numel; k++) x[k] = vkt_rng_range(&rng, -bound, bound);
    }
    vkt_status s = vkt_lora_saved_init(l, h);
    if (s == VKT_OK) s = vkt_lora_upload(l, h);
    free(h);
    return s;
}

/* Arena sizes for rows BT: parameters (and as much for gradients), activations (u per module, the
 * backward scratch g, the pass counter, dropout scratch), of which ubytes are the u's. Returns the
 * largest module input. */
static int64_t sizes(const vkt_lora *l, int64_t BT, int64_t align, vkt_dtype dt, size_t *pbytes, size_t *abytes,
                     size_t *ubytes) {
    size_t es = vkt_dtype_size(dt), BTr = (size_t)(BT * l->cfg.r), slot = BTr * es + (size_t)align * es;
    int64_t max_in = 0;
    for (int i = 0; i < l->n_mods; i++) max_in = l->mods[i].in > max_in ? l->mods[i].in : max_in;
    size_t xbytes = l->cfg.lora_dropout > 0 ? 2 * ((size_t)(BT * max_in) * es + (size_t)align * es) : 0;
    *pbytes = (size_t)l->table.total * 4;
    *abytes = (size_t)(l->n_mods + 2) * slot + xbytes;
    *ubytes = (size_t)l->n_mods * slot;
    return max_in;
}

vkt_status vkt_lora_plan_bytes(const vkt_param_table *t, const vkt_model_config *mc, const vkt_lora_cfg *cfg,
                               int64_t BT, int64_t align_elems, vkt_dtype precision, vkt_lora_bytes *out) {
    memset(out, 0, sizeof *out);
    VKT_TRY(vkt_lora_cfg_check(cfg));
    /* Module selection reads only the model's table and config: a shell model borrowing t stands in. */
    vkt_model *shell = calloc(1, sizeof *shell);
    vkt_lora *l = calloc(1, sizeof *l);
    vkt_status s = shell && l ? VKT_OK : VKT_ERR_OOM;
    if (s == VKT_OK) {
        shell->cfg = *mc, shell->table = *t;
        l->cfg = *cfg, l->model = shell;
        s = select_modules(l);
    }
    if (s == VKT_OK) s = vkt_lora_saved_select(l);
    if (s == VKT_OK) s = build_table(l, align_elems);
    if (s == VKT_OK) {
        size_t pbytes, abytes, ubytes;
        sizes(l, BT, align_elems, precision, &pbytes, &abytes, &ubytes);
        out->params = out->grads = pbytes, out->acts = ubytes, out->scratch = abytes - ubytes;
        if (precision != VKT_DTYPE_F32) out->half = (size_t)l->table.total * vkt_dtype_size(precision);
        out->n_params = vkt_params_count(&l->table), out->n_mods = l->n_mods;
    }
    if (l) {
        free(l->mods);
        vkt_params_free(&l->table);
    }
    free(l);
    free(shell);
    return s;
}

static vkt_status fill_zero(vkt_device *dev, const vkt_tensor *t) {
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(dev, 0, &r));
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_rec_fill(r, t, 0);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_destroy(r);
    return s;
}

vkt_status vkt_lora_create(vkt_model *m, const vkt_lora_cfg *cfg, vkt_lora **out) {
    VKT_TRY(vkt_lora_cfg_check(cfg));
    vkt_lora *l = calloc(1, sizeof *l);
    if (!l) return VKT_ERR_OOM;
    l->cfg = *cfg, l->model = m;
    l->scale = (float)(cfg->use_rslora ? cfg->lora_alpha / sqrt((double)cfg->r) : cfg->lora_alpha / (double)cfg->r);
    l->hook = (vkt_linear_hook){.ctx = l, .fwd = hook_fwd, .bwd = hook_bwd};
    const vkt_device_info *info = vkt_device_get_info(m->dev);
    /* Mixed precision (the model's act_dtype): a half copy of the adapter that the hooks read, refreshed by
     * AdamW, and the intermediates in 16 bits; aligned so the half copy's views are too. */
    vkt_dtype dt = m->act_dtype;
    int64_t align = (int64_t)((info->min_storage_offset_align > 256 ? info->min_storage_offset_align : 256) /
                              vkt_dtype_size(dt));
    vkt_status s = cfg->score_head && dt != VKT_DTYPE_F32 ? VKT_ERR_ARG : VKT_OK;
    if (s != VKT_OK) vkt_log_error("a reward model's adapter (score head) trains in f32 only: set optim.precision f32");
    if (s == VKT_OK) s = select_modules(l);
    if (s == VKT_OK) s = vkt_lora_saved_select(l);
    if (s == VKT_OK) s = build_table(l, align);
    size_t pbytes = 0, abytes = 0, ubytes = 0;
    int64_t max_in = 0;
    if (s == VKT_OK) max_in = sizes(l, m->B * m->T, align, dt, &pbytes, &abytes, &ubytes);
    bool drop = cfg->lora_dropout > 0;
    if (s == VKT_OK && dt != VKT_DTYPE_F32) {
        s = vkt_arena_create(m->dev, "LoRA parameters (16-bit copy)", (size_t)l->table.total * vkt_dtype_size(dt),
                             &l->half_arena);
        if (s == VKT_OK) s = vkt_tensor_alloc(l->half_arena, dt, l->table.total, 1, 1, 1, &l->params_half);
    }
    if (s == VKT_OK) s = vkt_arena_create(m->dev, "LoRA parameters", pbytes, &l->params_arena);
    if (s == VKT_OK) s = vkt_arena_create(m->dev, "LoRA gradients", pbytes, &l->grads_arena);
    if (s == VKT_OK) s = vkt_arena_create(m->dev, "LoRA activations", abytes, &l->acts_arena);
    if (s == VKT_OK) s = vkt_tensor_alloc(l->params_arena, VKT_DTYPE_F32, l->table.total, 1, 1, 1, &l->params);
    if (s == VKT_OK) s = vkt_tensor_alloc(l->grads_arena, VKT_DTYPE_F32, l->table.total, 1, 1, 1, &l->grads);
    if (s == VKT_OK) vkt_lora_saved_views(l);
    for (int i = 0; i < l->n_mods && s == VKT_OK; i++)
        s = vkt_tensor_alloc(l->acts_arena, dt, m->B * m->T, cfg->r, 1, 1, &l->mods[i].u);
    if (s == VKT_OK) s = vkt_tensor_alloc(l->acts_arena, dt, m->B * m->T, cfg->r, 1, 1, &l->g);
    if (s == VKT_OK) s = vkt_tensor_alloc(l->acts_arena, VKT_DTYPE_I32, 1, 1, 1, 1, &l->counter);
    if (s == VKT_OK && drop) s = vkt_tensor_alloc(l->acts_arena, dt, m->B * m->T, max_in, 1, 1, &l->xd);
    if (s == VKT_OK && drop) s = vkt_tensor_alloc(l->acts_arena, dt, m->B * m->T, max_in, 1, 1, &l->tmp);
    if (s == VKT_OK) s = fill_zero(m->dev, &l->counter);
    if (s == VKT_OK) s = init_weights(l);
    if (s == VKT_OK) s = fill_zero(m->dev, &l->grads);
    if (s != VKT_OK) {
        vkt_lora_destroy(l);
        return s;
    }
    *out = l;
    return VKT_OK;
}

void vkt_lora_destroy(vkt_lora *l) {
    if (!l) return;
    vkt_lora_detach(l);
    vkt_arena_destroy(l->acts_arena);
    vkt_arena_destroy(l->grads_arena);
    vkt_arena_destroy(l->params_arena);
    vkt_arena_destroy(l->half_arena);
    vkt_params_free(&l->table);
    free(l->mods);
    free(l);
}

void vkt_lora_attach(vkt_lora *l) {
    l->model->hook = &l->hook;
    if (l->n_saved) l->model->saved = &l->saved;
}

void vkt_lora_detach(vkt_lora *l) {
    if (l->model && l->model->hook == &l->hook) l->model->hook = NULL;
    if (l->model && l->model->saved == &l->saved) l->model->saved = NULL;
}

vkt_status vkt_lora_set_pass_counter(vkt_lora *l, uint32_t passes) {
    return vkt_tensor_upload(l->model->dev, &l->counter, &passes, sizeof passes);
}

vkt_status vkt_lora_upload(vkt_lora *l, const float *host) {
    VKT_TRY(vkt_tensor_upload(l->model->dev, &l->params, host, (size_t)l->table.total * 4));
    if (!l->half_arena) return VKT_OK;
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(l->model->dev, 0, &r));
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_op_cast(r, &l->params, &l->params_half);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_destroy(r);
    return s;
}

vkt_status vkt_lora_download(vkt_lora *l, float *host) {
    return vkt_tensor_download(l->model->dev, &l->params, host, (size_t)l->table.total * 4);
}

bool vkt_lora_score_views(const vkt_lora *l, vkt_tensor *w, vkt_tensor *dw) {
    if (!l->cfg.score_head) return false;
    const vkt_param *e = &l->table.p[2 * l->n_mods];
    *w = view(&l->params, e->offset, 1, e->cols);
    *dw = view(&l->grads, e->offset, 1, e->cols);
    return true;
}

vkt_status vkt_lora_record_zero_grads(vkt_lora *l, vkt_rec *r) { return vkt_rec_fill(r, &l->grads, 0); }

vkt_status vkt_lora_merge_into_model(vkt_lora *l) {
    vkt_model *m = l->model;
    if (m->base.format != VKT_QFORMAT_F32) {
        vkt_log_error("LoRA merge: the base weights are stored as %s and cannot take the update in place; merge "
                      "into the full-precision model with `vktrain merge MODEL --adapter DIR --out DIR`",
                      vkt_qformat_name(m->base.format));
        return VKT_ERR_UNSUPPORTED;
    }
    if (vkt_lora_unties(l)) return vkt_lora_saved_merge(l, NULL); /* refused, with the message */
    vkt_rec *r;
    VKT_TRY(vkt_rec_create(m->dev, 0, &r));
    vkt_status s = vkt_rec_begin(r);
    if (s == VKT_OK) s = vkt_lora_saved_merge(l, r);
    for (int i = 0; i < l->n_mods && s == VKT_OK; i++) {
        const vkt_lora_module *md = &l->mods[i];
        vkt_tensor a, b;
        ab_views(l, md, &l->params, &a, &b);
        vkt_tensor w = vkt_model_param(m, vkt_params_get(&m->table, md->layer, md->role));
        /* W (out, in) += s B (out, r) A (r, in) */
        vkt_matmul_desc d = {.m = md->out, .n = md->in, .k = l->cfg.r, .alpha = l->scale, .accumulate = true};
        s = vkt_op_matmul(r, &b, &a, NULL, &w, &d);
    }
    /* A mixed-precision model's passes read its 16-bit copy: refresh it from the merged master. */
    if (s == VKT_OK) s = vkt_model_record_refresh_half(m, r);
    if (s == VKT_OK) s = vkt_rec_end(r);
    if (s == VKT_OK) s = vkt_rec_submit_wait(r);
    vkt_rec_destroy(r);
    return s;
}

void vkt_lora_merge_host(const vkt_lora *l, const float *adapter, float *model_params) {
    const vkt_model *m = l->model;
    for (int j = 0; j < l->n_saved && !vkt_lora_unties(l); j++) {
        const vkt_param *e = &l->table.p[l->saved_first + j];
        memcpy(model_params + vkt_params_get(&m->table, -1, e->role)->offset, adapter + e->offset,
               (size_t)e->numel * sizeof *adapter);
    }
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        const float *a = adapter + l->table.p[md->a].offset, *b = adapter + l->table.p[md->b].offset;
        float *w = model_params + vkt_params_get(&m->table, md->layer, md->role)->offset;
        for (int64_t o = 0; o < md->out; o++)
            for (int64_t c = 0; c < md->in; c++) {
                double acc = 0;
                for (int64_t k = 0; k < l->cfg.r; k++) acc += (double)b[o * l->cfg.r + k] * (double)a[k * md->in + c];
                w[o * md->in + c] = (float)((double)w[o * md->in + c] + (double)l->scale * acc);
            }
    }
}

/* An adapter applied inside another model's forward (see vkt_lora_mirror_create). */
struct vkt_lora_mirror {
    vkt_lora *l;
    vkt_model *m;
    vkt_arena *arena; /* owned: u scratch for m's rows */
    vkt_tensor u;
    vkt_linear_hook hook;
};

/* The adapter weights the mirror's model reads: the 16-bit copy for a model of that dtype, else the f32 master
 * (generation models are f32 whatever the training precision). */
static const vkt_tensor *mirror_params(const vkt_lora_mirror *mi) {
    return mi->m->act_dtype == compute_params(mi->l)->dtype ? compute_params(mi->l) : &mi->l->params;
}

static vkt_status mirror_fwd(void *ctx, vkt_rec *r, int layer, vkt_param_role role, const vkt_tensor *x,
                             const vkt_tensor *y) {
    vkt_lora_mirror *mi = ctx;
    const vkt_lora *l = mi->l;
    for (int i = 0; i < l->n_mods; i++) {
        const vkt_lora_module *md = &l->mods[i];
        if (md->layer != layer || md->hook_role != role) continue;
        vkt_tensor a, b, yw = window(y, md);
        ab_views(l, md, mirror_params(mi), &a, &b);
        vkt_lora_desc d = desc_of(l, md);
        d.rows = x->shape[0]; /* the decode forward's Tq rows, not the model's B T */
        VKT_ASSERT(d.rows <= mi->m->B * mi->m->T);
        VKT_TRY(vkt_op_lora_fwd(r, &d, x, &a, &b, &mi->u, &yw));
    }
    return VKT_OK;
}

static vkt_status mirror_bwd(void *ctx, vkt_rec *r, int layer, vkt_param_role role, const vkt_tensor *x,
                             const vkt_tensor *dy, const vkt_tensor *dx) {
    vkt_log_error("LoRA: a mirrored adapter is for inference only (no backward)");
    return VKT_ERR_UNSUPPORTED;
}

vkt_status vkt_lora_mirror_create(vkt_lora *l, vkt_model *m, vkt_lora_mirror **out) {
    *out = NULL;
    /* The same shapes: the parameter count, not table.total, which a mixed-precision model's alignment pads. */
    if (m->cfg.n_layer != l->model->cfg.n_layer || m->cfg.n_embd != l->model->cfg.n_embd ||
        vkt_params_count(&m->table) != vkt_params_count(&l->model->table)) {
        vkt_log_error("LoRA: the adapter was built for another model shape than the one it should mirror into");
        return VKT_ERR_ARG;
    }
    vkt_lora_mirror *mi = calloc(1, sizeof *mi);
    if (!mi) return VKT_ERR_OOM;
    mi->l = l, mi->m = m;
    mi->hook = (vkt_linear_hook){.ctx = mi, .fwd = mirror_fwd, .bwd = mirror_bwd};
    size_t bytes = (size_t)(m->B * m->T * l->cfg.r) * 4 + 4096;
    vkt_status s = vkt_arena_create(m->dev, "LoRA mirror scratch", bytes, &mi->arena);
    if (s == VKT_OK) s = vkt_tensor_alloc(mi->arena, mirror_params(mi)->dtype, m->B * m->T, l->cfg.r, 1, 1, &mi->u);
    if (s != VKT_OK) {
        vkt_lora_mirror_destroy(mi);
        return s;
    }
    m->hook = &mi->hook;
    /* The copies as the adapter has them now, in the dtype m reads. */
    m->saved = !l->n_saved ? NULL : mirror_params(mi) == &l->params ? &l->saved_master : &l->saved;
    *out = mi;
    return VKT_OK;
}

void vkt_lora_mirror_destroy(vkt_lora_mirror *mi) {
    if (!mi) return;
    if (mi->m && mi->m->hook == &mi->hook) mi->m->hook = NULL;
    if (mi->m && (mi->m->saved == &mi->l->saved || mi->m->saved == &mi->l->saved_master)) mi->m->saved = NULL;
    vkt_arena_destroy(mi->arena);
    free(mi);
}
