/* Flat buffers across ranks through host-visible staging (see flat_sync.h). */
#include "dist/flat_sync.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "dist/dist.h"
#include "vk/memory.h"

struct vkt_flat_sync {
    vkt_device *dev;                                        /* borrowed */
    vkt_tensor grads, params;                               /* borrowed views; params zeroed until set */
    int64_t *bounds;                                        /* owned: shard bounds (size + 1), NULL without ZeRO-1 */
    vkt_staging staging;                                    /* owned, host-cached where the device offers it */
    vkt_rec *grads_out, *grads_in, *params_out, *params_in; /* owned: the copies (params: NULL until set) */
    vkt_flat_sync_stats last;
};

/* Records a copy of elements [e0, e1) between buf and the same range of the staging. */
static vkt_status record_copy(vkt_device *dev, const vkt_tensor *buf, VkBuffer staging, int64_t e0, int64_t e1,
                              bool to_buf, vkt_rec **out) {
    VKT_TRY(vkt_rec_create(dev, 0, out));
    VKT_TRY(vkt_rec_begin(*out));
    size_t off = (size_t)e0 * 4, bytes = (size_t)(e1 - e0) * 4;
    if (to_buf)
        vkt_rec_copy_raw(*out, staging, off, buf->arena->buffer, buf->offset + off, bytes, true);
    else
        vkt_rec_copy_raw(*out, buf->arena->buffer, buf->offset + off, staging, off, bytes, false);
    return vkt_rec_end(*out);
}

vkt_status vkt_flat_sync_create(vkt_device *dev, const vkt_tensor *grads, vkt_flat_sync **out) {
    VKT_ASSERT(grads->dtype == VKT_DTYPE_F32);
    vkt_flat_sync *g = calloc(1, sizeof *g);
    if (!g) return VKT_ERR_OOM;
    g->dev = dev, g->grads = *grads;
    size_t bytes = vkt_tensor_bytes(grads);
    int64_t n = vkt_tensor_numel(grads);
    vkt_status st = vkt_staging_create(dev, bytes, &g->staging);
    if (st != VKT_OK)
        vkt_log_error("data parallel: no host-visible staging of %.1f MiB for the gradients (%s): train a smaller "
                      "model or fine-tune with LoRA",
                      (double)bytes / (1 << 20), vkt_status_name(st));
    if (st == VKT_OK) st = record_copy(dev, grads, g->staging.buffer, 0, n, false, &g->grads_out);
    if (st == VKT_OK) st = record_copy(dev, grads, g->staging.buffer, 0, n, true, &g->grads_in);
    if (st != VKT_OK) {
        vkt_flat_sync_destroy(g);
        return st;
    }
    g->last.bytes = bytes;
    *out = g;
    return VKT_OK;
}

void vkt_flat_sync_destroy(vkt_flat_sync *g) {
    if (!g) return;
    vkt_rec *recs[] = {g->grads_out, g->grads_in, g->params_out, g->params_in};
    for (int i = 0; i < 4; i++) {
        if (recs[i]) vkt_rec_wait(recs[i]);
        vkt_rec_destroy(recs[i]);
    }
    vkt_staging_destroy(g->dev, &g->staging);
    free(g->bounds);
    free(g);
}

vkt_status vkt_flat_sync_reduce(vkt_flat_sync *g, double weight) {
    double t0 = vkt_now_s();
    VKT_TRY(vkt_rec_wait(g->grads_in)); /* the previous copy back, long done: only its fence is outstanding */
    VKT_TRY(vkt_rec_submit_wait(g->grads_out));
    double t1 = vkt_now_s();
    float *x = g->staging.mapped;
    size_t n = (size_t)vkt_tensor_numel(&g->grads);
    if (weight != 1.0) {
        float w = (float)weight;
        for (size_t i = 0; i < n; i++) x[i] *= w;
    }
    VKT_TRY(vkt_dist_sum_f32(x, n));
    g->last.copy_s = t1 - t0, g->last.reduce_s = vkt_now_s() - t1;
    return vkt_rec_submit(g->grads_in);
}

vkt_status vkt_flat_sync_set_params(vkt_flat_sync *g, const vkt_tensor *params, const int64_t *bounds) {
    VKT_ASSERT(params->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(params) == vkt_tensor_numel(&g->grads));
    int ranks = vkt_dist_size(), r = vkt_dist_rank();
    g->params = *params;
    g->bounds = malloc((size_t)(ranks + 1) * sizeof *g->bounds);
    if (!g->bounds) return VKT_ERR_OOM;
    memcpy(g->bounds, bounds, (size_t)(ranks + 1) * sizeof *bounds);
    VKT_TRY(record_copy(g->dev, params, g->staging.buffer, bounds[r], bounds[r + 1], false, &g->params_out));
    return record_copy(g->dev, params, g->staging.buffer, 0, vkt_tensor_numel(params), true, &g->params_in);
}

vkt_status vkt_flat_sync_gather(vkt_flat_sync *g) {
    VKT_ASSERT(g->bounds);
    double t0 = vkt_now_s();
    VKT_TRY(vkt_rec_wait(g->params_in));
    VKT_TRY(vkt_rec_submit_wait(g->params_out));
    VKT_TRY(vkt_dist_allgather_f32(g->staging.mapped, g->bounds));
    VKT_TRY(vkt_rec_submit(g->params_in));
    g->last.gather_s = vkt_now_s() - t0;
    return VKT_OK;
}

vkt_flat_sync_stats vkt_flat_sync_last(const vkt_flat_sync *g) { return g->last; }

const vkt_staging *vkt_flat_sync_staging(const vkt_flat_sync *g) { return &g->staging; }
