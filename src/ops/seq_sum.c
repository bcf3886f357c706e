/* Per-sequence sum recorder (see seq_sum.h): one dispatch, one workgroup per sequence. */
#include "ops/seq_sum.h"

#include "core/log.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n, S, K;
    float scale;
} vkt_pc_seq_sum;
_Static_assert(sizeof(vkt_pc_seq_sum) == 16, "keep in sync with shaders/seq_sum.comp");

#define WG 256

vkt_status vkt_op_seq_sum(vkt_rec *r, const vkt_tensor *values, const vkt_tensor *seq_ids, float scale,
                          const vkt_tensor *out) {
    int64_t N = vkt_tensor_numel(seq_ids);
    VKT_ASSERT(N > 0 && N <= UINT32_MAX / VKT_SEQ_SUM_MAX_K && vkt_tensor_numel(values) % N == 0);
    int64_t K = vkt_tensor_numel(values) / N;
    VKT_ASSERT(K >= 1 && K <= VKT_SEQ_SUM_MAX_K && vkt_tensor_numel(out) % (K + 1) == 0);
    int64_t S = vkt_tensor_numel(out) / (K + 1);
    VKT_ASSERT(S >= 1 && S <= INT32_MAX);
    vkt_pipeline *p;
    const uint32_t spec[] = {WG};
    VKT_TRY(vkt_ops_pipeline(r, "seq_sum", 3, sizeof(vkt_pc_seq_sum), spec, 1, &p));
    vkt_pc_seq_sum pc = {(uint32_t)N, (uint32_t)S, (uint32_t)K, scale};
    vkt_binding b[3] = {{vkt_ops_whole(r, values, VKT_DTYPE_F32, N * K), VKT_READ},
                        {vkt_ops_whole(r, seq_ids, VKT_DTYPE_I32, N), VKT_READ},
                        {vkt_ops_whole(r, out, VKT_DTYPE_F32, S * (K + 1)), VKT_WRITE}};
    uint32_t gx, gy;
    vkt_ops_grid_1d((uint64_t)S, &gx, &gy);
    return vkt_rec_dispatch(r, "seq_sum", p, b, 3, &pc, sizeof pc, gx, gy, 1);
}

vkt_status vkt_seq_ids_check(const int32_t *seq_ids, int64_t n, int64_t T, int64_t S, const char *what) {
    if (T <= 0) T = n;
    for (int64_t i = 0; i < n; i++) {
        if (seq_ids[i] == -1 || (seq_ids[i] >= 0 && seq_ids[i] < S)) continue;
        vkt_log_error("%s: position %lld (row %lld, column %lld of %lld) has sequence id %d; ids must be -1 or in "
                      "[0, %lld)",
                      what, (long long)i, (long long)(i / T), (long long)(i % T), (long long)T, seq_ids[i],
                      (long long)S);
        return VKT_ERR_FORMAT;
    }
    return VKT_OK;
}
