/* Device description as JSON (see device_json.h). */
#include "io/device_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>

cJSON *vkt_device_info_json(const vkt_device_info *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", d->index);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "vendor", d->vendor);
    cJSON_AddNumberToObject(o, "vendor_id", d->vendor_id);
    cJSON_AddNumberToObject(o, "device_id", d->device_id);
    cJSON_AddStringToObject(o, "type", vkt_device_type_name(d->type));
    cJSON_AddStringToObject(o, "driver", d->driver_name);
    cJSON_AddStringToObject(o, "driver_info", d->driver_info);
    cJSON_AddStringToObject(o, "driver_version", d->driver_version);
    char api[32];
    snprintf(api, sizeof api, "%u.%u.%u", d->api_version >> 22, (d->api_version >> 12) & 0x3ff,
             d->api_version & 0xfff);
    cJSON_AddStringToObject(o, "vulkan", api);
    cJSON_AddNumberToObject(o, "device_local_bytes", (double)d->device_local_bytes);
    cJSON_AddNumberToObject(o, "host_visible_bytes", (double)d->host_visible_bytes);
    cJSON_AddBoolToObject(o, "unified_memory", d->unified_memory);
    cJSON_AddNumberToObject(o, "subgroup_size", d->subgroup_size);
    cJSON_AddNumberToObject(o, "subgroup_min", d->subgroup_min);
    cJSON_AddNumberToObject(o, "subgroup_max", d->subgroup_max);
    cJSON_AddNumberToObject(o, "shared_memory_bytes", d->shared_memory_bytes);
    cJSON_AddNumberToObject(o, "max_storage_buffer_range", (double)d->max_storage_buffer_range);
    cJSON_AddBoolToObject(o, "timestamps", d->timestamp_period_ns > 0);
    cJSON_AddNumberToObject(o, "timestamp_period_ns", d->timestamp_period_ns);
    cJSON_AddBoolToObject(o, "fp16_arith", d->fp16_arith);
    cJSON_AddBoolToObject(o, "storage16", d->storage16);
    cJSON_AddBoolToObject(o, "storage8", d->storage8);
    cJSON_AddBoolToObject(o, "int8_arith", d->int8_arith);
    cJSON_AddBoolToObject(o, "int_dot", d->int_dot);
    cJSON_AddBoolToObject(o, "bf16", d->bf16);
    cJSON_AddStringToObject(o, "coopmat", d->coopmat_khr ? "khr" : d->coopmat_nv ? "nv" : "none");
    cJSON *shapes = cJSON_AddArrayToObject(o, "coopmat_shapes");
    for (uint32_t i = 0; i < d->n_coopmat_shapes; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "m", d->coopmat_shapes[i].m);
        cJSON_AddNumberToObject(s, "n", d->coopmat_shapes[i].n);
        cJSON_AddNumberToObject(s, "k", d->coopmat_shapes[i].k);
        cJSON_AddStringToObject(s, "a", d->coopmat_shapes[i].a_type);
        cJSON_AddStringToObject(s, "c", d->coopmat_shapes[i].c_type);
        cJSON_AddItemToArray(shapes, s);
    }
    return o;
}
