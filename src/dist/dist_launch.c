/* Launcher detection (see dist_launch.h). */
#include "dist/dist_launch.h"

#include "dist/dist.h"

#include <stdlib.h>

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

int vkt_dist_launch_size(void) {
    int n = env_int("OMPI_COMM_WORLD_SIZE");
    if (n <= 0) n = env_int("PMI_SIZE");
    if (n <= 0 && getenv("PMIX_RANK")) n = 2; /* a PMIx launch of unknown size: MPI will say */
    return n > 0 ? n : 1;
}

void vkt_dist_shard_bounds(int64_t n, int ranks, int64_t align, int64_t *bounds) {
    int64_t per = (n + ranks - 1) / ranks;
    per = (per + align - 1) / align * align;
    for (int r = 0; r <= ranks; r++) bounds[r] = (int64_t)r * per < n ? (int64_t)r * per : n;
}
