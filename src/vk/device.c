/* Instance and device creation, device choice, validation messages and the on-disk pipeline cache.
 * Choice order without a request: discrete GPU, integrated GPU, virtual GPU, CPU (largest local memory
 * breaks ties). VKT_DEVICE=<index|name substring> and VKT_VALIDATION=1 override from the environment. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk/pipeline.h"
#include "vk/tune_cache.h"
#include "vk/vk.h"

const char *vkt_vk_result_name(VkResult r) {
    switch (r) {
#define X(name) case name: return #name;
        X(VK_SUCCESS) X(VK_NOT_READY) X(VK_TIMEOUT) X(VK_INCOMPLETE)
        X(VK_ERROR_OUT_OF_HOST_MEMORY) X(VK_ERROR_OUT_OF_DEVICE_MEMORY) X(VK_ERROR_INITIALIZATION_FAILED)
        X(VK_ERROR_DEVICE_LOST) X(VK_ERROR_MEMORY_MAP_FAILED) X(VK_ERROR_LAYER_NOT_PRESENT)
        X(VK_ERROR_EXTENSION_NOT_PRESENT) X(VK_ERROR_FEATURE_NOT_PRESENT) X(VK_ERROR_INCOMPATIBLE_DRIVER)
        X(VK_ERROR_TOO_MANY_OBJECTS) X(VK_ERROR_FORMAT_NOT_SUPPORTED) X(VK_ERROR_FRAGMENTED_POOL)
        X(VK_ERROR_OUT_OF_POOL_MEMORY) X(VK_ERROR_INVALID_EXTERNAL_HANDLE) X(VK_ERROR_FRAGMENTATION)
        X(VK_ERROR_UNKNOWN)
#undef X
    default: return "VK_ERROR_(other)";
    }
}

vkt_status vkt_vk_status(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return VKT_OK;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY: return VKT_ERR_OOM;
    case VK_ERROR_DEVICE_LOST: return VKT_ERR_DEVICE_LOST;
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_INCOMPATIBLE_DRIVER: return VKT_ERR_UNSUPPORTED;
    default: return VKT_ERR_VK;
    }
}

const char *vkt_device_type_name(vkt_device_type t) {
    static const char *names[] = {"other", "integrated", "discrete", "virtual", "cpu"};
    return (unsigned)t < 5 ? names[t] : "other";
}

vkt_device_opts vkt_device_opts_default(void) { return (vkt_device_opts){.index = -1}; }

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT type,
                                                    const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                    void *user) {
    vkt_device *dev = user;
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    dev->validation_msgs++;
    vkt_log_error("validation: %s", data->pMessage);
    return VK_FALSE;
}

static bool env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static bool layer_present(const char *name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *layers = calloc(n ? n : 1, sizeof *layers);
    if (!layers) return false;
    vkEnumerateInstanceLayerProperties(&n, layers);
    bool found = false;
    for (uint32_t i = 0; i < n; i++) found |= strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static vkt_status create_instance(vkt_device *dev, bool validation) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "vktrain",
                             .pEngineName = "vktrain",
                             .apiVersion = VK_API_VERSION_1_3};
    const char *layer = "VK_LAYER_KHRONOS_validation";
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                        .enabledValidationFeatureCount = 1,
                                        .pEnabledValidationFeatures = enables};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    if (validation) {
        if (!layer_present(layer)) {
            vkt_log_error("validation requested but %s is not installed "
                          "(Debian/Ubuntu: apt-get install vulkan-validationlayers)", layer);
            return VKT_ERR_UNSUPPORTED;
        }
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = &layer;
        ci.enabledExtensionCount = 1;
        ci.ppEnabledExtensionNames = exts;
        ci.pNext = &features;
        dev->has_debug_utils = true;
    }
    VkResult r = vkCreateInstance(&ci, NULL, &dev->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
        vkt_log_error("no Vulkan driver found (%s). Install one: a GPU vendor driver, or Mesa's CPU driver "
                      "(Debian/Ubuntu: apt-get install mesa-vulkan-drivers)", vkt_vk_result_name(r));
        return VKT_ERR_UNSUPPORTED;
    }
    VKT_VK_TRY(r);
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            dev->instance, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT mci = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation,
            .pUserData = dev};
        /* Without the messenger, validation messages would go uncounted and tests pass blind: an error. */
        if (!create) {
            vkt_log_error("validation requested but vkCreateDebugUtilsMessengerEXT is missing from the instance "
                          "(is %s complete? reinstall vulkan-validationlayers)", layer);
            return VKT_ERR_UNSUPPORTED;
        }
        VKT_VK_TRY(create(dev->instance, &mci, NULL, &dev->messenger));
    }
    return VKT_OK;
}

static int type_rank(vkt_device_type t) {
    static const int rank[] = {0, 3, 4, 2, 1}; /* other, integrated, discrete, virtual, cpu */
    return rank[t];
}

static bool name_matches(const char *name, const char *want) {
    char a[256], b[256];
    size_t i;
    for (i = 0; name[i] && i < 255; i++) a[i] = (char)tolower((unsigned char)name[i]);
    a[i] = 0;
    for (i = 0; want[i] && i < 255; i++) b[i] = (char)tolower((unsigned char)want[i]);
    b[i] = 0;
    return strstr(a, b) != NULL;
}

/* Picks the physical device index; logs the choices on failure. */
static vkt_status choose_device(const vkt_device_info *infos, uint32_t n, int index, const char *name,
                                uint32_t *chosen) {
    if (n == 0) {
        vkt_log_error("Vulkan found no devices. Install a driver (Debian/Ubuntu CPU fallback: "
                      "apt-get install mesa-vulkan-drivers)");
        return VKT_ERR_UNSUPPORTED;
    }
    if (index >= 0) {
        if ((uint32_t)index >= n) {
            vkt_log_error("device index %d does not exist: %u device(s); see `vktrain devices`", index, n);
            return VKT_ERR_ARG;
        }
        *chosen = (uint32_t)index;
        return VKT_OK;
    }
    if (name) {
        for (uint32_t i = 0; i < n; i++)
            if (name_matches(infos[i].name, name)) return *chosen = i, VKT_OK;
        vkt_log_error("no device name contains \"%s\"; see `vktrain devices`", name);
        return VKT_ERR_ARG;
    }
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++) {
        int ri = type_rank(infos[i].type), rb = type_rank(infos[best].type);
        if (ri > rb || (ri == rb && infos[i].device_local_bytes > infos[best].device_local_bytes)) best = i;
    }
    *chosen = best;
    return VKT_OK;
}

static vkt_status enumerate(VkInstance inst, VkPhysicalDevice **phys, vkt_device_info **infos, uint32_t *n) {
    VKT_VK_TRY(vkEnumeratePhysicalDevices(inst, n, NULL));
    *phys = calloc(*n ? *n : 1, sizeof **phys);
    *infos = calloc(*n ? *n : 1, sizeof **infos);
    if (!*phys || !*infos) return VKT_ERR_OOM;
    VKT_VK_TRY(vkEnumeratePhysicalDevices(inst, n, *phys));
    for (uint32_t i = 0; i < *n; i++) vkt_device_info_fill(inst, (*phys)[i], i, &(*infos)[i]);
    return VKT_OK;
}

vkt_status vkt_device_list(vkt_device_info **out, uint32_t *count) {
    vkt_device tmp = {0};
    VkPhysicalDevice *phys = NULL;
    *out = NULL;
    *count = 0;
    vkt_status s = create_instance(&tmp, false);
    if (s == VKT_OK) s = enumerate(tmp.instance, &phys, out, count);
    free(phys);
    if (tmp.instance) vkDestroyInstance(tmp.instance, NULL);
    return s;
}

static bool device_has_ext(VkPhysicalDevice phys, const char *name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(phys, NULL, &n, NULL);
    VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
    if (!e) return false;
    vkEnumerateDeviceExtensionProperties(phys, NULL, &n, e);
    bool found = false;
    for (uint32_t i = 0; i < n; i++) found |= strcmp(e[i].extensionName, name) == 0;
    free(e);
    return found;
}

/* Enables the optional features the shaders may use, where the device has them. */
static vkt_status create_logical(vkt_device *dev) {
    const vkt_device_info *info = &dev->info;
    uint32_t n_q = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(dev->phys, &n_q, NULL);
    VkQueueFamilyProperties qs[16];
    if (n_q > 16) n_q = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(dev->phys, &n_q, qs);
    /* Prefer a family with compute and timestamps; a compute-only family is fine too. */
    int family = -1;
    for (uint32_t q = 0; q < n_q && family < 0; q++)
        if ((qs[q].queueFlags & VK_QUEUE_COMPUTE_BIT) && qs[q].timestampValidBits) family = (int)q;
    for (uint32_t q = 0; q < n_q && family < 0; q++)
        if (qs[q].queueFlags & VK_QUEUE_COMPUTE_BIT) family = (int)q;
    if (family < 0) {
        vkt_log_error("device \"%s\" has no compute queue; pick another with --device", info->name);
        return VKT_ERR_UNSUPPORTED;
    }
    dev->queue_family = (uint32_t)family;
    if (!qs[family].timestampValidBits) dev->info.timestamp_period_ns = 0;
    uint32_t bits = qs[family].timestampValidBits;
    dev->timestamp_mask = bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = dev->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};

    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm_nv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceFeatures2 avail = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    void **tail = &f12.pNext;
    if (info->api_version >= VK_API_VERSION_1_3) *tail = &f13, tail = &f13.pNext;
    if (info->coopmat_nv) *tail = &cm_nv, tail = &cm_nv.pNext;
    vkGetPhysicalDeviceFeatures2(dev->phys, &avail);

    /* Keep only what we use: everything else off, so behaviour does not depend on driver defaults. */
    VkPhysicalDeviceFeatures2 want = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    want.features.shaderInt64 = avail.features.shaderInt64;
    want.features.shaderInt16 = avail.features.shaderInt16;
    want.features.shaderUniformBufferArrayDynamicIndexing = avail.features.shaderUniformBufferArrayDynamicIndexing;
    VkPhysicalDeviceVulkan11Features w11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .storageBuffer16BitAccess = f11.storageBuffer16BitAccess};
    VkPhysicalDeviceVulkan12Features w12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .shaderFloat16 = f12.shaderFloat16,
                                            .shaderInt8 = f12.shaderInt8,
                                            .storageBuffer8BitAccess = f12.storageBuffer8BitAccess,
                                            .vulkanMemoryModel = f12.vulkanMemoryModel,
                                            .hostQueryReset = f12.hostQueryReset};
    VkPhysicalDeviceVulkan13Features w13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
                                            .subgroupSizeControl = f13.subgroupSizeControl,
                                            .computeFullSubgroups = f13.computeFullSubgroups,
                                            .shaderIntegerDotProduct = f13.shaderIntegerDotProduct};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV wcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
        .cooperativeMatrix = cm_nv.cooperativeMatrix};
    want.pNext = &w11;
    w11.pNext = &w12;
    tail = &w12.pNext;
    if (info->api_version >= VK_API_VERSION_1_3) *tail = &w13, tail = &w13.pNext;
    const char *exts[4];
    uint32_t n_ext = 0;
    if (info->coopmat_nv && cm_nv.cooperativeMatrix) {
        *tail = &wcm, tail = &wcm.pNext;
        exts[n_ext++] = "VK_NV_cooperative_matrix";
    }
    dev->info.fp16_arith = f12.shaderFloat16;
    dev->info.storage16 = f11.storageBuffer16BitAccess;
    dev->info.ubo_array_indexing = avail.features.shaderUniformBufferArrayDynamicIndexing;
    dev->info.coopmat_nv = info->coopmat_nv && cm_nv.cooperativeMatrix;
    if (device_has_ext(dev->phys, "VK_KHR_cooperative_matrix")) dev->info.coopmat_khr = true;

    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = &want,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = n_ext,
                              .ppEnabledExtensionNames = exts};
    VKT_VK_TRY(vkCreateDevice(dev->phys, &dci, NULL, &dev->dev));
    vkGetDeviceQueue(dev->dev, dev->queue_family, 0, &dev->queue);
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = dev->queue_family};
    VKT_VK_TRY(vkCreateCommandPool(dev->dev, &pci, NULL, &dev->cmd_pool));
    vkGetPhysicalDeviceMemoryProperties(dev->phys, &dev->mem);
    return VKT_OK;
}

/* Cache file: $VKT_CACHE_DIR or $XDG_CACHE_HOME/vktrain or ~/.cache/vktrain, one per device+driver. */
static void pipeline_cache_path(vkt_device *dev) {
    char dir[700];
    const char *env = getenv("VKT_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/vktrain", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/vktrain", home);
    else return;
    char parent[700];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = 0, mkdir(parent, 0755);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return;
    snprintf(dev->pcache_path, sizeof dev->pcache_path, "%s/pipelines-%04x-%04x-%08x.bin", dir,
             dev->info.vendor_id, dev->info.device_id, dev->info.driver_version_raw);
}

static vkt_status create_pipeline_cache(vkt_device *dev, bool persist) {
    void *data = NULL;
    size_t size = 0;
    if (persist) {
        pipeline_cache_path(dev);
        FILE *f = dev->pcache_path[0] ? fopen(dev->pcache_path, "rb") : NULL;
        if (f) {
            fseek(f, 0, SEEK_END);
            long len = ftell(f);
            fseek(f, 0, SEEK_SET);
            if (len > 0 && (data = malloc((size_t)len)) && fread(data, 1, (size_t)len, f) == (size_t)len)
                size = (size_t)len;
            fclose(f);
        }
    }
    /* The driver validates the header (vendor, device, UUID) and ignores a stale cache. */
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                    .initialDataSize = size,
                                    .pInitialData = data};
    VkResult r = vkCreatePipelineCache(dev->dev, &ci, NULL, &dev->pcache);
    if (r != VK_SUCCESS && size) {
        ci.initialDataSize = 0, ci.pInitialData = NULL;
        r = vkCreatePipelineCache(dev->dev, &ci, NULL, &dev->pcache);
    }
    free(data);
    VKT_VK_TRY(r);
    return VKT_OK;
}

static void save_pipeline_cache(vkt_device *dev) {
    if (!dev->pcache || !dev->pcache_path[0]) return;
    size_t size = 0;
    if (vkGetPipelineCacheData(dev->dev, dev->pcache, &size, NULL) != VK_SUCCESS || !size) return;
    void *data = malloc(size);
    if (!data) return;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", dev->pcache_path, (int)getpid());
    FILE *f;
    if (vkGetPipelineCacheData(dev->dev, dev->pcache, &size, data) == VK_SUCCESS && (f = fopen(tmp, "wb"))) {
        bool ok = fwrite(data, 1, size, f) == size;
        ok &= fclose(f) == 0;
        if (ok) rename(tmp, dev->pcache_path);
        else remove(tmp);
    }
    free(data);
}

vkt_status vkt_device_create(const vkt_device_opts *opts_in, vkt_device **out) {
    vkt_device_opts opts = opts_in ? *opts_in : vkt_device_opts_default();
    const char *env_dev = getenv("VKT_DEVICE");
    if (opts.index < 0 && !opts.name && env_dev && *env_dev) {
        char *end;
        long v = strtol(env_dev, &end, 10);
        if (*end == 0) opts.index = (int)v;
        else opts.name = env_dev;
    }
    if (env_flag("VKT_VALIDATION")) opts.validation = true;

    vkt_device *dev = calloc(1, sizeof *dev);
    VkPhysicalDevice *phys = NULL;
    vkt_device_info *infos = NULL;
    uint32_t n = 0, chosen = 0;
    if (!dev) return VKT_ERR_OOM;
    vkt_status s = create_instance(dev, opts.validation);
    if (s == VKT_OK) s = enumerate(dev->instance, &phys, &infos, &n);
    if (s == VKT_OK) s = choose_device(infos, n, opts.index, opts.name, &chosen);
    if (s == VKT_OK) {
        dev->phys = phys[chosen];
        dev->info = infos[chosen];
        /* Tests lower the binding limit to exercise the splitting paths on small tensors. */
        const char *cap = getenv("VKT_MAX_BINDING_BYTES");
        if (cap && *cap && strtoull(cap, NULL, 10) < dev->info.max_storage_buffer_range)
            dev->info.max_storage_buffer_range = strtoull(cap, NULL, 10);
        s = create_logical(dev);
    }
    if (s == VKT_OK) s = create_pipeline_cache(dev, !opts.no_pipeline_cache && !env_flag("VKT_NO_PIPELINE_CACHE"));
    free(phys);
    free(infos);
    if (s != VKT_OK) {
        vkt_device_destroy(dev);
        return s;
    }
    *out = dev;
    return VKT_OK;
}

void vkt_device_destroy(vkt_device *dev) {
    if (!dev) return;
    if (dev->dev) {
        vkDeviceWaitIdle(dev->dev);
        vkt_pipelines_destroy_all(dev);
        save_pipeline_cache(dev);
        if (dev->pcache) vkDestroyPipelineCache(dev->dev, dev->pcache, NULL);
        if (dev->cmd_pool) vkDestroyCommandPool(dev->dev, dev->cmd_pool, NULL);
        vkDestroyDevice(dev->dev, NULL);
    }
    vkt_tune_cache_destroy(dev->tune);
    if (dev->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            dev->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy) destroy(dev->instance, dev->messenger, NULL);
    }
    if (dev->instance) vkDestroyInstance(dev->instance, NULL);
    free(dev);
}

const vkt_device_info *vkt_device_get_info(const vkt_device *dev) { return &dev->info; }
uint32_t vkt_device_validation_messages(const vkt_device *dev) { return dev->validation_msgs; }
bool vkt_device_validation_active(const vkt_device *dev) { return dev->messenger != VK_NULL_HANDLE; }
