/* JSON files: read and parse with a message that names the file and line, and write atomically
 * (temporary file, fsync, rename). Used for config.json, run configs and checkpoint metadata. */
#ifndef VKT_JSON_FILE_H
#define VKT_JSON_FILE_H

#include <stddef.h>

#include "vktrain/status.h"

typedef struct cJSON cJSON;

/* *out is a new tree (cJSON_Delete it). VKT_ERR_IO when unreadable, VKT_ERR_FORMAT when not JSON. */
vkt_status vkt_json_read(const char *path, cJSON **out);
/* The same for text[0..len) (no NUL needed); `name` stands for the file in messages. */
vkt_status vkt_json_parse(const char *text, size_t len, const char *name, cJSON **out);
/* Pretty-prints obj into path atomically. */
vkt_status vkt_json_write(const char *path, const cJSON *obj);

#endif
