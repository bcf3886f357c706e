/* Reads what a physical device offers into vkt_device_info: limits, memory, features, cooperative
 * matrix shapes. Pure queries; creates nothing. */
#include <stdio.h>
#include <string.h>

#include "vk/vk.h"

static const char *vendor_name(uint32_t id) {
    switch (id) {
    case 0x1002: return "AMD";
    case 0x10DE: return "NVIDIA";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x106B: return "Apple";
    case 0x10005: return "Mesa";
    default: return "unknown";
    }
}

/* NVIDIA packs 10.8.8.6 bits; Intel on Windows 18.14; everyone else uses the Vulkan encoding. */
static void decode_driver_version(uint32_t vendor, uint32_t v, char *out, size_t n) {
    if (vendor == 0x10DE)
        snprintf(out, n, "%u.%u.%u", v >> 22, (v >> 14) & 0xff, (v >> 6) & 0xff);
    else
        snprintf(out, n, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                 VK_API_VERSION_PATCH(v));
}

static bool has_extension(const VkExtensionProperties *exts, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(exts[i].extensionName, name) == 0) return true;
    return false;
}

static const char *component_name(VkComponentTypeNV t) {
    switch (t) {
    case VK_COMPONENT_TYPE_FLOAT16_NV: return "f16";
    case VK_COMPONENT_TYPE_FLOAT32_NV: return "f32";
    case VK_COMPONENT_TYPE_FLOAT64_NV: return "f64";
    case VK_COMPONENT_TYPE_SINT8_NV: return "s8";
    case VK_COMPONENT_TYPE_SINT32_NV: return "s32";
    case VK_COMPONENT_TYPE_UINT8_NV: return "u8";
    case VK_COMPONENT_TYPE_UINT32_NV: return "u32";
    default: return (int)t == 1000141000 ? "bf16" : "other";
    }
}

static void add_shape(vkt_device_info *info, uint32_t m, uint32_t n, uint32_t k, int a, int c) {
    if (info->n_coopmat_shapes >= 32) return;
    vkt_coopmat_shape *s = &info->coopmat_shapes[info->n_coopmat_shapes++];
    s->m = m, s->n = n, s->k = k;
    snprintf(s->a_type, sizeof s->a_type, "%s", component_name((VkComponentTypeNV)a));
    snprintf(s->c_type, sizeof s->c_type, "%s", component_name((VkComponentTypeNV)c));
}

/* Shapes come from the KHR query when the headers know it, else from the NV one. */
static void fill_coopmat_shapes(VkInstance inst, VkPhysicalDevice phys, vkt_device_info *info) {
#ifdef VK_KHR_cooperative_matrix
    if (info->coopmat_khr) {
        PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get =
            (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
                inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        VkCooperativeMatrixPropertiesKHR props[32];
        uint32_t n = 32;
        for (uint32_t i = 0; i < n; i++)
            props[i] = (VkCooperativeMatrixPropertiesKHR){.sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR};
        if (get && get(phys, &n, props) >= 0) {
            for (uint32_t i = 0; i < n; i++)
                add_shape(info, props[i].MSize, props[i].NSize, props[i].KSize, (int)props[i].AType,
                          (int)props[i].CType);
            return;
        }
    }
#endif
    if (!info->coopmat_nv) return;
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    if (!get) return;
    VkCooperativeMatrixPropertiesNV props[32];
    uint32_t n = 32;
    for (uint32_t i = 0; i < n; i++)
        props[i] = (VkCooperativeMatrixPropertiesNV){.sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV};
    if (get(phys, &n, props) < 0) return;
    for (uint32_t i = 0; i < n; i++)
        add_shape(info, props[i].MSize, props[i].NSize, props[i].KSize, (int)props[i].AType, (int)props[i].CType);
}

void vkt_device_info_fill(VkInstance inst, VkPhysicalDevice phys, uint32_t index, vkt_device_info *info) {
    memset(info, 0, sizeof *info);
    info->index = index;

    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties ssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES, .pNext = &sub};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
                                            .pNext = &ssc};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    vkGetPhysicalDeviceProperties2(phys, &props);
    const VkPhysicalDeviceProperties *p = &props.properties;

    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    snprintf(info->vendor, sizeof info->vendor, "%s", vendor_name(p->vendorID));
    info->vendor_id = p->vendorID;
    info->device_id = p->deviceID;
    switch (p->deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: info->type = VKT_DEVICE_INTEGRATED; break;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: info->type = VKT_DEVICE_DISCRETE; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: info->type = VKT_DEVICE_VIRTUAL; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: info->type = VKT_DEVICE_CPU; break;
    default: info->type = VKT_DEVICE_OTHER; break;
    }
    snprintf(info->driver_name, sizeof info->driver_name, "%s", drv.driverName);
    snprintf(info->driver_info, sizeof info->driver_info, "%s", drv.driverInfo);
    info->driver_version_raw = p->driverVersion;
    decode_driver_version(p->vendorID, p->driverVersion, info->driver_version, sizeof info->driver_version);
    info->api_version = p->apiVersion;
    info->subgroup_size = sub.subgroupSize;
    info->subgroup_min = ssc.minSubgroupSize ? ssc.minSubgroupSize : sub.subgroupSize;
    info->subgroup_max = ssc.maxSubgroupSize ? ssc.maxSubgroupSize : sub.subgroupSize;
    info->shared_memory_bytes = p->limits.maxComputeSharedMemorySize;
    info->max_storage_buffer_range = p->limits.maxStorageBufferRange;
    info->max_workgroup_invocations = p->limits.maxComputeWorkGroupInvocations;
    info->min_storage_offset_align = (uint32_t)p->limits.minStorageBufferOffsetAlignment;
    info->max_uniform_buffer_range = p->limits.maxUniformBufferRange;
    info->min_uniform_offset_align = (uint32_t)p->limits.minUniformBufferOffsetAlignment;

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(phys, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; h++) {
        bool local = mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
        bool visible = false, both = false;
        for (uint32_t t = 0; t < mem.memoryTypeCount; t++) {
            if (mem.memoryTypes[t].heapIndex != h) continue;
            VkMemoryPropertyFlags f = mem.memoryTypes[t].propertyFlags;
            if (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) visible = true;
            if ((f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) both = true;
        }
        if (local) info->device_local_bytes += mem.memoryHeaps[h].size;
        if (visible) info->host_visible_bytes += mem.memoryHeaps[h].size;
        /* A small host-visible device-local heap is the 256 MiB BAR window, not unified memory. */
        if (both && mem.memoryHeaps[h].size > (1ull << 30)) info->unified_memory = true;
    }

    uint32_t n_ext = 0;
    vkEnumerateDeviceExtensionProperties(phys, NULL, &n_ext, NULL);
    VkExtensionProperties exts[512];
    if (n_ext > 512) n_ext = 512;
    vkEnumerateDeviceExtensionProperties(phys, NULL, &n_ext, exts);

    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    if (p->apiVersion >= VK_API_VERSION_1_3) f12.pNext = &f13;
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(phys, &feats);
    info->fp16_arith = f12.shaderFloat16;
    info->int8_arith = f12.shaderInt8;
    info->storage16 = f11.storageBuffer16BitAccess;
    info->storage8 = f12.storageBuffer8BitAccess;
    info->int_dot = f13.shaderIntegerDotProduct ||
                    has_extension(exts, n_ext, "VK_KHR_shader_integer_dot_product");
    info->bf16 = has_extension(exts, n_ext, "VK_KHR_shader_bfloat16");
    info->coopmat_nv = has_extension(exts, n_ext, "VK_NV_cooperative_matrix");
    info->coopmat_khr = has_extension(exts, n_ext, "VK_KHR_cooperative_matrix");
    info->subgroup_size_control = f13.subgroupSizeControl;
    fill_coopmat_shapes(inst, phys, info);

    uint32_t n_q = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n_q, NULL);
    VkQueueFamilyProperties qs[16];
    if (n_q > 16) n_q = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n_q, qs);
    for (uint32_t q = 0; q < n_q; q++) {
        if ((qs[q].queueFlags & VK_QUEUE_COMPUTE_BIT) && qs[q].timestampValidBits > 0) {
            info->timestamp_period_ns = p->limits.timestampPeriod;
            break;
        }
    }
}
