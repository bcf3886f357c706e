/* Synchronous host <-> tensor copies. Mapped arenas are copied with memcpy (the device is idle between
 * synchronous submissions); device-local arenas go through a staging buffer in chunks. */
#include <string.h>

#include "vk/memory.h"
#include "vk/record.h"

#define STAGING_CHUNK ((size_t)64 << 20)

static vkt_status staged_copy(vkt_device *dev, const vkt_tensor *t, void *host, size_t bytes, bool upload) {
    vkt_staging st;
    vkt_rec *r = NULL;
    size_t chunk = bytes < STAGING_CHUNK ? bytes : STAGING_CHUNK;
    VKT_TRY(vkt_staging_create(dev, chunk, &st));
    vkt_status s = vkt_rec_create(dev, 0, &r);
    for (size_t done = 0; s == VKT_OK && done < bytes; done += chunk) {
        size_t n = bytes - done < chunk ? bytes - done : chunk;
        if (upload) memcpy(st.mapped, (const char *)host + done, n);
        s = vkt_rec_begin(r);
        if (s != VKT_OK) break;
        if (upload) vkt_rec_copy_raw(r, st.buffer, 0, t->arena->buffer, t->offset + done, n, true);
        else vkt_rec_copy_raw(r, t->arena->buffer, t->offset + done, st.buffer, 0, n, false);
        s = vkt_rec_end(r);
        if (s == VKT_OK) s = vkt_rec_submit_wait(r);
        if (s == VKT_OK && !upload) memcpy((char *)host + done, st.mapped, n);
    }
    vkt_rec_destroy(r);
    vkt_staging_destroy(dev, &st);
    return s;
}

vkt_status vkt_tensor_upload(vkt_device *dev, const vkt_tensor *t, const void *host, size_t bytes) {
    VKT_ASSERT(bytes == vkt_tensor_bytes(t));
    if (t->arena->mapped) {
        /* Queued work may still read or write this memory: let it finish first. */
        VKT_VK_TRY(vkQueueWaitIdle(dev->queue));
        memcpy((char *)t->arena->mapped + t->offset, host, bytes);
        return VKT_OK;
    }
    return staged_copy(dev, t, (void *)host, bytes, true);
}

vkt_status vkt_tensor_download(vkt_device *dev, const vkt_tensor *t, void *host, size_t bytes) {
    VKT_ASSERT(bytes == vkt_tensor_bytes(t));
    if (t->arena->mapped) {
        VKT_VK_TRY(vkQueueWaitIdle(dev->queue));
        memcpy(host, (const char *)t->arena->mapped + t->offset, bytes);
        return VKT_OK;
    }
    return staged_copy(dev, t, host, bytes, false);
}
