/* AdamW recorder (see adamw.h): adamw_prep, then adamw_update per contiguous run of segments (decay or not:
 * the decay bits say which elements decay), per binding chunk. The chunks touch disjoint ranges, so they run
 * without barriers. */
#include "optim/adamw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op_eltwise.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_lr;
    float ln_beta1, ln_beta2;
    uint32_t _pad;
} vkt_pc_adamw_prep;
_Static_assert(sizeof(vkt_pc_adamw_prep) == 16, "keep in sync with shaders/adamw_prep.comp");

typedef struct {
    uint32_t n, base;
    float beta1, beta2, eps, wd;
    uint32_t base_h, first_bit;
} vkt_pc_adamw_update;
_Static_assert(sizeof(vkt_pc_adamw_update) == 32, "keep in sync with shaders/adamw_update.comp");

#define WG 256

vkt_adamw_cfg vkt_adamw_cfg_default(void) {
    return (vkt_adamw_cfg){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
}

int64_t vkt_adamw_decay_words(int64_t n_elems) { return n_elems / 32 + 2; }

void vkt_adamw_decay_bits(const vkt_optim_segment *segs, int n_segs, uint32_t *bits, int64_t n_words) {
    memset(bits, 0, (size_t)n_words * sizeof *bits);
    for (int k = 0; k < n_segs; k++)
        for (int64_t i = segs[k].offset; segs[k].decay && i < segs[k].offset + segs[k].n; i++) {
            VKT_ASSERT(i / 32 < n_words);
            bits[i / 32] |= 1u << (i % 32);
        }
}

void vkt_adamw_lr_table(const vkt_lr_schedule *sched, float *lr_table, int64_t n) {
    for (int64_t s = 0; s < n; s++) lr_table[s] = (float)vkt_lr_at(sched, s);
}

vkt_status vkt_adamw_update(vkt_rec *r, const vkt_adamw_cfg *cfg, const vkt_tensor *params, const vkt_tensor *grads,
                            const vkt_tensor *m, const vkt_tensor *v, const vkt_tensor *lr_table,
                            const vkt_tensor *scalars, const vkt_optim_segment *segs, int n_segs,
                            const vkt_tensor *decay) {
    return vkt_adamw_update_half(r, cfg, params, NULL, grads, m, v, lr_table, scalars, segs, n_segs, decay);
}

vkt_status vkt_adamw_update_half(vkt_rec *r, const vkt_adamw_cfg *cfg, const vkt_tensor *params, const vkt_tensor *half,
                                 const vkt_tensor *grads, const vkt_tensor *m, const vkt_tensor *v,
                                 const vkt_tensor *lr_table, const vkt_tensor *scalars, const vkt_optim_segment *segs,
                                 int n_segs, const vkt_tensor *decay) {
    int64_t n_all = vkt_tensor_numel(params);
    VKT_ASSERT(decay->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(decay) >= vkt_adamw_decay_words(n_all));
    VKT_ASSERT(!half ||
               ((half->dtype == VKT_DTYPE_F16 || half->dtype == VKT_DTYPE_BF16) && vkt_tensor_numel(half) == n_all));
    const vkt_tensor *arenas[4] = {params, grads, m, v};
    for (int k = 0; k < 4; k++) VKT_ASSERT(arenas[k]->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(arenas[k]) == n_all);
    VKT_ASSERT(lr_table->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(lr_table) >= 1);
    VKT_ASSERT(scalars->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(scalars) >= VKT_STEP_SCALARS_ELEMS);
    VKT_ASSERT(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1);
    vkt_tensor sc = vkt_ops_flat_slice(scalars, 0, VKT_STEP_SCALARS_ELEMS);

    vkt_pipeline *prep, *upd, *upd8 = NULL;
    VKT_TRY(vkt_ops_pipeline(r, "adamw_prep", 2, sizeof(vkt_pc_adamw_prep), NULL, 0, &prep));
    const uint32_t spec[] = {WG};
    char name[32];
    snprintf(name, sizeof name, "adamw_update%s", !half ? "" : half->dtype == VKT_DTYPE_F16 ? "_f16" : "_bf16");
    uint32_t nb = half ? 7 : 6;
    VKT_TRY(vkt_ops_pipeline(r, name, nb, sizeof(vkt_pc_adamw_update), spec, 1, &upd));

    /* ln(beta) in double from the fp32 beta the kernel uses, so bc matches 1 - beta^t of that beta. */
    vkt_pc_adamw_prep pp = {(uint32_t)vkt_tensor_numel(lr_table), (float)log1p((double)cfg->beta1 - 1.0),
                            (float)log1p((double)cfg->beta2 - 1.0), 0};
    vkt_binding bp[2] = {{vkt_ops_flat_slice(lr_table, 0, vkt_tensor_numel(lr_table)), VKT_READ}, {sc, VKT_RW}};
    VKT_TRY(vkt_rec_dispatch(r, "adamw_prep", prep, bp, 2, &pp, sizeof pp, 1, 1, 1));

    int64_t chunk = vkt_ops_max_binding_elems(r, 4) - vkt_ops_align_elems(r, 4);
    chunk -= chunk % 8; /* a range's chunks all start as its first does relative to 8-element words */
    for (int i = 0; i < n_segs;) {
        int64_t e0 = 0, e1 = 0;
        i = vkt_optim_next_range(segs, n_segs, i, false, &e0, &e1);
        if (e1 == e0) break;
        VKT_ASSERT(e0 >= 0 && e1 <= n_all);
        for (int64_t s = e0; s < e1; s += chunk) {
            int64_t n = e1 - s < chunk ? e1 - s : chunk;
            vkt_pc_adamw_update pc = {(uint32_t)n, 0, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay, 0, 0};
            uint32_t base[4], lead;
            /* The chunk's decay bits: the words from its first element's on, with the word of padding. */
            int64_t w0 = s / 32, nw = (s % 32 + n) / 32 + 2;
            vkt_binding bits = {vkt_ops_aligned_slice(r, decay, w0, nw, &lead), VKT_READ};
            pc.first_bit = 32u * lead + (uint32_t)(s % 32);
            vkt_binding b[7] = {{vkt_ops_aligned_slice(r, grads, s, n, &base[0]), VKT_READ},
                                {sc, VKT_READ},
                                {vkt_ops_aligned_slice(r, params, s, n, &base[1]), VKT_RW},
                                {vkt_ops_aligned_slice(r, m, s, n, &base[2]), VKT_RW},
                                {vkt_ops_aligned_slice(r, v, s, n, &base[3]), VKT_RW}};
            /* Same element, same alignment class in each arena (all tensors are aligned): one base. */
            VKT_ASSERT(base[0] == base[1] && base[0] == base[2] && base[0] == base[3]);
            pc.base = base[0];
            /* 2-byte elements: the half copy's aligned start (and so its base) differs. */
            if (half) b[5] = (vkt_binding){vkt_ops_aligned_slice(r, half, s, n, &pc.base_h), VKT_WRITE};
            b[nb - 1] = bits;
            /* f32 runs (no half copy) whose chunk starts on an 8-element word: 8 elements per invocation on
             * CPU drivers (the element-by-element tail is in the shader). */
            const vkt_binding wb[4] = {b[0], b[2], b[3], b[4]};
            bool vec8 = !half && pc.base % 8 == 0 && vkt_ops_wide8(r, wb, 4);
            if (vec8 && !upd8)
                VKT_TRY(vkt_ops_pipeline(r, "adamw_update_vec8", nb, sizeof(vkt_pc_adamw_update), spec, 1, &upd8));
            uint32_t gx, gy;
            vkt_ops_grid_1d(vkt_ceil_div(vkt_ceil_div((uint64_t)n, vec8 ? 8 : 1), WG), &gx, &gy);
            VKT_TRY(vkt_rec_dispatch(r, "adamw_update", vec8 ? upd8 : upd, b, nb, &pc, sizeof pc, gx, gy, 1));
            vkt_rec_profile_note(r, 0, "%s", vec8 ? "adamw_update_vec8" : name); /* which variant ran */
        }
    }
    return VKT_OK;
}
