/* `vktrain devices`: what every Vulkan device offers, as text or JSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dist/dist.h"
#include "io/device_json.h"
#include "vktrain/device.h"

static void print_text(const vkt_device_info *d) {
    printf("[%u] %s\n", d->index, d->name);
    printf("    vendor        %s (0x%04x), device 0x%04x, type %s\n", d->vendor, d->vendor_id, d->device_id,
           vkt_device_type_name(d->type));
    printf("    driver        %s %s (version %s)\n", d->driver_name, d->driver_info, d->driver_version);
    printf("    vulkan        %u.%u.%u\n", d->api_version >> 22, (d->api_version >> 12) & 0x3ff,
           d->api_version & 0xfff);
    printf("    memory        device-local %.2f GiB, host-visible %.2f GiB%s\n",
           (double)d->device_local_bytes / (1 << 30), (double)d->host_visible_bytes / (1 << 30),
           d->unified_memory ? " (unified)" : "");
    printf("    subgroups     %u (min %u, max %u)%s\n", d->subgroup_size, d->subgroup_min, d->subgroup_max,
           d->subgroup_size_control ? ", size control" : "");
    printf("    shared mem    %u KiB per workgroup, %u invocations max\n", d->shared_memory_bytes / 1024,
           d->max_workgroup_invocations);
    printf("    max binding   %.1f MiB (maxStorageBufferRange)\n", (double)d->max_storage_buffer_range / (1 << 20));
    printf("    timestamps    %s\n", d->timestamp_period_ns > 0 ? "yes" : "no");
    printf("    features      fp16-math %s, 16-bit storage %s, 8-bit storage %s, int8-math %s, int-dot %s, "
           "bf16 %s\n",
           d->fp16_arith ? "yes" : "no", d->storage16 ? "yes" : "no", d->storage8 ? "yes" : "no",
           d->int8_arith ? "yes" : "no", d->int_dot ? "yes" : "no", d->bf16 ? "yes" : "no");
    printf("    coopmat       %s", d->coopmat_khr ? "KHR" : d->coopmat_nv ? "NV" : "no");
    for (uint32_t i = 0; i < d->n_coopmat_shapes; i++)
        printf("%s %ux%ux%u %s->%s", i ? "," : ":", d->coopmat_shapes[i].m, d->coopmat_shapes[i].n,
               d->coopmat_shapes[i].k, d->coopmat_shapes[i].a_type, d->coopmat_shapes[i].c_type);
    printf("\n");
}

int vkt_cli_devices(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: vktrain devices [--json]\n\n"
                   "Lists every Vulkan device with its driver, memory, subgroup sizes, limits and features.\n"
                   "Pick one for other commands with --device INDEX|NAME or VKT_DEVICE=INDEX|NAME.\n");
            return 0;
        } else {
            fprintf(stderr, "vktrain devices: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    vkt_device_info *infos;
    uint32_t n;
    if (vkt_device_list(&infos, &n) != VKT_OK) return 1;
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (uint32_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, vkt_device_info_json(&infos[i]));
        char *text = cJSON_Print(arr);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(arr);
    } else {
        if (n == 0) printf("no Vulkan devices (install a driver; CPU fallback: mesa-vulkan-drivers)\n");
        for (uint32_t i = 0; i < n; i++) print_text(&infos[i]);
        printf("data parallel (MPI): %s\n", vkt_dist_backend());
    }
    free(infos);
    return 0;
}
