/* dist.h for a build without MPI: always a single rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dist/dist.h"
#include "dist/dist_launch.h"

bool vkt_dist_built(void) { return false; }

const char *vkt_dist_backend(void) { return "none (built without MPI: install libopenmpi-dev and rebuild)"; }

vkt_status vkt_dist_init(void) {
    int n = vkt_dist_launch_size();
    if (n <= 1) return VKT_OK;
    vkt_log_error("launched as one of %d ranks, but this vktrain was built without MPI, so each copy would train "
                  "alone: install libopenmpi-dev (apt) and rebuild (CMake reports \"MPI: yes\"), or run without "
                  "mpirun",
                  n);
    return VKT_ERR_UNSUPPORTED;
}

void vkt_dist_finalize(void) {}
int vkt_dist_rank(void) { return 0; }
int vkt_dist_size(void) { return 1; }
int vkt_dist_local_rank(void) { return 0; }
vkt_status vkt_dist_sum_f64(double *x, int n) { return VKT_OK; }
vkt_status vkt_dist_sum_f32(float *x, size_t n) { return VKT_OK; }
int vkt_dist_max_int(int v) { return v; }

/* One rank: x already holds the sum; the op is a non-NULL token with nothing to free. */
vkt_status vkt_dist_sum_start(float *x, int64_t n, bool ordered, float *scratch, int tag, vkt_dist_sum_op **out) {
    static char token;
    *out = (vkt_dist_sum_op *)&token;
    return VKT_OK;
}

vkt_status vkt_dist_sum_poll(vkt_dist_sum_op *op, bool *done) {
    *done = true;
    return VKT_OK;
}

void vkt_dist_sum_free(vkt_dist_sum_op *op) {}
vkt_status vkt_dist_allgather_f32(float *x, const int64_t *bounds) { return VKT_OK; }

vkt_status vkt_dist_gather_f32(const float *part, float *full, const int64_t *bounds) {
    if (full != part) memmove(full, part, (size_t)bounds[1] * sizeof *full);
    return VKT_OK;
}

_Noreturn void vkt_dist_abort(int code) {
    fflush(stdout);
    exit(code);
}
