/* Gradient buckets reduced while the backward runs (see grad_buckets.h). */
#include "dist/grad_buckets.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "dist/dist.h"

/* MPI counts are int; a bucket larger than this (one huge embedding) is reduced in pieces. */
#define MAX_PIECE ((int64_t)1 << 28)

typedef struct {
    int64_t lo, hi; /* elements of the flat gradients */
    int layer;      /* closes after this block's backward; -1: after the whole backward */
    int event;      /* index into events (pieces of one bucket share it) */
} bucket;

struct vkt_grad_buckets {
    vkt_device *dev;           /* borrowed */
    vkt_tensor grads;          /* borrowed view */
    const vkt_staging *staging; /* borrowed */
    vkt_grad_buckets_cfg cfg;
    bucket *buckets;           /* owned, reduction order */
    int n_buckets;
    VkEvent *events;           /* owned, one per closing point */
    int n_events;
    float *scratch;            /* owned, ordered only: total + size * n_buckets floats (dist.h) */
    vkt_dist_sum_op **ops;     /* owned array (n_buckets), the sums in flight */
    vkt_backward_hook hook;
    vkt_grad_buckets_stats last;
};

/* When the backward completes entry e, as a point index: 0 .. n_layer - 1 for block n_layer - 1 .. 0, n_layer
 * after the whole backward. Global entries after every block's (final norm, LM head, score head) are done
 * before the blocks; those before them (embeddings) only at the end. */
static int completion(const vkt_param *e, int n_layer, int64_t blocks_end) {
    if (e->layer >= 0) return n_layer - 1 - e->layer;
    return blocks_end >= 0 && e->offset >= blocks_end ? 0 : n_layer;
}

static int by_offset_desc(const void *a, const void *b) {
    int64_t x = (*(const vkt_param *const *)a)->offset, y = (*(const vkt_param *const *)b)->offset;
    return (x < y) - (x > y);
}

/* boundary[k] (k = 0 .. n_layer): the lowest element complete at point k (everything above it is), or -1
 * when the table's order does not let completed tensors form a suffix (then only the end point is used). */
static vkt_status boundaries(const vkt_param_table *t, int n_layer, int64_t *boundary) {
    int64_t blocks_end = -1;
    for (int i = 0; i < t->n; i++)
        if (t->p[i].layer >= 0 && t->p[i].offset + t->p[i].numel > blocks_end) blocks_end = t->p[i].offset + t->p[i].numel;
    size_t n_entries = t->n > 0 ? (size_t)t->n : 1;
    const vkt_param **order = malloc(n_entries * sizeof *order);
    if (!order) return VKT_ERR_OOM;
    for (int i = 0; i < t->n; i++) order[i] = &t->p[i];
    qsort(order, (size_t)t->n, sizeof *order, by_offset_desc);
    for (int k = 0; k <= n_layer; k++) boundary[k] = t->total;
    bool suffixes = true;
    int prev = 0;
    for (int i = 0; i < t->n; i++) { /* top down, the completion points may only grow */
        int c = completion(order[i], n_layer, blocks_end);
        if (c < prev) suffixes = false;
        prev = c > prev ? c : prev;
        if (order[i]->offset < boundary[c]) boundary[c] = order[i]->offset;
    }
    free(order);
    for (int k = 1; k <= n_layer; k++)
        if (boundary[k - 1] < boundary[k]) boundary[k] = boundary[k - 1];
    if (!suffixes) {
        vkt_log_warn("data parallel: the trainable tensors are not laid out in layer order, so the gradients are "
                     "reduced in one piece after the backward (no overlap)");
        for (int k = 0; k < n_layer; k++) boundary[k] = -1;
    }
    boundary[n_layer] = 0;
    return VKT_OK;
}

int vkt_grad_buckets_plan(const vkt_param_table *table, int n_layer, double cap_mb, int64_t *lo, int64_t *hi,
                          int *layer, int cap_out) {
    int64_t *boundary = malloc((size_t)(n_layer + 1) * sizeof *boundary);
    if (!boundary || boundaries(table, n_layer, boundary) != VKT_OK) {
        free(boundary);
        return -1;
    }
    int64_t cap = (int64_t)(cap_mb * (1 << 20) / 4), top = table->total;
    int n = 0;
    for (int k = 0; k <= n_layer && n >= 0; k++) {
        int64_t b = boundary[k];
        bool end = k == n_layer;
        if (b < 0 || top <= b || (!end && (cap <= 0 || top - b < cap))) continue;
        for (int64_t h = top; h > b && n >= 0; h -= MAX_PIECE) { /* pieces of at most MAX_PIECE, top down */
            if (n == cap_out) {
                n = -1;
                break;
            }
            lo[n] = h - MAX_PIECE > b ? h - MAX_PIECE : b, hi[n] = h, layer[n] = end ? -1 : n_layer - 1 - k;
            n++;
        }
        top = b;
    }
    free(boundary);
    return n;
}

/* The model's backward hook: the buckets that close after block `layer`. */
static vkt_status record_closing(vkt_grad_buckets *b, vkt_rec *r, int layer) {
    int event = -1;
    for (int i = 0; i < b->n_buckets; i++) {
        const bucket *k = &b->buckets[i];
        if (k->layer != layer) continue;
        size_t off = (size_t)k->lo * 4;
        vkt_rec_copy_raw(r, b->grads.arena->buffer, b->grads.offset + off, b->staging->buffer, off,
                         (size_t)(k->hi - k->lo) * 4, false);
        event = k->event;
    }
    if (event >= 0) vkt_rec_signal_host(r, b->events[event]);
    return VKT_OK;
}

static vkt_status block_done(void *ctx, vkt_rec *r, int layer) { return record_closing(ctx, r, layer); }

vkt_status vkt_grad_buckets_create(vkt_device *dev, const vkt_param_table *table, int n_layer,
                                   const vkt_tensor *grads, const vkt_staging *staging,
                                   const vkt_grad_buckets_cfg *cfg, vkt_grad_buckets **out) {
    VKT_ASSERT(grads->dtype == VKT_DTYPE_F32 && vkt_tensor_numel(grads) == table->total);
    VKT_ASSERT(staging->size >= vkt_tensor_bytes(grads));
    vkt_grad_buckets *b = calloc(1, sizeof *b);
    if (!b) return VKT_ERR_OOM;
    b->dev = dev, b->grads = *grads, b->staging = staging, b->cfg = *cfg;
    b->hook = (vkt_backward_hook){.ctx = b, .block_done = block_done};
    int cap = n_layer + 2 + (int)(table->total / MAX_PIECE) * (n_layer + 1);
    int64_t *lo = malloc(2 * (size_t)cap * sizeof *lo);
    int *layer = malloc((size_t)cap * sizeof *layer);
    b->buckets = calloc((size_t)cap, sizeof *b->buckets);
    b->events = calloc((size_t)cap, sizeof *b->events);
    b->ops = calloc((size_t)cap, sizeof *b->ops);
    vkt_status st = lo && layer && b->buckets && b->events && b->ops ? VKT_OK : VKT_ERR_OOM;
    int n = st == VKT_OK ? vkt_grad_buckets_plan(table, n_layer, cfg->cap_mb, lo, lo + cap, layer, cap) : 0;
    if (n < 0) st = VKT_ERR_OOM;
    for (int i = 0; i < n && st == VKT_OK; i++) {
        bool new_point = i == 0 || layer[i] != layer[i - 1];
        if (new_point) {
            VkEventCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_EVENT_CREATE_INFO};
            st = vkt_vk_status(vkCreateEvent(dev->dev, &ci, NULL, &b->events[b->n_events]));
            if (st == VKT_OK) b->n_events++;
        }
        b->buckets[i] = (bucket){.lo = lo[i], .hi = lo[cap + i], .layer = layer[i], .event = b->n_events - 1};
        b->n_buckets = i + 1;
    }
    if (st == VKT_OK && cfg->ordered) {
        b->scratch = malloc(((size_t)table->total + (size_t)vkt_dist_size() * (size_t)n) * sizeof *b->scratch);
        if (!b->scratch) {
            vkt_log_error("data parallel: no host memory for the ordered reduction's %.1f MiB of scratch: set "
                          "optim.deterministic_reduce=false",
                          (double)table->total * 4 / (1 << 20));
            st = VKT_ERR_OOM;
        }
    }
    free(lo), free(layer);
    if (st != VKT_OK) {
        vkt_grad_buckets_destroy(b);
        return st;
    }
    b->last.bytes = vkt_tensor_bytes(grads), b->last.n_buckets = b->n_buckets;
    *out = b;
    return VKT_OK;
}

void vkt_grad_buckets_destroy(vkt_grad_buckets *b) {
    if (!b) return;
    for (int i = 0; i < b->n_events; i++) vkDestroyEvent(b->dev->dev, b->events[i], NULL);
    for (int i = 0; i < b->n_buckets && b->ops; i++) vkt_dist_sum_free(b->ops[i]);
    free(b->events), free(b->buckets), free(b->ops), free(b->scratch);
    free(b);
}

const vkt_backward_hook *vkt_grad_buckets_hook(vkt_grad_buckets *b) { return &b->hook; }

vkt_status vkt_grad_buckets_record_end(vkt_grad_buckets *b, vkt_rec *r) { return record_closing(b, r, -1); }

vkt_status vkt_grad_buckets_record_upload(vkt_grad_buckets *b, vkt_rec *r) {
    vkt_rec_copy_raw(r, b->staging->buffer, 0, b->grads.arena->buffer, b->grads.offset, vkt_tensor_bytes(&b->grads),
                     true);
    return VKT_OK;
}

vkt_status vkt_grad_buckets_arm(vkt_grad_buckets *b) {
    for (int i = 0; i < b->n_events; i++) VKT_VK_TRY(vkResetEvent(b->dev->dev, b->events[i]));
    return VKT_OK;
}

/* True once the device set bucket i's event. */
static vkt_status bucket_ready(const vkt_grad_buckets *b, int i, bool *ready) {
    VkResult res = vkGetEventStatus(b->dev->dev, b->events[b->buckets[i].event]);
    if (res != VK_EVENT_SET && res != VK_EVENT_RESET) VKT_VK_TRY(res);
    *ready = res == VK_EVENT_SET;
    return VKT_OK;
}

/* Bucket i: this rank's share, then its sum over the ranks in the background. */
static vkt_status start_bucket(vkt_grad_buckets *b, int i, double weight) {
    const bucket *k = &b->buckets[i];
    float *x = (float *)b->staging->mapped + k->lo, w = (float)weight;
    int64_t n = k->hi - k->lo;
    if (weight != 1.0)
        for (int64_t j = 0; j < n; j++) x[j] *= w;
    /* Bucket i needs n + size floats (dist.h): from lo, shifted past the later (lower) buckets' extra floats. */
    float *scratch = b->scratch ? b->scratch + k->lo + (int64_t)(b->n_buckets - 1 - i) * vkt_dist_size() : NULL;
    return vkt_dist_sum_start(x, n, b->cfg.ordered, scratch, i, &b->ops[i]);
}

vkt_status vkt_grad_buckets_reduce(vkt_grad_buckets *b, double weight) {
    int started = 0, done = 0, in_flight = 0;
    double busy_from = 0, backward_end = -1;
    b->last.comm_s = 0;
    while (done < b->n_buckets) {
        bool moved = false, ready = true;
        while (started < b->n_buckets && ready) { /* buckets complete in order: start every ready one */
            VKT_TRY(bucket_ready(b, started, &ready));
            if (!ready) break;
            double now = vkt_now_s();
            if (b->buckets[started].layer < 0 && backward_end < 0) backward_end = now;
            if (in_flight++ == 0) busy_from = now;
            VKT_TRY(start_bucket(b, started++, weight));
            moved = true;
        }
        for (int i = done; i < started; i++) { /* MPI advances the sums only inside its calls */
            bool finished = b->ops[i] == NULL;
            if (!finished) VKT_TRY(vkt_dist_sum_poll(b->ops[i], &finished));
            if (finished && b->ops[i]) {
                b->ops[i] = NULL, moved = true;
                if (--in_flight == 0) b->last.comm_s += vkt_now_s() - busy_from;
            }
            if (finished && i == done) done++;
        }
        if (!moved) nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL); /* leave the cores to the device */
    }
    b->last.exposed_s = backward_end >= 0 ? vkt_now_s() - backward_end : 0;
    return VKT_OK;
}

vkt_grad_buckets_stats vkt_grad_buckets_last(const vkt_grad_buckets *b) { return b->last; }
