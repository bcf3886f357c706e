/* Pipeline creation and lookup. A linear list is enough: a training run uses a few dozen pipelines
 * and looks them up only while recording, never per step. */
#include "vk/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "vk/shaders.h"

static bool same_desc(const vkt_pipeline *p, const vkt_pipeline_desc *d) {
    return strcmp(p->shader, d->shader) == 0 && p->n_bindings == d->n_bindings && p->pc_size == d->pc_size &&
           p->n_spec == d->n_spec && p->subgroup_size == d->subgroup_size && p->n_uniforms == d->n_uniforms &&
           memcmp(p->spec, d->spec, d->n_spec * sizeof(uint32_t)) == 0;
}

static vkt_status create(vkt_device *dev, const vkt_pipeline_desc *d, const vkt_spirv *spv, vkt_pipeline *p) {
    VkDescriptorSetLayoutBinding b[VKT_MAX_BINDINGS];
    for (uint32_t i = 0; i < d->n_bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    if (d->n_uniforms)
        b[d->n_bindings] = (VkDescriptorSetLayoutBinding){.binding = d->n_bindings,
                                                          .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
                                                          .descriptorCount = d->n_uniforms,
                                                          .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = d->n_bindings + (d->n_uniforms ? 1 : 0),
                                           .pBindings = b};
    VKT_VK_TRY(vkCreateDescriptorSetLayout(dev->dev, &dci, NULL, &p->set_layout));
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = d->pc_size};
    VkPipelineLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &p->set_layout,
                                      .pushConstantRangeCount = d->pc_size ? 1 : 0,
                                      .pPushConstantRanges = &pcr};
    VKT_VK_TRY(vkCreatePipelineLayout(dev->dev, &lci, NULL, &p->layout));

    VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = spv->size,
                                    .pCode = spv->code};
    VkShaderModule module;
    VKT_VK_TRY(vkCreateShaderModule(dev->dev, &mci, NULL, &module));
    VkSpecializationMapEntry map[VKT_MAX_SPEC];
    for (uint32_t i = 0; i < d->n_spec; i++)
        map[i] = (VkSpecializationMapEntry){.constantID = i, .offset = 4 * i, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = d->n_spec,
                               .pMapEntries = map,
                               .dataSize = 4 * d->n_spec,
                               .pData = d->spec};
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = d->subgroup_size};
    VkComputePipelineCreateInfo cci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .pNext = d->subgroup_size ? &rss : NULL,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main",
                  .pSpecializationInfo = d->n_spec ? &si : NULL},
        .layout = p->layout};
    VkResult r = vkCreateComputePipelines(dev->dev, dev->pcache, 1, &cci, NULL, &p->pipeline);
    vkDestroyShaderModule(dev->dev, module, NULL);
    VKT_VK_TRY(r);
    return VKT_OK;
}

static void destroy_one(vkt_device *dev, vkt_pipeline *p) {
    if (p->pipeline) vkDestroyPipeline(dev->dev, p->pipeline, NULL);
    if (p->layout) vkDestroyPipelineLayout(dev->dev, p->layout, NULL);
    if (p->set_layout) vkDestroyDescriptorSetLayout(dev->dev, p->set_layout, NULL);
    free(p);
}

vkt_status vkt_pipeline_get(vkt_device *dev, const vkt_pipeline_desc *d, vkt_pipeline **out) {
    VKT_ASSERT(d->n_bindings + d->n_uniforms <= VKT_MAX_BINDINGS && d->n_spec <= VKT_MAX_SPEC);
    VKT_ASSERT(d->pc_size % 4 == 0 && d->pc_size <= 128);
    for (vkt_pipeline *p = dev->pipelines; p; p = p->next)
        if (same_desc(p, d)) return *out = p, VKT_OK;
    const vkt_spirv *spv = vkt_shader_find(d->shader);
    if (!spv) {
        vkt_log_error("shader variant \"%s\" is not in this build (its glslang could not compile it?)", d->shader);
        return VKT_ERR_UNSUPPORTED;
    }
    vkt_pipeline *p = calloc(1, sizeof *p);
    if (!p) return VKT_ERR_OOM;
    snprintf(p->shader, sizeof p->shader, "%s", d->shader);
    p->n_bindings = d->n_bindings, p->pc_size = d->pc_size, p->n_spec = d->n_spec;
    p->subgroup_size = d->subgroup_size, p->n_uniforms = d->n_uniforms;
    memcpy(p->spec, d->spec, sizeof p->spec);
    vkt_status s = create(dev, d, spv, p);
    if (s != VKT_OK) {
        vkt_log_error("creating pipeline \"%s\" failed", d->shader);
        destroy_one(dev, p);
        return s;
    }
    p->next = dev->pipelines;
    dev->pipelines = p;
    *out = p;
    return VKT_OK;
}

void vkt_pipelines_destroy_all(vkt_device *dev) {
    while (dev->pipelines) {
        vkt_pipeline *next = dev->pipelines->next;
        destroy_one(dev, dev->pipelines);
        dev->pipelines = next;
    }
}
