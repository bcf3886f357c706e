/* The step's flat f32 buffers across the ranks of dist.h, through one host staging buffer:
 *   reduce  the gradients: every rank's buffer becomes the sum over ranks of weight_r * buffer_r (the step
 *           passes weights that make it the mean gradient);
 *   gather  ZeRO-1: each rank updated only its shard [bounds[r], bounds[r + 1]) of the parameters; every
 *           rank gets all shards.
 * Path: one device copy into host-cached staging, MPI in place on that mapping (no host copy), one device
 * copy back. The copy back is queued, not waited for, so the work that reads the buffer can be queued
 * right behind it. Both use the same staging (they never overlap: reduce before the optimizer, gather
 * after it), so the parameters and gradients must share one layout (the trainable set's). */
#ifndef VKT_FLAT_SYNC_H
#define VKT_FLAT_SYNC_H

#include "vk/memory.h"
#include "vk/record.h"

typedef struct vkt_flat_sync vkt_flat_sync;

/* What the last reduce and gather cost. */
typedef struct {
    size_t bytes;    /* bytes each rank contributes to a reduce (the gradient buffer's size) */
    double copy_s;   /* reduce: waiting for the device (the copy out, queued work drained first) */
    double reduce_s; /* reduce: host scaling and MPI's all-reduce (network, waiting for other ranks) */
    double gather_s; /* gather: copy out of the shard, all-gather, queueing the copy back */
} vkt_flat_sync_stats;

/* For grads (f32, borrowed, must outlive the sync): staging of its size and the two copies. */
vkt_status vkt_flat_sync_create(vkt_device *dev, const vkt_tensor *grads, vkt_flat_sync **out);
void vkt_flat_sync_destroy(vkt_flat_sync *g);

/* After everything already queued on the device: grads <- sum over ranks of weight * grads (each rank its
 * own weight). Blocks until the device wrote grads out and the ranks reduced it; queues the copy back.
 * Every rank must call it at the same point. */
vkt_status vkt_flat_sync_reduce(vkt_flat_sync *g, double weight);

/* ZeRO-1: params (f32, the layout of grads, borrowed) and the shard bounds (dist size + 1 entries,
 * copied) for vkt_flat_sync_gather. */
vkt_status vkt_flat_sync_set_params(vkt_flat_sync *g, const vkt_tensor *params, const int64_t *bounds);
/* After everything already queued (the optimizer that updated this rank's shard): every rank's shard of
 * params into every rank. Blocks until the shard is out and gathered; queues the copy back. */
vkt_status vkt_flat_sync_gather(vkt_flat_sync *g);

vkt_flat_sync_stats vkt_flat_sync_last(const vkt_flat_sync *g);
/* The staging (the gradients' size), for the bucketed reduction (dist/grad_buckets.h) to share. */
const vkt_staging *vkt_flat_sync_staging(const vkt_flat_sync *g);

#endif
