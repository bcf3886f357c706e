/* Tuned kernel choices of one device, kept beside its pipeline cache: a small versioned text file,
 * "tune-<vendor>-<device>-<driver>.txt" in the same directory (VKT_CACHE_DIR, else
 * $XDG_CACHE_HOME/vktrain, else ~/.cache/vktrain):
 *
 *   vktrain-tune 1 <vendorID>:<deviceID>:<driverVersion>
 *   <key> <value...>            one choice per line, e.g. "matmul/wide/f32/TN/m512/n128/k2048 wg=8 ..."
 *
 * The file is read when the device is created and rewritten whenever a choice is added. A file with
 * another version or device line, or any malformed line, is ignored with a warning (and replaced on the
 * next write). Keys and values are opaque here (ops/matmul_tile.c gives them meaning); a value its owner
 * cannot parse is treated as absent, measured again and rewritten.
 *
 * VKT_TUNE=0 turns tuning off: kernels use their defaults and nothing is measured, read or written (tests
 * set it so that results do not depend on an earlier run). VKT_TUNE=1 or unset: on. Not thread-safe (like the
 * device). */
#ifndef VKT_TUNE_CACHE_H
#define VKT_TUNE_CACHE_H

#include <stdbool.h>

#include "vk/vk.h"

#define VKT_TUNE_VERSION 2 /* 2: the wide kernel's 32 x 16 candidate and size-dependent default */
#define VKT_TUNE_KEY_MAX 96
#define VKT_TUNE_VALUE_MAX 160

typedef struct vkt_tune_cache vkt_tune_cache;

/* False when the environment says VKT_TUNE=0 (read on every call: tests may change it). */
bool vkt_tune_enabled(void);

/* Creates an empty cache bound to path (NULL or "": memory only) and loads the file when it exists. */
vkt_status vkt_tune_cache_create(const char *path, const char *device_line, vkt_tune_cache **out);
void vkt_tune_cache_destroy(vkt_tune_cache *c);
/* The value stored for key, or NULL. */
const char *vkt_tune_cache_get(const vkt_tune_cache *c, const char *key);
/* Adds or replaces key and rewrites the file (a write failure is logged, the value stays in memory). */
vkt_status vkt_tune_cache_put(vkt_tune_cache *c, const char *key, const char *value);
/* Forgets every entry in memory (the file keeps them until the next put): `bench --tune` re-measures. */
void vkt_tune_cache_clear(vkt_tune_cache *c);
/* The file this cache reads and writes ("" when memory only). */
const char *vkt_tune_cache_path(const vkt_tune_cache *c);

/* The device's cache, created on first use beside the pipeline cache. NULL only when out of memory. */
vkt_tune_cache *vkt_device_tune_cache(vkt_device *dev);

#endif
