/* Arenas: one VkBuffer and one allocation each, bump-allocated into tensor views.
 * Memory type choice: on integrated GPUs and CPU drivers a device-local, host-visible, coherent type
 * (mapped, no staging); on discrete GPUs plain device-local memory with staged copies, because
 * host reads from a BAR window are uncached and slow. */
#include "vk/memory.h"

#include <stdlib.h>
#include <string.h>

static int find_type(const vkt_device *dev, uint32_t bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < dev->mem.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (dev->mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

static double gib(uint64_t bytes) { return (double)bytes / (1 << 30); }

/* The out-of-memory message: the allocation, its size, the heap it was to come from (or the largest) and
 * what vktrain already holds there. Callers add the settings that shrink their allocation. */
static void log_oom(const vkt_device *dev, const char *name, uint64_t bytes, int heap, const char *why) {
    if (heap < 0)
        for (uint32_t h = 0; h < dev->mem.memoryHeapCount; h++)
            if (heap < 0 || dev->mem.memoryHeaps[h].size > dev->mem.memoryHeaps[heap].size) heap = (int)h;
    const VkMemoryHeap *hp = &dev->mem.memoryHeaps[heap];
    vkt_log_error("out of device memory: \"%s\" needs %.3f GiB (%llu bytes), but memory heap %d (%s) of %s holds "
                  "%.3f GiB, of which vktrain already uses %.3f GiB (%s)",
                  name, gib(bytes), (unsigned long long)bytes, heap,
                  hp->flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? "device-local" : "host", dev->info.name, gib(hp->size),
                  gib(dev->heap_used[heap]), why);
}

static vkt_status alloc_buffer(vkt_device *dev, const char *name, size_t bytes, bool want_mapped,
                               VkBuffer *buf, VkDeviceMemory *mem, void **mapped, uint32_t *heap_out,
                               uint64_t *bytes_out) {
    /* Asking Vulkan for more than the largest heap is invalid usage (and some drivers overcommit): refuse
     * it here with the same message a failed allocation gives. */
    uint64_t largest = 0;
    for (uint32_t h = 0; h < dev->mem.memoryHeapCount; h++)
        if (dev->mem.memoryHeaps[h].size > largest) largest = dev->mem.memoryHeaps[h].size;
    if (bytes > largest) {
        log_oom(dev, name, bytes, -1, "larger than any heap of the device");
        return VKT_ERR_OOM;
    }
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = bytes,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                       /* matmul_wide_ua binds windows of A as uniform buffers (CPU drivers) */
                                       (dev->info.type == VKT_DEVICE_CPU ? VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT : 0),
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VKT_VK_TRY(vkCreateBuffer(dev->dev, &bci, NULL, buf));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev->dev, *buf, &req);
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type = -1;
    if (want_mapped) {
        type = find_type(dev, req.memoryTypeBits, local | host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (type < 0) type = find_type(dev, req.memoryTypeBits, local | host);
    } else {
        type = find_type(dev, req.memoryTypeBits, local);
    }
    if (type < 0) type = find_type(dev, req.memoryTypeBits, host);
    if (type < 0) type = find_type(dev, req.memoryTypeBits, 0);
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = (uint32_t)type};
    uint32_t heap = dev->mem.memoryTypes[type].heapIndex;
    VkResult r = req.size > dev->mem.memoryHeaps[heap].size ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                                                            : vkAllocateMemory(dev->dev, &ai, NULL, mem);
    if (r != VK_SUCCESS) {
        log_oom(dev, name, req.size, (int)heap, vkt_vk_result_name(r));
        vkDestroyBuffer(dev->dev, *buf, NULL);
        *buf = VK_NULL_HANDLE;
        return vkt_vk_status(r);
    }
    dev->heap_used[heap] += req.size;
    *heap_out = heap, *bytes_out = req.size;
    VKT_VK_TRY(vkBindBufferMemory(dev->dev, *buf, *mem, 0));
    *mapped = NULL;
    if ((dev->mem.memoryTypes[type].propertyFlags & host) == host)
        VKT_VK_TRY(vkMapMemory(dev->dev, *mem, 0, VK_WHOLE_SIZE, 0, mapped));
    return VKT_OK;
}

static vkt_status arena_create(vkt_device *dev, const char *name, size_t bytes, bool host, vkt_arena **out) {
    vkt_arena *a = calloc(1, sizeof *a);
    if (!a) return VKT_ERR_OOM;
    a->dev = dev;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->align = dev->info.min_storage_offset_align > 256 ? dev->info.min_storage_offset_align : 256;
    a->capacity = bytes < a->align ? a->align : bytes;
    bool mapped = host || dev->info.type != VKT_DEVICE_DISCRETE;
    vkt_status s = alloc_buffer(dev, name, a->capacity, mapped, &a->buffer, &a->memory, &a->mapped, &a->heap,
                                &a->heap_bytes);
    /* VKT_FORCE_STAGING=1 (tests): behave like a discrete GPU, copying through staging buffers even when
     * the memory is mappable, so the staged path runs on integrated and CPU drivers too. */
    const char *force = getenv("VKT_FORCE_STAGING");
    if (!host && force && *force && strcmp(force, "0") != 0) a->mapped = NULL;
    if (s == VKT_OK && host && !a->mapped) {
        vkt_log_error("%s: the device offers no host-visible memory for it", name);
        s = VKT_ERR_UNSUPPORTED;
    }
    if (s != VKT_OK) {
        vkt_arena_destroy(a);
        return s;
    }
    *out = a;
    return VKT_OK;
}

vkt_status vkt_arena_create(vkt_device *dev, const char *name, size_t bytes, vkt_arena **out) {
    return arena_create(dev, name, bytes, false, out);
}

vkt_status vkt_arena_create_host(vkt_device *dev, const char *name, size_t bytes, vkt_arena **out) {
    return arena_create(dev, name, bytes, true, out);
}

void *vkt_tensor_host_ptr(const vkt_tensor *t) {
    return t->arena->mapped ? (char *)t->arena->mapped + t->offset : NULL;
}

void vkt_arena_destroy(vkt_arena *a) {
    if (!a) return;
    if (a->buffer) vkDestroyBuffer(a->dev->dev, a->buffer, NULL);
    if (a->memory) vkFreeMemory(a->dev->dev, a->memory, NULL);
    if (a->memory) a->dev->heap_used[a->heap] -= a->heap_bytes;
    free(a);
}

size_t vkt_arena_used(const vkt_arena *a) { return a->used; }
size_t vkt_arena_capacity(const vkt_arena *a) { return a->capacity; }
void vkt_arena_reset(vkt_arena *a) { a->used = 0; }

vkt_status vkt_staging_create(vkt_device *dev, size_t size, vkt_staging *out) {
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VKT_VK_TRY(vkCreateBuffer(dev->dev, &bci, NULL, &out->buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev->dev, out->buffer, &req);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type = find_type(dev, req.memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0) type = find_type(dev, req.memoryTypeBits, host);
    if (type < 0) return VKT_ERR_UNSUPPORTED;
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = (uint32_t)type};
    VKT_VK_TRY(vkAllocateMemory(dev->dev, &ai, NULL, &out->memory));
    VKT_VK_TRY(vkBindBufferMemory(dev->dev, out->buffer, out->memory, 0));
    VKT_VK_TRY(vkMapMemory(dev->dev, out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped));
    out->size = size;
    return VKT_OK;
}

void vkt_staging_destroy(vkt_device *dev, vkt_staging *s) {
    if (s->buffer) vkDestroyBuffer(dev->dev, s->buffer, NULL);
    if (s->memory) vkFreeMemory(dev->dev, s->memory, NULL);
    memset(s, 0, sizeof *s);
}
