/* Vulkan devices: enumeration, selection and the handle every other part records into.
 *
 * A vkt_device owns the instance, the logical device, one compute queue, a command pool, the pipeline
 * cache (persisted on disk, keyed by device and driver) and the compiled pipelines. It is not thread-safe:
 * use one device from one thread at a time. */
#ifndef VKTRAIN_DEVICE_H
#define VKTRAIN_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

typedef struct vkt_device vkt_device;

typedef enum {
    VKT_DEVICE_OTHER = 0,
    VKT_DEVICE_INTEGRATED = 1,
    VKT_DEVICE_DISCRETE = 2,
    VKT_DEVICE_VIRTUAL = 3,
    VKT_DEVICE_CPU = 4,
} vkt_device_type;

typedef struct {
    uint32_t m, n, k;            /* shape of one cooperative-matrix multiply */
    char a_type[8], c_type[8];   /* "f16", "bf16", "f32", "s8", "s32"... */
} vkt_coopmat_shape;

/* Everything `vktrain devices` prints; filled without creating a logical device. */
typedef struct {
    uint32_t index;
    char name[256];
    char vendor[32];
    uint32_t vendor_id, device_id;
    vkt_device_type type;
    char driver_name[256], driver_info[256];
    uint32_t driver_version_raw;
    char driver_version[64];       /* decoded per vendor convention */
    uint32_t api_version;          /* VK_MAKE_API_VERSION */
    uint64_t device_local_bytes;   /* sum of device-local heaps */
    uint64_t host_visible_bytes;   /* sum of heaps with a host-visible memory type */
    bool unified_memory;           /* a device-local memory type is also host-visible */
    uint32_t subgroup_size, subgroup_min, subgroup_max;
    uint32_t shared_memory_bytes;  /* maxComputeSharedMemorySize */
    uint64_t max_storage_buffer_range;
    uint32_t max_workgroup_invocations;
    uint32_t min_storage_offset_align;
    uint64_t max_uniform_buffer_range;  /* maxUniformBufferRange */
    uint32_t min_uniform_offset_align;  /* minUniformBufferOffsetAlignment */
    float timestamp_period_ns;     /* 0 when the compute queue has no timestamps */
    bool fp16_arith, int8_arith, storage16, storage8, int_dot, bf16, coopmat_nv, coopmat_khr;
    bool subgroup_size_control;
    bool ubo_array_indexing;       /* shaderUniformBufferArrayDynamicIndexing (matmul_wide_ua) */
    uint32_t n_coopmat_shapes;
    vkt_coopmat_shape coopmat_shapes[32];
} vkt_device_info;

typedef struct {
    int index;              /* -1: choose automatically (discrete > integrated > CPU); env VKT_DEVICE */
    const char *name;       /* substring of the device name to pick instead of an index (NULL: none) */
    bool validation;        /* enable Khronos validation + synchronization validation; env VKT_VALIDATION=1 */
    bool no_pipeline_cache; /* do not read or write the on-disk pipeline cache */
} vkt_device_opts;

/* Lists every Vulkan device. *out is malloc'ed and owned by the caller (free()). */
vkt_status vkt_device_list(vkt_device_info **out, uint32_t *count);

/* Creates the device chosen by opts (or VKT_DEVICE / VKT_VALIDATION from the environment when the
 * fields are left at their defaults: index -1, name NULL). */
vkt_status vkt_device_create(const vkt_device_opts *opts, vkt_device **out);
/* Saves the pipeline cache and releases everything. Accepts NULL. */
void vkt_device_destroy(vkt_device *dev);

const vkt_device_info *vkt_device_get_info(const vkt_device *dev);
/* Number of validation-layer messages seen so far (tests fail when it is non-zero). */
uint32_t vkt_device_validation_messages(const vkt_device *dev);
/* True when the instance was created with VK_LAYER_KHRONOS_validation enabled and its messages reach the
 * counter above (the layer loaded and the debug messenger is installed). */
bool vkt_device_validation_active(const vkt_device *dev);

const char *vkt_device_type_name(vkt_device_type t);
/* Default options: automatic choice, settings from the environment. */
vkt_device_opts vkt_device_opts_default(void);

#endif
