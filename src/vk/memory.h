/* Internal arena layout, shared by memory.c, transfer.c and the recorder. */
#ifndef VKT_MEMORY_H
#define VKT_MEMORY_H

#include "vk/vk.h"
#include "vktrain/tensor.h"

struct vkt_arena {
    vkt_device *dev;   /* borrowed */
    char name[48];
    VkBuffer buffer;
    VkDeviceMemory memory;
    void *mapped;      /* non-NULL when the memory is host-visible and coherent */
    size_t capacity, used, align;
    uint32_t heap;       /* memory heap the allocation came from */
    uint64_t heap_bytes; /* bytes allocated there (counted in dev->heap_used) */
};

/* A host-visible staging buffer for copies to and from device-local arenas. */
typedef struct {
    VkBuffer buffer;
    VkDeviceMemory memory;
    void *mapped;
    size_t size;
} vkt_staging;

vkt_status vkt_staging_create(vkt_device *dev, size_t size, vkt_staging *out);
void vkt_staging_destroy(vkt_device *dev, vkt_staging *s);

#endif
