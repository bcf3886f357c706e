/* Embedding forward/backward recording (see embed.h). Splits wte/dwte by vocabulary rows and out/dout
 * by token rows so that no binding exceeds the device limit; chunk sizes keep every binding offset
 * aligned (vkt_ops_chunk_rows), whatever C is. The backward's sort (hist, scan, scatter per 8-bit digit)
 * is a plain LSD radix sort (Knuth, TAOCP vol. 3, 5.2.5) with per-block counts instead of atomics. */
#include "ops/embed.h"

#include <stdbool.h>

#include "ops/op_rows.h"
#include "ops/op_util.h"

typedef struct {
    uint32_t n_rows, C, T, r0, v0, nv, V, pos0, flags, n_pos;
} vkt_pc_embed_fwd;
_Static_assert(sizeof(vkt_pc_embed_fwd) == 40, "keep in sync with embed_fwd.comp");
typedef struct {
    uint32_t n, V, shift, n_blocks, first;
} vkt_pc_embed_sort;
_Static_assert(sizeof(vkt_pc_embed_sort) == 20, "keep in sync with embed_bwd_hist.comp and embed_bwd_scatter.comp");
typedef struct {
    uint32_t n_blocks;
} vkt_pc_embed_scan;
_Static_assert(sizeof(vkt_pc_embed_scan) == 4, "keep in sync with embed_bwd_scan.comp");
typedef struct {
    uint32_t n, C, V, v0, nv, r0, n_rows;
} vkt_pc_embed_dw;
_Static_assert(sizeof(vkt_pc_embed_dw) == 28, "keep in sync with embed_bwd_dw.comp");
typedef struct {
    uint32_t T, C, r0, n_rows, pos0, flags;
} vkt_pc_embed_dwpe;
_Static_assert(sizeof(vkt_pc_embed_dwpe) == 24, "keep in sync with embed_bwd_dwpe.comp");

#define WG      256 /* elementwise passes */
#define WG_ROW  128 /* forward: one workgroup per token row, threads over C */
#define WG_DW   64  /* one workgroup per sorted row, threads over C */
#define WG_SORT 256 /* radix sort: rows per block (also the scan's threads) */
#define PAD     64  /* scratch sub-arrays start at multiples of 256 bytes, enough for any binding alignment */

#define FLAG_WPE     1u
#define FLAG_INVALID 2u
#define FLAG_SEG     4u

static const char *fwd_shader(vkt_dtype t, bool dyn) {
    switch (t) {
    case VKT_DTYPE_F32: return dyn ? "embed_fwd_pos" : "embed_fwd";
    case VKT_DTYPE_F16: return dyn ? "embed_fwd_pos_f16" : "embed_fwd_f16";
    case VKT_DTYPE_BF16: return dyn ? "embed_fwd_pos_bf16" : "embed_fwd_bf16";
    default: VKT_ASSERT(!"embed: wte dtype must be f32, f16 or bf16"); return NULL;
    }
}

/* Rows [row0, row0 + n) of a 2-D (rows, C) view, as a flat binding. */
static vkt_tensor rows_of(const vkt_tensor *t, int64_t C, int64_t row0, int64_t n) {
    return vkt_ops_flat_slice(t, row0 * C, n * C);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static void check_seg(const vkt_tensor *seg_start, int64_t N) {
    VKT_ASSERT(!seg_start || (seg_start->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(seg_start) == N));
}

/* dyn: pos0 comes from dyn[0] on the device (pos0 argument 0) and wpe is bound whole. seg: packed rows'
 * document starts or NULL (never with dyn). */
static vkt_status embed_fwd(vkt_rec *r, const vkt_tensor *tokens, const vkt_tensor *wte, const vkt_tensor *wpe,
                            int64_t pos0, const vkt_tensor *dyn, const vkt_tensor *seg, const vkt_tensor *out) {
    const int64_t B = out->shape[0], T = out->shape[1], C = out->shape[2], V = wte->shape[0];
    const int64_t N = B * T;
    VKT_ASSERT(out->shape[3] == 1 && wte->shape[1] == C && vkt_tensor_numel(wte) == V * C);
    VKT_ASSERT(tokens->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(tokens) == N);
    VKT_ASSERT(wte->dtype == out->dtype && (!wpe || wpe->dtype == out->dtype));
    VKT_ASSERT(pos0 >= 0 && (!wpe || (wpe->shape[1] == C && pos0 + T <= wpe->shape[0])));
    VKT_ASSERT(V < UINT32_MAX && (uint64_t)(pos0 + T) * (uint64_t)C < UINT32_MAX);
    check_seg(seg, N);
    VKT_ASSERT(!(dyn && seg));
    const size_t es = vkt_dtype_size(out->dtype);
    /* Binding 4: the device position (dyn), else the document starts, else any buffer (unread). */
    const vkt_tensor *last = dyn ? dyn : seg ? seg : tokens;
    vkt_pipeline *p;
    const uint32_t spec[] = {WG_ROW};
    const uint32_t nb = 5;
    VKT_TRY(vkt_ops_pipeline(r, fwd_shader(out->dtype, dyn != NULL), nb, sizeof(vkt_pc_embed_fwd), spec, 1, &p));
    /* Position rows are bound whole: (pos0 + T) x C is small for every model with learned positions. */
    const int64_t n_pos = dyn && wpe ? wpe->shape[0] : pos0 + T;
    const vkt_tensor pos = wpe ? rows_of(wpe, C, 0, n_pos) : rows_of(wte, C, 0, 1);
    const int64_t row_chunk = vkt_ops_chunk_rows(r, (size_t)C * es), voc_chunk = row_chunk;
    for (int64_t r0 = 0; r0 < N; r0 += row_chunk) {
        const int64_t nr = min64(row_chunk, N - r0);
        for (int64_t v0 = 0; v0 < V; v0 += voc_chunk) {
            const int64_t nv = min64(voc_chunk, V - v0);
            vkt_pc_embed_fwd pc = {(uint32_t)nr, (uint32_t)C,    (uint32_t)T,
                                   (uint32_t)r0, (uint32_t)v0,   (uint32_t)nv,
                                   (uint32_t)V,  (uint32_t)pos0,
                                   (wpe ? FLAG_WPE : 0u) | (v0 == 0 ? FLAG_INVALID : 0u) | (seg ? FLAG_SEG : 0u),
                                   (uint32_t)n_pos};
            vkt_binding bind[5] = {{*tokens, VKT_READ},
                                   {rows_of(wte, C, v0, nv), VKT_READ},
                                   {pos, VKT_READ},
                                   {rows_of(out, C, r0, nr), VKT_WRITE},
                                   {*last, VKT_READ}};
            uint32_t gx, gy;
            vkt_ops_grid_1d((uint64_t)nr, &gx, &gy);
            VKT_TRY(vkt_rec_dispatch(r, "embed_fwd", p, bind, nb, &pc, sizeof pc, gx, gy, 1));
        }
    }
    return VKT_OK;
}

vkt_status vkt_op_embed_fwd(vkt_rec *r, const vkt_tensor *tokens, const vkt_tensor *wte, const vkt_tensor *wpe,
                            int64_t pos0, const vkt_tensor *seg_start, const vkt_tensor *out) {
    return embed_fwd(r, tokens, wte, wpe, pos0, NULL, seg_start, out);
}

vkt_status vkt_op_embed_fwd_at(vkt_rec *r, const vkt_tensor *tokens, const vkt_tensor *wte, const vkt_tensor *wpe,
                               const vkt_tensor *pos, const vkt_tensor *out) {
    VKT_ASSERT(pos->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(pos) >= 1);
    return embed_fwd(r, tokens, wte, wpe, 0, pos, NULL, out);
}

int64_t vkt_op_embed_bwd_scratch(int64_t n_rows) {
    return 2 * ((n_rows + PAD - 1) / PAD * PAD) + 256 * ((n_rows + WG_SORT - 1) / WG_SORT);
}

vkt_status vkt_op_embed_bwd(vkt_rec *r, const vkt_tensor *dout, const vkt_tensor *tokens, const vkt_tensor *scratch,
                            int64_t pos0, const vkt_tensor *seg_start, const vkt_tensor *dwte, const vkt_tensor *dwpe) {
    const int64_t B = dout->shape[0], T = dout->shape[1], C = dout->shape[2], V = dwte ? dwte->shape[0] : 0;
    const int64_t N = B * T;
    VKT_ASSERT(dout->shape[3] == 1 && (!dwte || (dwte->shape[1] == C && vkt_tensor_numel(dwte) == V * C)));
    VKT_ASSERT(tokens->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(tokens) == N);
    const vkt_tensor *act[] = {dout}, *grads[] = {dwte, dwpe};
    const char *act_names[] = {"dout"}, *grad_names[] = {"dwte", "dwpe"};
    VKT_TRY(vkt_ops_check_storage("embed_bwd", 1, act, act_names));
    VKT_TRY(vkt_ops_check_dtype("embed_bwd", VKT_DTYPE_F32, 2, grads, grad_names));
    VKT_ASSERT(!dwpe || (dwpe->shape[1] == C && pos0 >= 0 && pos0 + T <= dwpe->shape[0]));
    VKT_ASSERT(dwte || dwpe);
    VKT_ASSERT(V < UINT32_MAX && N < UINT32_MAX && (uint64_t)(pos0 + T) * (uint64_t)C < UINT32_MAX);
    VKT_ASSERT(scratch->dtype == VKT_DTYPE_I32 && vkt_tensor_numel(scratch) >= vkt_op_embed_bwd_scratch(N));
    check_seg(seg_start, N);
    vkt_pipeline *p_hist, *p_scan, *p_scatter, *p_dw, *p_dwpe;
    const uint32_t spec[] = {WG}, spec_dw[] = {WG_DW}, spec_sort[] = {WG_SORT};
    VKT_TRY(vkt_ops_pipeline(r, "embed_bwd_hist", 3, sizeof(vkt_pc_embed_sort), spec_sort, 1, &p_hist));
    VKT_TRY(vkt_ops_pipeline(r, "embed_bwd_scan", 1, sizeof(vkt_pc_embed_scan), spec_sort, 1, &p_scan));
    VKT_TRY(vkt_ops_pipeline(r, "embed_bwd_scatter", 4, sizeof(vkt_pc_embed_sort), spec_sort, 1, &p_scatter));
    char dw_name[48], dwpe_name[48];
    vkt_ops_dtype_variant("embed_bwd_dw", dout->dtype, dw_name, sizeof dw_name);
    vkt_ops_dtype_variant("embed_bwd_dwpe", dout->dtype, dwpe_name, sizeof dwpe_name);
    VKT_TRY(vkt_ops_pipeline(r, dw_name, 4, sizeof(vkt_pc_embed_dw), spec_dw, 1, &p_dw));
    VKT_TRY(vkt_ops_pipeline(r, dwpe_name, 3, sizeof(vkt_pc_embed_dwpe), spec, 1, &p_dwpe));

    /* Stable LSD radix sort of the rows by key = min(id, V), 8 bits per pass, ping-ponging between two
     * scratch arrays; the last pass leaves rows sorted by (key, row). */
    const int64_t n_blocks = (N + WG_SORT - 1) / WG_SORT, stride = (N + PAD - 1) / PAD * PAD;
    const vkt_tensor order[2] = {vkt_ops_flat_slice(scratch, 0, N), vkt_ops_flat_slice(scratch, stride, N)};
    const vkt_tensor hist = vkt_ops_flat_slice(scratch, 2 * stride, 256 * n_blocks);
    int n_pass = 0;
    uint32_t gx, gy;
    /* No dwte (only the position table trains): no sort, and the loop over vocabulary chunks below is empty. */
    for (uint32_t shift = 0; dwte && (shift == 0 || ((uint64_t)V >> shift) != 0); shift += 8, n_pass++) {
        const vkt_tensor src = order[(n_pass + 1) % 2], dst = order[n_pass % 2];
        vkt_pc_embed_sort pc = {(uint32_t)N, (uint32_t)V, shift, (uint32_t)n_blocks, n_pass == 0};
        vkt_pc_embed_scan pc_scan = {(uint32_t)n_blocks};
        vkt_binding b_hist[3] = {{*tokens, VKT_READ}, {src, VKT_READ}, {hist, VKT_WRITE}};
        vkt_binding b_scan[1] = {{hist, VKT_RW}};
        vkt_binding b_scatter[4] = {{*tokens, VKT_READ}, {src, VKT_READ}, {hist, VKT_READ}, {dst, VKT_WRITE}};
        vkt_ops_grid_1d((uint64_t)n_blocks, &gx, &gy);
        VKT_TRY(vkt_rec_dispatch(r, "embed_bwd_hist", p_hist, b_hist, 3, &pc, sizeof pc, gx, gy, 1));
        VKT_TRY(vkt_rec_dispatch(r, "embed_bwd_scan", p_scan, b_scan, 1, &pc_scan, sizeof pc_scan, 1, 1, 1));
        VKT_TRY(vkt_rec_dispatch(r, "embed_bwd_scatter", p_scatter, b_scatter, 4, &pc, sizeof pc, gx, gy, 1));
    }
    const vkt_tensor sorted = order[(n_pass + 1) % 2];

    /* One chunk size serves dout rows and f32 table rows: it fits f32 rows in one binding and, for 16-bit
     * dout, is a multiple of the rows whose bytes keep the binding alignment (a power of two: the 2-byte
     * step is a multiple of the 4-byte one). */
    int64_t chunk = vkt_ops_chunk_rows(r, (size_t)C * 4);
    if (dout->dtype != VKT_DTYPE_F32) {
        int64_t step = (int64_t)vkt_device_get_info(vkt_rec_device(r))->min_storage_offset_align;
        for (int64_t row_bytes = 2 * C; step > 1 && row_bytes % 2 == 0; row_bytes /= 2) step /= 2;
        chunk = chunk / step * step;
        VKT_ASSERT(chunk >= 1);
    }
    for (int64_t r0 = 0; r0 < N; r0 += chunk) {
        const int64_t nr = min64(chunk, N - r0);
        const vkt_tensor d = rows_of(dout, C, r0, nr);
        for (int64_t v0 = 0; v0 < V; v0 += chunk) {
            const int64_t nv = min64(chunk, V - v0);
            vkt_pc_embed_dw pc = {(uint32_t)N,  (uint32_t)C,  (uint32_t)V, (uint32_t)v0,
                                  (uint32_t)nv, (uint32_t)r0, (uint32_t)nr};
            vkt_binding bind[4] = {
                {*tokens, VKT_READ}, {sorted, VKT_READ}, {d, VKT_READ}, {rows_of(dwte, C, v0, nv), VKT_RW}};
            vkt_ops_grid_1d((uint64_t)N, &gx, &gy);
            VKT_TRY(vkt_rec_dispatch(r, "embed_bwd_dw", p_dw, bind, 4, &pc, sizeof pc, gx, gy, 1));
        }
        if (dwpe) {
            vkt_pc_embed_dwpe pc = {(uint32_t)T,  (uint32_t)C,    (uint32_t)r0,
                                    (uint32_t)nr, (uint32_t)pos0, seg_start ? 1u : 0u};
            vkt_binding bind[3] = {
                {d, VKT_READ}, {seg_start ? *seg_start : *tokens, VKT_READ}, {rows_of(dwpe, C, 0, pos0 + T), VKT_RW}};
            vkt_ops_grid_1d(vkt_ceil_div((uint64_t)(T * C), WG), &gx, &gy);
            VKT_TRY(vkt_rec_dispatch(r, "embed_bwd_dwpe", p_dwpe, bind, 3, &pc, sizeof pc, gx, gy, 1));
        }
    }
    return VKT_OK;
}
