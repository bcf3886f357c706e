/* The tune cache: key -> value lines in a versioned text file beside the pipeline cache (tune_cache.h). */
#include "vk/tune_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char key[VKT_TUNE_KEY_MAX], value[VKT_TUNE_VALUE_MAX];
} tune_entry;

struct vkt_tune_cache {
    char path[1024];
    char device_line[128]; /* "vktrain-tune 1 <vendor>:<device>:<driver>" */
    tune_entry *entries;
    int n, cap;
};

bool vkt_tune_enabled(void) {
    const char *e = getenv("VKT_TUNE");
    return !(e && !strcmp(e, "0"));
}

static tune_entry *find(const vkt_tune_cache *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->entries[i].key, key)) return &c->entries[i];
    return NULL;
}

static vkt_status set(vkt_tune_cache *c, const char *key, const char *value) {
    if (strlen(key) >= VKT_TUNE_KEY_MAX || strlen(value) >= VKT_TUNE_VALUE_MAX || strpbrk(key, " \t\n") ||
        strchr(value, '\n') || !*key) {
        vkt_log_error("tune cache: key '%s' or its value is empty, too long or has blanks (bug in the caller)", key);
        return VKT_ERR_FORMAT;
    }
    tune_entry *e = find(c, key);
    if (!e) {
        if (c->n == c->cap) {
            int cap = c->cap ? 2 * c->cap : 16;
            tune_entry *grown = realloc(c->entries, (size_t)cap * sizeof *grown);
            if (!grown) return VKT_ERR_OOM;
            c->entries = grown, c->cap = cap;
        }
        e = &c->entries[c->n++];
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    snprintf(e->value, sizeof e->value, "%s", value);
    return VKT_OK;
}

/* Reads the file into c; any problem empties c again and says why (the next put rewrites the file). */
static void load(vkt_tune_cache *c) {
    FILE *f = fopen(c->path, "r");
    if (!f) return;
    char line[VKT_TUNE_KEY_MAX + VKT_TUNE_VALUE_MAX + 8];
    int lineno = 0;
    const char *why = NULL;
    while (!why && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = 0;
        else if (!feof(f)) why = "line too long";
        if (why) break;
        if (lineno == 1) {
            if (strcmp(line, c->device_line)) why = "version or device line differs";
            continue;
        }
        if (!len) continue;
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || !sp[1]) {
            why = "expected '<key> <value>'";
            break;
        }
        *sp = 0;
        if (strlen(line) >= VKT_TUNE_KEY_MAX || strlen(sp + 1) >= VKT_TUNE_VALUE_MAX) why = "key or value too long";
        else if (set(c, line, sp + 1) != VKT_OK) why = "bad entry";
    }
    if (!why && lineno == 0) why = "empty file";
    fclose(f);
    if (why) {
        vkt_log_warn("tune cache %s: line %d: %s; ignoring the file (it is rewritten after the next measurement; "
                     "delete it to silence this)", c->path, lineno, why);
        c->n = 0;
    }
}

static void save(const vkt_tune_cache *c) {
    if (!c->path[0]) return;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", c->path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    if (ok) {
        fprintf(f, "%s\n", c->device_line);
        for (int i = 0; i < c->n; i++) fprintf(f, "%s %s\n", c->entries[i].key, c->entries[i].value);
        ok = fclose(f) == 0;
    }
    /* Written whole and renamed, so a concurrent reader sees the old or the new file, never a part. */
    if (ok && rename(tmp, c->path) == 0) return;
    vkt_log_warn("tune cache: could not write %s; choices stay in memory for this run (check the directory's "
                 "permissions or set VKT_CACHE_DIR)", c->path);
    remove(tmp);
}

vkt_status vkt_tune_cache_create(const char *path, const char *device_line, vkt_tune_cache **out) {
    vkt_tune_cache *c = calloc(1, sizeof *c);
    if (!c) return VKT_ERR_OOM;
    snprintf(c->path, sizeof c->path, "%s", path ? path : "");
    snprintf(c->device_line, sizeof c->device_line, "vktrain-tune %d %s", VKT_TUNE_VERSION, device_line);
    if (c->path[0]) load(c);
    *out = c;
    return VKT_OK;
}

void vkt_tune_cache_destroy(vkt_tune_cache *c) {
    if (!c) return;
    free(c->entries);
    free(c);
}

const char *vkt_tune_cache_get(const vkt_tune_cache *c, const char *key) {
    const tune_entry *e = find(c, key);
    return e ? e->value : NULL;
}

vkt_status vkt_tune_cache_put(vkt_tune_cache *c, const char *key, const char *value) {
    VKT_TRY(set(c, key, value));
    save(c);
    return VKT_OK;
}

void vkt_tune_cache_clear(vkt_tune_cache *c) { c->n = 0; }

const char *vkt_tune_cache_path(const vkt_tune_cache *c) { return c->path; }

vkt_tune_cache *vkt_device_tune_cache(vkt_device *dev) {
    if (dev->tune) return dev->tune;
    /* Beside the pipeline cache, same naming: pipelines-V-D-R.bin -> tune-V-D-R.txt (memory only when the
     * pipeline cache is not persisted). */
    char path[1024] = "", line[96];
    const char *slash = strrchr(dev->pcache_path, '/');
    if (dev->pcache_path[0] && slash)
        snprintf(path, sizeof path, "%.*s/tune-%04x-%04x-%08x.txt", (int)(slash - dev->pcache_path),
                 dev->pcache_path, dev->info.vendor_id, dev->info.device_id, dev->info.driver_version_raw);
    snprintf(line, sizeof line, "%04x:%04x:%08x", dev->info.vendor_id, dev->info.device_id,
             dev->info.driver_version_raw);
    if (vkt_tune_cache_create(path, line, &dev->tune) != VKT_OK) return NULL;
    return dev->tune;
}
