/* dist.h over MPI (built when CMake finds MPI: VKT_HAVE_MPI). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "dist/dist.h"
#include "dist/dist_launch.h"

static struct {
    bool joined; /* MPI_Init ran (several ranks) */
    int rank, size, local_rank;
    char tag[32];
} g = {.size = 1};

bool vkt_dist_built(void) { return true; }

const char *vkt_dist_backend(void) {
    static char name[MPI_MAX_LIBRARY_VERSION_STRING + 8];
    if (!name[0]) {
        int len = 0;
        MPI_Get_library_version(name, &len);
        for (int i = 0; name[i]; i++)
            if (name[i] == ',' || name[i] == '\n') name[i] = 0; /* "Open MPI v4.1.4, package: ..." */
    }
    return name;
}

vkt_status vkt_dist_init(void) {
    if (g.joined || vkt_dist_launch_size() <= 1) return VKT_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        vkt_log_error("MPI_Init failed: run vktrain under `mpirun -np N` (and check `mpirun --version`)");
        return VKT_ERR_UNSUPPORTED;
    }
    g.joined = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &g.local_rank);
    MPI_Comm_free(&node);
    if (g.rank > 0) { /* rank 0 reports the run; the others only what goes wrong on them */
        snprintf(g.tag, sizeof g.tag, "[rank %d] ", g.rank);
        vkt_log_set_tag(g.tag);
    }
    return VKT_OK;
}

void vkt_dist_finalize(void) {
    if (!g.joined) return;
    MPI_Finalize();
    g.joined = false;
    g.rank = 0, g.size = 1, g.local_rank = 0;
}

int vkt_dist_rank(void) { return g.rank; }
int vkt_dist_size(void) { return g.size; }
int vkt_dist_local_rank(void) { return g.local_rank; }

static vkt_status check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return VKT_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    vkt_log_error("%s failed: %s", what, msg);
    return VKT_ERR_IO;
}

vkt_status vkt_dist_sum_f64(double *x, int n) {
    if (g.size <= 1) return VKT_OK;
    return check(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (f64 sum)");
}

vkt_status vkt_dist_sum_f32(float *x, size_t n) {
    if (g.size <= 1) return VKT_OK;
    const size_t chunk = (size_t)1 << 30; /* MPI counts are int */
    for (size_t i = 0; i < n; i += chunk) {
        int c = (int)(n - i < chunk ? n - i : chunk);
        VKT_TRY(check(MPI_Allreduce(MPI_IN_PLACE, x + i, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                      "MPI_Allreduce (f32 sum)"));
    }
    return VKT_OK;
}

/* MPI's int counts and displacements of the shards; false (logged) past INT_MAX elements. */
static bool shard_counts(const int64_t *bounds, int *counts, int *displs) {
    if (bounds[g.size] > INT_MAX) {
        vkt_log_error("ZeRO-1: %lld elements are more than MPI's int counts address; use optim.zero_stage=0",
                      (long long)bounds[g.size]);
        return false;
    }
    for (int r = 0; r < g.size; r++) displs[r] = (int)bounds[r], counts[r] = (int)(bounds[r + 1] - bounds[r]);
    return true;
}

vkt_status vkt_dist_allgather_f32(float *x, const int64_t *bounds) {
    if (g.size <= 1) return VKT_OK;
    int *counts = malloc(2 * (size_t)g.size * sizeof *counts);
    vkt_status st = counts ? VKT_OK : VKT_ERR_OOM;
    if (st == VKT_OK && !shard_counts(bounds, counts, counts + g.size)) st = VKT_ERR_UNSUPPORTED;
    if (st == VKT_OK)
        st = check(
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, counts + g.size, MPI_FLOAT, MPI_COMM_WORLD),
            "MPI_Allgatherv (ZeRO-1 parameters)");
    free(counts);
    return st;
}

vkt_status vkt_dist_gather_f32(const float *part, float *full, const int64_t *bounds) {
    int *counts = malloc(2 * (size_t)g.size * sizeof *counts);
    vkt_status st = counts ? VKT_OK : VKT_ERR_OOM;
    if (st == VKT_OK && !shard_counts(bounds, counts, counts + g.size)) st = VKT_ERR_UNSUPPORTED;
    if (st == VKT_OK)
        st = check(
            MPI_Gatherv(part, counts[g.rank], MPI_FLOAT, full, counts, counts + g.size, MPI_FLOAT, 0, MPI_COMM_WORLD),
            "MPI_Gatherv (ZeRO-1 optimizer state)");
    free(counts);
    return st;
}

int vkt_dist_max_int(int v) {
    if (g.size <= 1) return v;
    int out = v;
    if (MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) vkt_dist_abort(1);
    return out;
}

_Noreturn void vkt_dist_abort(int code) {
    fflush(stdout);
    if (g.joined && g.size > 1) {
        vkt_log_error("stopping all %d ranks (exit code %d)", g.size, code);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    exit(code);
}
