/* Mixed-precision bridges (see model_mp.h). */
#include "model/model_mp.h"

#include "ops/cast.h"
#include "ops/embed.h"

static bool is_half(const vkt_tensor *t) { return t->dtype == VKT_DTYPE_F16 || t->dtype == VKT_DTYPE_BF16; }

/* Scratch k viewed with t's shape, f32. */
static vkt_tensor scratch_like(const vkt_model *m, int k, const vkt_tensor *t) {
    vkt_tensor s = m->mp_f32[k];
    VKT_ASSERT(s.arena && vkt_tensor_numel(&s) >= vkt_tensor_numel(t));
    for (int d = 0; d < 4; d++) s.shape[d] = t->shape[d];
    s.dtype = VKT_DTYPE_F32;
    return s;
}

/* t itself when f32, else t converted into scratch k. */
static vkt_status as_f32(vkt_model *m, vkt_rec *r, int k, const vkt_tensor *t, vkt_tensor *out) {
    if (!is_half(t)) {
        *out = *t;
        return VKT_OK;
    }
    *out = scratch_like(m, k, t);
    return vkt_op_cast(r, t, out);
}

vkt_status vkt_mp_embed_bwd(vkt_model *m, vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *dwte,
                            const vkt_tensor *dwpe) {
    vkt_tensor d32;
    VKT_TRY(as_f32(m, r, 0, dout, &d32));
    return vkt_op_embed_bwd(r, &d32, &m->tokens, &m->embed_scratch, m->pos0, &m->seg_start, dwte, dwpe);
}
