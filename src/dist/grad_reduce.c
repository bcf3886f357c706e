/* Device buffer all-reduce through host-visible staging (see grad_reduce.h). */
#include "dist/grad_reduce.h"

#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "dist/dist.h"
#include "vk/memory.h"

struct vkt_grad_reduce {
    vkt_device *dev;     /* borrowed */
    vkt_tensor buf;      /* borrowed view */
    vkt_staging staging; /* owned, host-cached where the device offers it */
    vkt_rec *out, *in;   /* owned: buf -> staging, staging -> buf */
    vkt_grad_reduce_stats last;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static vkt_status record_copy(vkt_rec *r, const vkt_tensor *buf, VkBuffer staging, bool to_buf) {
    VKT_TRY(vkt_rec_begin(r));
    size_t bytes = vkt_tensor_bytes(buf);
    if (to_buf) vkt_rec_copy_raw(r, staging, 0, buf->arena->buffer, buf->offset, bytes, true);
    else vkt_rec_copy_raw(r, buf->arena->buffer, buf->offset, staging, 0, bytes, false);
    return vkt_rec_end(r);
}

vkt_status vkt_grad_reduce_create(vkt_device *dev, const vkt_tensor *buf, vkt_grad_reduce **out) {
    VKT_ASSERT(buf->dtype == VKT_DTYPE_F32);
    vkt_grad_reduce *g = calloc(1, sizeof *g);
    if (!g) return VKT_ERR_OOM;
    g->dev = dev, g->buf = *buf;
    size_t bytes = vkt_tensor_bytes(buf);
    vkt_status st = vkt_staging_create(dev, bytes, &g->staging);
    if (st != VKT_OK)
        vkt_log_error("gradient all-reduce: no host-visible staging of %.1f MiB (%s): train a smaller model or "
                      "fine-tune with LoRA", (double)bytes / (1 << 20), vkt_status_name(st));
    if (st == VKT_OK) st = vkt_rec_create(dev, 0, &g->out);
    if (st == VKT_OK) st = vkt_rec_create(dev, 0, &g->in);
    if (st == VKT_OK) st = record_copy(g->out, buf, g->staging.buffer, false);
    if (st == VKT_OK) st = record_copy(g->in, buf, g->staging.buffer, true);
    if (st != VKT_OK) {
        vkt_grad_reduce_destroy(g);
        return st;
    }
    g->last.bytes = bytes;
    *out = g;
    return VKT_OK;
}

void vkt_grad_reduce_destroy(vkt_grad_reduce *g) {
    if (!g) return;
    vkt_rec_wait(g->in);
    vkt_rec_destroy(g->out);
    vkt_rec_destroy(g->in);
    vkt_staging_destroy(g->dev, &g->staging);
    free(g);
}

vkt_status vkt_grad_reduce_run(vkt_grad_reduce *g, double weight) {
    double t0 = now_s();
    VKT_TRY(vkt_rec_wait(g->in)); /* the previous copy back, long done: only its fence is outstanding */
    VKT_TRY(vkt_rec_submit_wait(g->out));
    double t1 = now_s();
    float *x = g->staging.mapped;
    size_t n = (size_t)vkt_tensor_numel(&g->buf);
    if (weight != 1.0) {
        float w = (float)weight;
        for (size_t i = 0; i < n; i++) x[i] *= w;
    }
    VKT_TRY(vkt_dist_sum_f32(x, n));
    g->last.copy_s = t1 - t0, g->last.reduce_s = now_s() - t1;
    return vkt_rec_submit(g->in);
}

vkt_grad_reduce_stats vkt_grad_reduce_last(const vkt_grad_reduce *g) { return g->last; }
