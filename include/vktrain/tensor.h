/* Device memory arenas and tensor views.
 *
 * An arena is one large device allocation with one VkBuffer over it; tensors are non-owning views
 * {arena, byte offset, shape, dtype} carved out of it by a bump allocator. Device memory is a few arenas
 * (weights, grads, optimizer state, activations, scratch), never one allocation per tensor.
 *
 * Dimension letters used across vktrain:
 *   B  batch size            T  sequence length (time)    C  channels (model width)
 *   V  vocabulary size       L  number of layers          NH number of attention heads
 *   HS head size (C / NH)    KVH number of key/value heads (grouped-query attention)
 * Shapes are row-major, the last dimension contiguous. Unused trailing dimensions are 1. */
#ifndef VKTRAIN_TENSOR_H
#define VKTRAIN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "vktrain/device.h"

typedef enum {
    VKT_DTYPE_F32 = 0,
    VKT_DTYPE_F16 = 1,
    VKT_DTYPE_BF16 = 2,
    VKT_DTYPE_I32 = 3,
    VKT_DTYPE_U8 = 4,
} vkt_dtype;

typedef struct vkt_arena vkt_arena;

typedef struct {
    vkt_arena *arena;  /* borrowed: the arena outlives its views */
    size_t offset;     /* bytes from the arena's start; aligned for storage-buffer binding */
    int64_t shape[4];  /* row-major; unused trailing dims are 1 */
    vkt_dtype dtype;
} vkt_tensor;

size_t vkt_dtype_size(vkt_dtype t);
const char *vkt_dtype_name(vkt_dtype t);

/* Creates an arena of `bytes` (name is for messages). Memory is host-mapped where the device shares
 * memory with the host (integrated GPUs, CPU drivers), device-local with staged copies otherwise. */
vkt_status vkt_arena_create(vkt_device *dev, const char *name, size_t bytes, vkt_arena **out);
/* An arena in host-visible memory (device-local too where the device offers it) that the host reads and
 * writes directly while the device is not using it: input batches, losses, per-step scalars. */
vkt_status vkt_arena_create_host(vkt_device *dev, const char *name, size_t bytes, vkt_arena **out);
void vkt_arena_destroy(vkt_arena *a);
/* Bytes handed out so far, and capacity. */
size_t vkt_arena_used(const vkt_arena *a);
size_t vkt_arena_capacity(const vkt_arena *a);
/* Forget all views (the memory is reused by later allocations). */
void vkt_arena_reset(vkt_arena *a);

/* Allocates a tensor of up to 4 dims (pass 1 for unused ones). VKT_ERR_OOM names the arena when full. */
vkt_status vkt_tensor_alloc(vkt_arena *a, vkt_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                            vkt_tensor *out);
int64_t vkt_tensor_numel(const vkt_tensor *t);
/* Host pointer to a tensor's first byte when its arena is mapped (always for host arenas), else NULL. */
void *vkt_tensor_host_ptr(const vkt_tensor *t);
size_t vkt_tensor_bytes(const vkt_tensor *t);
/* A view of rows [row0, row0 + n_rows) of dim 0 (same dtype, dims 1..3 kept). */
vkt_tensor vkt_tensor_rows(const vkt_tensor *t, int64_t row0, int64_t n_rows);

/* Synchronous copies between host memory and a tensor (whole tensor, `bytes` must match).
 * They wait for the device: use them for set-up, checkpoints and tests, not inside a step. */
vkt_status vkt_tensor_upload(vkt_device *dev, const vkt_tensor *t, const void *host, size_t bytes);
vkt_status vkt_tensor_download(vkt_device *dev, const vkt_tensor *t, void *host, size_t bytes);

#endif
