/* Command recording: dispatches, fills and copies, with automatic barriers and optional timestamps.
 *
 * Each dispatch declares the tensors it reads and writes. The recorder inserts a compute/transfer
 * barrier only when an access overlaps an earlier access that has not yet been synchronised (RAW,
 * WAW or WAR); independent dispatches run without barriers. Every command buffer starts with a barrier
 * against all earlier submissions and ends with one that makes writes visible to the host, so
 * recorded buffers can be replayed any number of times.
 *
 * A vkt_rec owns its command buffer, descriptor sets and timestamp pool; recording again (begin)
 * discards the previous recording. Not thread-safe. */
#ifndef VKT_RECORD_H
#define VKT_RECORD_H

#include <stdbool.h>
#include <stdio.h>

#include "vk/pipeline.h"
#include "vktrain/tensor.h"

typedef enum { VKT_READ = 1, VKT_WRITE = 2, VKT_RW = 3 } vkt_access;

typedef struct {
    vkt_tensor t;      /* the bound range is the whole view: from t.offset, vkt_tensor_bytes(&t) bytes */
    vkt_access access;
} vkt_binding;

typedef struct vkt_rec vkt_rec;

/* max_timestamps: slots for vkt_rec_timestamp (0: none). */
vkt_status vkt_rec_create(vkt_device *dev, uint32_t max_timestamps, vkt_rec **out);
void vkt_rec_destroy(vkt_rec *r);

vkt_status vkt_rec_begin(vkt_rec *r);
vkt_status vkt_rec_end(vkt_rec *r);
/* Submit and block until done. */
vkt_status vkt_rec_submit_wait(vkt_rec *r);
/* Submit without waiting; vkt_rec_wait blocks until that submission is done. */
vkt_status vkt_rec_submit(vkt_rec *r);
vkt_status vkt_rec_wait(vkt_rec *r);

/* Records one dispatch of p with the given bindings (bindings[i] at binding i; count must equal the
 * pipeline's) and push constants (pc_size bytes, must equal the pipeline's). `name` must be a string
 * literal or otherwise outlive the recording: it labels timestamps and device-lost reports. */
vkt_status vkt_rec_dispatch(vkt_rec *r, const char *name, const vkt_pipeline *p, const vkt_binding *bindings,
                            uint32_t n_bindings, const void *pc, uint32_t pc_size, uint32_t gx, uint32_t gy,
                            uint32_t gz);
/* Fill a tensor's bytes with a repeated 32-bit word (0 for zeroing; 0x7fc00000 for NaN poison). */
vkt_status vkt_rec_fill(vkt_rec *r, const vkt_tensor *t, uint32_t word);
/* Copy a tensor's bytes into another of the same byte size. */
vkt_status vkt_rec_copy(vkt_rec *r, const vkt_tensor *src, const vkt_tensor *dst);
/* Raw buffer copy used by transfers (staging <-> arena). */
void vkt_rec_copy_raw(vkt_rec *r, VkBuffer src, size_t src_off, VkBuffer dst, size_t dst_off, size_t bytes,
                      bool dst_is_arena);

/* Makes every write recorded so far visible to the host, then sets ev (stage: after all of them), so a host
 * that sees ev set (vkGetEventStatus) may read what they wrote to host-visible coherent memory while the rest
 * of the buffer runs. Hazard tracking between device commands is unaffected. */
void vkt_rec_signal_host(vkt_rec *r, VkEvent ev);
/* Writes a GPU timestamp after all previous work; returns its slot (or -1 without timestamps). */
int vkt_rec_timestamp(vkt_rec *r);
/* After a completed submission: milliseconds between two slots. */
vkt_status vkt_rec_elapsed_ms(vkt_rec *r, int slot0, int slot1, double *ms);

/* Profiling: with on (set between recordings), every dispatch, fill and copy recorded afterwards is
 * followed by a barrier and a timestamp (needs max_timestamps > commands; at most VKT_REC_PROFILE_MAX are
 * timed). Serialises the work: for measurement only. */
#define VKT_REC_PROFILE_MAX 4096
#define VKT_REC_PROFILE_DETAIL 48
void vkt_rec_set_profile(vkt_rec *r, bool on);
/* While profiling, describes the command just recorded: its floating-point operations (0: unknown) and a
 * printf-style detail (shape, layout; NULL for none) that separates it from other commands of the same
 * name in the report. A no-op when not profiling, so ops call it unconditionally. */
void vkt_rec_profile_note(vkt_rec *r, double flops, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One report row: every timed command with the same name and detail. */
typedef struct {
    const char *name; /* borrowed from the recording */
    char detail[VKT_REC_PROFILE_DETAIL];
    double ms, flops; /* totals over the commands */
    int count;
} vkt_rec_profile_row;
/* After a completed submission: the rows, largest time first (*rows malloc'd, caller frees), and the sum
 * of their times. VKT_ERR_UNSUPPORTED when the recording was not profiled (or has no timestamps). */
vkt_status vkt_rec_profile_rows(vkt_rec *r, vkt_rec_profile_row **rows, int *n_rows, double *total_ms);
/* Prints every row: name, detail, ms, share of the total, count. */
vkt_status vkt_rec_profile_report(vkt_rec *r, FILE *out);

uint32_t vkt_rec_dispatch_count(const vkt_rec *r);
/* Pipeline barriers in the current recording: the one vkt_rec_begin records, every hazard barrier, and
 * after vkt_rec_end the final host barrier. */
uint32_t vkt_rec_barrier_count(const vkt_rec *r);
/* TEST HOOK, never for product code: with enabled = false the recorder stops inserting hazard barriers
 * (the begin and end barriers stay), so tests can show that synchronization validation reports the
 * missing barrier. Hazards are still tracked. Default: enabled. */
void vkt_rec_set_auto_barriers(vkt_rec *r, bool enabled);
vkt_device *vkt_rec_device(const vkt_rec *r);

/* Largest byte range one binding may cover on this device (maxStorageBufferRange, rounded down). */
size_t vkt_rec_max_binding_bytes(const vkt_rec *r);

#endif
