/* The recorder: command buffer, descriptor sets, hazard tracking and timestamps.
 *
 * Hazards are tracked per byte range of each arena buffer since the last barrier. A barrier is global
 * (VkMemoryBarrier over compute and transfer): on every GPU we target a buffer barrier costs the same,
 * and a global one cannot miss an aliasing view. */
#include "vk/record.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vk/memory.h"

typedef struct {
    VkBuffer buffer;
    size_t begin, end;
    bool write;
} pending_access;

#define SETS_PER_POOL 256

typedef struct {
    const char *name; /* borrowed (a dispatch name); NULL: no command ends at this slot */
    double flops;     /* vkt_rec_profile_note, 0 when unknown */
    char detail[VKT_REC_PROFILE_DETAIL];
} profile_slot;

struct vkt_rec {
    vkt_device *dev;             /* borrowed */
    VkCommandBuffer cmd;
    VkDescriptorPool *pools;     /* owned; grows when a pool runs out */
    uint32_t n_pools, cur_pool;
    pending_access *pending;     /* owned: accesses since the last barrier */
    uint32_t n_pending, cap_pending;
    const char **names;          /* owned array of borrowed names, one per dispatch */
    uint32_t n_names, cap_names;
    VkFence fence;               /* owned: signalled when this recording's last submission is done */
    bool profile;                /* timestamp after every dispatch (vkt_rec_set_profile) */
    profile_slot *prof;          /* owned, VKT_REC_PROFILE_MAX entries while profiling: the dispatch
                                  * ending at each timestamp slot */
    int last_prof;               /* slot of the last profiled command, -1 before any */
    VkQueryPool queries;
    uint32_t max_timestamps, n_timestamps;
    bool recording, submitted;
    bool no_auto_barriers;       /* test hook (vkt_rec_set_auto_barriers) */
    uint32_t n_barriers;
};

static const VkPipelineStageFlags STAGES = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

static void barrier(vkt_rec *r, VkPipelineStageFlags src, VkPipelineStageFlags dst, VkAccessFlags src_access,
                    VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = src_access,
                          .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(r->cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
    r->n_pending = 0;
    r->n_barriers++;
}

static void full_barrier(vkt_rec *r) {
    barrier(r, STAGES, STAGES, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                VK_ACCESS_TRANSFER_WRITE_BIT);
}

static vkt_status add_pool(vkt_rec *r) {
    VkDescriptorPoolSize size[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = SETS_PER_POOL * VKT_MAX_BINDINGS},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, .descriptorCount = SETS_PER_POOL * VKT_MAX_BINDINGS}};
    VkDescriptorPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                     .maxSets = SETS_PER_POOL,
                                     .poolSizeCount = 2,
                                     .pPoolSizes = size};
    VkDescriptorPool *grown = realloc(r->pools, (r->n_pools + 1) * sizeof *grown);
    if (!grown) return VKT_ERR_OOM;
    r->pools = grown;
    VKT_VK_TRY(vkCreateDescriptorPool(r->dev->dev, &ci, NULL, &r->pools[r->n_pools]));
    r->n_pools++;
    return VKT_OK;
}

vkt_status vkt_rec_create(vkt_device *dev, uint32_t max_timestamps, vkt_rec **out) {
    vkt_rec *r = calloc(1, sizeof *r);
    if (!r) return VKT_ERR_OOM;
    r->dev = dev;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = dev->cmd_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vkt_status s = vkt_vk_status(vkAllocateCommandBuffers(dev->dev, &ai, &r->cmd));
    if (s == VKT_OK) s = vkt_vk_status(vkCreateFence(dev->dev, &fci, NULL, &r->fence));
    if (s == VKT_OK) s = add_pool(r);
    if (s == VKT_OK && max_timestamps && dev->info.timestamp_period_ns > 0) {
        VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                    .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                    .queryCount = max_timestamps};
        s = vkt_vk_status(vkCreateQueryPool(dev->dev, &qi, NULL, &r->queries));
        r->max_timestamps = max_timestamps;
    }
    if (s != VKT_OK) {
        vkt_rec_destroy(r);
        return s;
    }
    *out = r;
    return VKT_OK;
}

void vkt_rec_destroy(vkt_rec *r) {
    if (!r) return;
    VkDevice d = r->dev->dev;
    if (r->submitted) vkt_rec_wait(r);
    for (uint32_t i = 0; i < r->n_pools; i++) vkDestroyDescriptorPool(d, r->pools[i], NULL);
    if (r->queries) vkDestroyQueryPool(d, r->queries, NULL);
    if (r->fence) vkDestroyFence(d, r->fence, NULL);
    if (r->cmd) vkFreeCommandBuffers(d, r->dev->cmd_pool, 1, &r->cmd);
    free(r->pools);
    free(r->pending);
    free(r->names);
    free(r->prof);
    free(r);
}

vkt_status vkt_rec_begin(vkt_rec *r) {
    VKT_ASSERT(!r->recording);
    if (r->submitted) VKT_TRY(vkt_rec_wait(r));
    for (uint32_t i = 0; i < r->n_pools; i++) VKT_VK_TRY(vkResetDescriptorPool(r->dev->dev, r->pools[i], 0));
    r->cur_pool = 0;
    r->n_names = 0;
    r->n_timestamps = 0;
    r->n_barriers = 0;
    VKT_VK_TRY(vkResetCommandBuffer(r->cmd, 0));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VKT_VK_TRY(vkBeginCommandBuffer(r->cmd, &bi));
    r->recording = true;
    if (r->queries) vkCmdResetQueryPool(r->cmd, r->queries, 0, r->max_timestamps);
    if (r->profile) {
        memset(r->prof, 0, VKT_REC_PROFILE_MAX * sizeof *r->prof);
        r->last_prof = -1;
        vkt_rec_timestamp(r);
    }
    /* Order against everything submitted before, including earlier replays of this buffer. */
    full_barrier(r);
    return VKT_OK;
}

vkt_status vkt_rec_end(vkt_rec *r) {
    VKT_ASSERT(r->recording);
    barrier(r, STAGES, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_ACCESS_HOST_READ_BIT);
    VKT_VK_TRY(vkEndCommandBuffer(r->cmd));
    r->recording = false;
    return VKT_OK;
}

static void report_lost(vkt_rec *r) {
    vkt_log_error("the device was lost (driver reset or crash) while running %u recorded dispatches; last ones:",
                  r->n_names);
    for (uint32_t i = r->n_names > 8 ? r->n_names - 8 : 0; i < r->n_names; i++)
        vkt_log_error("  #%u %s", i, r->names[i]);
    vkt_log_error("try a smaller batch or sequence length; on Linux check dmesg for a GPU timeout");
}

vkt_status vkt_rec_submit(vkt_rec *r) {
    VKT_ASSERT(!r->recording && !r->submitted);
    VKT_VK_TRY(vkResetFences(r->dev->dev, 1, &r->fence));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &r->cmd};
    VkResult res = vkQueueSubmit(r->dev->queue, 1, &si, r->fence);
    if (res == VK_ERROR_DEVICE_LOST) report_lost(r);
    VKT_VK_TRY(res);
    r->submitted = true;
    return VKT_OK;
}

vkt_status vkt_rec_wait(vkt_rec *r) {
    if (!r->submitted) return VKT_OK;
    r->submitted = false;
    VkResult res = vkWaitForFences(r->dev->dev, 1, &r->fence, VK_TRUE, UINT64_MAX);
    if (res == VK_ERROR_DEVICE_LOST) report_lost(r);
    VKT_VK_TRY(res);
    return VKT_OK;
}

vkt_status vkt_rec_submit_wait(vkt_rec *r) {
    VKT_TRY(vkt_rec_submit(r));
    return vkt_rec_wait(r);
}

static bool overlaps(const pending_access *a, VkBuffer buf, size_t begin, size_t end) {
    return a->buffer == buf && a->begin < end && begin < a->end;
}

/* True when an access to [begin, end) must wait for something pending. */
static bool hazard(const vkt_rec *r, VkBuffer buf, size_t begin, size_t end, bool write) {
    for (uint32_t i = 0; i < r->n_pending; i++) {
        const pending_access *a = &r->pending[i];
        if ((a->write || write) && overlaps(a, buf, begin, end)) return true;
    }
    return false;
}

static vkt_status track(vkt_rec *r, VkBuffer buf, size_t begin, size_t end, bool write) {
    if (r->n_pending == r->cap_pending) {
        uint32_t cap = r->cap_pending ? 2 * r->cap_pending : 64;
        pending_access *grown = realloc(r->pending, cap * sizeof *grown);
        if (!grown) return VKT_ERR_OOM;
        r->pending = grown, r->cap_pending = cap;
    }
    r->pending[r->n_pending++] = (pending_access){buf, begin, end, write};
    return VKT_OK;
}

static vkt_status push_name(vkt_rec *r, const char *name) {
    if (r->n_names == r->cap_names) {
        uint32_t cap = r->cap_names ? 2 * r->cap_names : 64;
        const char **grown = realloc(r->names, cap * sizeof *grown);
        if (!grown) return VKT_ERR_OOM;
        r->names = grown, r->cap_names = cap;
    }
    r->names[r->n_names++] = name;
    return VKT_OK;
}

static vkt_status alloc_set(vkt_rec *r, VkDescriptorSetLayout layout, VkDescriptorSet *set) {
    for (;;) {
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = r->pools[r->cur_pool],
                                          .descriptorSetCount = 1,
                                          .pSetLayouts = &layout};
        VkResult res = vkAllocateDescriptorSets(r->dev->dev, &ai, set);
        if (res == VK_SUCCESS) return VKT_OK;
        if (res != VK_ERROR_OUT_OF_POOL_MEMORY && res != VK_ERROR_FRAGMENTED_POOL) VKT_VK_TRY(res);
        if (++r->cur_pool == r->n_pools) VKT_TRY(add_pool(r));
    }
}

size_t vkt_rec_max_binding_bytes(const vkt_rec *r) {
    uint64_t range = r->dev->info.max_storage_buffer_range;
    return (size_t)(range & ~(uint64_t)255);
}

/* While profiling: a barrier and a timestamp after the command just recorded, so that the time since the
 * previous slot is its own. Serialises execution: profiling only, never in a real run. */
static void profile_mark(vkt_rec *r, const char *name) {
    if (!r->profile) return;
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    vkCmdPipelineBarrier(r->cmd, STAGES, STAGES, 0, 1, &mb, 0, NULL, 0, NULL);
    int slot = vkt_rec_timestamp(r);
    r->last_prof = slot >= 0 && slot < VKT_REC_PROFILE_MAX ? slot : -1;
    if (r->last_prof >= 0) r->prof[slot].name = name;
}

vkt_status vkt_rec_dispatch(vkt_rec *r, const char *name, const vkt_pipeline *p, const vkt_binding *b,
                            uint32_t n, const void *pc, uint32_t pc_size, uint32_t gx, uint32_t gy, uint32_t gz) {
    VKT_ASSERT(r->recording);
    VKT_ASSERT(n == p->n_bindings + p->n_uniforms);
    VKT_ASSERT(pc_size == p->pc_size);
    VKT_ASSERT(gx > 0 && gy > 0 && gz > 0);
    VkDescriptorSet set;
    VKT_TRY(alloc_set(r, p->set_layout, &set));
    VkDescriptorBufferInfo infos[VKT_MAX_BINDINGS];
    VkWriteDescriptorSet writes[VKT_MAX_BINDINGS];
    bool need_barrier = false;
    for (uint32_t i = 0; i < n; i++) {
        const vkt_arena *a = b[i].t.arena;
        size_t bytes = vkt_tensor_bytes(&b[i].t);
        VKT_ASSERT(a && bytes > 0);
        VKT_ASSERT(b[i].t.offset + bytes <= a->capacity);
        bool uniform = i >= p->n_bindings; /* an element of the uniform-buffer array at binding n_bindings */
        if (uniform) {
            VKT_ASSERT(b[i].t.offset % r->dev->info.min_uniform_offset_align == 0);
            VKT_ASSERT(bytes <= r->dev->info.max_uniform_buffer_range);
        } else {
            VKT_ASSERT(b[i].t.offset % r->dev->info.min_storage_offset_align == 0);
        }
        if (bytes > r->dev->info.max_storage_buffer_range) {
            vkt_log_error("%s: binding %u is %zu bytes, over this device's maxStorageBufferRange (%llu); the op "
                          "must split it", name, i, bytes, (unsigned long long)r->dev->info.max_storage_buffer_range);
            VKT_ASSERT(!"binding over maxStorageBufferRange");
        }
        infos[i] = (VkDescriptorBufferInfo){.buffer = a->buffer, .offset = b[i].t.offset, .range = bytes};
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = set,
                                           .dstBinding = uniform ? p->n_bindings : i,
                                           .dstArrayElement = uniform ? i - p->n_bindings : 0,
                                           .descriptorCount = 1,
                                           .descriptorType = uniform ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
                                                                     : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &infos[i]};
        need_barrier |= hazard(r, a->buffer, b[i].t.offset, b[i].t.offset + bytes, b[i].access & VKT_WRITE);
    }
    vkUpdateDescriptorSets(r->dev->dev, n, writes, 0, NULL);
    if (need_barrier && !r->no_auto_barriers) full_barrier(r);
    for (uint32_t i = 0; i < n; i++)
        VKT_TRY(track(r, b[i].t.arena->buffer, b[i].t.offset, b[i].t.offset + vkt_tensor_bytes(&b[i].t),
                      b[i].access & VKT_WRITE));
    VKT_TRY(push_name(r, name));
    vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    if (pc_size) vkCmdPushConstants(r->cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_size, pc);
    vkCmdDispatch(r->cmd, gx, gy, gz);
    profile_mark(r, name);
    return VKT_OK;
}

void vkt_rec_profile_note(vkt_rec *r, double flops, const char *fmt, ...) {
    if (!r->profile || r->last_prof < 0) return;
    profile_slot *p = &r->prof[r->last_prof];
    p->flops = flops;
    if (!fmt) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
}

static vkt_status transfer_access(vkt_rec *r, VkBuffer buf, size_t off, size_t bytes, bool write) {
    if (hazard(r, buf, off, off + bytes, write) && !r->no_auto_barriers) full_barrier(r);
    return track(r, buf, off, off + bytes, write);
}

vkt_status vkt_rec_fill(vkt_rec *r, const vkt_tensor *t, uint32_t word) {
    VKT_ASSERT(r->recording);
    size_t bytes = vkt_tensor_bytes(t);
    VKT_ASSERT(bytes % 4 == 0 && t->offset % 4 == 0);
    VKT_TRY(transfer_access(r, t->arena->buffer, t->offset, bytes, true));
    VKT_TRY(push_name(r, "fill"));
    vkCmdFillBuffer(r->cmd, t->arena->buffer, t->offset, bytes, word);
    profile_mark(r, "fill");
    return VKT_OK;
}

vkt_status vkt_rec_copy(vkt_rec *r, const vkt_tensor *src, const vkt_tensor *dst) {
    VKT_ASSERT(r->recording);
    size_t bytes = vkt_tensor_bytes(src);
    VKT_ASSERT(bytes == vkt_tensor_bytes(dst));
    VKT_TRY(transfer_access(r, src->arena->buffer, src->offset, bytes, false));
    VKT_TRY(transfer_access(r, dst->arena->buffer, dst->offset, bytes, true));
    VKT_TRY(push_name(r, "copy"));
    VkBufferCopy region = {.srcOffset = src->offset, .dstOffset = dst->offset, .size = bytes};
    vkCmdCopyBuffer(r->cmd, src->arena->buffer, dst->arena->buffer, 1, &region);
    profile_mark(r, "copy");
    return VKT_OK;
}

void vkt_rec_copy_raw(vkt_rec *r, VkBuffer src, size_t src_off, VkBuffer dst, size_t dst_off, size_t bytes,
                      bool dst_is_arena) {
    VKT_ASSERT(r->recording);
    /* Staging buffers are private to one transfer; only the arena side can conflict. */
    if (dst_is_arena) transfer_access(r, dst, dst_off, bytes, true);
    else transfer_access(r, src, src_off, bytes, false);
    VkBufferCopy region = {.srcOffset = src_off, .dstOffset = dst_off, .size = bytes};
    vkCmdCopyBuffer(r->cmd, src, dst, 1, &region);
}

void vkt_rec_signal_host(vkt_rec *r, VkEvent ev) {
    VKT_ASSERT(r->recording);
    /* Not barrier(): that would forget the pending device accesses, which this does not order. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(r->cmd, STAGES, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    r->n_barriers++;
    vkCmdSetEvent(r->cmd, ev, STAGES);
}

void vkt_rec_set_profile(vkt_rec *r, bool on) {
    VKT_ASSERT(!r->recording);
    if (on && r->queries && !r->prof) r->prof = calloc(VKT_REC_PROFILE_MAX, sizeof *r->prof);
    r->profile = on && r->queries && r->prof;
}

static int by_ms_desc(const void *a, const void *b) {
    double x = ((const vkt_rec_profile_row *)a)->ms, y = ((const vkt_rec_profile_row *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

vkt_status vkt_rec_profile_rows(vkt_rec *r, vkt_rec_profile_row **out, int *n_out, double *total_ms) {
    *out = NULL, *n_out = 0, *total_ms = 0;
    if (!r->profile || r->n_timestamps < 2) return VKT_ERR_UNSUPPORTED;
    uint32_t n = r->n_timestamps < VKT_REC_PROFILE_MAX ? r->n_timestamps : VKT_REC_PROFILE_MAX;
    uint64_t *t = malloc(n * sizeof *t);
    vkt_rec_profile_row *rows = calloc(n, sizeof *rows);
    if (!t || !rows) {
        free(t), free(rows);
        return VKT_ERR_OOM;
    }
    VkResult res = vkGetQueryPoolResults(r->dev->dev, r->queries, 0, n, n * 8, t, 8,
                                         VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    int n_rows = 0;
    for (uint32_t i = 1; res == VK_SUCCESS && i < n; i++) {
        const profile_slot *p = &r->prof[i];
        if (!p->name) continue;
        double ms = (double)((t[i] - t[i - 1]) & r->dev->timestamp_mask) * r->dev->info.timestamp_period_ns * 1e-6;
        int k = 0;
        while (k < n_rows && (strcmp(rows[k].name, p->name) || strcmp(rows[k].detail, p->detail))) k++;
        if (k == n_rows) {
            rows[n_rows].name = p->name;
            memcpy(rows[n_rows++].detail, p->detail, sizeof p->detail);
        }
        rows[k].ms += ms, rows[k].flops += p->flops, rows[k].count++, *total_ms += ms;
    }
    free(t);
    if (res != VK_SUCCESS) {
        free(rows);
        return vkt_vk_status(res);
    }
    qsort(rows, (size_t)n_rows, sizeof *rows, by_ms_desc);
    *out = rows, *n_out = n_rows;
    return VKT_OK;
}

vkt_status vkt_rec_profile_report(vkt_rec *r, FILE *out) {
    vkt_rec_profile_row *rows;
    int n;
    double total;
    VKT_TRY(vkt_rec_profile_rows(r, &rows, &n, &total));
    fprintf(out, "profile: %.3f ms in %u commands\n", total, r->n_timestamps - 1);
    for (int k = 0; k < n; k++)
        fprintf(out, "  %-28s %-32s %9.3f ms %5.1f%%  x%d\n", rows[k].name, rows[k].detail, rows[k].ms,
                100 * rows[k].ms / total, rows[k].count);
    free(rows);
    return VKT_OK;
}

int vkt_rec_timestamp(vkt_rec *r) {
    if (!r->queries || r->n_timestamps >= r->max_timestamps) return -1;
    vkCmdWriteTimestamp(r->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, r->queries, r->n_timestamps);
    return (int)r->n_timestamps++;
}

vkt_status vkt_rec_elapsed_ms(vkt_rec *r, int slot0, int slot1, double *ms) {
    if (!r->queries || slot0 < 0 || slot1 < 0) return VKT_ERR_UNSUPPORTED;
    uint64_t t[2];
    VKT_VK_TRY(vkGetQueryPoolResults(r->dev->dev, r->queries, (uint32_t)slot0, 1, sizeof t[0], &t[0], sizeof t[0],
                                     VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    VKT_VK_TRY(vkGetQueryPoolResults(r->dev->dev, r->queries, (uint32_t)slot1, 1, sizeof t[1], &t[1], sizeof t[1],
                                     VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    /* Counters narrower than 64 bits wrap (36 valid bits at 1 ns wrap every ~69 s): subtract modulo. */
    *ms = (double)((t[1] - t[0]) & r->dev->timestamp_mask) * r->dev->info.timestamp_period_ns * 1e-6;
    return VKT_OK;
}

uint32_t vkt_rec_dispatch_count(const vkt_rec *r) { return r->n_names; }
uint32_t vkt_rec_barrier_count(const vkt_rec *r) { return r->n_barriers; }
void vkt_rec_set_auto_barriers(vkt_rec *r, bool enabled) { r->no_auto_barriers = !enabled; }
vkt_device *vkt_rec_device(const vkt_rec *r) { return r->dev; }
