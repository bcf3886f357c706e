/* Per-sequence to per-position weights recorder (see seq_scatter.h): one elementwise dispatch. */
#include "ops/seq_scatter.h"

#include "ops/op_util.h"

typedef struct {
    uint32_t n, S, has_tok, _pad;
} vkt_pc_seq_scatter;
_Static_assert(sizeof(vkt_pc_seq_scatter) == 16, "keep in sync with shaders/seq_scatter.comp");

#define WG 256

vkt_status vkt_op_seq_scatter(vkt_rec *r, const vkt_tensor *coef, const vkt_tensor *seq_ids, const vkt_tensor *tok,
                              const vkt_tensor *weights) {
    int64_t N = vkt_tensor_numel(seq_ids), S = vkt_tensor_numel(coef);
    VKT_ASSERT(N > 0 && N <= UINT32_MAX && S >= 1 && S <= INT32_MAX);
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    VKT_TRY(vkt_ops_pipeline(r, "seq_scatter", 4, sizeof(vkt_pc_seq_scatter), spec, 1, &p));
    vkt_pc_seq_scatter pc = {(uint32_t)N, (uint32_t)S, tok != NULL, 0};
    vkt_tensor c = vkt_ops_whole(r, coef, VKT_DTYPE_F32, S);
    /* Without a per-token factor the shader never reads binding 2: coef stands in for it. */
    vkt_binding b[4] = {{c, VKT_READ},
                        {vkt_ops_whole(r, seq_ids, VKT_DTYPE_I32, N), VKT_READ},
                        {tok ? vkt_ops_whole(r, tok, VKT_DTYPE_F32, N) : c, VKT_READ},
                        {vkt_ops_whole(r, weights, VKT_DTYPE_F32, N), VKT_WRITE}};
    uint32_t gx, gy;
    vkt_ops_grid_1d(vkt_ceil_div((uint64_t)N, WG), &gx, &gy);
    return vkt_rec_dispatch(r, "seq_scatter", p, b, 4, &pc, sizeof pc, gx, gy, 1);
}
