/* Internal view of the Vulkan layer: the device struct and the error macro shared by the files of src/vk.
 * Nothing outside src/vk, src/tensor and src/ops should need Vulkan types beyond what this exposes. */
#ifndef VKT_VK_H
#define VKT_VK_H

#include <vulkan/vulkan.h>

#include "core/log.h"
#include "vktrain/device.h"

typedef struct vkt_pipeline vkt_pipeline;

struct vkt_device {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;    /* only with validation */
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool cmd_pool;
    VkPipelineCache pcache;
    char pcache_path[1024];                /* empty: not persisted */
    VkPhysicalDeviceMemoryProperties mem;
    vkt_device_info info;
    uint32_t validation_msgs;
    vkt_pipeline *pipelines;               /* owned: singly linked list of created pipelines */
    bool has_debug_utils;
    uint64_t timestamp_mask;               /* the queue's timestampValidBits as a mask (0: none) */
    uint64_t heap_used[VK_MAX_MEMORY_HEAPS]; /* bytes of the arenas vktrain holds, per heap */
    struct vkt_tune_cache *tune;           /* owned, created on first use (tune_cache.c) */
};

const char *vkt_vk_result_name(VkResult r);
vkt_status vkt_vk_status(VkResult r);

/* Log a failing Vulkan call with its result and location, then return the matching status. */
#define VKT_VK_TRY(call)                                                                           \
    do {                                                                                           \
        VkResult r_ = (call);                                                                      \
        if (r_ != VK_SUCCESS) {                                                                    \
            vkt_log_error("%s -> %s (%s:%d)", #call, vkt_vk_result_name(r_), __FILE__, __LINE__);  \
            return vkt_vk_status(r_);                                                              \
        }                                                                                          \
    } while (0)

/* Fills info for one physical device (device_info.c). */
void vkt_device_info_fill(VkInstance inst, VkPhysicalDevice phys, uint32_t index, vkt_device_info *info);

#endif
