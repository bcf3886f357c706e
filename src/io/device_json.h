/* A device's description as JSON, for `vktrain devices --json` and the benchmark files. */
#ifndef VKT_DEVICE_JSON_H
#define VKT_DEVICE_JSON_H

#include "vktrain/device.h"

typedef struct cJSON cJSON;

/* A new object with every field of d (cJSON_Delete it). */
cJSON *vkt_device_info_json(const vkt_device_info *d);

#endif
