/* Gradient norm and clip scale recorder (see gradnorm.h): gradnorm_part per contiguous range and binding
 * chunk, each writing its own aligned slice of the partials (so the chunks need no barriers between
 * them), then gradnorm_final. */
#include "optim/gradnorm.h"

#include "ops/op_eltwise.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n, base, n_real, n_slots;
} vkt_pc_gradnorm_part;
_Static_assert(sizeof(vkt_pc_gradnorm_part) == 16, "keep in sync with shaders/gradnorm_part.comp");

typedef struct {
    uint32_t n;
    float max_norm;
    uint32_t loss_scaling, growth_interval;
    float growth_factor;
    uint32_t _pad[3];
} vkt_pc_gradnorm_final;
_Static_assert(sizeof(vkt_pc_gradnorm_final) == 32, "keep in sync with shaders/gradnorm_final.comp");

#define WG_FINAL 256

typedef struct {
    bool serial, words;   /* words: the serial kernel may read 8-element words (gradnorm_part_serial_vec8) */
    uint32_t spec[2];     /* WG, ITEMS */
    int64_t block;        /* elements per workgroup */
    int64_t per_group;    /* partials per workgroup */
    int64_t align, chunk; /* binding alignment and most elements per chunk, in elements */
} plan_t;

static plan_t make_plan(const vkt_rec *r, const vkt_gradnorm_opts *o) {
    plan_t p;
    vkt_gradnorm_variant v = o->variant;
    if (v == VKT_GRADNORM_AUTO)
        v = vkt_device_get_info(vkt_rec_device(r))->type == VKT_DEVICE_CPU ? VKT_GRADNORM_SERIAL : VKT_GRADNORM_GROUP;
    p.serial = v == VKT_GRADNORM_SERIAL || v == VKT_GRADNORM_SERIAL_SCALAR;
    p.words = v == VKT_GRADNORM_SERIAL;
    p.spec[0] = p.serial ? 64 : 256;
    p.spec[1] = p.serial ? 256 : 16;
    p.block = (int64_t)p.spec[0] * p.spec[1];
    p.per_group = p.serial ? p.spec[0] : 1;
    p.align = vkt_ops_align_elems(r, 4);
    VKT_ASSERT(p.align <= p.spec[0]); /* group 0 zeroes the padding slots, one per invocation */
    p.chunk = vkt_ops_max_binding_elems(r, 4) - p.align;
    return p;
}

/* Partials of one chunk of n elements, and the slots its aligned slice takes. */
static int64_t chunk_real(const plan_t *p, int64_t n) { return (n + p->block - 1) / p->block * p->per_group; }
static int64_t chunk_slots(const plan_t *p, int64_t n) {
    return (chunk_real(p, n) + p->align - 1) / p->align * p->align;
}

int64_t vkt_gradnorm_partials(const vkt_rec *r, const vkt_optim_segment *segs, int n_segs, const vkt_gradnorm_opts *o) {
    plan_t p = make_plan(r, o);
    int64_t slots = 0;
    for (int i = 0; i < n_segs;) {
        int64_t e0 = 0, e1 = 0;
        i = vkt_optim_next_range(segs, n_segs, i, false, &e0, &e1);
        for (int64_t s = e0; s < e1; s += p.chunk) slots += chunk_slots(&p, e1 - s < p.chunk ? e1 - s : p.chunk);
    }
    return slots;
}

vkt_status vkt_gradnorm_record(vkt_rec *r, const vkt_tensor *grads, const vkt_optim_segment *segs, int n_segs,
                               const vkt_gradnorm_opts *o, const vkt_tensor *partials, const vkt_tensor *scalars) {
    VKT_ASSERT(grads->dtype == VKT_DTYPE_F32 && partials->dtype == VKT_DTYPE_F32);
    VKT_ASSERT(scalars->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(scalars) >= VKT_STEP_SCALARS_ELEMS);
    plan_t p = make_plan(r, o);
    int64_t need = vkt_gradnorm_partials(r, segs, n_segs, o);
    VKT_ASSERT(need > 0 && vkt_tensor_numel(partials) >= need);
    VKT_ASSERT(need <= vkt_ops_max_binding_elems(r, 4)); /* stage 2 reads every partial through one binding */
    vkt_pipeline *part, *part8 = NULL, *fin;
    const char *name = p.serial ? "gradnorm_part_serial" : "gradnorm_part";
    VKT_TRY(vkt_ops_pipeline(r, name, 2, sizeof(vkt_pc_gradnorm_part), p.spec, 2, &part));
    const uint32_t spec8[] = {p.spec[0] / 8, p.spec[1]}; /* the same blocks, 8 partials per invocation */
    const uint32_t spec_final[] = {WG_FINAL};
    VKT_TRY(vkt_ops_pipeline(r, "gradnorm_final", 2, sizeof(vkt_pc_gradnorm_final), spec_final, 1, &fin));

    int64_t slot = 0;
    for (int i = 0; i < n_segs;) {
        int64_t e0 = 0, e1 = 0;
        i = vkt_optim_next_range(segs, n_segs, i, false, &e0, &e1);
        VKT_ASSERT(e0 >= 0 && e1 <= vkt_tensor_numel(grads));
        for (int64_t s = e0; s < e1; s += p.chunk) {
            int64_t n = e1 - s < p.chunk ? e1 - s : p.chunk;
            vkt_pc_gradnorm_part pc = {(uint32_t)n, 0, (uint32_t)chunk_real(&p, n), (uint32_t)chunk_slots(&p, n)};
            vkt_binding b[2] = {{vkt_ops_aligned_slice(r, grads, s, n, &pc.base), VKT_READ},
                                {vkt_ops_flat_slice(partials, slot, pc.n_slots), VKT_WRITE}};
            bool words = p.words && pc.base % 8 == 0 && vkt_ops_wide8(r, b, 1);
            if (words && !part8)
                VKT_TRY(vkt_ops_pipeline(r, "gradnorm_part_serial_vec8", 2, sizeof(vkt_pc_gradnorm_part), spec8, 2,
                                         &part8));
            uint32_t gx, gy;
            vkt_ops_grid_1d((uint64_t)((n + p.block - 1) / p.block), &gx, &gy);
            VKT_TRY(vkt_rec_dispatch(r, name, words ? part8 : part, b, 2, &pc, sizeof pc, gx, gy, 1));
            if (words) vkt_rec_profile_note(r, 0, "gradnorm_part_serial_vec8");
            slot += pc.n_slots;
        }
    }
    VKT_ASSERT(slot == need);
    VKT_ASSERT(!o->loss_scaling || (o->growth_interval >= 1 && o->growth_factor > 1));
    vkt_pc_gradnorm_final pc = {(uint32_t)need,
                                o->max_norm,
                                o->loss_scaling ? 1u : 0u,
                                (uint32_t)(o->growth_interval < UINT32_MAX ? o->growth_interval : UINT32_MAX),
                                o->growth_factor,
                                {0}};
    vkt_binding b[2] = {{vkt_ops_flat_slice(partials, 0, need), VKT_READ},
                        {vkt_ops_flat_slice(scalars, 0, VKT_STEP_SCALARS_ELEMS), VKT_RW}};
    return vkt_rec_dispatch(r, "gradnorm_final", fin, b, 2, &pc, sizeof pc, 1, 1, 1);
}
