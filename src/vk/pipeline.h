/* Compute pipelines: created on first use from the embedded SPIR-V, cached for the device's lifetime
 * (and across runs through the device's VkPipelineCache file).
 *
 * Conventions every shader follows: bindings 0..n-1 of set 0 are storage buffers (inputs, then outputs,
 * then parameters), optionally followed by one array of uniform buffers at binding n; one push-constant
 * block; specialization constants by id, where ids 0, 1, 2 are the workgroup size x, y, z when the shader
 * uses local_size_{x,y,z}_id. */
#ifndef VKT_PIPELINE_H
#define VKT_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "vk/vk.h"

#define VKT_MAX_SPEC 16
#define VKT_MAX_BINDINGS 12 /* descriptors per dispatch, storage and uniform buffers together */

typedef struct {
    const char *shader;        /* variant name in the embedded table */
    uint32_t n_bindings;       /* storage buffers at bindings 0..n-1 */
    uint32_t pc_size;          /* push-constant bytes (multiple of 4, <= 128) */
    uint32_t n_spec;           /* specialization constants 0..n_spec-1 */
    uint32_t spec[VKT_MAX_SPEC];
    uint32_t subgroup_size;    /* require this subgroup size (0: driver's choice) */
    uint32_t n_uniforms;       /* an array of this many uniform buffers at binding n_bindings (0: none) */
} vkt_pipeline_desc;

struct vkt_pipeline {
    char shader[64];
    uint32_t n_bindings, pc_size, n_spec, spec[VKT_MAX_SPEC], subgroup_size, n_uniforms;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    struct vkt_pipeline *next; /* owned by the device's list */
};

/* Returns the cached pipeline for desc, creating it on first use. The device owns the result.
 * VKT_ERR_UNSUPPORTED when the variant was not built into this binary. */
vkt_status vkt_pipeline_get(vkt_device *dev, const vkt_pipeline_desc *desc, vkt_pipeline **out);
/* Called by vkt_device_destroy. */
void vkt_pipelines_destroy_all(vkt_device *dev);

#endif
