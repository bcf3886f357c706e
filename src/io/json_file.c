/* JSON file helpers (see json_file.h). */
#include "io/json_file.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/file.h"

vkt_status vkt_json_parse(const char *text, size_t len, const char *name, cJSON **out) {
    *out = len ? cJSON_ParseWithLength(text, len) : NULL;
    if (*out) return VKT_OK;
    const char *at = cJSON_GetErrorPtr();
    int line = 1;
    for (const char *p = text; at && p && p < at && p < text + len; p++) line += *p == '\n';
    vkt_log_error("%s:%d: not valid JSON (comments and trailing commas are not allowed)", name, line);
    return VKT_ERR_FORMAT;
}

vkt_status vkt_json_read(const char *path, cJSON **out) {
    vkt_file_map f;
    VKT_TRY(vkt_file_map_open(path, &f));
    vkt_status s = vkt_json_parse((const char *)f.data, f.size, path, out);
    vkt_file_map_close(&f);
    return s;
}

vkt_status vkt_json_write(const char *path, const cJSON *obj) {
    char *text = cJSON_Print(obj);
    if (!text) return VKT_ERR_OOM;
    vkt_atomic_file a;
    vkt_status s = vkt_atomic_open(path, &a);
    if (s == VKT_OK) s = vkt_atomic_write(&a, text, strlen(text));
    if (s == VKT_OK) s = vkt_atomic_write(&a, "\n", 1);
    if (s == VKT_OK) s = vkt_atomic_commit(&a);
    else vkt_atomic_abort(&a);
    free(text);
    return s;
}
