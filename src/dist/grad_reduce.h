/* The all-reduce of a device buffer across the ranks of dist.h: every rank's buffer becomes the weighted
 * sum over ranks of weight_r * buffer_r (the step passes weights that make it the mean gradient).
 *
 * Path: one device copy into a host-cached staging buffer, MPI's reduction in place on that mapping (no
 * host copy), one device copy back. The copy back is queued, not waited for, so the optimizer that reads
 * the buffer can be queued right behind it. One rank: nothing is copied (weight must then be 1). */
#ifndef VKT_GRAD_REDUCE_H
#define VKT_GRAD_REDUCE_H

#include "vk/record.h"

typedef struct vkt_grad_reduce vkt_grad_reduce;

/* What the last vkt_grad_reduce_run cost. */
typedef struct {
    size_t bytes;    /* bytes each rank contributed (the buffer's size) */
    double copy_s;   /* waiting for the device: the queued work before it plus the copy out */
    double reduce_s; /* host scaling and MPI's all-reduce (network time and waiting for other ranks) */
} vkt_grad_reduce_stats;

/* For buf (f32, borrowed, must outlive the reducer): staging of its size and the two copies. */
vkt_status vkt_grad_reduce_create(vkt_device *dev, const vkt_tensor *buf, vkt_grad_reduce **out);
void vkt_grad_reduce_destroy(vkt_grad_reduce *g);

/* After everything already queued on the device: buf <- sum over ranks of weight * buf (each rank its
 * own weight). Blocks until the device wrote buf out and the ranks reduced it; queues the copy back. Every
 * rank must call it at the same point. */
vkt_status vkt_grad_reduce_run(vkt_grad_reduce *g, double weight);
vkt_grad_reduce_stats vkt_grad_reduce_last(const vkt_grad_reduce *g);

#endif
