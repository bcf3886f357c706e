/* Data-parallel ranks for the train and finetune commands (see ranks.h). */
#include "cli/ranks.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "dist/dist.h"

/* The local rank's device among those of the best type present, round robin. */
static void pick_device(vkt_device_opts *dopts) {
    const char *env = getenv("VKT_DEVICE");
    if (dopts->index >= 0 || dopts->name || (env && *env)) return; /* chosen by the user */
    vkt_device_info *infos;
    uint32_t n;
    if (vkt_device_list(&infos, &n) != VKT_OK || n == 0) return; /* device creation will say why */
    static const vkt_device_type order[] = {VKT_DEVICE_DISCRETE, VKT_DEVICE_INTEGRATED};
    int best = -1;
    for (size_t k = 0; k < sizeof order / sizeof order[0] && best < 0; k++)
        for (uint32_t i = 0; i < n; i++)
            if (infos[i].type == order[k]) best = (int)order[k];
    int count = 0;
    for (uint32_t i = 0; i < n; i++) count += best < 0 || (int)infos[i].type == best;
    int want = vkt_dist_local_rank() % count;
    for (uint32_t i = 0; i < n && dopts->index < 0; i++)
        if ((best < 0 || (int)infos[i].type == best) && want-- == 0) dopts->index = (int)infos[i].index;
    if (count < vkt_dist_local_rank() + 1)
        vkt_log_warn("local rank %d shares device %d with another rank (this machine has %d device(s) of its best "
                     "type): fine for tests, slow for training", vkt_dist_local_rank(), dopts->index, count);
    free(infos);
}

int vkt_cli_ranks_begin(vkt_device_opts *dopts) {
    if (vkt_dist_init() != VKT_OK) return 2;
    if (vkt_dist_size() == 1) return 0;
    pick_device(dopts);
    if (!vkt_dist_is_root()) {
        if (!freopen("/dev/null", "w", stdout)) vkt_log_warn("rank %d: could not silence stdout", vkt_dist_rank());
        vkt_log_set_level(VKT_LOG_WARN);
    }
    return 0;
}

int vkt_cli_ranks_end(int rc) {
    if (vkt_dist_size() > 1 && (rc == 1 || rc == 2)) vkt_dist_abort(rc);
    vkt_dist_finalize();
    return rc;
}
