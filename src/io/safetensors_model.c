/* safetensors models: a single file or a sharded model with model.safetensors.index.json (see
 * safetensors.h). The index's "weight_map" is the authority on which tensors the model has; tensors a
 * shard holds but the map does not list are ignored (with one warning per shard). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/safetensors.h"

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const struct vkt_st_entry *)a)->name, ((const struct vkt_st_entry *)b)->name);
}

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static vkt_status finish_entries(vkt_st_model *m, const char *path) {
    qsort(m->entries, (size_t)m->n_entries, sizeof *m->entries, cmp_entry);
    for (int i = 1; i < m->n_entries; i++)
        if (strcmp(m->entries[i - 1].name, m->entries[i].name) == 0) {
            vkt_log_error("%s: tensor \"%s\" is listed twice", path, m->entries[i].name);
            return VKT_ERR_FORMAT;
        }
    return VKT_OK;
}

static vkt_status open_single(vkt_st_model *m, const char *path) {
    m->shards = calloc(1, sizeof *m->shards);
    if (!m->shards) return VKT_ERR_OOM;
    VKT_TRY(vkt_st_open(path, &m->shards[0]));
    m->n_shards = 1;
    m->entries = calloc((size_t)m->shards[0].n_tensors + 1, sizeof *m->entries);
    if (!m->entries) return VKT_ERR_OOM;
    for (int i = 0; i < m->shards[0].n_tensors; i++)
        m->entries[m->n_entries++] = (struct vkt_st_entry){m->shards[0].tensors[i].name, 0, &m->shards[0].tensors[i]};
    return VKT_OK;
}

/* Shard names come from a file we did not write: keep them inside the model folder. */
static bool safe_relative(const char *name) {
    if (!name[0] || name[0] == '/') return false;
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return false;
        p += len + (slash ? 1 : 0);
    }
    return true;
}

static vkt_status open_index_json(vkt_st_model *m, const char *path, cJSON *root) {
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(wm)) {
        vkt_log_error("%s: field \"weight_map\" missing or not an object", path);
        return VKT_ERR_FORMAT;
    }
    int n = cJSON_GetArraySize(wm);
    const char **shard_names = calloc((size_t)n + 1, sizeof *shard_names);
    int *entry_shard = calloc((size_t)n + 1, sizeof *entry_shard);
    m->shards = calloc((size_t)n + 1, sizeof *m->shards);
    m->entries = calloc((size_t)n + 1, sizeof *m->entries);
    char *dir = strdup(path);
    vkt_status s = (shard_names && entry_shard && m->shards && m->entries && dir) ? VKT_OK : VKT_ERR_OOM;
    int i = 0;
    for (const cJSON *c = wm->child; c && s == VKT_OK; c = c->next, i++) {
        if (!cJSON_IsString(c) || !safe_relative(c->valuestring)) {
            vkt_log_error("%s: weight_map tensor \"%s\": shard must be a relative file name string", path, c->string);
            s = VKT_ERR_FORMAT;
            break;
        }
        int k = 0;
        while (k < m->n_shards && strcmp(shard_names[k], c->valuestring) != 0) k++;
        if (k == m->n_shards) shard_names[m->n_shards++] = c->valuestring;
        entry_shard[i] = k;
    }
    if (s == VKT_OK) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(dir, ".");
    }
    /* Every shard must be there before any is opened: name all the missing ones at once. */
    for (int k = 0; k < m->n_shards && s == VKT_OK; k++) {
        char *sp = join_path(dir, shard_names[k]);
        if (!sp)
            s = VKT_ERR_OOM;
        else if (!exists(sp)) {
            const char *example = NULL;
            int held = 0, j = 0;
            for (const cJSON *c = wm->child; c; c = c->next, j++)
                if (entry_shard[j] == k) held++, example = example ? example : c->string;
            vkt_log_error("%s: shard \"%s\" is missing (weight_map puts %d tensors there, \"%s\" among them): "
                          "download every file the index names into %s",
                          path, shard_names[k], held, example ? example : "?", dir);
            free(sp);
            sp = NULL;
            for (int r = k + 1; r < m->n_shards; r++) {
                char *rp = join_path(dir, shard_names[r]);
                if (rp && !exists(rp)) vkt_log_error("%s: shard \"%s\" is missing too", path, shard_names[r]);
                free(rp);
            }
            s = VKT_ERR_IO;
        }
        free(sp);
    }
    for (int k = 0; k < m->n_shards && s == VKT_OK; k++) {
        char *sp = join_path(dir, shard_names[k]);
        s = sp ? vkt_st_open(sp, &m->shards[k]) : VKT_ERR_OOM;
        if (s != VKT_OK) vkt_log_error("%s: cannot load shard %s", path, shard_names[k]);
        free(sp);
    }
    i = 0;
    for (const cJSON *c = wm->child; c && s == VKT_OK; c = c->next, i++) {
        const vkt_st_file *sf = &m->shards[entry_shard[i]];
        const vkt_st_tensor *t = vkt_st_find(sf, c->string);
        if (!t) {
            vkt_log_error("%s: weight_map says tensor \"%s\" is in %s, but that shard has no such tensor", path,
                          c->string, shard_names[entry_shard[i]]);
            s = VKT_ERR_FORMAT;
            break;
        }
        m->entries[m->n_entries++] = (struct vkt_st_entry){t->name, entry_shard[i], t};
    }
    if (s == VKT_OK) {
        int listed = m->n_entries, held = 0;
        for (int k = 0; k < m->n_shards; k++) held += m->shards[k].n_tensors;
        if (held > listed)
            vkt_log_warn("%s: shards hold %d tensors that weight_map does not list; ignoring them", path,
                         held - listed);
    }
    free(shard_names);
    free(entry_shard);
    free(dir);
    return s;
}

static vkt_status open_index(vkt_st_model *m, const char *path) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    cJSON *root = f.size ? cJSON_ParseWithLength((const char *)f.data, f.size) : NULL;
    vkt_status s;
    if (!root) {
        vkt_log_error("%s: not valid JSON", path);
        s = VKT_ERR_FORMAT;
    } else {
        s = open_index_json(m, path, root);
    }
    cJSON_Delete(root);
    vkt_file_map_close(&f);
    return s;
}

vkt_status vkt_st_model_open(const char *path, vkt_st_model *out) {
    memset(out, 0, sizeof *out);
    vkt_status s;
    size_t n = strlen(path);
    if (is_dir(path)) {
        char *idx = join_path(path, "model.safetensors.index.json"), *one = join_path(path, "model.safetensors");
        if (!idx || !one)
            s = VKT_ERR_OOM;
        else if (exists(idx))
            s = open_index(out, idx);
        else if (exists(one))
            s = open_single(out, one);
        else {
            vkt_log_error("%s: folder has neither model.safetensors.index.json nor model.safetensors", path);
            s = VKT_ERR_IO;
        }
        if (s == VKT_OK) s = finish_entries(out, exists(idx) ? idx : one);
        free(idx);
        free(one);
    } else if (n >= 5 && strcmp(path + n - 5, ".json") == 0) {
        s = open_index(out, path);
        if (s == VKT_OK) s = finish_entries(out, path);
    } else {
        s = open_single(out, path);
        if (s == VKT_OK) s = finish_entries(out, path);
    }
    if (s != VKT_OK) vkt_st_model_close(out);
    return s;
}

void vkt_st_model_close(vkt_st_model *m) {
    for (int k = 0; k < m->n_shards; k++) vkt_st_close(&m->shards[k]);
    free(m->shards);
    free(m->entries);
    memset(m, 0, sizeof *m);
}

const vkt_st_tensor *vkt_st_model_find(const vkt_st_model *m, const char *name, const vkt_st_file **file) {
    int lo = 0, hi = m->n_entries - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(m->entries[mid].name, name);
        if (c == 0) {
            if (file) *file = &m->shards[m->entries[mid].shard];
            return m->entries[mid].t;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    if (file) *file = NULL;
    return NULL;
}
