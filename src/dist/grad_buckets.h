/* Data parallelism: the gradient all-reduce in buckets that overlaps the backward (as PyTorch DDP's
 * bucket_cap_mb), through host-visible staging.
 *
 * Plan (once): the trainable gradients, a flat buffer laid out by a parameter table, become buckets of whole
 * layers in the order the backward completes them: the final norm and LM head (the table's tail) with the
 * last block, blocks L-1 .. 0, then the embeddings (the table's head; a tied LM head gets its last term
 * there). Each bucket is a contiguous range, about cap_mb or more (never part of a layer), closed at the
 * block whose backward completes it.
 *
 * Device side (recorded into the micro-batch that ends an optimizer step, through the model's backward hook):
 * after the block that closes a bucket, a copy of its range into the staging and an event the host polls.
 * Host side (vkt_grad_buckets_reduce): as each event is set, the bucket is scaled by this rank's weight in
 * place and its sum over the ranks starts in the background (vkt_dist_sum_start), while the device runs the
 * blocks below; then it waits for the last ones. No host copy: MPI reads and writes the staging. The
 * optimizer recording starts with one copy of the whole staging back into the gradients.
 *
 * The staging is borrowed (dist/flat_sync.h owns it: its ZeRO-1 parameter gather reuses it after the
 * optimizer has read the gradients back). */
#ifndef VKT_GRAD_BUCKETS_H
#define VKT_GRAD_BUCKETS_H

#include "model/model.h"
#include "vk/memory.h"

typedef struct vkt_grad_buckets vkt_grad_buckets;

typedef struct {
    double cap_mb; /* bucket size target in MiB; 0: one bucket after the whole backward (nothing overlaps) */
    bool ordered;  /* the deterministic reduction (rank-order sums, dist.h): losses independent of timing */
} vkt_grad_buckets_cfg;

/* What the last vkt_grad_buckets_reduce measured. */
typedef struct {
    size_t bytes;     /* reduced by each rank (the gradients, padding included) */
    int n_buckets;
    double comm_s;    /* wall time during which at least one bucket's reduction was in flight */
    double exposed_s; /* of it, the time after the backward ended (its last event): what the step waited */
} vkt_grad_buckets_stats;

/* For the gradients grads (f32, table->total elements, borrowed) of a model with n_layer blocks whose
 * backward calls the hook; staging (borrowed) at least as large as grads. */
vkt_status vkt_grad_buckets_create(vkt_device *dev, const vkt_param_table *table, int n_layer,
                                   const vkt_tensor *grads, const vkt_staging *staging,
                                   const vkt_grad_buckets_cfg *cfg, vkt_grad_buckets **out);
void vkt_grad_buckets_destroy(vkt_grad_buckets *b);

/* Recording the micro-batch that ends a step: set the model's bwd_hook to this while recording its backward,
 * then call record_end after it. */
const vkt_backward_hook *vkt_grad_buckets_hook(vkt_grad_buckets *b);
vkt_status vkt_grad_buckets_record_end(vkt_grad_buckets *b, vkt_rec *r);
/* Recording the optimizer: the reduced gradients back from the staging (first thing it does). */
vkt_status vkt_grad_buckets_record_upload(vkt_grad_buckets *b, vkt_rec *r);

/* Before submitting a recording with the buckets: resets their events (no recording with them may be
 * pending). */
vkt_status vkt_grad_buckets_arm(vkt_grad_buckets *b);
/* After that submission: reduces every bucket as the device completes it, each scaled by weight (this
 * rank's share) before the sum, and returns when all are reduced. Every rank must call it at the same point. */
vkt_status vkt_grad_buckets_reduce(vkt_grad_buckets *b, double weight);

vkt_grad_buckets_stats vkt_grad_buckets_last(const vkt_grad_buckets *b);

/* The plan alone (host only, for tests): buckets as element ranges [lo[i], hi[i]) in reduction order and the
 * point each closes at (0 .. n_layer - 1: after that block's backward; -1: after the whole backward). Returns
 * the count (<= cap_out), or -1 when cap_out is too small. */
int vkt_grad_buckets_plan(const vkt_param_table *table, int n_layer, double cap_mb, int64_t *lo, int64_t *hi,
                          int *layer, int cap_out);

#endif
